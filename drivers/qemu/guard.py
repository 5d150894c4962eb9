"""No traceback leaves the driver as anything but a DriverError.

``@guarded`` wraps every public method of a class: an OSError becomes
OPERATION_FAILED with the system's message, any other unexpected exception
INTERNAL_ERROR (logged with its traceback for the developers).
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import DriverError, ErrorCode
from ..jobs import Job

log = logging.getLogger(__name__)
C = TypeVar("C", bound=type)
T = TypeVar("T")


def translate(exc: BaseException, what: str) -> DriverError:
    if isinstance(exc, DriverError):
        return exc
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        return DriverError(ErrorCode.OPERATION_FAILED, f"{what}: {exc.strerror or exc}{where}")
    log.error("unexpected error in %s", what, exc_info=(type(exc), exc, exc.__traceback__))
    return DriverError(ErrorCode.INTERNAL_ERROR, f"{what}: {type(exc).__name__}: {exc}")


def _wrap(fn: Callable[..., Any], what: str) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DriverError:
            raise
        except Exception as exc:  # noqa: BLE001 - that is the point
            raise translate(exc, what) from None
    return wrapper


def guarded(cls: C) -> C:
    for name, value in list(vars(cls).items()):
        if name.startswith("_") or not callable(value) or isinstance(value, (staticmethod, classmethod, type)):
            continue
        setattr(cls, name, _wrap(value, name.replace("_", " ")))
    return cls


def guard_worker(worker: Callable[[Job], T], what: str) -> Callable[[Job], T]:
    """The same translation for job workers (their errors end up in JobInfo.error)."""
    return _wrap(worker, what)
