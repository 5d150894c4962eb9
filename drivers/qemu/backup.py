"""Push-mode backup (libvirt ``<domainbackup>``) through QEMU's blockdev-backup.

For every selected disk the driver has QEMU create the target image
(blockdev-create, same virtual size), attaches it as a block node and starts one
``blockdev-backup sync=full`` per disk in a single transaction, so all disks
are copied as of the same instant (copy-before-write keeps that point in
time while the guest writes on). That transaction runs before ``backup_begin``
returns, so the backup holds the disks as they were during the call. Progress
comes from ``query-jobs``; abort sends ``job-cancel``. A failed or cancelled
backup removes every target.

Targets are written as ``.part`` files (partfiles.py) named in the VM's
state file, and get their final names only once every disk is copied and on
disk. QEMU runs the copy on its own: when the connection closes or the
process dies, the backup goes on, and the next connection to the root takes
it over (:func:`adopt`); a backup whose VM stopped meanwhile cannot be proven
complete, and the next connection removes its ``.part`` files.

Incremental (``<incremental>C</incremental>``): each disk's copy is
``sync=bitmap`` over checkpoint C's bitmap (``bitmap-mode=never``: C keeps
recording), into a qcow2 whose backing file is the image of the same disk in
the backup taken at C (``../<parent-id>/<file>``: the catalog's chain). A
``checkpoint_xml`` adds the new checkpoint's bitmaps in the same transaction,
so it marks exactly the backup's point in time (:mod:`checkpoints`). When the
bitmaps or the parent backup cannot be used the backup is full and its job
note and manifest say why.
"""
from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict
from typing import Any

from .. import backupcatalog, backupchain, backuprestore, hashcopy
from ..checkpointxml import no_checkpoint
from ..diskimage import already_exists
from ..errors import DriverError, ErrorCode, check_flags
from ..flags import BackupFlags, JobFlags, JobOperation
from ..jobs import Job, operation_text
from ..snapxml import BackupDef, BackupDisk
from . import agent, checkpoints, partfiles, storage
from .cmdline import BlockNode
from .context import DomainOps
from .events import EventHost
from .guard import guard_worker, translate
from .qemujob import run_qemu_job
from .state import LiveVM, QDom

#: progress refresh while nothing happens; QMP job events wake the loop at once
POLL = 0.25
#: in-kernel copies (copy_file_range) where the file system can: markedly faster than buffered copies
X_PERF = {"use-copy-range": True}


def begin(ops: DomainOps, backup_xml: str, flags: int = 0, checkpoint_xml: str | None = None) -> int:
    check_flags(flags, int(JobFlags.ASYNC | BackupFlags.SHUT_OFF | BackupFlags.QUIESCE), "backup_begin")
    with ops.host.lock:
        dom = ops.idle("back up")
        if dom.live is None and flags & BackupFlags.SHUT_OFF:
            if checkpoint_xml is not None:
                raise DriverError(ErrorCode.OPERATION_INVALID, f"domain '{dom.name}' is shut off; a checkpoint "
                                  "is created with a backup of the running VM")
            return _begin_offline(ops, dom, backup_xml)
    return begin_live(ops, backup_xml, JobOperation.BACKUP, "back up", checkpoint_xml=checkpoint_xml,
                      quiesce=bool(flags & BackupFlags.QUIESCE))


