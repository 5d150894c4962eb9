"""Where leases live: the lockspace directory, holder records, and the runtime dir.

Layout of a lockspace (may be shared by several hosts over NFS)::

    leases/<sha256>        zero-length lease files, locked with fcntl (see ofd.py);
                           never deleted, so two holders always lock one inode
    holders/<host>_<uuid>.lock   write-locked by a live holder (its supervisor)
    holders/<host>_<uuid>.json   who it is and which leases it holds, for messages

A holder record is only believed while its ``.lock`` is held, so records of
crashed holders are ignored rather than cleaned up.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.errors import DriverError, ErrorCode
from drivers.locking import ofd


def _internal(what: str, exc: OSError) -> DriverError:
    return DriverError(ErrorCode.INTERNAL_ERROR, f"{what}: {exc.strerror or exc}")


def default_lockspace_dir() -> Path:
    """$VMGUI_LOCKSPACE, else $XDG_STATE_HOME/vmgui/lockspace (~/.local/state/...).

    The state directory, not the runtime one: systemd removes the runtime
    directory at logout, and lease files deleted under live holders would let a
    second holder lock a fresh inode.
    """
    env = os.environ.get("VMGUI_LOCKSPACE")
    if env:
        return Path(env)
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "vmgui" / "lockspace"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) as 0700 if missing; refuse one others could tamper with."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(path)
    except OSError as exc:
        raise _internal(f"cannot create directory {path}", exc) from None
    if not stat.S_ISDIR(st.st_mode):
        raise DriverError(ErrorCode.INTERNAL_ERROR, f"{path} is not a directory")
    if st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise DriverError(ErrorCode.INTERNAL_ERROR,
                          f"{path} is writable by other users or not owned by uid {os.getuid()}; refusing it")
    return path


def default_runtime_dir() -> Path:
    """$VMGUI_RUNTIME_DIR, else $XDG_RUNTIME_DIR/vmgui, else /tmp/vmgui-<uid>: sockets and status files."""
    env = os.environ.get("VMGUI_RUNTIME_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg):
        return Path(xdg) / "vmgui"
    return Path(tempfile.gettempdir()) / f"vmgui-{os.getuid()}"


def runtime_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The per-user runtime directory, created 0700 and checked (no /tmp squatting)."""
    target = Path(path) if path is not None else default_runtime_dir()
    ensure_private_dir(target)
    if os.lstat(target).st_mode & 0o077:
        raise DriverError(ErrorCode.INTERNAL_ERROR, f"runtime directory {target} must be mode 0700")
    return target


def default_host() -> str:
    """This host's name as holders record it."""
    return socket.gethostname() or "localhost"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)[:64] or "_"


def open_lock_file(path: Path, *, create: bool = True) -> int:
    """Open a lock file for locking (O_RDWR, close-on-exec); OSError if impossible."""
    flags = os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW | (os.O_CREAT if create else 0)
    return os.open(path, flags, 0o600)


def lock_held(path: Path) -> bool:
    """Whether anyone holds a lock on ``path`` (False if it does not exist)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        return ofd.probe(fd, 0) != fcntl.F_UNLCK
    except OSError:
        return False
    finally:
        os.close(fd)


@dataclass
class HolderRecord:
    """A live (or once live) holder: a VM's supervisor and the leases it holds."""

    uuid: str
    name: str
    host: str
    supervisor_pid: int
    vm_pid: int | None = None
    #: held leases: dicts with path, mode, kind, keys (lease names)
    leases: list[dict[str, Any]] = field(default_factory=list)
    #: resources registered but not held (paused, or migration destination)
    registered: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> str:
        """How messages name this holder."""
        pid = f"pid {self.vm_pid}" if self.vm_pid else f"supervisor pid {self.supervisor_pid}"
        return f"VM '{self.name}' (uuid {self.uuid}, {pid}, host {self.host})"

    def to_json(self) -> dict[str, Any]:
        return {"uuid": self.uuid, "name": self.name, "host": self.host,
                "supervisor_pid": self.supervisor_pid, "vm_pid": self.vm_pid,
                "leases": self.leases, "registered": self.registered}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HolderRecord:
        return cls(str(data["uuid"]), str(data["name"]), str(data["host"]), int(data["supervisor_pid"]),
                   data.get("vm_pid"), list(data.get("leases", [])), list(data.get("registered", [])))


