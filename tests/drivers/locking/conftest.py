"""Fixtures of the lock-manager tests: a private lockspace and runtime dir, and cleanup.

Paths are short (mkdtemp under /tmp) because unix socket paths are limited to 108 bytes.
"""
from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.locking import LockManager, Lockspace, Supervisor


class LockEnv:
    """One simulated host: a lockspace, a runtime dir, and every supervisor started."""

    def __init__(self, root: Path, host: str = "hostA", lockspace: Lockspace | None = None) -> None:
        self.root = root
        self.lockspace = lockspace or Lockspace(root / "ls")
        self.run = root / f"run-{host}"
        self.host = host
        self.handles: list[Supervisor] = []

    def disk(self, name: str) -> str:
        path = self.root / name
        path.touch()
        return str(path)

    def manager(self, name: str, *disks: tuple[str, object] | str, vm_uuid: str | None = None) -> LockManager:
        mgr = LockManager(vm_uuid or str(uuid.uuid4()), name, self.lockspace, host=self.host, runtime_dir=self.run)
        for disk in disks:
            if isinstance(disk, tuple):
                mgr.add_resource(disk[0], disk[1])
            else:
                mgr.add_resource(disk)
        return mgr

    def launch(self, mgr: LockManager, argv: list[str] | None = None, **kw: object) -> Supervisor:
        sup = mgr.launch(argv or ["sleep", "60"], **kw)  # type: ignore[arg-type]
        self.handles.append(sup)
        return sup

    def other_host(self, host: str) -> LockEnv:
        env = LockEnv(self.root, host, self.lockspace)
        env.handles = self.handles  # one cleanup list
        return env

    def cleanup(self) -> None:
        for sup in self.handles:
            try:
                sup.shutdown(timeout=2.0)
            except Exception:  # noqa: BLE001 - cleanup must reach every handle
                pass


@pytest.fixture
def lockenv() -> Iterator[LockEnv]:
    root = Path(tempfile.mkdtemp(prefix="vl"))
    env = LockEnv(root)
    try:
        yield env
    finally:
        env.cleanup()
        shutil.rmtree(root, ignore_errors=True)