def begin_live(ops: DomainOps, backup_xml: str, operation: JobOperation, action: str,
               then: Callable[[Job], None] | None = None, checkpoint_xml: str | None = None,
               quiesce: bool = False) -> int:
    """A push backup of the running domain as a job of ``operation`` (a BACKUP, or a CLONE's copy).

    ``then(job)`` runs in the job once every copy is whole and under its name;
    whatever it raises fails the job (it removes what it made itself). ``checkpoint_xml``
    (a BACKUP only) creates that checkpoint in the backup's transaction. The guest's file
    systems are frozen around the point in time where its agent answers; ``quiesce``: the
    job fails to start unless they are (libvirt's QUIESCE flag).
    """
    host = ops.host
    with host.lock:
        dom = ops.idle(action)
        vm = dom.live
        if vm is None:
            raise DriverError(ErrorCode.OPERATION_INVALID,
                              f"domain '{dom.name}' is not running; a push backup needs a running guest "
                              "(BackupFlags.SHUT_OFF backs up a shut-off one)")
        nodes = {d.target: d for d in vm.disks}
        spec = BackupDef.parse(backup_xml, list(nodes))
        if operation is JobOperation.BACKUP:
            parent, chain_problem = backupchain.parent_backup(dom.uuid, spec)
            chain_problem = backupchain.raw_target(spec) or chain_problem
            plan = checkpoints.plan(host, dom, vm, spec.incremental, checkpoint_xml,
                                    [nodes[d.name] for d in spec.disks], chain_problem)
        else:  # a clone's copy: every block, and the domain's checkpoints are left as they are
            parent, plan = None, checkpoints.Plan(incremental=None, full_reason=None, checkpoint=None)
        # an incremental builds on its parent's chain: no prune may remove or rewrite it meanwhile
        claim = host.backup_claims.claim(_chain_folders(parent) if plan.incremental else [],
                                         f"a backup of '{dom.name}'")
        try:
            job = host.jobs.begin(dom.uuid, dom.name, operation, action)
        except BaseException:
            claim.release()
            raise
        if plan.full_reason:
            job.note(f"full: {plan.full_reason}")
        if operation is JobOperation.BACKUP:
            host.backups[job.id] = BackupDef(spec.mode, spec.disks, plan.incremental).to_xml()
        targets = {d.name: (partfiles.part_name(d.target), d.target) for d in spec.disks}
        lineage = backupcatalog.Lineage(
            kind="incremental" if plan.incremental else "full",
            parent=parent.id if plan.incremental and parent else None,
            checkpoint=plan.checkpoint.name if plan.checkpoint else None, full_reason=plan.full_reason)
        backing = backupchain.backing_files(parent if plan.incremental else None, spec)
        started = time.time()
        # before any file exists: whoever finds the note knows which files are unfinished
        _note(host, dom, vm, {"kind": "backup", "key": str(job.id), "targets": targets, "started": started,
                              "lineage": asdict(lineage), "backing": {t: b[0] for t, b in backing.items()}})
    # QEMU's copy starts before the call returns: the point in time is the call, not some moment
    # after it, and a backup that cannot start fails here (the job ends failed too)
    try:
        job_ids, added, total = start(host, dom, vm, spec, nodes, targets, job, plan, backing, functools.partial(
            agent.frozen_for, host, dom, job, quiesce))
    except BaseException as exc:  # noqa: BLE001 - the job ends failed whatever stopped the start
        claim.release()
        error = translate(exc, operation_text(operation))
        host.jobs.end(job, error)
        raise error from None

    written = [backupcatalog.Written(target=d.name, path=targets[d.name][0], final=d.target, format=d.format)
               for d in spec.disks]

    def worker(job: Job) -> None:
        follow(host, dom, vm, job, job_ids, added, written, total, started)
        if then is not None:
            then(job)

    ops.run_job(job, claim.around(worker), True)
    return job.id


def _chain_folders(parent: backupcatalog.Backup | None) -> list[str]:
    """The folders of ``parent`` and its own parents, which an incremental on top of it depends on."""
    if parent is None:
        return []
    try:
        return [b.folder for b in backupcatalog.chain(parent)]
    except DriverError:
        return [parent.folder]


