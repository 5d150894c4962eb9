"""The XML -> argv builder, without running QEMU (fast; still under tests/e2e with the driver)."""
from __future__ import annotations

import json

import pytest

from drivers import DriverError, ErrorCode
from drivers.domxml import DomainXML
from drivers.qemu import cmdline
from drivers.qemu.layout import RootLayout, parse_uri

BIN = "/usr/bin/qemu-system-x86_64"


def _dom(devices: str = "", os_extra: str = "", machine: str = "q35", dom_type: str = "qemu") -> DomainXML:
    return DomainXML.parse(
        f"<domain type='{dom_type}'><name>c</name><uuid>0b8a4bd6-5f6a-4f38-9d6e-53d7c26a3f10</uuid>"
        f"<memory unit='MiB'>48</memory><vcpu>2</vcpu><os><type arch='x86_64' machine='{machine}'>hvm</type>"
        f"{os_extra}</os><devices>{devices}</devices></domain>")


def _argv(dom: DomainXML, **kw) -> list[str]:
    return cmdline.build(dom, qmp_socket="/run/x/q.qmp", binary=BIN, **kw).argv


def test_basic_machine_memory_and_no_shell():
    argv = _argv(_dom(os_extra="<kernel>/k</kernel><initrd>/i</initrd><cmdline>a=1 b, c</cmdline>"))
    assert argv[0] == BIN
    assert argv[argv.index("-machine") + 1] == "q35,accel=tcg"
    assert argv[argv.index("-m") + 1] == "48M" and argv[argv.index("-smp") + 1] == "2"
    assert argv[argv.index("-append") + 1] == "a=1 b, c"  # one list element, no quoting needed
    assert "-display" in argv and "-S" not in argv


def test_disks_become_json_blockdevs_and_commas_are_escaped(tmp_path):
    img = tmp_path / "a,b.qcow2"
    img.write_bytes(b"")
    iso = tmp_path / "cd.iso"
    iso.write_bytes(b"")
    serial = tmp_path / "s,1.log"
    dom = _dom(f"<disk type='file' device='disk'><driver type='qcow2'/><source file='{img}'/>"
               f"<target dev='vda' bus='virtio'/><shareable/></disk>"
               f"<disk type='file' device='cdrom'><source file='{iso}'/><target dev='sdb' bus='sata'/></disk>"
               f"<serial type='file'><source path='{serial}'/></serial>")
    with pytest.raises(DriverError) as err:  # a shareable qcow2 disk is refused
        _argv(dom)
    assert err.value.code == ErrorCode.NO_SUPPORT
    dom = DomainXML.parse(dom.to_string().replace("<shareable/>", ""))
    built = cmdline.build(dom, qmp_socket="/run/x/q.qmp", binary=BIN)
    blockdevs = [json.loads(built.argv[i + 1]) for i, a in enumerate(built.argv) if a == "-blockdev"]
    assert blockdevs[0]["filename"] == str(img) and blockdevs[1]["driver"] == "qcow2"
    assert blockdevs[2]["read-only"] is True  # the CD-ROM
    assert [d.target for d in built.disks] == ["vda", "sdb"] and built.disks[1].readonly
    assert f"file,id=serial0,path={str(serial).replace(',', ',,')},append=on" in built.argv


def test_incoming_and_paused():
    argv = _argv(_dom(), incoming="defer")
    assert argv[-3:] == ["-S", "-incoming", "defer"]
    assert "-S" in _argv(_dom(), paused=True)


def test_refusals():
    for dom, code in ((_dom(machine="virt"), ErrorCode.NO_SUPPORT),
                      (_dom("<interface type='bridge'><source bridge='br0'/></interface>"), ErrorCode.NO_SUPPORT),
                      (_dom("<disk type='file'><source file='/no/such.img'/><target dev='vda'/></disk>"),
                       ErrorCode.INVALID_ARG),
                      (_dom(os_extra="<cmdline>x</cmdline>"), ErrorCode.INVALID_XML)):
        with pytest.raises(DriverError) as err:
            _argv(dom)
        assert err.value.code == code