class Lockspace:
    """A lockspace directory: lease files plus records of who holds them.

    ``path`` defaults to :func:`default_lockspace_dir`; the directory is
    created 0700. Point several hosts at one directory on a shared file
    system to protect disks across hosts (see the package notes on NFS).
    Failures to create or open it raise INTERNAL_ERROR.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        if path is not None and (not isinstance(path, (str, os.PathLike)) or not os.fspath(path)):
            raise DriverError(ErrorCode.INVALID_ARG, f"lockspace path must be a non-empty path, not {path!r}")
        self.path = Path(os.path.abspath(path)) if path is not None else default_lockspace_dir()
        self._ready = False

    def __repr__(self) -> str:
        return f"Lockspace({str(self.path)!r})"

    def ensure(self) -> Lockspace:
        """Create the directory tree if needed (idempotent)."""
        if not self._ready:
            ensure_private_dir(self.path)
            for sub in ("leases", "holders"):
                try:
                    (self.path / sub).mkdir(mode=0o700, exist_ok=True)
                except OSError as exc:
                    raise _internal(f"cannot create {self.path / sub}", exc) from None
            self._ready = True
        return self

    def lease_file(self, name: str) -> Path:
        return self.path / "leases" / name

    def open_lease(self, name: str) -> int:
        """Open (creating) the lease file ``name``; INTERNAL_ERROR on I/O failure."""
        self.ensure()
        try:
            return open_lock_file(self.lease_file(name))
        except OSError as exc:
            raise _internal(f"cannot open lease file {self.lease_file(name)}", exc) from None

    def holder_base(self, host: str, uuid: str) -> Path:
        return self.path / "holders" / f"{_safe(host)}_{uuid}"

    def write_record(self, record: HolderRecord) -> None:
        """Replace a holder's record atomically (readers never see half a file)."""
        base = self.holder_base(record.host, record.uuid)
        tmp = base.with_name(f".{base.name}.{os.getpid()}.tmp")
        data = json.dumps(record.to_json(), separators=(",", ":")).encode()
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            os.replace(tmp, base.with_suffix(".json"))
        except OSError as exc:
            raise _internal(f"cannot write holder record {base}.json", exc) from None

    def remove_record(self, host: str, uuid: str) -> None:
        try:
            os.unlink(self.holder_base(host, uuid).with_suffix(".json"))
        except OSError:
            pass

    def live_records(self, *, skip: tuple[str, str] | None = None) -> Iterator[HolderRecord]:
        """Records whose holder is alive (holds its ``.lock``); ``skip`` = (host, uuid) of the caller.

        The caller's own lock file is never opened: with process-owned POSIX
        locks that would drop the caller's own lock.
        """
        holders = self.path / "holders"
        try:
            names = sorted(n for n in os.listdir(holders) if n.endswith(".json"))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise _internal(f"cannot list {holders}", exc) from None
        own = f"{_safe(skip[0])}_{skip[1]}.json" if skip else None
        for name in names:
            if name == own:
                continue
            path = holders / name
            if not lock_held(path.with_suffix(".lock")):
                continue
            try:
                with open(path, encoding="utf-8") as fh:
                    yield HolderRecord.from_json(json.load(fh))
            except (OSError, ValueError, KeyError, TypeError):
                continue  # replaced or removed under us: the holder is changing

    def holders_of(self, key_names: set[str], *, skip: tuple[str, str] | None = None
                   ) -> list[tuple[HolderRecord, str, str]]:
        """(record, mode, path) of every live holder of any of the lease names."""
        found = []
        for rec in self.live_records(skip=skip):
            for lease in rec.leases:
                if key_names.intersection(lease.get("keys", ())):
                    found.append((rec, str(lease.get("mode")), str(lease.get("path"))))
        return found