def _begin_offline(ops: DomainOps, dom: QDom, backup_xml: str) -> int:
    """Back up a shut-off domain (under the host lock): copies of its disks, as one job.

    A disk whose image file can be the backup as it lies (:func:`copies_as_file`) is copied
    as a file and hashed on the way (:mod:`drivers.hashcopy`: at the speed of ``cp``); any
    other is converted by qemu-img into a standalone image of the target's format.

    The job keeps the domain busy, so nothing starts it (and writes its disks)
    until the copies are done; they are ``.part`` files until then.
    """
    host = ops.host
    if dom.config is None:
        raise DriverError(ErrorCode.OPERATION_INVALID, f"domain '{dom.name}' has no definition to back up")
    definition = dom.config
    sources = {n.target: (n.source, n.format or "raw") for n in definition.disk_nodes() if n.source}
    spec = BackupDef.parse(backup_xml, list(sources))
    if spec.incremental is not None and spec.incremental not in checkpoints.load(host, dom.uuid):
        raise no_checkpoint(dom.name, spec.incremental)
    job = host.jobs.begin(dom.uuid, dom.name, JobOperation.BACKUP, "back up")
    # qemu-img reads no bitmap: a shut-off domain's copy is whole
    lineage = backupcatalog.Lineage(full_reason="the VM is shut off, and its disks are copied whole"
                                    if spec.incremental else None)
    if lineage.full_reason:
        job.note(f"full: {lineage.full_reason}")
    spec = BackupDef(spec.mode, spec.disks)
    host.backups[job.id] = spec.to_xml()
    written = [backupcatalog.Written(target=d.name, path=partfiles.part_name(d.target), final=d.target,
                                     format=d.format) for d in spec.disks]
    started, name, uuid, xml = time.time(), dom.name, dom.uuid, definition.to_string()

    def worker(job: Job) -> None:
        try:
            infos = {w.target: storage.info(str(sources[w.target][0])) for w in written}
            sizes = [int(infos[w.target]["virtual-size"]) for w in written]
            total, done = sum(sizes), 0
            job.progress(0, total)
            hashed: dict[str, str] = {}
            for w, size in zip(written, sizes, strict=True):
                src, fmt = sources[w.target]

                def report(frac: float, base: int = done, size: int = size) -> None:
                    job.progress(base + int(frac * size), total)
                if copies_as_file(infos[w.target], fmt, w.format):  # hashed as it is copied, made durable
                    hashed[w.target] = hashcopy.copy_hashed(str(src), w.path, report, lambda: job.cancel_requested)
                else:  # made durable below: while it is hashed, or else as it is published
                    backuprestore.convert(str(src), fmt, w.path, w.format, report, lambda: job.cancel_requested,
                                          durable=False)
                done += size
            job.raise_if_cancelled()
            folder = backupcatalog.dedicated_folder(written)
            images = backupcatalog.describe(written, cancelled=lambda: job.cancel_requested, flush=True,
                                            hashed=hashed) if folder else []
            publish([(w.path, w.final) for w in written])
            if folder is not None:
                backupcatalog.write_manifest(folder, name, uuid, xml, started, images, lineage)
        finally:
            for w in written:
                partfiles.discard(w.path)  # gone once published; what a failure or cancel left

    ops.run_job(job, worker, True)
    return job.id


def copies_as_file(info: dict[str, Any], fmt: str, target_format: str) -> bool:
    """Whether a shut-off disk's backup can be its image file as it lies (``info``: qemu-img info's JSON).

    So it is when the target has the disk's format and the file holds the disk's data and
    nothing else: a raw image, or a qcow2 without a backing file, an external data file,
    internal snapshots or bitmaps (those belong to the VM's own history), neither marked
    corrupt nor left dirty. Anything else is converted by qemu-img into a standalone image.
    """
    if fmt != target_format:
        return False
    if fmt == "raw":
        return True
    data = (info.get("format-specific") or {}).get("data") or {}
    return (fmt == "qcow2" and info.get("format") == "qcow2" and not info.get("backing-filename")
            and not info.get("snapshots") and not data.get("bitmaps") and not data.get("data-file")
            and not data.get("corrupt") and not info.get("dirty-flag"))