def test_layout_keys_roots_apart(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    a, b = RootLayout(tmp_path / "a"), RootLayout(tmp_path / "b")
    assert a.runtime != b.runtime and a.runtime.parent == b.runtime.parent
    assert len(a.socket("0b8a4bd6-5f6a-4f38-9d6e-53d7c26a3f10", "qmp")) < 108
    assert parse_uri("qemu:///embed?root=/x/y") == type(tmp_path)("/x/y")


def test_serial_console_socket_and_video(tmp_path):
    log = tmp_path / "s.log"
    con = "/run/x/c.con"
    file_port = _dom(f"<serial type='file'><source path='{log}'/></serial>")
    built = cmdline.build(file_port, qmp_socket="/run/x/q.qmp", binary=BIN, console_socket=con)
    assert f"socket,id=serial0,path={con},server=on,wait=off,logfile={log},logappend=on" in built.argv
    assert (built.serial_log, built.console_socket) == (str(log), con)
    pty = _dom("<serial type='pty'><target port='0'/></serial><console type='pty'/>")
    built = cmdline.build(pty, qmp_socket="/run/x/q.qmp", binary=BIN, console_socket=con, pty_log="/r/l,1.log")
    assert f"socket,id=serial0,path={con},server=on,wait=off,logfile=/r/l,,1.log,logappend=on" in built.argv
    assert built.argv.count("-serial") == 1 and built.serial_log == "/r/l,1.log"
    unix = _dom("<serial type='unix'><source mode='bind' path='/tmp/own.sock'/></serial>")
    built = cmdline.build(unix, qmp_socket="/run/x/q.qmp", binary=BIN, console_socket=con)
    assert built.console_socket is None
    # display adapters: VGA with graphics (as libvirt), an explicit <video>, or none
    assert "VGA" not in _argv(_dom()) and not cmdline.has_display(_dom())
    assert "VGA" in _argv(_dom("<graphics type='vnc'/>"))
    video = _dom("<video><model type='virtio'/></video>")
    assert "virtio-vga" in _argv(video) and cmdline.has_display(video)
    assert not cmdline.has_display(_dom("<graphics type='vnc'/><video><model type='none'/></video>"))
    with pytest.raises(DriverError) as err:
        _argv(_dom("<video><model type='qxl'/></video>"))
    assert err.value.code == ErrorCode.NO_SUPPORT and "qxl" in err.value.message


def test_uefi_becomes_pflash_blockdevs_named_by_the_machine_with_smm_and_a_tpm():
    secure = ("<loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.secboot.fd</loader>"
              "<nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd'>/srv/vms/d/VARS,1.fd</nvram>")
    dom = _dom("<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>", os_extra=secure)
    dom.smm = True
    argv = _argv(dom, tpm_socket="/run/x/t,1.tpm")
    assert argv[argv.index("-machine") + 1] == "q35,accel=tcg,pflash0=pflash0,pflash1=pflash1,smm=on"
    nodes = [json.loads(argv[i + 1]) for i, a in enumerate(argv) if a == "-blockdev"]
    assert nodes == [
        {"driver": "file", "filename": "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd", "node-name": "pflash0-file",
         "read-only": True},
        {"driver": "raw", "file": "pflash0-file", "node-name": "pflash0", "read-only": True},
        {"driver": "file", "filename": "/srv/vms/d/VARS,1.fd", "node-name": "pflash1-file", "read-only": False},
        {"driver": "raw", "file": "pflash1-file", "node-name": "pflash1", "read-only": False}]
    assert argv[argv.index("-global") + 1] == "driver=cfi.pflash01,property=secure,value=on"
    assert argv[argv.index("-tpmdev") + 1] == "emulator,id=tpm0,chardev=chrtpm"
    assert "socket,id=chrtpm,path=/run/x/t,,1.tpm" in argv and "tpm-crb,tpmdev=tpm0" in argv


def test_bios_domains_keep_their_command_line_and_uefi_needs_its_image():
    argv = _argv(_dom())
    assert argv[argv.index("-machine") + 1] == "q35,accel=tcg"
    assert "-blockdev" not in argv and "-tpmdev" not in argv
    plain = _dom()
    plain.firmware = "efi"  # defined elsewhere than through the driver: no image chosen
    with pytest.raises(DriverError) as refused:
        _argv(plain)
    assert refused.value.code is ErrorCode.INVALID_XML and "loader" in refused.value.message
    with pytest.raises(DriverError) as no_swtpm:
        _argv(_dom("<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>"))
    assert no_swtpm.value.code is ErrorCode.OPERATION_INVALID


def test_a_usb_tablet_gets_one_xhci_controller_and_ps2_devices_are_the_machine_s():
    argv = _argv(_dom("<input type='tablet' bus='usb'/><input type='keyboard' bus='usb'/>"
                      "<input type='mouse' bus='ps2'/><input type='keyboard' bus='ps2'/>"))
    devices = [argv[i + 1] for i, a in enumerate(argv) if a == "-device"]
    assert devices.count("qemu-xhci,id=usb") == 1
    assert "usb-tablet,bus=usb.0" in devices and "usb-kbd,bus=usb.0" in devices
    assert not any("ps2" in d or "mouse" in d for d in devices), "PS/2 mouse and keyboard are built in"
    assert "virtio-tablet-pci" in _argv(_dom("<input type='tablet' bus='virtio'/>"))
    assert "qemu-xhci,id=usb" not in _argv(_dom("<input type='mouse' bus='ps2'/>"))
    with pytest.raises(DriverError) as err:
        _argv(_dom("<input type='passthrough' bus='virtio'/>"))
    assert err.value.code == ErrorCode.NO_SUPPORT and "passthrough" in err.value.message


def test_a_vnc_password_turns_on_qemus_password_check_and_stays_off_the_command_line():
    for graphics, vnc in (("<graphics type='vnc' passwd='s3cret'/>", "unix:/run/x/v.vnc,password=on"),
                          ("<graphics type='vnc' port='5907' listen='127.0.0.1' passwd='s3cret'/>",
                           "127.0.0.1:7,password=on")):
        built = cmdline.build(_dom(graphics), qmp_socket="/run/x/q.qmp", binary=BIN, vnc_socket="/run/x/v.vnc")
        assert built.argv[built.argv.index("-vnc") + 1] == vnc
        assert built.vnc_password == "s3cret", "set over QMP once QEMU runs"
        assert not any("s3cret" in arg for arg in built.argv), "other users can read a command line"
    plain = cmdline.build(_dom("<graphics type='vnc'/>"), qmp_socket="/run/x/q.qmp", binary=BIN,
                          vnc_socket="/run/x/v.vnc")
    assert plain.argv[plain.argv.index("-vnc") + 1] == "unix:/run/x/v.vnc" and plain.vnc_password is None


def test_a_vnc_guest_gets_a_listening_dbus_display_so_qemu_looks_for_changes_every_30_ms():
    """Alone, QEMU's VNC server looks for screen changes less often after each idle look (up to every 3 s),
    so a key typed after a pause echoes late; a p2p D-Bus display keeps the refresh at 30 ms."""
    assert "dbus" in cmdline.display_types(BIN), \
        "this QEMU lacks its D-Bus display (Debian 13: apt-get install qemu-system-modules-opengl)"
    for graphics in ("<graphics type='vnc'/>", "<graphics type='vnc' port='5907' listen='127.0.0.1'/>"):
        argv = _argv(_dom(graphics), vnc_socket="/run/x/v.vnc")
        assert argv[argv.index("-display") + 1] == "dbus,p2p=on"
    bare = _argv(_dom())
    assert bare[bare.index("-display") + 1] == "none", "no graphics: no display at all"


def test_a_qemu_without_the_dbus_display_module_runs_vnc_alone(tmp_path):
    """What Debian 13's QEMU prints without qemu-system-modules-opengl; a binary that is no QEMU offers none."""
    without = tmp_path / "qemu-without-dbus"
    without.write_text("#!/bin/sh\nprintf 'Available display backend types:\\nnone\\ncurses\\n\\n"
                       "Some display backends support suboptions\\n'\n")
    without.chmod(0o755)
    assert cmdline.display_types(str(without)) == {"none", "curses"}
    built = cmdline.build(_dom("<graphics type='vnc'/>"), qmp_socket="/run/x/q.qmp", binary=str(without),
                          vnc_socket="/run/x/v.vnc")
    assert "-display" not in built.argv and "unix:/run/x/v.vnc" in built.argv
    assert cmdline.display_types("/bin/true") == frozenset()
    assert cmdline.display_types(str(tmp_path / "missing")) == frozenset()
