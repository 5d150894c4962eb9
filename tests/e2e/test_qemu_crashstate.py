"""Real QEMU: a crash never loses a VM. Snapshots a dead app left half done, broken definition and state files.

The app is a child process SIGKILLed at chosen moments; the test then opens the
root again, as the next start of the app would, and checks what a user sees
against what the qcow2 files hold.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import e2e_helpers as h
import pytest

from drivers import DomainState, ErrorCode, ListFlags

pytestmark = [pytest.mark.qemu, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
_RAM_N = re.compile(rb"VMGUI RAM ok (\d+)")


def disk_tags(path: str) -> set[str]:
    """The internal snapshots in a qcow2 file, as qemu-img reads them (-U: QEMU may have it open)."""
    out = subprocess.run([h.QEMU_IMG, "info", "-U", "--output=json", path], capture_output=True, text=True,
                         check=True).stdout
    return {s["name"] for s in json.loads(out).get("snapshots", [])}


def die_during(env, body: str, after: str, delay: float) -> None:
    """Run ``body`` in an app process on the test's root; SIGKILL it ``delay`` s after it prints ``after``."""
    script = f"import time\nimport drivers\nconn = drivers.open({env.uri()!r})\n" + textwrap.dedent(body)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        for line in proc.stdout:
            if line.strip() == after:
                break
        else:
            pytest.fail(f"the app process ended before printing {after!r} (exit {proc.wait()})")
        time.sleep(delay)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def ram_numbers(serial, since: int = 0) -> list[int]:
    return [int(n) for n in _RAM_N.findall(serial.text()[since:])]


def reverts_to(dom, name: str, serial) -> None:
    """Revert to the live snapshot ``name``: the guest's counter goes back, and its RAM checks keep passing."""
    serial.wait_ram_ok(2)  # the counter is now past the snapshot's moment
    last, mark = ram_numbers(serial)[-1], len(serial.text())
    next(s for s in dom.list_all_snapshots() if s.name == name).revert()
    assert dom.state()[0] == DomainState.RUNNING
    serial.wait_ram_ok(2)
    after = ram_numbers(serial, mark)
    assert after and after[0] <= last, f"the guest did not go back in time: {after[:3]} after {last}"


#: when the app dies: 20 and 50 ms into the call, a few hundred ms in (QEMU saving), after it returned
KILL_POINTS = [("calling", 0.02), ("calling", 0.05), ("calling", 0.3), ("returned", 0.0)]


def test_a_live_snapshot_whose_app_is_killed_is_listed_as_the_disk_holds_it(env, linux_guest, tmp_path):
    disk = h.make_qcow2(tmp_path / "snap.qcow2", 64)
    conn = env.open()
    conn.define_xml(env.linux_xml("snappy", "ram", disks=[{"path": disk}])).create()
    serial = env.guest("snappy")
    serial.wait_for(b"VMGUI READY", timeout=90)
    serial.wait_ram_ok(1)
    conn.close()
    for i, (after, delay) in enumerate(KILL_POINTS):
        name = f"s{i}"
        die_during(env, f"""
            dom = conn.lookup_by_name("snappy")
            print("calling", flush=True)
            dom.snapshot_create({name!r})
            print("returned", flush=True)
            time.sleep(60)
        """, after, delay)
        conn = env.open()
        dom = conn.lookup_by_name("snappy")
        listed = {s.name for s in dom.list_all_snapshots()}
        assert listed == disk_tags(disk), f"killed at {after}+{delay}s: the app and the qcow2 disagree"
        assert dom.state()[0] == DomainState.RUNNING
        if name not in listed:
            dom.snapshot_create(name)  # the name is free again
        reverts_to(dom, name, serial)
        assert not list((env.root() / "domains" / dom.uuid / "snapshots").glob("*.pending"))
        conn.close()
    assert serial.kernel_trouble() == []
    env.open().lookup_by_name("snappy").destroy()


