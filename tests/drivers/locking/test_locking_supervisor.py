"""The supervisor process: start, conflicts, hot-plug, crashes, shutdown, attach, exit status."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from drivers.errors import DriverError, ErrorCode
from drivers.locking import LeaseMode, attach, inspect, running

REPO = Path(__file__).resolve().parents[3]


def until(pred, timeout: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.005)
    return pred()


def pid_gone(pid: int) -> bool:
    """Gone or a zombie (this container's init does not reap orphans)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def test_launch_holds_leases_while_the_vm_runs(lockenv):
    disk, iso = lockenv.disk("d.img"), lockenv.disk("cd.iso")
    sup = lockenv.launch(lockenv.manager("web", disk, (iso, LeaseMode.READONLY)))
    assert sup.alive() and sup.vm_pid and not pid_gone(sup.vm_pid)
    info = inspect(disk, lockenv.lockspace)
    assert info.mode is LeaseMode.EXCLUSIVE
    assert [(h.name, h.vm_pid, h.supervisor_pid) for h in info.holders] == [("web", sup.vm_pid, sup.supervisor_pid)]
    assert inspect(iso, lockenv.lockspace).mode is LeaseMode.READONLY
    assert {h["path"] for h in sup.holders()} == {disk, iso}
    status = sup.shutdown(timeout=5)
    assert status.requested and not status.crashed
    assert inspect(disk, lockenv.lockspace).free and inspect(iso, lockenv.lockspace).free
    assert sup.shutdown() == status  # idempotent
    assert pid_gone(sup.vm_pid)


def test_conflict_aborts_start_and_runs_no_vm(lockenv):
    disk = lockenv.disk("d.img")
    first = lockenv.launch(lockenv.manager("first", disk))
    marker = lockenv.root / "vm-ran"
    other = lockenv.disk("other.img")
    mgr = lockenv.manager("second", other, (disk, LeaseMode.SHARED))
    with pytest.raises(DriverError) as info:
        lockenv.launch(mgr, ["sh", "-c", f"touch {marker}; exec sleep 60"])
    err = info.value
    assert err.code is ErrorCode.RESOURCE_BUSY
    assert disk in err.message and "'first'" in err.message and first.uuid in err.message
    assert f"pid {first.vm_pid}" in err.message and "hostA" in err.message
    time.sleep(0.1)
    assert not marker.exists()
    assert inspect(other, lockenv.lockspace).free  # nothing else changed
    assert attach(mgr.uuid, runtime_dir=lockenv.run) is None
    assert first.alive() and inspect(disk, lockenv.lockspace).holders[0].name == "first"


def test_same_vm_twice_on_one_host(lockenv):
    mgr = lockenv.manager("dup")
    sup = lockenv.launch(mgr)
    again = lockenv.manager("dup", vm_uuid=mgr.uuid)
    with pytest.raises(DriverError) as info:
        lockenv.launch(again)
    assert info.value.code is ErrorCode.RESOURCE_BUSY and str(sup.supervisor_pid) in info.value.message
    assert sup.alive()


def test_sigkill_of_the_vm_frees_the_lease_within_a_second(lockenv):
    disk = lockenv.disk("d.img")
    sup = lockenv.launch(lockenv.manager("victim", disk))
    os.kill(sup.vm_pid, signal.SIGKILL)
    assert until(lambda: inspect(disk, lockenv.lockspace).free, 1.0)
    status = sup.wait(2.0)
    assert status is not None and status.signal == signal.SIGKILL and status.crashed and not status.requested
    assert not sup.alive()


def test_sigkill_of_the_supervisor_frees_the_lease_and_kills_the_vm(lockenv):
    disk = lockenv.disk("d.img")
    sup = lockenv.launch(lockenv.manager("orphan", disk))
    os.kill(sup.supervisor_pid, signal.SIGKILL)
    assert until(lambda: inspect(disk, lockenv.lockspace).free, 1.0)
    assert until(lambda: pid_gone(sup.vm_pid), 1.0)  # PR_SET_PDEATHSIG: no VM without leases
    status = sup.wait(1.0)
    assert status is not None and status.lost and status.crashed
    assert sup.shutdown().lost  # idempotent on a dead supervisor
    new = lockenv.launch(lockenv.manager("next", disk))  # the lease is really free
    assert new.alive()


def test_hung_supervisor_is_killed_by_shutdown(lockenv):
    disk = lockenv.disk("d.img")
    sup = lockenv.launch(lockenv.manager("hang", disk))
    os.kill(sup.supervisor_pid, signal.SIGSTOP)  # stuck, e.g. on a dead NFS server
    started = time.monotonic()
    status = sup.shutdown(timeout=1.0)
    assert time.monotonic() - started < 3.0
    assert status.requested and not status.crashed
    assert inspect(disk, lockenv.lockspace).free
    assert pid_gone(sup.vm_pid)


def test_hot_plug(lockenv):
    disk, extra, busy = lockenv.disk("d.img"), lockenv.disk("hot.img"), lockenv.disk("busy.img")
    other = lockenv.launch(lockenv.manager("other", busy))
    sup = lockenv.launch(lockenv.manager("vm", disk))
    sup.acquire(extra, LeaseMode.SHARED)
    sup.acquire(extra, LeaseMode.SHARED)  # idempotent
    assert inspect(extra, lockenv.lockspace).holders[0].name == "vm"
    before = sup.holders()
    with pytest.raises(DriverError) as info:
        sup.acquire(busy)
    assert info.value.code is ErrorCode.RESOURCE_BUSY and "'other'" in info.value.message
    assert sup.alive() and sup.holders() == before  # running VM untouched, hot-plug refused
    with pytest.raises(DriverError) as info:
        sup.acquire(extra, LeaseMode.EXCLUSIVE)
    assert info.value.code is ErrorCode.NO_SUPPORT
    for bad, code in (("", ErrorCode.INVALID_ARG), ("rel.img", ErrorCode.INVALID_ARG),
                      ((extra, 7), ErrorCode.INVALID_ARG), ((extra, 0, "lease"), ErrorCode.NO_SUPPORT)):
        args = bad if isinstance(bad, tuple) else (bad,)
        with pytest.raises(DriverError) as info:
            sup.acquire(*args)
        assert info.value.code is code
    sup.release(extra)
    sup.release(extra)  # idempotent
    assert inspect(extra, lockenv.lockspace).free
    assert other.alive() and inspect(disk, lockenv.lockspace).mode is LeaseMode.EXCLUSIVE


def test_pause_resume_with_state(lockenv):
    disk = lockenv.disk("d.img")
    sup = lockenv.launch(lockenv.manager("vm", disk))
    state = sup.release()
    assert inspect(disk, lockenv.lockspace).free
    assert sup.release() == state  # idempotent
    sup.acquire_state(state)
    assert inspect(disk, lockenv.lockspace).mode is LeaseMode.EXCLUSIVE
    sup.acquire_state(state)  # already held: nothing to do
    for bad in ("garbage", '{"v":1,"uuid":"00000000-0000-0000-0000-000000000000","leases":[]}'):
        with pytest.raises(DriverError) as info:
            sup.acquire_state(bad)
        assert info.value.code is ErrorCode.INVALID_ARG


def test_migration_hand_over(lockenv):
    disk, extra = lockenv.disk("d.img"), lockenv.disk("extra.img")
    src = lockenv.launch(lockenv.manager("mig", disk))
    dst_host = lockenv.other_host("hostB")
    dst_mgr = dst_host.manager("mig", disk, vm_uuid=src.uuid)
    dst = dst_host.launch(dst_mgr, register_only=True)  # paused, register only: no conflict
    assert [h.host for h in inspect(disk, lockenv.lockspace).holders] == ["hostA"]
    state = src.release()  # switch-over
    dst.acquire_state(state)  # before the destination resumes
    assert [h.host for h in inspect(disk, lockenv.lockspace).holders] == ["hostB"]
    assert src.shutdown().requested

    # a failed hand-over: the source keeps (re-takes) its leases
    src2 = lockenv.launch(lockenv.manager("mig2", extra))
    blocker_mgr = lockenv.manager("blocker")
    dst2 = dst_host.launch(dst_host.manager("mig2", extra, vm_uuid=src2.uuid), register_only=True)
    state2 = src2.release()
    blocker = lockenv.launch(blocker_mgr)
    blocker.acquire(extra)  # someone grabs the disk in the window
    with pytest.raises(DriverError) as info:
        dst2.acquire_state(state2)
    assert info.value.code is ErrorCode.RESOURCE_BUSY and "'blocker'" in info.value.message
    blocker.release(extra)
    src2.acquire_state(state2)  # the source resumes
    assert [h.name for h in inspect(extra, lockenv.lockspace).holders] == ["mig2"]
    assert inspect(extra, lockenv.lockspace).holders[0].host == "hostA"
    assert dst2.holders() == []


def test_exit_status_tells_crash_from_clean_exit(lockenv):
    clean = lockenv.launch(lockenv.manager("clean"), ["true"])
    failed = lockenv.launch(lockenv.manager("failed"), ["sh", "-c", "exit 3"])
    killed = lockenv.launch(lockenv.manager("killed"), ["sh", "-c", "kill -SEGV $$"])
    assert clean.wait(5) is not None and not clean.exit_status().crashed
    assert failed.wait(5).exit_code == 3 and failed.exit_status().crashed
    assert killed.wait(5).signal == signal.SIGSEGV and killed.exit_status().crashed
    assert failed._popen.returncode == 3 and killed._popen.returncode == 128 + signal.SIGSEGV


def test_env_cwd_stdout_and_fds(lockenv):
    log = lockenv.root / "vm.log"
    r, w = os.pipe()
    os.set_inheritable(w, False)
    script = f'import os; print(os.environ["VMGUI_T"], os.getcwd()); os.write({w}, b"fd\\n")'
    sup = lockenv.launch(lockenv.manager("envy"), [sys.executable, "-c", script],
                         env={**os.environ, "VMGUI_T": "hello"}, cwd=lockenv.root, stdout_path=log, pass_fds=(w,))
    os.close(w)
    assert sup.wait(5) is not None
    assert os.read(r, 10) == b"fd\n"
    os.close(r)
    assert log.read_text().split() == ["hello", str(lockenv.root)]


def test_exec_failure_is_reported(lockenv):
    disk = lockenv.disk("d.img")
    mgr = lockenv.manager("noexec", disk)
    with pytest.raises(DriverError) as info:
        lockenv.launch(mgr, [str(lockenv.root / "missing-binary")])
    assert info.value.code is ErrorCode.OPERATION_FAILED
    assert inspect(disk, lockenv.lockspace).free


def test_attach_from_a_new_process(lockenv):
    disk = lockenv.disk("d.img")
    sup = lockenv.launch(lockenv.manager("found", disk))
    code = (f"from drivers.locking import attach; s = attach({sup.uuid!r}, runtime_dir={str(lockenv.run)!r}); "
            "print(s.vm_pid, s.info()['name'], s.inquire() != '')")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert out.stdout.split() == [str(sup.vm_pid), "found", "True"], out.stderr
    found = attach(sup.uuid, runtime_dir=lockenv.run)
    assert found is not None and found.supervisor_pid == sup.supervisor_pid
    assert [s.uuid for s in running(runtime_dir=lockenv.run)] == [sup.uuid]
    assert found.shutdown(timeout=5).requested  # an attached handle can stop it
    assert not sup.alive() and attach(sup.uuid, runtime_dir=lockenv.run) is None
    with pytest.raises(DriverError) as info:
        found.inquire()
    assert info.value.code is ErrorCode.OPERATION_INVALID


def test_supervisor_survives_its_parent(lockenv):
    """The app exits; the VM keeps running and keeps its leases."""
    disk = lockenv.disk("d.img")
    code = (f"import uuid; from drivers.locking import LockManager, Lockspace; "
            f"m = LockManager(str(uuid.uuid4()), 'detached', Lockspace({str(lockenv.lockspace.path)!r}), "
            f"host='hostA', runtime_dir={str(lockenv.run)!r}); m.add_resource({disk!r}); "
            f"print(m.launch(['sleep', '60']).uuid)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=30)
    sup = attach(out.stdout.strip(), runtime_dir=lockenv.run)
    assert sup is not None, out.stderr
    lockenv.handles.append(sup)
    assert sup.alive() and inspect(disk, lockenv.lockspace).holders[0].name == "detached"


def test_sigterm_to_the_supervisor_is_forwarded(lockenv):
    sup = lockenv.launch(lockenv.manager("term"))
    os.kill(sup.supervisor_pid, signal.SIGTERM)
    status = sup.wait(5)
    assert status is not None and status.signal == signal.SIGTERM and status.requested and not status.crashed


def test_handle_is_thread_safe(lockenv):
    from concurrent.futures import ThreadPoolExecutor
    sup = lockenv.launch(lockenv.manager("threads"))
    disks = [lockenv.disk(f"t{i}.img") for i in range(8)]

    def churn(disk: str) -> int:
        for _ in range(20):
            sup.acquire(disk)
            assert any(h["path"] == disk for h in sup.holders())
            sup.release(disk)
        return 1

    with ThreadPoolExecutor(4) as pool:
        assert sum(pool.map(churn, disks)) == 8
    assert sup.holders() == [] and all(inspect(d, lockenv.lockspace).free for d in disks)
