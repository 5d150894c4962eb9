"""Checkpoints of the simulated host: metadata only, in the domain's memory, as libvirt's test driver.

A simulated disk has no blocks, so a checkpoint is its name, parent and
time; what an incremental backup "copies" is a share of the disk (see
:data:`CHANGED_SHARE`). A revert makes every checkpoint untrustworthy, so the
next backup is full and says why, as on a real host.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..base import Checkpoint
from ..checkpointxml import CheckpointDef, CheckpointDisk, checkpoint_request, no_checkpoint
from ..errors import DriverError, ErrorCode, check_flags
from .world import SimDomain

if TYPE_CHECKING:
    from .domain import TestDomain

#: the part of a disk an incremental backup of the test driver copies
CHANGED_SHARE = 16


def newest(sim: SimDomain) -> str | None:
    parents = {c.parent for c in sim.checkpoints.values()}
    leaves = [c for c in sim.checkpoints.values() if c.name not in parents]
    return leaves[-1].name if leaves else None


def new_checkpoint(sim: SimDomain, xml: str) -> CheckpointDef:
    """The checkpoint ``xml`` asks for (under the host lock); OPERATION_INVALID when the name is taken."""
    request = checkpoint_request(xml)
    if request.name in sim.checkpoints:
        raise DriverError(ErrorCode.OPERATION_INVALID,
                          f"domain '{sim.name}' already has a checkpoint named '{request.name}'")
    disks = tuple(CheckpointDisk(d.target, request.name) for d in sim.definition.disks()
                  if d.device != "cdrom" and not d.readonly)
    return replace(request, parent=newest(sim), disks=disks)


def plan(sim: SimDomain, incremental: str | None, chain_problem: str | None) -> str | None:
    """Why a backup asked to be incremental is full (None: it can be); NO_DOMAIN_CHECKPOINT for an unknown one.

    Untrustworthy checkpoints are dropped: the backup's new checkpoint starts a new chain.
    """
    if incremental is not None and incremental not in sim.checkpoints:
        raise no_checkpoint(sim.name, incremental)
    broken = sim.checkpoints_broken
    if broken:
        sim.checkpoints.clear()
        sim.checkpoints_broken = None
    return (broken or chain_problem) if incremental is not None else None


class TestCheckpoint(Checkpoint):
    __test__ = False
    _domain: TestDomain

    def _lookup(self) -> tuple[SimDomain, CheckpointDef]:
        sim = self._domain._sim()
        cp = sim.checkpoints.get(self._name)
        if cp is None:
            raise no_checkpoint(sim.name, self._name)
        return sim, cp

    def xml_desc(self, flags: int = 0) -> str:
        with self._domain._host.lock:
            return self._lookup()[1].to_xml()

    def parent_name(self) -> str | None:
        with self._domain._host.lock:
            return self._lookup()[1].parent

    def delete(self, flags: int = 0) -> None:
        """Forget the checkpoint; its children move up to its parent (whose record holds their changes)."""
        check_flags(flags, 0, "checkpoint delete")
        with self._domain._host.lock:
            sim, cp = self._lookup()
            self._domain._host.jobs.check_idle(sim.uuid, sim.name, "delete a checkpoint of")
            for name, other in list(sim.checkpoints.items()):
                if other.parent == cp.name:
                    sim.checkpoints[name] = replace(other, parent=cp.parent)
            del sim.checkpoints[cp.name]
