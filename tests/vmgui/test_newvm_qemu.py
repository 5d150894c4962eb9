"""The New VM wizard on real QEMU: direct kernel boot of the e2e test guest with a new qcow2 disk."""
from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from borrowed_fixtures import borrow
from isoimages import make_iso
from test_newvm import disk_jobs, fill, next_button, open_wizard

import drivers
from drivers import DomainState, JobState
from drivers.domxml import DomainXML
from vmgui.models.newvm import MIB, Boot, Source

# The real-QEMU fixtures (private roots and runtime dirs, the multiboot guest, leftover-process checks)
# live in tests/e2e/conftest.py: imported, not copied.
e2e = borrow("e2e")
env = e2e.env
guest_kernel = e2e.guest_kernel
from e2e_helpers import QEMU, QEMU_IMG, wait_heartbeat  # noqa: E402 - on sys.path once e2e's conftest ran

pytestmark = [pytest.mark.qemu,
              pytest.mark.skipif(not (QEMU and QEMU_IMG), reason="qemu-system-x86_64 / qemu-img are not installed "
                                                                 "(Debian: qemu-system-x86 qemu-utils)")]


def image_info(path: Path) -> dict:
    """What qemu-img says of a disk file (-U: the running VM holds its lock)."""
    out = subprocess.run([QEMU_IMG, "info", "-U", "--output=json", str(path)], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)


@contextmanager
def running(window, qtbot, uri: str, name: str) -> Iterator[drivers.Connection]:
    """``uri``'s connection once the wizard's ``name`` runs there; every running domain is destroyed after."""
    conn = window.session.bridge.connection(uri)
    try:
        qtbot.waitUntil(lambda: any(d.name == name and d.is_active() for d in conn.list_all_domains()),
                        timeout=30000)
        yield conn
    finally:
        for d in conn.list_all_domains():
            if d.is_active():
                d.destroy()


def test_kernel_boot_with_a_new_qcow2_disk_runs(env, open_window, qtbot):
    uri = env.uri()
    window = open_window(uri)
    dialog = open_wizard(window, qtbot)
    assert dialog.target().can_create_disks and dialog.target().image_dir == str(env.root() / "images")
    dialog.name.setText("wizard1")
    dialog.source_buttons[Source.KERNEL].setChecked(True)
    dialog.kernel.setText(env.kernel)
    qtbot.waitUntil(next_button(dialog).isEnabled)  # once a worker has looked at the kernel and the disk file
    dialog.next()
    dialog.memory.setValue(64)
    dialog.vcpus.setValue(1)
    dialog.disk_size.setText("64 MiB")
    dialog.next()
    qtbot.waitUntil(lambda: dialog.issues() == [])
    assert dialog.start.isChecked()
    dialog.accept()
    path = env.root() / "images" / "wizard1.qcow2"
    with running(window, qtbot, uri, "wizard1") as conn:
        jobs = disk_jobs(window, uri)
        assert [j.state for j in jobs] == [JobState.COMPLETED] and jobs[0].domain == "wizard1.qcow2"
        dom = conn.lookup_by_name("wizard1")
        assert dom.state()[0] is DomainState.RUNNING
        definition = DomainXML.parse(dom.xml_desc())
        assert definition.kernel == env.kernel and [d.source for d in definition.disks()] == [str(path)]
        info = image_info(path)
        assert info["format"] == "qcow2" and info["virtual-size"] == 64 * MIB
        wait_heartbeat(env.root() / "logs" / "wizard1.serial.log", 0)  # the guest really runs


def test_iso_install_with_a_preallocated_raw_disk_starts(env, open_window, qtbot, tmp_path):
    iso = make_iso(tmp_path / "installer.iso", "INSTALLER")  # not bootable: the VM runs its firmware, all this needs
    uri = env.uri()
    window = open_window(uri)
    dialog = open_wizard(window, qtbot)
    fill(qtbot, dialog, "wizard2", str(iso), "32 MiB", preallocate=True, memory_mib=64, disk_format="raw")
    dialog.accept()
    path = env.root() / "images" / "wizard2.raw"
    with running(window, qtbot, uri, "wizard2") as conn:
        definition = DomainXML.parse(conn.lookup_by_name("wizard2").xml_desc())
        assert definition.boot_devices == ["cdrom", "hd"] and [g.type for g in definition.graphics()] == ["vnc"]
        info = image_info(path)
        assert info["format"] == "raw" and info["virtual-size"] == 32 * MIB
        assert path.stat().st_blocks * 512 >= 32 * MIB  # allocated now, not sparse


def test_uefi_with_secure_boot_and_a_tpm_from_the_wizard_runs_under_ovmf(env, open_window, qtbot, tmp_path):
    iso = make_iso(tmp_path / "installer.iso", "INSTALLER")  # not bootable: OVMF itself runs, which this checks
    uri = env.uri()
    window = open_window(uri)
    dialog = open_wizard(window, qtbot)
    offered = [dialog.firmware.itemData(i) for i in range(dialog.firmware.count())]
    if Boot.SECURE_BOOT not in offered or not dialog.tpm.isEnabled():
        pytest.skip("OVMF's Secure Boot build or swtpm is not installed (Debian: ovmf swtpm swtpm-tools)")
    assert offered == [Boot.BIOS, Boot.UEFI, Boot.SECURE_BOOT]
    dialog.name.setText("wizard3")
    dialog.iso.setText(str(iso))
    qtbot.waitUntil(next_button(dialog).isEnabled)
    dialog.next()
    dialog.memory.setValue(128)
    dialog.firmware.setCurrentIndex(offered.index(Boot.SECURE_BOOT))
    dialog.tpm.setChecked(True)
    dialog.disk_size.setText("32 MiB")
    qtbot.waitUntil(next_button(dialog).isEnabled)
    dialog.next()
    assert dialog.issues() == [] and "UEFI with Secure Boot firmware, TPM 2.0" in dialog.summary.text()
    dialog.accept()
    with running(window, qtbot, uri, "wizard3") as conn:
        dom = conn.lookup_by_name("wizard3")
        definition = DomainXML.parse(dom.xml_desc())
        assert definition.secure_boot and definition.smm is True and definition.loader_type == "pflash"
        assert [t.model for t in definition.tpms()] == ["tpm-crb"]
        assert Path(definition.nvram or "").is_file(), "the variable store was made at the start"
        argv = Path(f"/proc/{dom.qemu_pid()}/cmdline").read_bytes().split(b"\0")
        assert b"tpm-crb,tpmdev=tpm0" in argv and any(b"pflash1=pflash1,smm=on" in a for a in argv)
