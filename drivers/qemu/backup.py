"""Push-mode backup (libvirt ``<domainbackup>``) through QEMU's blockdev-backup.

For every selected disk the driver creates the target image with qemu-img
(same virtual size), attaches it as a block node and starts one
``blockdev-backup sync=full`` per disk in a single transaction, so all disks
are copied as of the same instant (copy-before-write keeps that point in
time while the guest writes on). That transaction runs before ``backup_begin``
returns, so the backup holds the disks as they were during the call. Progress
comes from ``query-jobs``; abort sends ``job-cancel``. A failed or cancelled
backup removes every target.
"""
from __future__ import annotations

import functools
import os
import time
from typing import TYPE_CHECKING, Any

from ..diskimage import reserve_new_file
from ..errors import DriverError, ErrorCode, check_flags
from ..flags import JobFlags, JobOperation
from ..jobs import Job
from ..snapxml import BackupDef, BackupDisk
from . import storage
from .guard import guard_worker, translate
from .host import LiveVM, QemuHost

if TYPE_CHECKING:
    from .domain import QemuDomain

#: progress refresh while nothing happens; QMP job events wake the loop at once
POLL = 0.25
#: in-kernel copies (copy_file_range) where the file system can: markedly faster than buffered copies
X_PERF = {"use-copy-range": True}


def begin(domain: "QemuDomain", backup_xml: str, flags: int = 0) -> int:
    check_flags(flags, int(JobFlags.ASYNC), "backup_begin")
    host: QemuHost = domain._host
    with host.lock:
        dom = domain._idle("back up")
        vm = dom.live
        if vm is None:
            raise DriverError(ErrorCode.OPERATION_INVALID,
                              f"domain '{dom.name}' is not running; a push backup needs a running guest")
        nodes = {d.target: d for d in vm.disks}
        spec = BackupDef.parse(backup_xml, list(nodes))
        job = host.jobs.begin(dom.uuid, dom.name, JobOperation.BACKUP, "back up")
        host.backups[job.id] = spec.to_xml()
    # QEMU's copy starts before the call returns: the point in time is the call, not some moment
    # after it, and a backup that cannot start fails here (the job ends failed too)
    try:
        job_ids, added, created, total = start(host, vm, spec, nodes, job)
    except BaseException as exc:
        error = translate(exc, "backup")
        host.jobs.end(job, error)
        raise error from None

    def worker(job: Job) -> None:
        follow(host, vm, job, job_ids, added, created, total)

    domain._conn.run_job(job, worker, True)
    return job.id


def _delete_nodes(vm: LiveVM, nodes: list[str]) -> None:
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