def _create_image(vm: LiveVM, name: str, part: str, fmt: str, size: int, target: str, incremental: bool,
                  backing: tuple[str, str] | None) -> None:
    """Create a backup's target image through QEMU (blockdev-create): no qemu-img process to start.

    That start cost 20-35 ms of every backup. A qcow2 full backup gets its metadata
    laid out up front (the copy then never stops to allocate clusters); an incremental's
    image names ``backing`` (relative path, format) if its disk has a parent image, where
    clusters it leaves unallocated read through to that image. A raw target is a file of
    the disk's size.
    """
    what = f"creating backup target {target}"
    try:
        with open(part, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)
            if fmt != "qcow2":
                fh.truncate(size)
    except OSError as exc:
        raise DriverError(ErrorCode.OPERATION_FAILED, f"{what}: {exc.strerror or exc}") from None
    if fmt != "qcow2":
        return
    options: dict[str, Any] = {"driver": "qcow2", "file": f"mk{name}", "size": size}
    if not incremental:
        options["preallocation"] = "metadata"
    elif backing is not None:
        options.update({"backing-file": backing[0], "backing-fmt": backing[1]})
    vm.execute("blockdev-add", {"driver": "file", "node-name": f"mk{name}", "filename": part,
                                "cache": {"no-flush": True}})  # made durable with the copy
    try:
        run_qemu_job(vm, f"mk{name}", "blockdev-create", {"options": options}, None, what)
    except BaseException:
        _delete_nodes(vm, [f"mk{name}"])
        raise
    if _delete_nodes(vm, [f"mk{name}"]):
        raise DriverError(ErrorCode.OPERATION_FAILED, f"{what}: QEMU did not close the new image")


def _delete_nodes(vm: LiveVM, nodes: list[str]) -> list[str]:
    """Close QEMU's nodes of a backup's images; the names of those still open after a second of trying.

    Closing a qcow2 node is what writes its last metadata (cached tables) to the file.
    """
    left = []
    for tnode in nodes:
        for _ in range(50):
            try:
                vm.execute("blockdev-del", {"node-name": tnode}, timeout=5)
                break
            except DriverError as exc:
                if "Cannot find" in exc.message or "not found" in exc.message or not vm.mon or \
                        not vm.mon.connected:
                    break
                time.sleep(0.02)  # the job may still hold the node for a moment
        else:
            left.append(tnode)
    return left


def _note(host: EventHost, dom: QDom, vm: LiveVM, note: dict[str, Any]) -> None:
    """Record (or with {} forget) the running backup in the VM's state file."""
    with host.lock:
        vm.job_note = note
        if dom.live is vm:
            host.write_state(dom)


def _with_perf(action: dict[str, Any]) -> dict[str, Any]:
    return {"type": action["type"], "data": {**action["data"], "x-perf": X_PERF}}


def _virtual_sizes(vm: LiveVM, disks: list[BlockNode]) -> dict[str, int]:
    """Virtual size of each disk's format node, asked of QEMU (no qemu-img process)."""
    by_node = {n.get("node-name"): n for n in vm.execute("query-named-block-nodes", {"flat": True})}
    out = {}
    for d in disks:
        node = by_node.get(d.node)
        size = (node or {}).get("image", {}).get("virtual-size")
        out[d.target] = int(size) if size is not None else int(storage.info(d.path)["virtual-size"])
    return out


