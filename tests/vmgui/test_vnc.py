"""The graphical console: the VNC address from live XML, each viewer's argv, and the detached start.

The real viewers are not installed in CI; the boundary we own is the argv and
how the process is started, checked with a recording script named like a viewer.
(The address accepting an RFB handshake on a real QEMU is in tests/e2e/test_gui_migrate_qemu.py.)
"""
from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from vmgui.models import vnc
from vmgui.models.vnc import Target, VncAddress

NS = "http://libvirt.org/schemas/domain/test/1.0"
SOCK = VncAddress(socket="/run/vmgui/a.vnc")
PORT = VncAddress(host="127.0.0.1", port=5905)


def xml(graphics: str) -> str:
    return (f"<domain type='qemu'><name>g</name><memory>65536</memory><os><type>hvm</type></os>"
            f"<devices>{graphics}</devices></domain>")


@pytest.mark.parametrize(("graphics", "expected"), [
    ("<graphics type='vnc' socket='/run/a.vnc'/>", VncAddress(socket="/run/a.vnc")),
    ("<graphics type='vnc' port='5901' listen='127.0.0.1'/>", VncAddress(host="127.0.0.1", port=5901)),
    ("<graphics type='vnc' port='5902' listen='0.0.0.0'/>", VncAddress(host="127.0.0.1", port=5902)),
    ("<graphics type='vnc' port='5903' listen='::1'/>", VncAddress(host="::1", port=5903)),
    ("<graphics type='vnc' port='-1' autoport='yes'/>", None),  # not started yet: no port known
    ("<graphics type='spice' port='5930'/>", None),
    ("", None),
])
def test_address_from_live_xml(graphics, expected):
    assert vnc.vnc_address(xml(graphics)) == expected


@pytest.mark.parametrize(("viewer", "address", "argv"), [
    ("remote-viewer", SOCK, ["/bin/remote-viewer", "vnc+unix:///run/vmgui/a.vnc"]),
    ("remote-viewer", PORT, ["/bin/remote-viewer", "vnc://127.0.0.1:5905"]),
    ("remote-viewer", VncAddress(host="::1", port=5906), ["/bin/remote-viewer", "vnc://[::1]:5906"]),
    ("vncviewer", SOCK, ["/bin/vncviewer", "/run/vmgui/a.vnc"]),  # TigerVNC takes a socket path
    ("vncviewer", PORT, ["/bin/vncviewer", "127.0.0.1::5905"]),
    ("gvncviewer", PORT, ["/bin/gvncviewer", "127.0.0.1:5"]),
    ("gvncviewer", SOCK, None),
    ("xtightvncviewer", PORT, ["/bin/xtightvncviewer", "127.0.0.1::5905"]),
    ("xtightvncviewer", SOCK, None),
    ("krdc", PORT, ["/bin/krdc", "vnc://127.0.0.1:5905"]),
    ("krdc", SOCK, None),
    ("virt-viewer", SOCK, None),  # it speaks libvirt only; an embedded host is not one
])
def test_argv_of_each_viewer(viewer, address, argv):
    assert vnc.BUILDERS[viewer](f"/bin/{viewer}", Target(address, domain="g")) == argv


def test_remote_libvirt_domains_go_through_virt_viewer():
    uri, remote = vnc.libvirt_target("qemu+ssh://admin@far.example/system")
    assert (uri, remote) == ("qemu+ssh://admin@far.example/system", True)
    assert vnc.libvirt_target("libvirt:qemu:///system") == ("qemu:///system", False)
    assert vnc.libvirt_target("qemu:///embed?root=/x") == (None, False)
    target = Target(VncAddress(host="127.0.0.1", port=5900), uri, remote, "web01")
    both = (("remote-viewer", "/bin/remote-viewer"), ("virt-viewer", "/bin/virt-viewer"))
    assert vnc.choose(both, target) == (["/bin/virt-viewer", "--connect", uri, "web01"], "virt-viewer")
    argv, why = vnc.choose(both[:1], target)
    assert argv is None and "web01 runs on another machine: only virt-viewer" in why


