"""libvirt error codes -> :class:`drivers.errors.ErrorCode`, keeping libvirt's message.

libvirt's ``virErrorNumber`` values are matched by number, so this module does
not need libvirt-python to be importable. The message of a translated error is
libvirt's own text (``virGetLastErrorMessage``), which users can look up,
prefixed with what vmgui was doing when it matters.
"""
from __future__ import annotations

from typing import Any

from ..errors import DriverError, ErrorCode

# virErrorNumber (include/libvirt/virterror.h) -> our class
_CODE_MAP: dict[int, ErrorCode] = {
    1: ErrorCode.INTERNAL_ERROR,        # VIR_ERR_INTERNAL_ERROR
    2: ErrorCode.INTERNAL_ERROR,        # NO_MEMORY
    3: ErrorCode.NO_SUPPORT,            # NO_SUPPORT
    5: ErrorCode.OPERATION_FAILED,      # NO_CONNECT
    8: ErrorCode.INVALID_ARG,           # INVALID_ARG
    9: ErrorCode.OPERATION_FAILED,      # OPERATION_FAILED
    27: ErrorCode.INVALID_XML,          # XML_ERROR
    29: ErrorCode.ACCESS_DENIED,       # OPERATION_DENIED (read-only connection)
    38: ErrorCode.OPERATION_FAILED,     # SYSTEM_ERROR
    39: ErrorCode.OPERATION_FAILED,     # RPC
    42: ErrorCode.NO_DOMAIN,            # NO_DOMAIN
    45: ErrorCode.ACCESS_DENIED,       # AUTH_FAILED
    55: ErrorCode.OPERATION_INVALID,    # OPERATION_INVALID
    67: ErrorCode.NO_SUPPORT,           # CONFIG_UNSUPPORTED
    68: ErrorCode.OPERATION_TIMEOUT,    # OPERATION_TIMEOUT
    69: ErrorCode.OPERATION_FAILED,     # MIGRATE_PERSIST_FAILED
    72: ErrorCode.NO_SNAPSHOT,          # NO_DOMAIN_SNAPSHOT
    74: ErrorCode.NO_SUPPORT,           # ARGUMENT_UNSUPPORTED
    77: ErrorCode.OPERATION_INVALID,    # SNAPSHOT_REVERT_RISKY
    78: ErrorCode.OPERATION_ABORTED,    # OPERATION_ABORTED
    79: ErrorCode.ACCESS_DENIED,       # AUTH_CANCELLED
    81: ErrorCode.OPERATION_INVALID,    # MIGRATE_UNSAFE
    84: ErrorCode.NO_SUPPORT,           # OPERATION_UNSUPPORTED
    86: ErrorCode.AGENT_UNRESPONSIVE,   # AGENT_UNRESPONSIVE
    87: ErrorCode.RESOURCE_BUSY,        # RESOURCE_BUSY
    88: ErrorCode.ACCESS_DENIED,       # ACCESS_DENIED
    92: ErrorCode.INVALID_XML,          # XML_INVALID_SCHEMA
    102: ErrorCode.INVALID_ARG,         # INVALID_DOMAIN_CHECKPOINT
    103: ErrorCode.NO_DOMAIN_CHECKPOINT,  # NO_DOMAIN_CHECKPOINT
    104: ErrorCode.NO_JOB,              # NO_DOMAIN_BACKUP
    112: ErrorCode.AGENT_UNRESPONSIVE,  # AGENT_COMMAND_TIMEOUT
}

#: Codes (and the RPC error domain 7) that mean the connection itself failed.
CONNECTION_CODES = frozenset({5, 38, 39})
VIR_FROM_RPC = 7

_SAME_HOST = "Attempt to migrate guest to the same host"


def libvirt_code(exc: Any) -> int:
    try:
        return int(exc.get_error_code() or 0)
    except Exception:  # noqa: BLE001 - not a libvirtError
        return 0


def libvirt_message(exc: Any) -> str:
    try:
        text = exc.get_error_message()
    except Exception:  # noqa: BLE001
        text = None
    return str(text or exc).strip()


def translate(exc: Any, context: str = "") -> DriverError:
    """A :class:`DriverError` for a ``libvirt.libvirtError`` (libvirt's message kept)."""
    code = libvirt_code(exc)
    message = libvirt_message(exc)
    mapped = _CODE_MAP.get(code, ErrorCode.OPERATION_FAILED)
    if _SAME_HOST in message:  # libvirt says INTERNAL_ERROR; the contract says INVALID_ARG
        mapped = ErrorCode.INVALID_ARG
    if context:
        message = f"{context}: {message}"
    err = DriverError(mapped, message)
    err.libvirt_code = code  # type: ignore[attr-defined]
    return err


def is_connection_error(exc: Any) -> bool:
    """True when ``exc`` says the transport broke (not the operation)."""
    code = libvirt_code(exc)
    try:
        domain = int(exc.get_error_domain() or 0)
    except Exception:  # noqa: BLE001
        domain = 0
    return code in CONNECTION_CODES or (domain == VIR_FROM_RPC and code != 3)
