"""Internal qcow2 snapshots with libvirt snapshot XML as metadata.

Offline (domain shut off): ``qemu-img snapshot`` on every writable disk.
Live: QEMU's snapshot-save / snapshot-load / snapshot-delete jobs, which
also store the guest's memory (in the first qcow2 disk). A live snapshot
reverts by starting QEMU with ``-loadvm`` when the domain is shut off.
Every writable disk must be qcow2; raw disks cannot hold snapshots.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from ..base import Snapshot
from ..domxml import DomainXML
from ..errors import DriverError, ErrorCode, check_flags
from ..flags import (
    DomainState,
    EventType,
    JobFlags,
    JobOperation,
    PausedReason,
    ShutoffReason,
    SnapshotCreateFlags,
    SnapshotEventDetail,
    StartedDetail,
    StoppedDetail,
)
from ..jobs import Job
from ..lifecycle import find_snapshot
from ..snapxml import SnapshotDef, snapshot_request
from . import checkpoints, diskstamps, snapjournal, storage
from .context import DomainOps
from .guard import guarded
from .qemujob import run_qemu_job
from .snapmeta import forget_metadata, record_created, snapshot_paths, writable_disks
from .state import LiveVM, QDom


def _each_disk(job: Job, paths: list[str], apply: Callable[[str], None]) -> None:
    """``apply`` to every disk in turn; the job counts the disks done (qemu-img tells no more)."""
    job.steps(0, len(paths))
    for done, path in enumerate(paths, 1):
        apply(path)
        job.steps(done, len(paths))


def _nodes(vm: LiveVM) -> list[str]:
    return [d.node for d in vm.disks if not d.readonly and d.format == "qcow2"]


def create(ops: DomainOps, xml_or_name: str, flags: int = 0) -> QemuSnapshot | int:
    flags = check_flags(flags, int(SnapshotCreateFlags.HALT | SnapshotCreateFlags.LIVE | JobFlags.ASYNC),
                        "snapshot_create")
    request = snapshot_request(xml_or_name)
    host = ops.host
    with host.lock:
        dom = ops.idle("snapshot")
        if request.name in dom.snapshots:
            raise DriverError(ErrorCode.OPERATION_INVALID,
                              f"domain '{dom.name}' already has a snapshot named '{request.name}'")
        definition = dom.definition.copy()
        disks = writable_disks(definition, f"snapshot of '{dom.name}'")
        vm = dom.live
        state = {DomainState.RUNNING: "running", DomainState.PAUSED: "paused"}.get(dom.state, "shutoff") \
            if vm is not None else "shutoff"
        job = host.jobs.begin(dom.uuid, dom.name, JobOperation.SNAPSHOT, "snapshot")

    def worker(job: Job) -> QemuSnapshot:
        snap = SnapshotDef(name=request.name, description=request.description, state=state,
                           creation_time=int(time.time()), parent=dom.current_snapshot,
                           domain_xml=definition.to_string())
        with snapjournal.noted(host, dom, "create", snap):
            if vm is not None:
                if vm.agent is not None:  # a revert would bring back a guest whose file systems stay frozen
                    job.note("guest file systems not frozen: the snapshot keeps the guest's memory, "
                             "which matches its disks")
                nodes = _nodes(vm)
                job.steps(0, 1)
                run_qemu_job(vm, f"snap-save-{job.id}", "snapshot-save",
                             {"tag": request.name, "vmstate": nodes[0], "devices": nodes}, job,
                             f"snapshot '{request.name}' of '{dom.name}'")
            else:
                done: list[str] = []

                def take(path: str) -> None:
                    storage.snapshot("c", path, request.name)
                    done.append(path)
                try:
                    with diskstamps.own_change(host.layout, dom.uuid, disks):
                        _each_disk(job, [path for _, path in disks], take)
                except DriverError:
                    for path in done:
                        try:
                            storage.snapshot("d", path, request.name)
                        except DriverError:
                            pass
                    raise
            with host.lock:
                record_created(host, dom, snap)
        if flags & SnapshotCreateFlags.HALT and vm is not None:
            vm.ending = (int(ShutoffReason.FROM_SNAPSHOT), int(StoppedDetail.FROM_SNAPSHOT))
            host.kill(vm)
            host.finish_stop(dom, vm, ShutoffReason.FROM_SNAPSHOT, StoppedDetail.FROM_SNAPSHOT)
        return QemuSnapshot(ops, snap.name)

    return ops.run_job(job, worker, bool(flags & JobFlags.ASYNC))


T = TypeVar("T")


@guarded
class QemuSnapshot(Snapshot):
    def __init__(self, ops: DomainOps, name: str) -> None:
        super().__init__(ops.handle, name)
        self._ops = ops

    def _lookup(self) -> tuple[QDom, SnapshotDef]:
        dom = self._ops.lookup()
        return dom, find_snapshot(dom, self._name)

    def _read(self, read: Callable[[QDom, SnapshotDef], T]) -> T:
        """``read(domain, snapshot)`` under the host lock."""
        with self._ops.host.lock:
            return read(*self._lookup())

    def xml_desc(self) -> str:
        return self._read(lambda dom, snap: snap.to_xml())

    def is_current(self) -> bool:
        return self._read(lambda dom, snap: dom.current_snapshot == snap.name)

    def parent_name(self) -> str | None:
        return self._read(lambda dom, snap: snap.parent)

    def revert(self, flags: int = 0) -> int | None:
        """Go back to the snapshot: its disks, its memory (if live) and its run state.

        Always a SNAPSHOT_REVERT job (QMP snapshot-load, a restart with -loadvm, or
        qemu-img -a); with ``JobFlags.ASYNC`` its id comes back at once. It cannot be
        cancelled: QEMU loads the snapshot in one main-loop step that job-cancel does not stop.
        """
        flags = check_flags(flags, int(JobFlags.ASYNC), "snapshot revert")
        host = self._ops.host
        with host.lock:
            dom, snap = self._lookup()
            self._ops.idle("revert")
            definition = DomainXML.parse(snap.domain_xml) if snap.domain_xml else dom.definition.copy()
            disks = writable_disks(definition, f"revert of '{dom.name}'")
            vm = dom.live
            job = host.jobs.begin(dom.uuid, dom.name, JobOperation.SNAPSHOT_REVERT, "revert")

        def worker(job: Job) -> None:
            # QEMU refuses to load a snapshot under active bitmaps, and after the load they would no longer
            # tell what changed since each checkpoint: the checkpoints go, and the next backup is full
            with host.lock:
                diskstamps.mark_broken(host.layout, dom.uuid, f"the VM was reverted to snapshot '{snap.name}'")
                checkpoints.remove_bitmaps(host, dom, vm)
            live_target = snap.state in ("running", "paused")
            if live_target:
                job.steps(0, 1)
            live = vm
            if vm is None and live_target and definition.uefi:
                # -loadvm would look for the snapshot on every writable node, the UEFI variable store
                # (raw) included: start paused and load it onto the disks that hold it instead
                with host.lock:
                    if dom.uuid not in host.by_uuid:
                        host.add(dom)
                host.boot(dom, definition, True, StartedDetail.FROM_SNAPSHOT)
                live = dom.live
            if live is not None and live_target:
                nodes = _nodes(live)
                run_qemu_job(live, f"snap-load-{job.id}", "snapshot-load",
                             {"tag": snap.name, "vmstate": nodes[0], "devices": nodes}, job,
                             f"revert of '{dom.name}' to '{snap.name}'")
                if snap.state == "running":
                    live.resume_hint = (4, 2)  # RunningReason.FROM_SNAPSHOT, ResumedDetail.FROM_SNAPSHOT
                    live.execute("cont")
                else:
                    live.pause_hint = (int(PausedReason.FROM_SNAPSHOT), 5)
                    live.execute("stop")
                host.sync_status(dom, live)
            else:
                if vm is not None:
                    vm.ending = (int(ShutoffReason.FROM_SNAPSHOT), int(StoppedDetail.FROM_SNAPSHOT))
                    host.kill(vm)
                    host.finish_stop(dom, vm, ShutoffReason.FROM_SNAPSHOT, StoppedDetail.FROM_SNAPSHOT)
                if live_target:
                    with host.lock:
                        if dom.uuid not in host.by_uuid:
                            host.add(dom)
                    host.boot(dom, definition, snap.state == "paused", StartedDetail.FROM_SNAPSHOT,
                         extra_args=["-loadvm", snap.name])
                else:
                    _each_disk(job, [path for _, path in disks], lambda path: storage.snapshot("a", path, snap.name))
            with host.lock:
                if dom.persistent and snap.domain_xml:
                    dom.config = definition
                    host.save_config(dom)
                dom.current_snapshot = snap.name
                host.save_meta(dom)
                dom.touch()
                host.emit(dom, EventType.SNAPSHOT, SnapshotEventDetail.REVERTED, snap.name)

        return self._ops.run_job(job, worker, bool(flags & JobFlags.ASYNC))

    def delete(self, flags: int = 0) -> int | None:
        """Remove the snapshot from the disks and its metadata; children move up to its parent.

        Always a SNAPSHOT_DELETE job (QMP snapshot-delete, or qemu-img -d per disk of a
        shut-off domain); with ``JobFlags.ASYNC`` its id comes back at once. Not cancellable:
        stopping half-way would leave the snapshot on some disks and not on others.
        """
        flags = check_flags(flags, int(JobFlags.ASYNC), "snapshot delete")
        host = self._ops.host
        with host.lock:
            dom, snap = self._lookup()
            self._ops.idle("delete a snapshot of")
            vm = dom.live
            # unlike a revert, a delete skips a disk that is not qcow2: it cannot hold the snapshot anyway
            paths = snapshot_paths(dom.definition)
            targets = [(d.target, d.source) for d in dom.definition.disks() if d.source in paths]
            job = host.jobs.begin(dom.uuid, dom.name, JobOperation.SNAPSHOT_DELETE, "delete a snapshot of")

        def worker(job: Job) -> None:
            with snapjournal.noted(host, dom, "delete", snap):
                if vm is not None:
                    nodes = _nodes(vm)
                    job.steps(0, 1)
                    run_qemu_job(vm, f"snap-del-{job.id}", "snapshot-delete", {"tag": snap.name, "devices": nodes},
                                 job, f"deleting snapshot '{snap.name}' of '{dom.name}'")
                else:
                    def remove(path: str) -> None:
                        if snap.name in storage.snapshot_names(path):
                            storage.snapshot("d", path, snap.name)
                    with diskstamps.own_change(host.layout, dom.uuid, targets):
                        _each_disk(job, paths, remove)
                with host.lock:
                    forget_metadata(host, dom, snap)

        return self._ops.run_job(job, worker, bool(flags & JobFlags.ASYNC))
