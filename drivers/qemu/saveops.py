"""Save, managed save and restore: guest memory to a file and back, as jobs."""
from __future__ import annotations

import os
import tempfile

from ..diskimage import already_exists
from ..domxml import DomainXML
from ..errors import DriverError, ErrorCode
from ..fsutil import publish_new
from ..flags import (
    DomainState, PausedReason, ResumedDetail, RunningReason, ShutoffReason, StartedDetail,
    StoppedDetail, SuspendedDetail,
)
from ..jobs import Job
from ..lifecycle import not_running, paused_after_restore
from . import saveimg, streams
from .host import QDom, QemuHost


def save_to(host: QemuHost, dom: QDom, path: str, job: Job, flags: int) -> None:
    """Pause, stream the memory to ``path`` (atomically), stop QEMU; resume on failure."""
    with host.lock:
        vm = dom.live
        if vm is None:
            raise not_running(dom.name)
        was_running = dom.state == DomainState.RUNNING
        paused = paused_after_restore(flags, not was_running)
        header = saveimg.header_bytes(host.portable_xml(vm.definition), paused, persistent=dom.persistent)
    folder = os.path.dirname(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=folder)
    except OSError as exc:
        raise DriverError(ErrorCode.OPERATION_FAILED, f"cannot create a file in {folder}: {exc.strerror}") from None
    ok = False
    try:
        os.write(fd, header)
        if was_running:
            vm.job_note = {"kind": "save", "was_running": True}
            host.write_state(dom)
            vm.pause_hint = (int(PausedReason.SAVE), int(SuspendedDetail.PAUSED))
            vm.execute("stop")
            host.sync_status(dom, vm)
        job.raise_if_cancelled()
        vm.mon.send_fd(fd, "vmgui-save")  # type: ignore[union-attr]
        streams.run_outgoing(vm, "fd:vmgui-save", job, f"save of '{dom.name}'", to_file=True)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        try:
            publish_new(tmp, path)
        except FileExistsError:
            raise already_exists(path) from None
        ok = True
    finally:
        if fd >= 0:
            os.close(fd)
        if not ok:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            with host.lock:
                still = dom.live is vm
            vm.job_note = {}
            if still and was_running:
                try:
                    vm.resume_hint = (int(RunningReason.SAVE_CANCELED), int(ResumedDetail.UNPAUSED))
                    vm.execute("cont")
                    host.sync_status(dom, vm)
                except DriverError:
                    pass
    vm.ending = (int(ShutoffReason.SAVED), int(StoppedDetail.SAVED))
    host.kill(vm)
    host.finish_stop(dom, vm, ShutoffReason.SAVED, StoppedDetail.SAVED)


def restore_into(host: QemuHost, dom: QDom | None, path: str, job: Job, flags: int,
                 header: dict | None = None) -> QDom:
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
                vm.mon.send_fd(fd, "vmgui-restore")  # type: ignore[union-attr]
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