def offline_snapshot_dies(env, disks: list[str], done: list[str]) -> None:
    """An app that dies while it snapshots a shut-off domain: ``done`` disks hold the snapshot 'half'."""
    die_during(env, f"""
        from drivers.qemu import snapjournal, storage
        from drivers.snapxml import SnapshotDef
        dom = conn.lookup_by_name("off")
        with snapjournal.noted(conn.host, dom._dom(), "create", SnapshotDef(name="half")):
            for path in {done!r}:
                storage.snapshot("c", path, "half")
            print("written", flush=True)
            time.sleep(60)
    """, "written", 0.0)


@pytest.mark.parametrize("on", [1, 2], ids=["one-of-two-disks", "every-disk"])
def test_an_offline_snapshot_cut_short_is_removed_or_adopted(env, tmp_path, on):
    disks = [h.make_qcow2(tmp_path / f"d{i}.qcow2") for i in range(2)]
    conn = env.open()
    dom = conn.define_xml(env.xml("off", disks=[{"path": p} for p in disks]))
    conn.close()
    offline_snapshot_dies(env, disks, disks[:on])
    conn = env.open()
    dom = conn.lookup_by_name("off")
    listed = [s.name for s in dom.list_all_snapshots()]
    if on == len(disks):  # complete: adopted, and it reverts
        assert listed == ["half"] and all(disk_tags(p) == {"half"} for p in disks)
        dom.list_all_snapshots()[0].revert()
    else:  # partial: gone from every disk, the name free again
        assert listed == [] and all(disk_tags(p) == set() for p in disks)
        dom.snapshot_create("half")
        assert all(disk_tags(p) == {"half"} for p in disks)
    conn.close()
    assert [s.name for s in env.open().lookup_by_name("off").list_all_snapshots()] == ["half"]


def test_a_deletion_cut_short_is_finished(env, tmp_path):
    disks = [h.make_qcow2(tmp_path / f"d{i}.qcow2") for i in range(2)]
    conn = env.open()
    dom = conn.define_xml(env.xml("off", disks=[{"path": p} for p in disks]))
    dom.snapshot_create("gone")
    conn.close()
    die_during(env, f"""
        from drivers.qemu import snapjournal, storage
        dom = conn.lookup_by_name("off")
        snap = dom._dom().snapshots["gone"]
        with snapjournal.noted(conn.host, dom._dom(), "delete", snap):
            storage.snapshot("d", {disks[0]!r}, "gone")
            print("deleted one", flush=True)
            time.sleep(60)
    """, "deleted one", 0.0)
    dom = env.open().lookup_by_name("off")
    assert dom.list_all_snapshots() == [] and dom.snapshot_count() == 0
    assert all(disk_tags(p) == set() for p in disks)


def test_an_unreadable_marker_never_costs_a_whole_snapshot(env, tmp_path):
    disk = h.make_qcow2(tmp_path / "keep.qcow2")
    conn = env.open()
    dom = conn.define_xml(env.xml("off", disks=[{"path": disk}]))
    dom.snapshot_create("keep")
    conn.close()
    marker = env.root() / "domains" / dom.uuid / "snapshots" / "keep.pending"
    marker.write_bytes(b"\x00{garbage")
    dom = env.open().lookup_by_name("off")
    assert [s.name for s in dom.list_all_snapshots()] == ["keep"] and disk_tags(disk) == {"keep"}
    assert not marker.exists()


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


def names(conn, flags: int) -> list[str]:
    return [d.name for d in conn.list_all_domains(flags)]


