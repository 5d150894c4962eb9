"""Per-VM files in the runtime directory, and the VM's recorded exit.

``<uuid>.lock``   held by the live supervisor (one per VM uuid per host; liveness)
``<uuid>.sock``   the supervisor's control socket
``<uuid>.json``   who the supervisor is: pids, name, lockspace, socket
``<uuid>.status`` how the VM process ended; kept after the supervisor exits
"""
from __future__ import annotations

import os
import signal
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drivers import fsutil
from drivers.errors import DriverError, ErrorCode
from drivers.locking.lockspace import lock_held


def check_uuid(value: object) -> str:
    """The canonical lower-case form of a VM uuid; INVALID_ARG if it is not one.

    A VM's runtime files are named by it, so nothing else may reach a path.
    """
    try:
        if isinstance(value, (str, uuidlib.UUID)):
            return str(uuidlib.UUID(str(value)))
    except ValueError:
        pass
    raise DriverError(ErrorCode.INVALID_ARG, f"invalid VM uuid {value!r}")


@dataclass(frozen=True)
class ExitStatus:
    """How a VM process ended.

    ``exit_code`` is set for a normal exit, ``signal`` when a signal killed it;
    ``requested`` says the supervisor was asked to stop it (shutdown), and
    ``lost`` that the supervisor itself died, so the VM's end is unknown.
    """

    exit_code: int | None
    signal: int | None
    requested: bool = False
    lost: bool = False

    @property
    def crashed(self) -> bool:
        """A crash: killed by a signal nobody asked for, or a non-zero exit."""
        if self.lost:
            return not self.requested
        if self.signal is not None:
            return not (self.requested and self.signal in (signal.SIGTERM, signal.SIGKILL))
        return bool(self.exit_code)

    @property
    def wait_status(self) -> int:
        """Exit status in the shell's convention (128 + signal for a signal)."""
        if self.signal is not None:
            return 128 + self.signal
        return self.exit_code if self.exit_code is not None else 255

    def to_json(self) -> dict[str, Any]:
        return {"exit_code": self.exit_code, "signal": self.signal,
                "requested": self.requested, "lost": self.lost}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExitStatus:
        return cls(data.get("exit_code"), data.get("signal"), bool(data.get("requested")),
                   bool(data.get("lost")))


class RunFiles:
    """Names of one VM's files in a runtime directory."""

    def __init__(self, runtime: Path, uuid: str) -> None:
        self.dir = runtime
        self.uuid = uuid
        self.lock = runtime / f"{uuid}.lock"
        self.sock = runtime / f"{uuid}.sock"
        self.info = runtime / f"{uuid}.json"
        self.status = runtime / f"{uuid}.status"

    def alive(self) -> bool:
        """Whether a supervisor of this VM runs on this host (holds ``.lock``)."""
        return lock_held(self.lock)

    @staticmethod
    def write_json(path: Path, data: dict[str, Any]) -> None:
        """Runtime state: atomic, not fsynced (a reboot ends every supervisor anyway)."""
        fsutil.write_json(path, data, durable=False)

    read_json = staticmethod(fsutil.read_json)

    def exit_status(self) -> ExitStatus | None:
        data = self.read_json(self.status)
        return ExitStatus.from_json(data) if data else None

    def unlink(self, *paths: Path) -> None:
        for path in paths:
            try:
                os.unlink(path)
            except OSError:
                pass
