"""JSON-lines protocols: a Supervisor handle and its supervisor, a Launcher and its fork server.

Supervisor control: one request per line, one reply per line. Replies are
``{"ok": true, "result": ...}`` or ``{"ok": false, "code": "RESOURCE_BUSY",
"message": ...}``, so a DriverError raised in the supervisor is raised again,
unchanged, in the app. A supervisor's start-up report is such a reply.

Fork server: a request is one JSON object, the supervisor's arguments; the
start-up report pipe and the output file travel beside it as SCM_RIGHTS. The
reply is ``{"pid": N}`` or ``{"error": ...}``.
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


def fork_request(args: list[str]) -> bytes:
    """A request to the fork server: run ``supervisor.main(args)`` in a new child."""
    return json.dumps({"args": args}, separators=(",", ":")).encode()


def parse_fork_request(data: bytes) -> list[str]:
    """The supervisor arguments of a request the fork server received; ValueError if it is not one."""
    msg = json.loads(data)
    args = msg.get("args") if isinstance(msg, dict) else None
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ValueError("args is not a list of strings")
    return args


def fork_reply(pid: int | None) -> bytes:
    """The fork server's answer: the child's pid, or None for a request it refused."""
    body = {"pid": pid} if pid else {"error": "bad request"}
    return json.dumps(body).encode() + b"\n"


def parse_fork_reply(line: bytes) -> int:
    """The pid of the supervisor the fork server started; ValueError if it refused or the line is garbled."""
    msg = json.loads(line)
    pid = msg.get("pid") if isinstance(msg, dict) else None
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        raise ValueError(f"the fork server refused the request: {msg!r}")
    return pid
