"""What the operation modules get from a domain handle: exactly the host, the domain and the job runner.

The operations (snapshots, backup) sit below :mod:`domain` in the import
order, so they cannot know :class:`QemuDomain`; its handle gives them a
:class:`DomainOps` instead of its private attributes.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from ..base import Domain
from ..jobs import Job
from .events import EventHost
from .state import QDom

T = TypeVar("T")


class JobRunner(Protocol):
    """Runs a job's worker, at once (asynchronous: the job's id is returned) or to its end (the worker's result)."""

    def __call__(self, job: Job, worker: Callable[[Job], T], asynchronous: bool, /) -> T | int: ...


@dataclass(frozen=True)
class DomainOps:
    """One domain as an operation sees it."""

    #: the public handle, what the operation's results (snapshots) belong to
    handle: Domain
    host: EventHost
    #: the domain now: NO_DOMAIN once it is gone, OPERATION_INVALID on a closed connection
    lookup: Callable[[], QDom]
    #: the domain, free of jobs and usable for the action named (call under the host lock)
    idle: Callable[[str], QDom]
    run_job: JobRunner