def start(host: EventHost, dom: QDom, vm: LiveVM, spec: BackupDef, nodes: dict[str, BlockNode],
          targets: dict[str, tuple[str, str]], job: Job, plan: checkpoints.Plan,
          backing: dict[str, tuple[str, str]],
          point_in_time: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext
          ) -> tuple[list[str], list[str], int]:
    """Create the targets (as .part files) and start QEMU's copies in one transaction: the point in time.

    ``backing`` gives an incremental target its backing file (relative path, format). The
    transaction also adds the plan's new checkpoint, and runs inside ``point_in_time()`` (the
    guest's file systems frozen around it). Returns (QEMU job ids, target nodes, total bytes)
    for :func:`follow`; on failure nothing is left.
    """
    created: list[str] = []
    added: list[str] = []
    job_ids: list[str] = []
    started = False
    try:
        sizes = _virtual_sizes(vm, [nodes[d.name] for d in spec.disks])
        total = sum(sizes.values())
        job.progress(0, total)
        for disk in spec.disks:
            if os.path.lexists(disk.target):
                raise already_exists(disk.target)
            part = targets[disk.name][0]
            created.append(part)
            _create_image(vm, f"{job.id}-{disk.name}", part, disk.format, sizes[disk.name], disk.target,
                          incremental=bool(plan.incremental), backing=backing.get(disk.name))
        job.raise_if_cancelled()
        actions = []
        sync: dict[str, Any] = {"sync": "full"}
        if plan.incremental:
            sync = {"sync": "bitmap", "bitmap": plan.incremental, "bitmap-mode": "never"}
        for disk in spec.disks:
            tnode = f"bk{job.id}-{disk.name}"
            node: dict[str, Any] = {"driver": disk.format, "node-name": tnode, "cache": {"no-flush": True},
                                    "file": {"driver": "file", "filename": targets[disk.name][0],
                                             "cache": {"no-flush": True}}}
            if plan.incremental:
                node["backing"] = None  # QEMU writes the changed clusters only; the chain is for readers
            vm.execute("blockdev-add", node)
            added.append(tnode)
            jid = f"backup{job.id}-{disk.name}"
            job_ids.append(jid)
            actions.append({"type": "blockdev-backup",
                            "data": {"job-id": jid, "device": nodes[disk.name].node, "target": tnode,
                                     **sync, "auto-dismiss": False, "auto-finalize": True,
                                     "speed": int(host.job_speed.get(job.id, 0))}})
        marks = checkpoints.add_actions(plan.checkpoint.name, checkpoints.tracked(vm.disks)) if plan.checkpoint else []
        with point_in_time():
            try:
                vm.execute("transaction", {"actions": marks + [_with_perf(a) for a in actions]})
            except DriverError as exc:
                if "x-perf" not in exc.message and "use-copy-range" not in exc.message:
                    raise
                vm.execute("transaction", {"actions": marks + actions})  # a QEMU without the tuning knob
        started = True
        if plan.checkpoint is not None:
            with host.lock:
                checkpoints.record(host, dom, plan.checkpoint)
    finally:
        if not started:
            _delete_nodes(vm, added)
            for path in created:
                partfiles.discard(path)
            _note(host, dom, vm, {})
    return job_ids, added, total


class _LeftToQEMU(DriverError):
    """The host closed while QEMU copies: the next connection to the root takes the backup over."""


def _wait_for_copies(host: EventHost, dom: QDom, vm: LiveVM, job: Job, job_ids: list[str], total: int) -> list[str]:
    """Follow QEMU's copies to their end (progress, the user's speed limit); returns what failed.

    Raises :class:`_LeftToQEMU` when the host closes meanwhile (the copies go on).
    """
    errors: list[str] = []
    pending = set(job_ids)
    applied_speed = int(host.job_speed.get(job.id, 0))
    while pending:
        speed = host.job_speed.get(job.id, 0)
        if speed != applied_speed:  # the user throttled (or unthrottled) the backup
            for jid in pending:
                try:
                    vm.execute("block-job-set-speed", {"device": jid, "speed": int(speed)})
                except DriverError:
                    pass
            applied_speed = speed
        current = counted = 0
        infos = {i.get("id"): i for i in vm.execute("query-jobs")}
        for jid in job_ids:
            info = infos.get(jid)
            if info is None:
                if jid in pending:
                    pending.discard(jid)
                    errors.append(f"{jid}: QEMU lost the job")
                continue
            current += int(info.get("current-progress") or 0)
            counted += int(info.get("total-progress") or 0)
            if info.get("status") == "concluded" and jid in pending:
                pending.discard(jid)
                if info.get("error"):
                    errors.append(f"disk {_disk_of(jid)}: {info['error']}")
        if counted and len(infos.keys() & set(job_ids)) == len(job_ids):
            total = counted  # QEMU's own count: an incremental copies the changed clusters only
        job.progress(min(current, total), total)
        if pending:
            if host.leaving.is_set() and not job.cancel_requested:
                raise _LeftToQEMU(ErrorCode.OPERATION_ABORTED,
                                  f"backup of '{dom.name}' left to QEMU: the connection closed; the next "
                                  "connection to the root takes it over")
            vm.wakeup.wait(POLL)
            vm.wakeup.clear()
    return errors