def test_a_truncated_definition_of_a_shut_off_vm_is_broken_until_a_corrected_one_is_defined(env, tmp_path):
    disk = h.make_qcow2(tmp_path / "cut.qcow2")
    xml = env.xml("cut", disks=[{"path": disk}])  # nothing runs to recover: the small guest proves the start
    conn = env.open()
    uuid = conn.define_xml(xml).uuid
    conn.close()
    truncate(env.root() / "domains" / uuid / "domain.xml")

    conn = env.open()
    dom = conn.lookup_by_name("cut")  # the name is read from what is left
    rec = dom.record()
    assert rec.broken and rec.state == DomainState.NOSTATE and rec.id is None
    assert rec.problem.startswith("domain.xml is truncated")
    assert names(conn, ListFlags.OTHER) == ["cut"] and names(conn, ListFlags.SHUTOFF) == []
    with h.refused(ErrorCode.OPERATION_INVALID, "Define a corrected XML with its uuid, or delete the domain"):
        dom.create()
    assert "<name>cut</name>" in dom.xml_desc() and uuid in dom.xml_desc()  # what was salvaged, to correct

    conn.define_xml(xml)
    rec = dom.record()
    assert not rec.broken and rec.problem == "" and dom.state()[0] == DomainState.SHUTOFF
    dom.create()
    h.wait_heartbeat(env.serial("cut"), 1)
    dom.destroy()
    conn.close()
    assert env.open().lookup_by_name("cut").record().problem == ""  # the file on disk is whole again


@pytest.mark.parametrize(("damage", "words"), [
    ((b"<vcpu>1</vcpu>", b"<vcpu>lots</vcpu>"), "domain.xml is not a valid definition"),
    ((b"<devices>", b"<devices><<"), "domain.xml is not well-formed XML"),
], ids=["invalid", "malformed"])
def test_a_damaged_definition_says_how_it_is_damaged(env, damage, words):
    conn = env.open()
    uuid = conn.define_xml(env.xml("hurt")).uuid
    conn.close()
    cfg = env.root() / "domains" / uuid / "domain.xml"
    assert damage[0] in cfg.read_bytes()
    cfg.write_bytes(cfg.read_bytes().replace(*damage))
    rec = env.open().lookup_by_name("hurt").record()
    assert rec.broken and rec.problem.startswith(words) and str(cfg) in rec.problem