def test_a_spice_only_domain_opens_in_remote_viewer_or_virt_viewer():
    spice = xml("<graphics type='spice' port='5930' listen='0.0.0.0'/>")
    viewers = (("vncviewer", "/bin/vncviewer"), ("remote-viewer", "/bin/remote-viewer"))
    assert vnc.plan(spice, "libvirt:qemu:///system", "sp", viewers) == (
        ["/bin/remote-viewer", "spice://127.0.0.1:5930"], "remote-viewer")
    remote = "qemu+ssh://admin@far.example/system"
    virt = (("remote-viewer", "/bin/remote-viewer"), ("virt-viewer", "/bin/virt-viewer"))
    assert vnc.plan(spice, remote, "sp", virt) == (["/bin/virt-viewer", "--connect", remote, "sp"], "virt-viewer")
    argv, why = vnc.plan(spice, "libvirt:qemu:///system", "sp", viewers[:1])
    assert argv is None and why == ("sp's display is SPICE: only remote-viewer or virt-viewer opens it "
                                    "(install virt-viewer)")
    assert vnc.spice_uri(xml("<graphics type='spice' socket='/run/s.sock'/>")) == "spice+unix:///run/s.sock"
    assert vnc.spice_uri(xml("<graphics type='spice' autoport='yes'/>")) is None, "no port yet: nothing to reach"


def test_the_first_viewer_that_can_reach_the_address_wins():
    viewers = (("krdc", "/bin/krdc"), ("vncviewer", "/bin/vncviewer"))
    assert vnc.choose(viewers, Target(SOCK, domain="g")) == (["/bin/vncviewer", "/run/vmgui/a.vnc"], "vncviewer")
    argv, why = vnc.choose(viewers[:1], Target(SOCK, domain="g"))
    assert argv is None and why == "none of the installed viewers (krdc) can open /run/vmgui/a.vnc"
    assert vnc.choose((), Target(SOCK))[1].startswith("no VNC viewer is installed")
    argv, why = vnc.plan(xml(""), "qemu:///embed", "g", viewers)
    assert argv is None and "g has no VNC graphics" in why


def _recording_viewer(folder: Path, name: str) -> Path:
    """A script named like a viewer that writes its argv and session id, then exits."""
    out = folder / "recorded.json"
    script = folder / name
    script.write_text(f"#!{sys.executable}\nimport json, os, sys\n"
                      f"json.dump({{'argv': sys.argv, 'sid': os.getsid(0)}}, open({str(out)!r}, 'w'))\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return out


def test_installed_viewers_follow_path(tmp_path, monkeypatch):
    _recording_viewer(tmp_path, "vncviewer")
    _recording_viewer(tmp_path, "krdc")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert vnc.installed_viewers() == (("vncviewer", str(tmp_path / "vncviewer")), ("krdc", str(tmp_path / "krdc")))


def test_the_app_starts_the_viewer_detached_with_that_argv(open_window, make_node, tmp_path, monkeypatch, qtbot):
    sock = str(tmp_path / "g.vnc")
    node = (f"<node><domain type='test' xmlns:test='{NS}'><name>g</name>"
            "<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>"
            f"<devices><graphics type='vnc' socket='{sock}'/></devices>"
            "<test:runstate>1</test:runstate></domain></node>")
    uri = make_node(xml=node)
    window = open_window(uri)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    recorded = _recording_viewer(bin_dir, "remote-viewer")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    key = (uri, window.session.bridge.connection(uri).lookup_by_name("g").uuid)
    window.session.spawn(vnc.open_graphical_console(window.session, key), "opening the display")
    qtbot.waitUntil(recorded.exists, timeout=10000)
    qtbot.waitUntil(lambda: recorded.stat().st_size > 0)
    qtbot.waitUntil(lambda: recorded.read_text().endswith("}"))
    seen = json.loads(recorded.read_text())
    assert seen["argv"][1:] == [f"vnc+unix://{sock}"]
    assert seen["sid"] != os.getsid(0)  # its own session: it outlives vmgui and ignores our terminal
    assert not any(m.level in ("error", "warning") for m in window.session.messages.messages())


def test_a_domain_without_vnc_gets_a_sentence_and_the_action_learns_it(open_window, make_node, tmp_path,
                                                                         monkeypatch, qtbot):
    uri = make_node(1)  # vm00000: running, no <graphics>
    window = open_window(uri)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    recorded = _recording_viewer(bin_dir, "remote-viewer")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setattr(vnc, "_WITHOUT_VNC", set())
    key = (uri, window.session.bridge.connection(uri).lookup_by_name("vm00000").uuid)
    assert window.table.select_key(key)
    window.refresh_selection_state()
    action = window.domain_actions["external_viewer"]
    assert action.isEnabled() and "in remote-viewer" in action.toolTip()
    window.session.spawn(vnc.open_graphical_console(window.session, key), "opening the display")
    qtbot.waitUntil(lambda: any("Cannot open the graphical console of vm00000" in m.title
                                for m in window.session.messages.messages()))
    msg = next(m for m in window.session.messages.messages() if "graphical console" in m.title)
    assert "has no VNC graphics" in msg.text and not recorded.exists()
    window.refresh_selection_state()
    assert not action.isEnabled() and "has no VNC graphics" in action.toolTip()