def _follow_adopted(host: EventHost, dom: QDom, vm: LiveVM, job_ids: list[str], added: list[str],
                    written: list[backupcatalog.Written], total: int, started: float, job: Job) -> None:
    follow(host, dom, vm, job, job_ids, added, written, total, started)


def follow(host: EventHost, dom: QDom, vm: LiveVM, job: Job, job_ids: list[str], added: list[str],
           written: list[backupcatalog.Written], total: int, started: float) -> None:
    """Wait for QEMU's backup jobs, then finish (targets on disk, under their names) or clean up (removed).

    ``written`` names each disk's .part file and final name. A backup into a
    folder of its own is hashed and gets a catalog manifest (drivers.backupcatalog)
    as the job's last step, after the images have their names. When the host closes
    (its last connection) the job ends here but QEMU's copy and the note in
    the state file stay, for the next connection to take over.
    """
    ok = False
    left = False
    targets = [(w.path, w.final) for w in written]
    try:
        def cancel() -> None:
            for jid in job_ids:
                try:
                    vm.execute("job-cancel", {"id": jid}, timeout=5)
                except DriverError:
                    pass
        job.on_cancel(cancel)
        try:
            with hashcopy.written_back([w.path for w in written]):  # the final fsync then finds little left
                errors = _wait_for_copies(host, dom, vm, job, job_ids, total)
        except _LeftToQEMU:
            left = True
            raise
        job.raise_if_cancelled()
        if errors:
            raise DriverError(ErrorCode.OPERATION_FAILED, "backup failed: " + "; ".join(errors))
        # QEMU copied every disk: from here on a successor finishes the backup rather than removing it
        _note(host, dom, vm, {**vm.job_note, "copied": True, "formats": {w.target: w.format for w in written}})
        for jid in job_ids:
            try:
                vm.execute("job-dismiss", {"id": jid})
            except DriverError:
                pass
        still_open = _delete_nodes(vm, added)
        if still_open:  # an image QEMU has not closed may lack its last metadata: never hashed nor published
            raise DriverError(ErrorCode.OPERATION_FAILED, "backup failed: QEMU did not close the backup image "
                              f"{', '.join(still_open)}")
        added = []
        store(dom, vm.definition.to_string(), written, vm.job_note, started, lambda: job.cancel_requested)
        ok = True
    finally:
        if not left:
            for jid in job_ids if not ok else ():
                for cmd in ("job-cancel", "job-dismiss"):
                    try:
                        vm.execute(cmd, {"id": jid}, timeout=5)
                    except DriverError:
                        pass
            _delete_nodes(vm, added)
            if not ok:
                for part, _ in targets:
                    partfiles.discard(part)
                new = _lineage(vm.job_note).checkpoint
                if new:  # a checkpoint no backup stands for would only make the next backup full
                    checkpoints.forget_new(host, dom, vm, new)
            _note(host, dom, vm, {})


def store(dom: QDom, domain_xml: str, written: list[backupcatalog.Written], note: dict[str, Any], started: float,
          cancelled: Callable[[], bool]) -> None:
    """Give the copies QEMU completed their final names; in a folder of their own they also become a
    catalog entry: each image hashed and made durable first, the manifest (``domain_xml``) last."""
    catalog_folder = backupcatalog.dedicated_folder(written)
    images: list[backupcatalog.Image] = []
    if catalog_folder is not None:
        backing = {str(t): str(b) for t, b in (note.get("backing") or {}).items()}
        images = backupcatalog.describe(written, cancelled=cancelled, backing=backing, flush=True)
    publish([(w.path, w.final) for w in written if w.path != w.final])  # some may have their names already
    if catalog_folder is not None:
        backupcatalog.write_manifest(catalog_folder, dom.name, dom.uuid, domain_xml, started, images,
                                     _lineage(note))


