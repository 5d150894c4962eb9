"""Jobs a dead process left half done, finished or rolled back when the root is opened again.

A job that changes a running VM first writes what a successor must know into
the VM's state file (``job_note``: the kind of job, whether the guest ran,
the ``.part`` files it writes). Re-attaching to the VM (or finding it gone)
settles each kind:

* save, managed save: if QEMU completed the stream the save is finished (the
  image gets its final name, QEMU stops as after a save); otherwise the
  stream is cancelled, the ``.part`` image removed, and a guest that ran
  runs again;
* outgoing migration: a stream still running is cancelled; the guest runs on
  here if its disk leases can be taken back, and stops as migrated if the
  destination holds them (it runs there);
* incoming migration that had taken the leases over: the guest runs on;
* backup: taken over while QEMU still copies (backup.adopt); the ``.part``
  files of one that cannot go on are removed;
* any other QEMU job is cancelled.

Each outcome is said: a finished job in the job table (the job panel lists
it, with its sentence when it failed) and a log line. No guest is left
paused by a job, and no guest runs without its disk leases.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Any

from ..errors import DriverError, ErrorCode
from ..flags import JobOperation, ResumedDetail, RunningReason, ShutoffReason, StoppedDetail
from ..jobs import Job, operation_text
from . import backup, leases, partfiles, saveimg
from .adopters import Adopter
from .events import EventHost
from .guard import guard_worker
from .layout import unlink
from .saveops import stop_saved
from .state import LiveVM, QDom

log = logging.getLogger(__name__)

#: query-migrate states of a stream still going (or being stopped)
_STREAMING = ("setup", "active", "pre-switchover", "device", "cancelling", "wait-unplug")
_OPERATION = {"save": JobOperation.SAVE, "migration": JobOperation.MIGRATION_OUT,
              "migration_in": JobOperation.MIGRATION_IN, "backup": JobOperation.BACKUP}


def report(host: EventHost, dom: QDom, operation: JobOperation, failure: str | None) -> None:
    """Record how an interrupted job ended as a finished job of this process (and log it)."""
    if failure is None:
        log.info("'%s': the interrupted %s was finished", dom.name, operation_text(operation))
    else:
        log.warning("'%s': %s", dom.name, failure)
    try:
        job = host.jobs.begin(dom.uuid, dom.name, operation, "recover")
    except DriverError:  # the domain has a job of its own already: the log line has to do
        return
    host.jobs.end(job, None if failure is None else DriverError(ErrorCode.OPERATION_FAILED, failure))


def reattached(host: EventHost, dom: QDom, vm: LiveVM) -> None:
    """Settle what the jobs of a process that died left in a running QEMU (on re-attach)."""
    if vm.incoming:
        _stop_incoming(host, dom, vm)
        return
    note = dict(vm.job_note)
    kind = note.get("kind")
    adopted: set[str] = set()
    try:
        adopted = backup.adopt(host, dom, vm)
        if adopted:
            log.info("'%s': took over backup job(s) %s of a previous process", dom.name, sorted(adopted))
        _cancel_qemu_jobs(vm, adopted)
        copied = kind == "backup" and bool(note.get("copied"))
        _drop_backup_nodes(vm, adopted, {part for part, _ in backup.noted_targets(note)} if copied else set())
        if copied:
            _forget(host, dom, vm)
            _finish_backup(host, dom, note, vm.definition.to_string())
        elif kind == "backup" and not adopted:
            gone = _discard_backup(note)
            _forget(host, dom, vm)
            report(host, dom, JobOperation.BACKUP,
                   f"the backup of '{dom.name}' was interrupted before QEMU could go on with it; "
                   f"its unfinished copies were removed{_listed(gone)}")
        elif kind == "save":
            _settle_save(host, dom, vm, note)
        elif kind == "migration":
            _settle_outgoing_migration(host, dom, vm, note)
        elif kind == "migration_in":
            _settle_incoming_migration(host, dom, vm, note)
        else:
            _stop_stream(vm)
        if not adopted:
            _forget(host, dom, vm)
        if dom.live is vm:
            _keep_leases(host, dom, vm)
    except DriverError as exc:
        # said where the user looks (the job panel), not only in the log: the guest may be left paused
        report(host, dom, _OPERATION.get(str(kind), JobOperation.UNKNOWN),
               f"settling the interrupted job of '{dom.name}' failed: {exc.message}")


def vm_gone(host: EventHost, dom: QDom, data: dict[str, Any]) -> None:
    """A VM ended while no process watched it: remove what its interrupted job left unfinished."""
    note = data.get("job_note") or {}
    kind = note.get("kind")
    if data.get("incoming"):
        report(host, dom, JobOperation.MIGRATION_IN, incoming_lost(dom.name, "had stopped"))
    elif kind == "save":
        gone = [str(note["part"])] if note.get("part") and partfiles.discard(str(note["part"])) else []
        report(host, dom, JobOperation.SAVE, f"the save of '{dom.name}' was interrupted and its QEMU process "
                                             f"ended; the unfinished image was removed{_listed(gone)}")
    elif kind == "backup" and note.get("copied"):
        _finish_backup(host, dom, note, str(data.get("xml") or ""))
    elif kind == "backup":
        report(host, dom, JobOperation.BACKUP, f"the backup of '{dom.name}' was interrupted: its VM stopped "
                                               f"before the copy was complete; the unfinished copies were "
                                               f"removed{_listed(_discard_backup(note))}")
    elif kind in _OPERATION:
        report(host, dom, _OPERATION[kind], f"the {operation_text(_OPERATION[kind])} of '{dom.name}' was "
                                            "interrupted and its QEMU process ended")


def _stop_incoming(host: EventHost, dom: QDom, vm: LiveVM) -> None:
    """An incoming migration whose driver died: nobody will finish it."""
    vm.ending = (int(ShutoffReason.FAILED), int(StoppedDetail.FAILED))
    host.kill(vm, 5)
    host.finish_stop(dom, vm, ShutoffReason.FAILED, StoppedDetail.FAILED)
    report(host, dom, JobOperation.MIGRATION_IN, incoming_lost(dom.name, "was stopped"))


def incoming_lost(name: str, what_happened: str) -> str:
    """How an incoming migration that was never handed over ends."""
    return f"the incoming migration of '{name}' was interrupted before the guest was handed over; its copy " \
           f"here {what_happened}"


def _discard_backup(note: dict[str, Any]) -> list[str]:
    """Remove the .part files of a backup note; the ones that were there."""
    return [part for part, _ in backup.noted_targets(note) if partfiles.discard(part)]


def _finish_backup(host: EventHost, dom: QDom, note: dict[str, Any], domain_xml: str) -> None:
    """QEMU had copied every disk when the process died: the backup is finished as its own job would
    have, in a job of this process (hashing the images takes as long as reading them): the copies get
    their final names and, in a folder of their own, the catalog entry that lists them for restore."""
    written = backup.copied_written(note)
    if written is None or not domain_xml:  # a note of an older vmgui: the images only get their names
        try:
            backup.publish(backup.noted_targets(note))
        except DriverError as exc:
            report(host, dom, JobOperation.BACKUP, _not_stored(dom, exc))
            return
        report(host, dom, JobOperation.BACKUP, None)
        return
    try:
        job = host.jobs.begin(dom.uuid, dom.name, JobOperation.BACKUP, "back up")
    except DriverError as exc:
        log.warning("'%s': the copied backup was left unfinished: %s", dom.name, exc.message)
        return
    started = float(note.get("started") or time.time())

    def finish(job: Job) -> None:
        try:
            backup.store(dom, domain_xml, written, note, started, lambda: job.cancel_requested)
        except DriverError as exc:
            if exc.code is ErrorCode.OPERATION_ABORTED:  # the user cancelled the backup: its copies go
                for w in written:
                    if w.path != w.final:
                        partfiles.discard(w.path)
                raise
            try:  # complete copies are never removed for a step after the copy: they keep their names
                backup.publish(backup.noted_targets(note))
            except DriverError:
                pass
            raise DriverError(ErrorCode.OPERATION_FAILED, _not_stored(dom, exc)) from None
        log.info("'%s': the interrupted back up was finished", dom.name)
    host.jobs.run(job, guard_worker(finish, "backup"), True)


def _not_stored(dom: QDom, exc: DriverError) -> str:
    return f"the backup of '{dom.name}' was copied but not stored: {exc.message}"


def _listed(paths: list[str]) -> str:
    return f" ({', '.join(paths)})" if paths else ""


def _forget(host: EventHost, dom: QDom, vm: LiveVM) -> None:
    with host.lock:
        vm.job_note = {}
        if dom.live is vm:
            host.write_state(dom)


def _wait_concluded(vm: LiveVM, jid: str) -> None:
    for _ in range(250):
        current = {j.get("id"): j for j in vm.execute("query-jobs")}.get(jid)
        if current is None or current.get("status") == "concluded":
            return
        time.sleep(0.02)


def _cancel_qemu_jobs(vm: LiveVM, adopted: set[str]) -> None:
    """Cancel and dismiss every QEMU job nobody follows any more."""
    for info in vm.execute("query-jobs"):
        jid = str(info.get("id", ""))
        if jid in adopted:
            continue
        if info.get("status") != "concluded":
            try:
                vm.execute("job-cancel", {"id": jid})
            except DriverError:
                pass
        _wait_concluded(vm, jid)
        try:
            vm.execute("job-dismiss", {"id": jid})
        except DriverError:
            pass


def _drop_backup_nodes(vm: LiveVM, adopted: set[str], keep: set[str]) -> None:
    """Detach the target nodes of backups not taken over (and of target images being made when the process
    died) and remove their files (but those in ``keep``)."""
    busy = {f"bk{jid[len('backup'):]}" for jid in adopted}
    for node in vm.execute("query-named-block-nodes", {"flat": True}):
        name = str(node.get("node-name", ""))
        if name.startswith(("bk", "mk")) and "-" in name and name not in busy:  # targets and their making
            target = (node.get("image") or {}).get("filename") or node.get("file")
            try:
                vm.execute("blockdev-del", {"node-name": name})
            except DriverError:
                continue
            if target and os.path.isabs(str(target)) and str(target) not in keep:
                unlink(str(target))


def _stop_stream(vm: LiveVM) -> str | None:
    """Cancel an outgoing migration stream still going; the state it ended in."""
    status: str | None = vm.execute("query-migrate").get("status")
    if status not in _STREAMING:
        return status
    try:
        vm.execute("migrate_cancel")
    except DriverError:
        pass
    for _ in range(500):
        status = vm.execute("query-migrate").get("status")
        if status not in _STREAMING:
            break
        time.sleep(0.02)
    return status


def _keep_leases(host: EventHost, dom: QDom, vm: LiveVM) -> None:
    """A guest whose vCPUs run must hold its leases; one that cannot take them back is paused."""
    try:
        leases.hold(vm.sup, dom.name)
    except DriverError as exc:
        if exc.code is not ErrorCode.RESOURCE_BUSY:
            raise
        if host.query_status(vm) == "running":
            vm.execute("stop")
        log.warning("%s", exc.message)


def _resume_if(host: EventHost, dom: QDom, vm: LiveVM, was_running: bool, hint: tuple[int, int]) -> str:
    """Run a guest the job had paused again (leases first); what became of it, for the report."""
    if not was_running:
        return "stays paused, as it was before"
    if host.query_status(vm) != "running":
        host.run_guest(dom, vm, hint)
    return "runs again"


def _settle_save(host: EventHost, dom: QDom, vm: LiveVM, note: dict[str, Any]) -> None:
    part, path = str(note.get("part") or ""), str(note.get("path") or "")
    status = _stop_stream(vm)
    image = part if os.path.exists(part) else path
    complete = status == "completed" and host.query_status(vm) == "postmigrate" and bool(path) and \
        os.path.exists(image) and os.path.getsize(image) > saveimg.DATA_OFFSET
    why = "QEMU had not finished it"
    if complete:
        try:
            if image == part:  # never over a file that appeared under a plain save's name meanwhile
                partfiles.publish(part, path, replace=bool(note.get("managed")))
        except DriverError as exc:
            why = f"QEMU had finished it but the image could not be stored ({exc.message})"
        else:
            _forget(host, dom, vm)
            stop_saved(host, dom, vm, bool(note.get("managed")))
            report(host, dom, JobOperation.SAVE, None)
            return
    partfiles.discard(part)
    _forget(host, dom, vm)
    outcome = _resume_if(host, dom, vm, bool(note.get("was_running")),
                         (int(RunningReason.SAVE_CANCELED), int(ResumedDetail.UNPAUSED)))
    report(host, dom, JobOperation.SAVE, f"the save of '{dom.name}' was interrupted and {why}; "
                                         f"the unfinished image was removed and the guest {outcome}")


def _settle_outgoing_migration(host: EventHost, dom: QDom, vm: LiveVM, note: dict[str, Any]) -> None:
    status = _stop_stream(vm)
    moved = status == "completed" and host.query_status(vm) == "postmigrate"
    try:
        leases.hold(vm.sup, dom.name)
    except DriverError as exc:
        if exc.code is not ErrorCode.RESOURCE_BUSY:
            raise
        _forget(host, dom, vm)
        if moved:  # the destination took the leases over: the guest runs there
            vm.ending = (int(ShutoffReason.MIGRATED), int(StoppedDetail.MIGRATED))
            host.kill(vm)
            host.finish_stop(dom, vm, ShutoffReason.MIGRATED, StoppedDetail.MIGRATED)
            report(host, dom, JobOperation.MIGRATION_OUT, None)
            return
        if host.query_status(vm) == "running":
            vm.execute("stop")
        report(host, dom, JobOperation.MIGRATION_OUT, f"the migration of '{dom.name}' was interrupted; {exc.message}")
        return
    _forget(host, dom, vm)
    outcome = _resume_if(host, dom, vm, bool(note.get("was_running")),
                         (int(RunningReason.MIGRATION_CANCELED), int(ResumedDetail.MIGRATED)))
    report(host, dom, JobOperation.MIGRATION_OUT,
           f"the migration of '{dom.name}' was interrupted; the guest {outcome} here")


def _settle_incoming_migration(host: EventHost, dom: QDom, vm: LiveVM, note: dict[str, Any]) -> None:
    """The destination had the whole guest and its leases when the process died: it runs on here."""
    _forget(host, dom, vm)
    if note.get("resume") and host.query_status(vm) != "running":
        host.run_guest(dom, vm, (int(RunningReason.MIGRATED), int(ResumedDetail.MIGRATED)))
    report(host, dom, JobOperation.MIGRATION_IN, None)


#: at re-attach: jobs of a dead process (backups taken over first), and VMs that ended meanwhile
ADOPTER = Adopter("recovery", reattached=reattached, gone=vm_gone)