def test_a_broken_entry_never_takes_the_name_of_a_readable_domain(env):
    conn = env.open()
    conn.define_xml(env.xml("twin", uuid="ffffffff-0000-4000-8000-000000000001"))
    first = "00000000-0000-4000-8000-000000000002"  # read first: its folder sorts first
    conn.define_xml(env.xml("other", uuid=first))
    conn.close()
    twin_xml = (env.root() / "domains" / "ffffffff-0000-4000-8000-000000000001" / "domain.xml").read_bytes()
    (env.root() / "domains" / first / "domain.xml").write_bytes(twin_xml[:len(twin_xml) // 2])  # a cut copy
    conn = env.open()
    assert not conn.lookup_by_name("twin").record().broken  # the readable one keeps its name
    assert conn.lookup_by_uuid(first).name == "other" and conn.lookup_by_uuid(first).record().broken


def test_the_disks_a_broken_definition_names_still_count_as_in_use(env, tmp_path):
    disk = h.make_qcow2(tmp_path / "kept.qcow2")
    conn = env.open()
    uuid = conn.define_xml(env.xml("holder", disks=[{"path": disk}])).uuid
    conn.close()
    cfg = env.root() / "domains" / uuid / "domain.xml"
    data = cfg.read_bytes()
    cfg.write_bytes(data[:data.index(b"<target")])  # cut right after the disk's source
    found = env.open().check_delete_disks([disk])  # what another domain's Delete would ask
    assert disk in found and "holder" in found[disk].message


def test_a_broken_entry_can_be_deleted(env):
    conn = env.open()
    uuid = conn.define_xml(env.xml("empty")).uuid
    conn.close()
    (env.root() / "domains" / uuid / "domain.xml").write_bytes(b"")
    conn = env.open()
    dom = conn.lookup_by_uuid(uuid)
    assert dom.name == "empty"  # from meta.json when the file holds nothing
    assert dom.record().problem.startswith("domain.xml is empty")
    dom.undefine()
    assert names(conn, 0) == [] and not (env.root() / "domains" / uuid).exists()


def runs_on(serial: Path) -> None:
    """The small guest keeps running: it prints a heartbeat past the one it is at."""
    h.wait_heartbeat(serial, h.heartbeat(serial), timeout=60)


def boots_again(serial: Path, boots: int) -> None:
    """The small guest booted a ``boots``-th time and runs."""
    assert h.wait_until(lambda: h.boots(serial) == boots), f"no boot #{boots} in {serial}"
    runs_on(serial)


# The running-VM cases below are about the definition and state files the app reads: the
# small guest's heartbeat shows the VM running on (or booting again) as well as the Linux guest would.
def test_a_truncated_definition_of_a_running_vm(env, tmp_path):
    disk = h.make_qcow2(tmp_path / "run.qcow2")
    xml = env.xml("runcut", disks=[{"path": disk}])
    serial = env.serial("runcut")
    conn = env.open()
    dom = conn.define_xml(xml)
    dom.create()
    h.wait_heartbeat(serial, 1, timeout=60)
    conn.close()
    truncate(env.root() / "domains" / dom.uuid / "domain.xml", 0.3)

    conn = env.open()
    dom = conn.lookup_by_name("runcut")
    rec = dom.record()
    assert rec.state == DomainState.RUNNING and not rec.broken  # it runs on its live definition
    assert "domain.xml is truncated" in rec.problem
    runs_on(serial)
    dom.destroy()
    rec = dom.record()
    assert rec.broken and names(conn, ListFlags.OTHER) == ["runcut"]  # stopped: nothing to start it from
    conn.define_xml(xml)
    assert dom.state()[0] == DomainState.SHUTOFF and dom.record().problem == ""
    dom.create()
    boots_again(serial, 2)


def test_a_garbled_state_file_of_a_running_vm(env, tmp_path):
    disk = h.make_qcow2(tmp_path / "gar.qcow2")
    serial = env.serial("garbled")
    conn = env.open()
    dom = conn.define_xml(env.xml("garbled", disks=[{"path": disk}]))
    dom.create()
    h.wait_heartbeat(serial, 1, timeout=60)
    pid = dom.qemu_pid()
    conn.close()
    state = env.root() / "state" / f"{dom.uuid}.json"
    state.write_bytes(state.read_bytes()[:40] + b"\x00\x17garbage")

    conn = env.open()
    dom = conn.lookup_by_name("garbled")
    rec = dom.record()
    assert rec.broken and rec.id is not None  # its QEMU runs: not "shut off"
    assert "state file" in rec.problem and str(pid) in rec.problem
    assert names(conn, ListFlags.OTHER | ListFlags.ACTIVE) == ["garbled"]
    for call in (dom.create, dom.shutdown, lambda: conn.define_xml(dom.xml_desc())):
        with h.refused(ErrorCode.OPERATION_INVALID, "Force it off"):
            call()
    dom.destroy()  # Force Off: through its supervisor
    assert process_gone(pid), "its QEMU process still runs"
    rec = dom.record()
    assert rec.state == DomainState.SHUTOFF and rec.problem == "" and not state.exists()
    dom.create()
    boots_again(serial, 2)


def process_gone(pid: int) -> bool:
    """No such process any more (or only its zombie, waiting to be reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def left_running(env, name: str, state: str) -> tuple[str, int]:
    """The small guest ``name`` left running by an app that closed, its state file then replaced by ``state``.

    Returns (uuid, pid of its QEMU).
    """
    conn = env.open()
    dom = conn.define_xml(env.xml(name))
    dom.create()
    h.wait_heartbeat(env.serial(name), 1)
    uuid, pid = dom.uuid, dom.qemu_pid()
    conn.close()
    (env.root() / "state" / f"{uuid}.json").write_text(state)
    return uuid, pid


def test_a_vm_without_a_readable_state_that_ends_by_itself_is_seen_to_end(env):
    from drivers.flags import ShutoffReason
    _uuid, pid = left_running(env, "alone", "")
    conn = env.open()
    dom = conn.lookup_by_name("alone")
    assert dom.record().broken and "it is empty" in dom.record().problem
    events = h.EventLog(conn)
    os.kill(pid, signal.SIGKILL)  # no QMP session tells: its supervisor does
    events.wait_for("STOPPED", timeout=20)
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.CRASHED) and dom.record().problem == ""