def copied_written(note: dict[str, Any]) -> list[backupcatalog.Written] | None:
    """The images of a backup whose note says QEMU copied them: each under its .part name, or its final
    one if it was published already; None for a note without their formats (written by an older vmgui),
    which are never guessed from a file's first bytes (a raw disk's guest can write any)."""
    formats = note.get("formats")
    if not isinstance(formats, dict):
        return None
    out = []
    for dev, (part, final) in (note.get("targets") or {}).items():
        if str(dev) not in formats:
            return None
        path = str(part) if os.path.exists(str(part)) else str(final)
        out.append(backupcatalog.Written(target=str(dev), path=path, final=str(final), format=str(formats[dev])))
    return out


def _lineage(note: dict[str, Any]) -> backupcatalog.Lineage:
    """The chain facts a backup's note carries into its manifest."""
    raw = note.get("lineage") or {}
    return backupcatalog.Lineage(kind=str(raw.get("kind") or "full"), parent=raw.get("parent"),
                                 checkpoint=raw.get("checkpoint"), full_reason=raw.get("full_reason"))


def _disk_of(jid: str) -> str:
    """The disk (target name) a QEMU backup job ``backup<job>-<disk>`` copies."""
    return jid.split("-", 1)[1]


def publish(targets: list[tuple[str, str]]) -> None:
    """Give the copies of a backup QEMU completed their final names (durable first: one fsync each).

    A copy no longer under its temporary name was published before (by a process that then died).
    """
    for part, final in targets:
        if os.path.exists(part) or not os.path.exists(final):
            partfiles.publish(part, final, replace=False)


def noted_targets(note: dict[str, Any]) -> list[tuple[str, str]]:
    """The (.part file, final name) pairs a backup's note in the state file lists."""
    return [(str(pair[0]), str(pair[1])) for pair in (note.get("targets") or {}).values()]


def adopt(host: EventHost, dom: QDom, vm: LiveVM) -> set[str]:
    """Take over the backup a closed connection or a dead process left running in QEMU (on re-attach).

    It becomes a BACKUP job of this process with its figures; it finishes
    normally (the targets get their final names), or when cancelled (or
    failed) removes its targets. Only the backup the VM's state file names
    can be taken over; the ids of QEMU's jobs taken over are returned.
    """
    note = vm.job_note if vm.job_note.get("kind") == "backup" and not vm.job_note.get("copied") else {}
    key = str(note.get("key", ""))
    noted = {str(dev): (str(pair[0]), str(pair[1])) for dev, pair in (note.get("targets") or {}).items()}
    job_ids = [jid for jid in (str(j.get("id")) for j in vm.execute("query-jobs"))
               if key and jid.startswith(f"backup{key}-") and _disk_of(jid) in noted]
    if not job_ids:
        return set()
    jobs = {str(j.get("id")): j for j in vm.execute("query-jobs")}
    nodes = {str(n.get("node-name")): n for n in vm.execute("query-named-block-nodes", {"flat": True})}
    disks, added, written = [], [], []
    for jid in job_ids:
        dev = _disk_of(jid)
        part, final = noted[dev]
        added.append(f"bk{key}-{dev}")
        fmt = str((nodes.get(f"bk{key}-{dev}") or {}).get("drv") or "qcow2")
        written.append(backupcatalog.Written(target=dev, path=part, final=final, format=fmt))
        disks.append(BackupDisk(name=dev, target=final, format=fmt))
    total = sum(int(jobs[j].get("total-progress") or 0) for j in job_ids) or 1
    with host.lock:
        job = host.jobs.begin(dom.uuid, dom.name, JobOperation.BACKUP, "back up")
        host.backups[job.id] = BackupDef(mode="push", disks=tuple(disks)).to_xml()
    speeds = [int(b.get("speed") or 0) for b in vm.execute("query-block-jobs") if b.get("device") in job_ids]
    host.job_speed[job.id] = max(speeds) if speeds else 0  # keep the throttle set before
    started = float(note.get("started") or time.time())
    worker = guard_worker(functools.partial(_follow_adopted, host, dom, vm, job_ids, added, written, total,
                                            started), "backup")
    host.jobs.run(job, worker, True)
    return set(job_ids)