def _fsync(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        dfd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError as exc:
        raise DriverError(ErrorCode.OPERATION_FAILED, f"cannot write backup {path} to disk: {exc.strerror}") from None


def _with_perf(action: dict[str, Any]) -> dict[str, Any]:
    return {"type": action["type"], "data": {**action["data"], "x-perf": X_PERF}}


def _virtual_sizes(vm: LiveVM, disks: list[Any]) -> dict[str, int]:
    """Virtual size of each disk's format node, asked of QEMU (no qemu-img process)."""
    by_node = {n.get("node-name"): n for n in vm.execute("query-named-block-nodes", {"flat": True})}
    out = {}
    for d in disks:
        node = by_node.get(d.node)
        size = (node or {}).get("image", {}).get("virtual-size")
        out[d.target] = int(size) if size is not None else int(storage.info(d.path)["virtual-size"])
    return out


def start(host: QemuHost, vm: LiveVM, spec: BackupDef, nodes: dict[str, Any],
          job: Job) -> tuple[list[str], list[str], list[str], int]:
    """Create the targets and start QEMU's copies in one transaction (the backup's point in time).

    Returns (QEMU job ids, target nodes, target files, total bytes) for :func:`follow`; on
    failure nothing is left behind.
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
            reserve_new_file(disk.target)  # a file that appeared since the request is refused, never truncated
            created.append(disk.target)
            # qcow2 metadata laid out up front: the copy then never stops to allocate clusters
            opts = ["-o", "preallocation=metadata"] if disk.format == "qcow2" else []
            storage.run(["create", "-q", "-f", disk.format, *opts, disk.target, str(sizes[disk.name])],
                        f"creating backup target {disk.target}")
        job.raise_if_cancelled()
        actions = []
        for disk in spec.disks:
            tnode = f"bk{job.id}-{disk.name}"
            vm.execute("blockdev-add", {"driver": disk.format, "node-name": tnode,
                                        "cache": {"no-flush": True},
                                        "file": {"driver": "file", "filename": disk.target,
                                                 "cache": {"no-flush": True}}})
            added.append(tnode)
            jid = f"backup{job.id}-{disk.name}"
            job_ids.append(jid)
            actions.append({"type": "blockdev-backup",
                            "data": {"job-id": jid, "device": nodes[disk.name].node, "target": tnode,
                                     "sync": "full", "auto-dismiss": False, "auto-finalize": True,
                                     "speed": int(host.job_speed.get(job.id, 0))}})
        try:
            vm.execute("transaction", {"actions": [_with_perf(a) for a in actions]})
        except DriverError as exc:
            if "x-perf" not in exc.message and "use-copy-range" not in exc.message:
                raise
            vm.execute("transaction", {"actions": actions})  # a QEMU without the tuning knob
        started = True
    finally:
        if not started:
            _delete_nodes(vm, added)
            for path in created:
                _remove(path)
    return job_ids, added, created, total


def _follow_adopted(host: QemuHost, vm: LiveVM, job_ids: list[str], added: list[str], created: list[str],
                    total: int, job: Job) -> None:
    follow(host, vm, job, job_ids, added, created, total)


def follow(host: QemuHost, vm: LiveVM, job: Job, job_ids: list[str], added: list[str], created: list[str],
           total: int) -> None:
    """Wait for QEMU's backup jobs, then finish (flush the targets) or clean up (remove them)."""
    ok = False
    try:
        def cancel() -> None:
            for jid in job_ids:
                try:
                    vm.execute("job-cancel", {"id": jid}, timeout=5)
                except DriverError:
                    pass
        job.on_cancel(cancel)
        errors = []
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
            current = 0
            infos = {i.get("id"): i for i in vm.execute("query-jobs")}
            for jid in job_ids:
                info = infos.get(jid)
                if info is None:
                    if jid in pending:
                        pending.discard(jid)
                        errors.append(f"disk {_disk_of(jid)}: QEMU lost the copy")
                    continue
                current += int(info.get("current-progress") or 0)
                if info.get("status") == "concluded" and jid in pending:
                    pending.discard(jid)
                    if info.get("error"):
                        errors.append(f"disk {_disk_of(jid)}: {info['error']}")
                    try:
                        vm.execute("job-dismiss", {"id": jid})
                    except DriverError:
                        pass
            job.progress(min(current, total), total)
            if pending:
                vm.wakeup.wait(POLL)
                vm.wakeup.clear()
        job.raise_if_cancelled()
        if errors:
            raise DriverError(ErrorCode.OPERATION_FAILED, "backup failed: " + "; ".join(errors))
        _delete_nodes(vm, added)
        added = []
        for path in created:  # durable before we say "completed" (one fsync, not QEMU's ordered flushes)
            _fsync(path)
        ok = True
    finally:
        for jid in job_ids if not ok else ():
            for cmd in ("job-cancel", "job-dismiss"):
                try:
                    vm.execute(cmd, {"id": jid}, timeout=5)
                except DriverError:
                    pass
        _delete_nodes(vm, added)
        if not ok:
            for path in created:
                _remove(path)


def _disk_of(jid: str) -> str:
    """The disk (target name) a QEMU backup job ``backup<job>-<disk>`` copies."""
    return jid.split("-", 1)[1]


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def adopt(host: QemuHost, dom: Any, vm: LiveVM) -> list[int]:
    """Take over the backups a process that died left running in QEMU (on re-attach).

    Each becomes a BACKUP job of this process with its figures; it finishes
    normally, or when cancelled (or failed) removes its targets.
    """
    jobs = {str(j.get("id")): j for j in vm.execute("query-jobs")}
    nodes = {str(n.get("node-name")): n for n in vm.execute("query-named-block-nodes", {"flat": True})}
    if not any(jid.startswith("backup") for jid in jobs):
        return []
    groups: dict[str, list[str]] = {}
    for jid in jobs:
        if jid.startswith("backup") and "-" in jid:
            groups.setdefault(jid[len("backup"):].split("-", 1)[0], []).append(jid)
    adopted = []
    for key, job_ids in groups.items():
        disks, added, created = [], [], []
        for jid in job_ids:
            dev = _disk_of(jid)
            tnode = f"bk{key}-{dev}"
            node = nodes.get(tnode) or {}
            target = str(node.get("file") or "")
            added.append(tnode)
            if os.path.isabs(target):
                created.append(target)
                disks.append(BackupDisk(name=dev, target=target, format=str(node.get("drv") or "qcow2")))
        total = sum(int(jobs[j].get("total-progress") or 0) for j in job_ids) or 1
        with host.lock:
            job = host.jobs.begin(dom.uuid, dom.name, JobOperation.BACKUP, "back up")
            host.backups[job.id] = BackupDef(mode="push", disks=tuple(disks)).to_xml()
        speeds = [int(b.get("speed") or 0) for b in vm.execute("query-block-jobs") if b.get("device") in job_ids]
        host.job_speed[job.id] = max(speeds) if speeds else 0  # keep the throttle the dead process set
        worker = guard_worker(functools.partial(_follow_adopted, host, vm, job_ids, added, created, total),
                              "backup")
        host.jobs.run(job, worker, True)
        adopted.append(job.id)
    return adopted
