"""A holder's leases: all-or-nothing acquisition, release, and naming who is in the way.

This is the code the supervisor runs; it is usable in-process too (tests,
benchmarks), because a holder is nothing but open lease files plus a record.
"""
from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from drivers.errors import DriverError, ErrorCode
from drivers.locking import ofd
from drivers.locking.lockspace import HolderRecord, Lockspace, _internal, open_lock_file
from drivers.locking.modes import LeaseMode, check_kind, parse_mode
from drivers.locking.paths import LeaseKey, lease_keys

#: How long a conflict whose holder cannot be named yet is retried: a holder
#: writes its record right after locking, and a loser of a race lets go at once.
NAME_RETRY_S = 1.0


@dataclass(frozen=True)
class Resource:
    """A resource as the lock manager sees it: canonical path, mode, kind and lease keys."""

    path: str
    mode: LeaseMode = LeaseMode.EXCLUSIVE
    kind: str = "disk"
    keys: tuple[LeaseKey, ...] = ()

    @classmethod
    def make(cls, path: object, mode: object = LeaseMode.EXCLUSIVE, kind: object = "disk") -> Resource:
        """Validate and canonicalise; INVALID_ARG / NO_SUPPORT as in modes.check_kind."""
        kind = check_kind(kind)
        lease_mode = parse_mode(mode)
        real, keys = lease_keys(path)
        return cls(real, lease_mode, kind, keys)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "mode": self.mode.value, "kind": self.kind,
                "keys": [k.name for k in self.keys]}


@dataclass
class _Held:
    """One open lease file of this holder: its fd, lock types and modes in use."""

    fd: int
    types: ofd.Types = ofd.UNLOCKED
    modes: Counter[LeaseMode] = field(default_factory=Counter)


