"""JSON-lines protocol between a Supervisor handle and its supervisor process.

One request per line, one reply per line. Replies are ``{"ok": true,
"result": ...}`` or ``{"ok": false, "code": "RESOURCE_BUSY", "message": ...}``,
so a DriverError raised in the supervisor is raised again, unchanged, in the app.
"""
from __future__ import annotations

import json
from typing import Any

from drivers.errors import DriverError, ErrorCode

#: Longest request or reply line accepted (a state string of many disks fits easily).
MAX_LINE = 1 << 20


def request(op: str, **args: Any) -> bytes:
    return (json.dumps({"op": op, **args}, separators=(",", ":")) + "\n").encode()


def reply_ok(result: Any = None) -> bytes:
    return (json.dumps({"ok": True, "result": result}, separators=(",", ":")) + "\n").encode()


def reply_error(err: DriverError) -> bytes:
    return (json.dumps({"ok": False, "code": err.code.name, "message": err.message},
                       separators=(",", ":")) + "\n").encode()


def parse_request(line: bytes) -> tuple[str, dict[str, Any]]:
    """(op, arguments) of a request line; INVALID_ARG if it is not one."""
    try:
        data = json.loads(line)
        op = data.pop("op")
        if not isinstance(op, str):
            raise TypeError("op is not a string")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DriverError(ErrorCode.INVALID_ARG, f"malformed supervisor request: {exc}") from None
    return op, data


def parse_reply(line: bytes) -> Any:
    """The result of a reply line, or raise the DriverError it carries."""
    try:
        data = json.loads(line)
        ok = bool(data["ok"])
    except (ValueError, KeyError, TypeError) as exc:
        raise DriverError(ErrorCode.INTERNAL_ERROR, f"malformed supervisor reply: {exc}") from None
    if ok:
        return data.get("result")
    try:
        code = ErrorCode[data.get("code", "INTERNAL_ERROR")]
    except KeyError:
        code = ErrorCode.INTERNAL_ERROR
    raise DriverError(code, str(data.get("message", "supervisor error")))
