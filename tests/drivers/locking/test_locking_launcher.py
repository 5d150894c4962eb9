"""Launcher: supervisors forked by the fork server behave as exec'd ones (leases, errors, hand-over, re-attach).

Real processes throughout: the fork server, supervisors and a ``sleep`` or
``sh`` standing in for QEMU.
"""
from __future__ import annotations

import array
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.errors import DriverError, ErrorCode
from drivers.locking import Launcher, LeaseMode, LockManager, Supervisor, attach, exit_status_of, inspect

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def launcher() -> Iterator[Launcher]:
    la = Launcher()
    la.start()
    try:
        yield la
    finally:
        la.close()


def start(lockenv, launcher: Launcher, mgr: LockManager, argv: list[str] | None = None, **kw) -> Supervisor:
    sup = launcher.launch(mgr, argv or ["sleep", "60"], **kw)
    lockenv.handles.append(sup)
    return sup


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as fh:
        return int(fh.read().rsplit(")", 1)[1].split()[1])


def cmdline(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as fh:
        return fh.read().decode().split("\0")[:-1]


def is_fork_server(pid: int) -> bool:
    return cmdline(pid)[-3:-1] == ["-m", "drivers.locking.forkserver"]


def test_forked_supervisor_holds_the_leases_while_the_vm_runs(lockenv, launcher):
    disk, iso = lockenv.disk("d.img"), lockenv.disk("cd.iso")
    mgr = lockenv.manager("web", disk, (iso, LeaseMode.READONLY))
    sup = start(lockenv, launcher, mgr)
    assert launcher.forking and is_fork_server(parent_of(sup.supervisor_pid))  # forked, not exec'd
    assert sup.alive() and parent_of(sup.vm_pid) == sup.supervisor_pid
    assert cmdline(sup.vm_pid) == ["sleep", "60"]
    assert sup.socket_path == lockenv.run / f"{sup.uuid}.sock" and sup.socket_path.is_socket()
    info = inspect(disk, lockenv.lockspace)
    assert info.mode is LeaseMode.EXCLUSIVE
    assert [(h.name, h.vm_pid, h.supervisor_pid, h.host) for h in info.holders] == \
        [("web", sup.vm_pid, sup.supervisor_pid, "hostA")]
    assert inspect(iso, lockenv.lockspace).mode is LeaseMode.READONLY
    assert sup.info()["name"] == "web"
    with pytest.raises(DriverError) as err:
        mgr.add_resource(lockenv.disk("late.img"))  # launched: hot-plug goes through the supervisor
    assert err.value.code is ErrorCode.OPERATION_INVALID
    status = sup.shutdown(timeout=5)
    assert status.requested and not status.crashed
    assert inspect(disk, lockenv.lockspace).free and inspect(iso, lockenv.lockspace).free
    assert sup.wait(1) == status


def test_a_conflict_is_refused_as_by_lock_manager_launch_and_no_vm_runs(lockenv, launcher):
    disk = lockenv.disk("d.img")
    first = start(lockenv, launcher, lockenv.manager("first", disk))
    marker = lockenv.root / "vm-ran"
    with pytest.raises(DriverError) as err:
        start(lockenv, launcher, lockenv.manager("second", (disk, LeaseMode.SHARED)),
              ["sh", "-c", f"touch {marker}; exec sleep 60"])
    assert err.value.code is ErrorCode.RESOURCE_BUSY
    assert "VM 'first'" in err.value.message and f"pid {first.vm_pid}" in err.value.message
    assert not marker.exists()
    assert [h.name for h in inspect(disk, lockenv.lockspace).holders] == ["first"]
    with pytest.raises(DriverError) as again:  # one supervisor per VM uuid per host
        start(lockenv, launcher, lockenv.manager("first", vm_uuid=first.uuid))
    assert again.value.code is ErrorCode.RESOURCE_BUSY and str(first.supervisor_pid) in again.value.message
    assert launcher.forking  # refusals are answers, not fork-server failures


def test_bad_launches_fail_before_any_process_starts(lockenv, launcher):
    disk = lockenv.disk("d.img")
    mgr = lockenv.manager("bad", disk)
    cases = [(("sleep 60",), {}, ErrorCode.INVALID_ARG),  # a shell string, not an argv
             (([],), {}, ErrorCode.INVALID_ARG),
             ((["no-such-program-vmgui"],), {}, ErrorCode.INVALID_ARG),
             ((["sleep", "60"],), {"stdout_path": lockenv.root / "missing" / "vm.log"}, ErrorCode.INTERNAL_ERROR)]
    for args, kw, code in cases:
        with pytest.raises(DriverError) as err:
            launcher.launch(mgr, *args, **kw)
        assert err.value.code is code, (args, kw, err.value)
        assert err.value.message
    with pytest.raises(DriverError) as err:
        launcher.launch(mgr, [str(lockenv.root / "missing-binary")])
    assert err.value.code is ErrorCode.OPERATION_FAILED  # exec failed in the supervisor
    assert inspect(disk, lockenv.lockspace).free and attach(mgr.uuid, runtime_dir=lockenv.run) is None
    assert launcher.forking


def test_the_vm_gets_its_cwd_and_output_file_and_its_end_is_recorded(lockenv, launcher):
    log = lockenv.root / "vm.log"
    log.write_text("before\n")
    clean = start(lockenv, launcher, lockenv.manager("clean"), ["sh", "-c", "pwd; echo out; echo err >&2"],
                  cwd=lockenv.root, stdout_path=log)
    assert clean.wait(10) is not None
    assert log.read_text().splitlines() == ["before", str(lockenv.root), "out", "err"]
    assert exit_status_of(clean.uuid, runtime_dir=lockenv.run) == clean.exit_status()
    assert clean.exit_status().exit_code == 0 and not clean.exit_status().crashed
    killed = start(lockenv, launcher, lockenv.manager("killed"), ["sh", "-c", "kill -SEGV $$"])
    assert killed.wait(10) is not None
    status = exit_status_of(killed.uuid, runtime_dir=lockenv.run)
    assert status is not None and status.signal == signal.SIGSEGV and status.crashed


def test_register_only_destination_takes_the_leases_at_the_hand_over(lockenv, launcher):
    disk = lockenv.disk("d.img")
    src = start(lockenv, launcher, lockenv.manager("mig", disk))
    dst_host = lockenv.other_host("hostB")
    dst = start(lockenv, launcher, dst_host.manager("mig", disk, vm_uuid=src.uuid), register_only=True)
    assert [h.host for h in inspect(disk, lockenv.lockspace).holders] == ["hostA"]
    assert dst.holders() == [] and dst.info()["register_only"]
    state = src.release()  # switch-over
    dst.acquire_state(state)  # before the destination resumes
    assert [(h.host, h.supervisor_pid) for h in inspect(disk, lockenv.lockspace).holders] == \
        [("hostB", dst.supervisor_pid)]
    with pytest.raises(DriverError) as err:
        src.acquire_state(state)  # the source may not run again now
    assert err.value.code is ErrorCode.RESOURCE_BUSY and "host hostB" in err.value.message
    assert src.shutdown(timeout=5).requested


def test_a_new_process_reattaches_to_a_forked_supervisor_that_outlived_its_fork_server(lockenv, launcher):
    disk = lockenv.disk("d.img")
    sup = start(lockenv, launcher, lockenv.manager("found", disk))
    server = parent_of(sup.supervisor_pid)
    launcher.close()  # the app goes away: the fork server ends (reaped here), supervisor and VM run on
    assert not os.path.exists(f"/proc/{server}")
    assert sup.alive() and inspect(disk, lockenv.lockspace).holders[0].name == "found"
    code = (f"from drivers.locking import attach; s = attach({sup.uuid!r}, runtime_dir={str(lockenv.run)!r}); "
            "print(s.supervisor_pid, s.vm_pid, s.socket_path, s.info()['name'])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == [str(sup.supervisor_pid), str(sup.vm_pid), str(sup.socket_path), "found"], \
        out.stderr
    found = attach(sup.uuid, runtime_dir=lockenv.run)
    assert found is not None
    assert found.shutdown(timeout=5).requested  # an attached handle stops it
    assert inspect(disk, lockenv.lockspace).free and attach(sup.uuid, runtime_dir=lockenv.run) is None
    status = exit_status_of(sup.uuid, runtime_dir=lockenv.run)
    assert status is not None and status.requested and not status.crashed


def test_launches_go_on_without_a_fork_server(lockenv, launcher):
    disk = lockenv.disk("d.img")
    forked = start(lockenv, launcher, lockenv.manager("forked"))
    server = parent_of(forked.supervisor_pid)
    assert is_fork_server(server)
    os.kill(server, signal.SIGKILL)
    sup = start(lockenv, launcher, lockenv.manager("plain", disk))
    assert not launcher.forking
    assert parent_of(sup.supervisor_pid) == os.getpid()  # exec'd by LockManager.launch
    assert cmdline(sup.supervisor_pid)[1:3] == ["-m", "drivers.locking.supervisor"]
    assert inspect(disk, lockenv.lockspace).holders[0].name == "plain"
    assert forked.alive()  # the fork server's death touches no supervisor
    assert sup.shutdown(timeout=5).requested and forked.shutdown(timeout=5).requested


def test_fork_server_refuses_malformed_requests_and_serves_on(lockenv):
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen([sys.executable, "-S", "-m", "drivers.locking.forkserver", str(theirs.fileno())],
                            pass_fds=(theirs.fileno(),), cwd=REPO)
    theirs.close()
    rfile = ours.makefile("rb")
    try:
        ours.settimeout(30)
        assert rfile.readline() == b"ready\n"
        r, w = os.pipe()
        out = os.open(os.devnull, os.O_WRONLY)
        for bad in (b"not json", json.dumps({"args": [1, 2]}).encode()):
            ours.sendmsg([bad], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [w, out]))])
            assert json.loads(rfile.readline()) == {"error": "bad request"}
        ours.sendall(json.dumps({"args": ["--help"]}).encode())  # no report pipe, no output file
        assert json.loads(rfile.readline()) == {"error": "bad request"}
        mgr = lockenv.manager("direct", lockenv.disk("d.img"))
        args = mgr.supervisor_args(["sleep", "60"])
        ours.sendmsg([json.dumps({"args": args}).encode()],
                     [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [w, out]))])
        pid = json.loads(rfile.readline())["pid"]
        os.close(w)
        os.close(out)
        report = b""
        while not report.endswith(b"\n"):
            chunk = os.read(r, 4096)
            assert chunk, report
            report += chunk
        os.close(r)
        sup = mgr.started(report, pid)
        lockenv.handles.append(sup)
        assert sup.supervisor_pid == pid and sup.alive()
    finally:
        rfile.close()
        ours.close()  # the fork server exits on EOF
        assert proc.wait(10) == 0
