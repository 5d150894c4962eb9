"""Typed errors of the driver core.

Every failure a driver reports is a :class:`DriverError` carrying an
:class:`ErrorCode`, so callers (the GUI, scripts, tests) branch on the code and
show the message, which is written for a person: what went wrong and, where it
helps, what to do about it.
"""
from __future__ import annotations

import enum


class ErrorCode(enum.IntEnum):
    """Error classes; values follow libvirt's virErrorNumber where one exists."""

    INTERNAL_ERROR = 1
    NO_SUPPORT = 3
    INVALID_ARG = 8
    OPERATION_FAILED = 9
    INVALID_XML = 27
    NO_DOMAIN = 42
    OPERATION_INVALID = 55
    OPERATION_TIMEOUT = 68
    NO_SNAPSHOT = 72
    OPERATION_ABORTED = 78
    AGENT_UNRESPONSIVE = 86  # the guest agent is not there, not connected, or did not answer in time
    RESOURCE_BUSY = 87
    ACCESS_DENIED = 88  # not allowed: read-only connection, failed authentication, ACL
    NO_DOMAIN_CHECKPOINT = 103
    NO_JOB = 1000  # libvirt has no code for an unknown job id


_PREFIX = {
    ErrorCode.INTERNAL_ERROR: "internal error",
    ErrorCode.NO_SUPPORT: "not supported",
    ErrorCode.INVALID_ARG: "invalid argument",
    ErrorCode.OPERATION_FAILED: "operation failed",
    ErrorCode.INVALID_XML: "invalid XML",
    ErrorCode.NO_DOMAIN: "domain not found",
    ErrorCode.OPERATION_INVALID: "operation not valid now",
    ErrorCode.OPERATION_TIMEOUT: "timed out",
    ErrorCode.NO_SNAPSHOT: "snapshot not found",
    ErrorCode.OPERATION_ABORTED: "operation aborted",
    ErrorCode.AGENT_UNRESPONSIVE: "guest agent not responding",
    ErrorCode.RESOURCE_BUSY: "resource busy",
    ErrorCode.ACCESS_DENIED: "access denied",
    ErrorCode.NO_DOMAIN_CHECKPOINT: "checkpoint not found",
    ErrorCode.NO_JOB: "job not found",
}


class DriverError(Exception):
    """A failure of a driver call: ``code`` says what kind, ``message`` says why."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def summary(self) -> str:
        """Short heading for the error class, e.g. for a message area title."""
        return _PREFIX[self.code]

    def __str__(self) -> str:
        return f"{_PREFIX[self.code]}: {self.message}"

    def __repr__(self) -> str:
        return f"DriverError({self.code.name}, {self.message!r})"

    def __reduce__(self) -> tuple[type[DriverError], tuple[ErrorCode, str]]:
        # picklable across processes (lock supervisor, tests)
        return (DriverError, (self.code, self.message))


def no_support(what: str, hint: str = "") -> DriverError:
    """NO_SUPPORT for an API this connection's driver does not implement."""
    text = f"{what} is not supported by this connection"
    return DriverError(ErrorCode.NO_SUPPORT, f"{text}. {hint}" if hint else text)


def invalid_arg(message: str) -> DriverError:
    return DriverError(ErrorCode.INVALID_ARG, message)


def check_flags(flags: int, allowed: int, api: str) -> int:
    """Reject bits outside ``allowed`` with INVALID_ARG, as libvirt's virCheckFlags does."""
    try:
        value = int(flags)
    except (TypeError, ValueError):
        raise invalid_arg(f"{api}: flags must be an integer, not {flags!r}") from None
    unknown = value & ~allowed
    if value < 0 or unknown:
        raise invalid_arg(f"{api}: unsupported flags (0x{unknown if value >= 0 else value:x})")
    return value