class LeaseHolder:
    """The leases of one VM in one lockspace, held by the calling process.

    Call :meth:`register` first (one holder per VM uuid per host), then
    :meth:`acquire` / :meth:`release` as often as needed, and :meth:`close`
    (or just exit: the kernel drops every lock).
    """

    def __init__(self, lockspace: Lockspace, uuid: str, name: str, host: str) -> None:
        self.lockspace = lockspace
        self.record = HolderRecord(uuid, name, host, os.getpid())
        self._live_fd: int | None = None
        self._files: dict[str, _Held] = {}
        self.held: list[Resource] = []

    # -- identity -------------------------------------------------------------------------
    def register(self) -> None:
        """Claim this VM's holder slot; RESOURCE_BUSY if a live holder of the uuid exists on this host."""
        ls = self.lockspace.ensure()
        base = ls.holder_base(self.record.host, self.record.uuid)
        try:
            fd = open_lock_file(base.with_suffix(".lock"))
        except OSError as exc:
            raise _internal(f"cannot open {base}.lock", exc) from None
        try:
            taken = ofd.try_lock(fd, LeaseMode.EXCLUSIVE)
        except OSError as exc:
            os.close(fd)
            raise _internal(f"cannot lock {base}.lock", exc) from None
        if not taken:
            os.close(fd)
            raise DriverError(ErrorCode.RESOURCE_BUSY,
                              f"VM {self.record.uuid} already has a running supervisor on host {self.record.host}")
        self._live_fd = fd
        self._publish()

    def set_vm_pid(self, pid: int | None) -> None:
        self.record.vm_pid = pid
        self._publish()

    def set_registered(self, resources: Sequence[Resource], *, publish: bool = True) -> None:
        """Record the VM's resource set; ``publish=False`` defers the write to the next acquire/release."""
        self.record.registered = [r.to_json() for r in resources]
        if publish:
            self._publish()

    def _publish(self) -> None:
        self.record.leases = [r.to_json() for r in self.held]
        self.lockspace.write_record(self.record)

    @property
    def _me(self) -> tuple[str, str]:
        return self.record.host, self.record.uuid

    # -- acquire ----------------------------------------------------------------------------
    def acquire(self, resources: Sequence[Resource]) -> None:
        """Take every lease of ``resources`` or none.

        RESOURCE_BUSY names the resource and its holder(s) (VM name, uuid, pid,
        host); INTERNAL_ERROR on lock-file I/O failure. On any failure nothing
        this holder held before changes.
        """
        if self._live_fd is None:
            raise DriverError(ErrorCode.INTERNAL_ERROR, "lease holder used before register()")
        if not resources:
            return
        deadline = time.monotonic() + NAME_RETRY_S
        pause = 0.001
        while True:
            conflict = self._try(resources)
            if conflict is None:
                break
            res, key = conflict
            named = [(rec, mode) for rec, mode, _ in
                     self.lockspace.holders_of({key.name}, skip=self._me)
                     if res.mode.conflicts_with(LeaseMode(mode))]
            if named:
                who = "; ".join(f"{rec.describe()} as {mode}" for rec, mode in named)
                raise DriverError(ErrorCode.RESOURCE_BUSY,
                                  f"{res.kind} {res.path} is in use by {who}; cannot take it {res.mode.value}")
            if time.monotonic() >= deadline:
                raise DriverError(ErrorCode.RESOURCE_BUSY,
                                  f"{res.kind} {res.path} is locked ({key.what}) by a holder without a "
                                  f"record in {self.lockspace.path}; cannot take it {res.mode.value}")
            time.sleep(pause)
            pause = min(pause * 2, 0.02)
        self.held.extend(resources)
        self._publish()

    def _try(self, resources: Sequence[Resource]) -> tuple[Resource, LeaseKey] | None:
        """One all-or-nothing attempt; returns the first (resource, key) in the way, or None."""
        want: dict[str, tuple[LeaseKey, Counter[LeaseMode], Resource]] = {}
        for res in resources:
            for key in res.keys:
                _, modes, blame = want.get(key.name, (key, Counter(), res))
                modes[res.mode] += 1
                if res.mode is LeaseMode.EXCLUSIVE:
                    blame = res  # name the strongest request in a conflict
                want[key.name] = (key, modes, blame)
        done: list[tuple[_Held, ofd.Types, str | None]] = []  # (file, old types, name if opened now)
        try:
            for name in sorted(want):  # one global order keeps racing holders fair
                key, modes, res = want[name]
                held = self._files.get(name)
                opened = None
                if held is None:
                    held, opened = _Held(self.lockspace.open_lease(name)), name
                    self._files[name] = held
                new = ofd.wanted(set(+(held.modes + modes)))
                old = held.types
                done.append((held, old, opened))
                try:
                    ok = ofd.change(held.fd, old, new)
                except OSError as exc:
                    raise _internal(f"cannot lock lease {name} of {res.path}", exc) from None
                if not ok:
                    self._undo(done)
                    return res, key
                held.types = new
        except BaseException:
            self._undo(done)
            raise
        for name, (_, modes, _) in want.items():
            self._files[name].modes.update(modes)
        return None

    def _undo(self, done: list[tuple[_Held, ofd.Types, str | None]]) -> None:
        """Put the files touched by a failed attempt back as they were."""
        for held, old, opened in reversed(done):
            if held.types != old:
                ofd.change(held.fd, held.types, old)  # downgrade or unlock: never conflicts
                held.types = old
            if opened is not None:
                os.close(held.fd)
                del self._files[opened]
        done.clear()

    # -- release ----------------------------------------------------------------------------
    def find(self, path: object) -> list[Resource]:
        """Held resources that ``path`` names (by canonical path or shared lease name)."""
        real, keys = lease_keys(path)
        names = {k.name for k in keys}
        return [r for r in self.held if r.path == real or names.intersection(k.name for k in r.keys)]

    def release(self, resources: Iterable[Resource] | None = None) -> list[Resource]:
        """Let go of ``resources`` (default: all held); returns what was released.

        Idempotent: resources not held are ignored. The record is updated
        before the locks drop, so a record never lists a lease not held.
        INTERNAL_ERROR only if writing the record fails (the locks still drop).
        """
        targets = list(self.held) if resources is None else [r for r in resources if r in self.held]
        if not targets:
            return []
        for res in targets:
            self.held.remove(res)
        try:
            self._publish()
        finally:
            for res in targets:
                for key in res.keys:
                    held = self._files.get(key.name)
                    if held is None:
                        continue
                    held.modes[res.mode] -= 1
                    held.modes = +held.modes
                    new = ofd.wanted(set(held.modes))
                    try:
                        ofd.change(held.fd, held.types, new)
                        held.types = new
                    except OSError:
                        held.modes.clear()  # cannot downgrade: drop the file, which drops its locks
                    if not held.modes:
                        os.close(held.fd)
                        del self._files[key.name]
        return targets

    def close(self) -> None:
        """Release everything and give up the holder slot (idempotent)."""
        try:
            self.release()
        finally:
            if self._live_fd is not None:
                self.lockspace.remove_record(*self._me)
                os.close(self._live_fd)
                self._live_fd = None
