"""Save, managed save and restore: guest memory to a file and back, as jobs."""
from __future__ import annotations

import os
from typing import Any

from ..domxml import DomainXML
from ..errors import DriverError, ErrorCode
from ..flags import (
    DomainState,
    PausedReason,
    ResumedDetail,
    RunningReason,
    ShutoffReason,
    StartedDetail,
    StoppedDetail,
    SuspendedDetail,
)
from ..jobs import Job
from ..lifecycle import not_running, paused_after_restore
from . import partfiles, saveimg, streams
from .events import EventHost
from .state import LiveVM, QDom


def save_to(host: EventHost, dom: QDom, path: str, job: Job, flags: int, managed: bool = False) -> None:
    """Pause, stream the memory to ``path`` (atomically), stop QEMU; resume on failure.

    The image is written as a ``.part`` file named in the VM's state file
    before it exists, so if this process dies the next one finishes the save
    (QEMU completed it) or removes the file and resumes the guest (recovery.py).
    """
    with host.lock:
        vm = dom.live
        if vm is None:
            raise not_running(dom.name)
        was_running = dom.state == DomainState.RUNNING
        paused = paused_after_restore(flags, not was_running)
        header = saveimg.header_bytes(host.portable_xml(vm.definition), paused, persistent=dom.persistent)
        part = partfiles.part_name(path)
        vm.job_note = {"kind": "save", "was_running": was_running, "part": part, "path": path, "managed": managed}
        host.write_state(dom)
    ok = False
    fd = -1
    try:
        try:
            fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise DriverError(ErrorCode.OPERATION_FAILED,
                              f"cannot create a file in {os.path.dirname(path)}: {exc.strerror}") from None
        os.write(fd, header)
        if was_running:
            vm.pause_hint = (int(PausedReason.SAVE), int(SuspendedDetail.PAUSED))
            vm.execute("stop")
            host.sync_status(dom, vm)
        job.raise_if_cancelled()
        vm.monitor().send_fd(fd, "vmgui-save")
        streams.run_outgoing(vm, "fd:vmgui-save", job, f"save of '{dom.name}'", to_file=True)
        os.close(fd)
        fd = -1
        partfiles.publish(part, path, replace=managed)  # a managed save replaces only its own image
        ok = True
    finally:
        if fd >= 0:
            os.close(fd)
        if not ok:
            partfiles.discard(part)
            with host.lock:
                still = dom.live is vm
                vm.job_note = {}
                if still:
                    host.write_state(dom)
            if still and was_running:
                try:
                    host.run_guest(dom, vm, (int(RunningReason.SAVE_CANCELED), int(ResumedDetail.UNPAUSED)))
                except DriverError:
                    pass
    stop_saved(host, dom, vm, managed)


def stop_saved(host: EventHost, dom: QDom, vm: LiveVM, managed: bool) -> None:
    """End the QEMU process of a guest whose memory is saved: shut off, reason SAVED."""
    vm.ending = (int(ShutoffReason.SAVED), int(StoppedDetail.SAVED))
    host.kill(vm)
    host.finish_stop(dom, vm, ShutoffReason.SAVED, StoppedDetail.SAVED)
    if managed:
        with host.lock:
            dom.managed_save = True
            dom.touch()


def restore_into(host: EventHost, dom: QDom | None, path: str, job: Job, flags: int,
                 header: dict[str, Any] | None = None) -> QDom:
    """Start QEMU paused, load ``path`` into it, then run it (or keep it paused)."""
    header = header or saveimg.read_header(path)
    definition = DomainXML.parse(header["xml"])
    paused = paused_after_restore(flags, bool(header.get("paused")))
    with host.lock:
        if dom is None:
            dom = host.by_uuid.get(definition.uuid)
            if dom is None:
                dom = QDom(None, False, definition.name, definition.uuid, shadow=definition)
                host.add(dom)
                created = True
            else:
                created = False
        else:
            created = False
        if dom.active:
            raise DriverError(ErrorCode.OPERATION_INVALID, f"domain '{dom.name}' is already running")
    try:
        total = os.path.getsize(path) - saveimg.DATA_OFFSET
        vm = host.launch(dom, definition, incoming="defer")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.lseek(fd, saveimg.DATA_OFFSET, os.SEEK_SET)
                vm.monitor().send_fd(fd, "vmgui-restore")
                streams.prepare(vm)  # MIGRATION events wake the wait below
                vm.execute("migrate-incoming", {"uri": "fd:vmgui-restore"})

                def progress() -> None:
                    try:
                        pos = os.lseek(fd, 0, os.SEEK_CUR) - saveimg.DATA_OFFSET
                    except OSError:
                        return
                    job.progress(max(0, min(pos, total)), total)

                streams.wait_incoming(vm, f"restore of '{dom.name}'", progress=progress, job=job)
            finally:
                os.close(fd)
            if not paused:
                vm.execute("cont")
        except BaseException:
            host.kill(vm, 5)
            raise
        job.progress(total, total)
        host.started(dom, vm, paused, StartedDetail.RESTORED, RunningReason.RESTORED)
    except BaseException:
        if created:
            host.remove(dom)
        raise
    return dom


__all__ = ["save_to", "restore_into", "DomainState", "SuspendedDetail"]
