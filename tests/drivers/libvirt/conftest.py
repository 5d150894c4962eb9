"""Fixtures of the libvirt bridge's tests.

* Without a daemon: libvirt's own test driver through libvirt-python, with
  private node files (``libvirt:test:///abs/node.xml``) for anything that
  mutates state (``test:///default`` is shared by the whole process).
* With a daemon: private, unprivileged libvirtd instances started here (see
  ``daemon.py``), running TCG guests; stopped with every QEMU they started.
"""
from __future__ import annotations

import importlib.util
import sys
import uuid as uuidlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import drivers

try:
    import libvirt
except ImportError:  # every test here but the one checking that very case is skipped
    libvirt = None

NO_LIBVIRT = "libvirt-python is not installed (pip install 'vmgui[libvirt]')"


def pytest_collection_modifyitems(config, items):
    if libvirt is not None:
        return
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents and "without_libvirt_python" not in item.name:
            item.add_marker(pytest.mark.skip(reason=NO_LIBVIRT))



def _load(name: str):
    """Helpers next to this file, by path (pytest runs with --import-mode=importlib)."""
    module_name = f"vmgui_libvirt_tests_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


daemon_mod = _load("daemon")
nodes = _load("nodes")
NODE_AUTOSTART = nodes.NODE_AUTOSTART

@pytest.fixture
def node_path(tmp_path: Path) -> Path:
    path = tmp_path / "lvnode.xml"
    path.write_text(nodes.node_xml())
    return path


@pytest.fixture
def lvconn(node_path: Path) -> Iterator[drivers.Connection]:
    """A private libvirt test-driver host through the bridge, every filter group populated."""
    conn = drivers.open(f"libvirt:test://{node_path}")
    for name in NODE_AUTOSTART:
        conn.lookup_by_name(name).autostart = True
    yield conn
    conn.close()


# -- real libvirtd ----------------------------------------------------------------

@pytest.fixture(scope="session")
def libvirtd() -> Iterator[daemon_mod.PrivateLibvirtd]:
    """A private unprivileged libvirtd running QEMU under TCG (session-wide)."""
    reason = daemon_mod.unavailable_reason()
    if reason:
        pytest.skip(f"no libvirtd for the bridge's daemon tests: {reason}")
    daemon_mod.reap_stale()  # daemons of an earlier run that crashed before its teardown
    d = daemon_mod.PrivateLibvirtd("5c0c6d43-5a51-4c6a-9d1f-000000000001", label="libvirtd-a")
    d.start_or_skip()
    try:
        probe = libvirt.open(d.uri)
        probe.getDomainCapabilities(None, "x86_64", None, "qemu")  # probe QEMU once, up front
        probe.close()
    except libvirt.libvirtError as exc:
        d.stop()
        d.remove()
        pytest.skip(f"the private libvirtd cannot run QEMU here: {exc}")
    yield d
    leftovers = d.stop()
    d.remove()
    assert leftovers == [], f"QEMU processes outlived the tests: {leftovers}"


@pytest.fixture(scope="session")
def libvirtd2(libvirtd: daemon_mod.PrivateLibvirtd) -> Iterator[daemon_mod.PrivateLibvirtd]:
    """A second private libvirtd (another host UUID): a migration destination."""
    d = daemon_mod.PrivateLibvirtd("5c0c6d43-5a51-4c6a-9d1f-000000000002", label="libvirtd-b",
                                   tcp_port=daemon_mod.free_port())
    d._prepare()
    d.seed_capabilities(libvirtd)
    d.start_or_skip()
    yield d
    leftovers = d.stop()
    d.remove()
    assert leftovers == [], f"QEMU processes outlived the tests: {leftovers}"


@pytest.fixture
def qconn(libvirtd) -> Iterator[drivers.Connection]:
    conn = drivers.open(f"libvirt:{libvirtd.uri}")
    yield conn
    _cleanup(conn)
    conn.close()


@pytest.fixture
def qconn2(libvirtd2) -> Iterator[drivers.Connection]:
    conn = drivers.open(f"libvirt:{libvirtd2.uri}")
    yield conn
    _cleanup(conn)
    conn.close()


def _cleanup(conn: drivers.Connection) -> None:
    """Leave the daemon empty for the next test: no guests, no definitions."""
    vconn = conn.vconn()
    for dom in vconn.listAllDomains(0):
        try:
            if dom.isActive():
                dom.destroy()
        except libvirt.libvirtError:
            pass
        try:
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                              | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
        except libvirt.libvirtError:
            pass


@pytest.fixture
def unique() -> str:
    return uuidlib.uuid4().hex[:8]
