"""Fixtures for the real-QEMU tests: the test guest, private roots, and cleanup.

Each test gets its own runtime directory (sockets, supervisors), lockspace
and root, so nothing touches the user's VMs, and teardown destroys every VM
it started and fails the test if a QEMU or supervisor process is left.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "guest"))
sys.path.insert(0, str(HERE))
import build_guest as guest_build  # noqa: E402
import linuxguest  # noqa: E402
from e2e_helpers import QEMU, QEMU_IMG, processes_under  # noqa: E402
from linuxguest.serial import GuestSerial  # noqa: E402


def pytest_collection_modifyitems(config, items):
    if QEMU and QEMU_IMG:
        return
    skip = pytest.mark.skip(reason="qemu-system-x86_64 / qemu-img are not installed "
                                   "(Debian: qemu-system-x86 qemu-utils)")
    for item in items:
        if "qemu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def guest_kernel(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The multiboot test guest, built with gcc for this session."""
    out = tmp_path_factory.mktemp("guest") / "guest.elf"
    try:
        return guest_build.build(str(out))
    except guest_build.BuildError as exc:
        pytest.fail(f"cannot build the test guest: {exc}")


@pytest.fixture(scope="session")
def linux_guest() -> linuxguest.LinuxGuest:
    """Debian's kernel with the busybox initramfs of the data-safety tests (cached)."""
    try:
        return linuxguest.build()
    except linuxguest.GuestBuildError as exc:
        pytest.fail(f"cannot build the Linux test guest: {exc}")


class Env:
    """One test's private world: runtime dir, lockspace, roots, open connections."""

    def __init__(self, base: Path, kernel: str, linux: linuxguest.LinuxGuest | None = None) -> None:
        self.base = base
        self.kernel = kernel
        self._linux = linux
        self.conns: list = []

    def root(self, name: str = "root") -> Path:
        return self.base / name

    def uri(self, name: str = "root") -> str:
        return f"qemu:///embed?root={self.root(name)}"

    def open(self, name: str = "root"):
        import drivers
        conn = drivers.open(self.uri(name))
        self.conns.append(conn)
        return conn

    def serial(self, name: str) -> Path:
        return self.base / f"{name}.serial"

    def xml(self, name: str, *, memory_mib: int = 32, disks: list[dict] | None = None, cmdline: str = "",
            machine: str = "q35", dom_type: str = "qemu", extra_devices: str = "", serial: str | None = None,
            uuid: str | None = None, kernel: str | None = None, initrd: str | None = None) -> str:
        disk_xml = ""
        for i, d in enumerate(disks or []):
            dev = d.get("dev", f"vd{chr(ord('a') + i)}")
            flags = ("<readonly/>" if d.get("readonly") else "") + ("<shareable/>" if d.get("shareable") else "")
            disk_xml += (f"<disk type='file' device='{d.get('device', 'disk')}'>"
                         f"<driver name='qemu' type='{d.get('format', 'qcow2')}'/>"
                         f"<source file='{d['path']}'/><target dev='{dev}' bus='{d.get('bus', 'virtio')}'/>"
                         f"{flags}</disk>")
        serial_path = serial or str(self.serial(name))
        return (f"<domain type='{dom_type}'><name>{name}</name>"
                + (f"<uuid>{uuid}</uuid>" if uuid else "")
                + f"<memory unit='MiB'>{memory_mib}</memory><vcpu>1</vcpu>"
                f"<os><type arch='x86_64' machine='{machine}'>hvm</type><kernel>{kernel or self.kernel}</kernel>"
                + (f"<initrd>{initrd}</initrd>" if initrd else "")
                + (f"<cmdline>{cmdline}</cmdline>" if cmdline else "")
                + f"</os><devices>{disk_xml}<serial type='file'><source path='{serial_path}'/></serial>"
                f"{extra_devices}</devices></domain>")

    def linux_xml(self, name: str, *work: str, memory_mib: int = 256, ram_mib: int = 24,
                  disks: list[dict] | None = None, **kw) -> str:
        """A domain booting the Linux test guest running ``work`` ("ram", "disk")."""
        assert self._linux is not None, "the test needs the linux_guest fixture"
        g = self._linux
        return self.xml(name, memory_mib=memory_mib, disks=disks, kernel=g.kernel, initrd=g.initrd,
                        cmdline=g.cmdline(*work, ram_mib=ram_mib), **kw)

    def guest(self, name: str) -> GuestSerial:
        """The Linux guest's serial log of domain ``name``."""
        return GuestSerial(self.serial(name))

    def cleanup(self) -> list[int]:
        for conn in self.conns:
            if conn.closed:
                continue
            try:
                for dom in conn.list_all_domains():
                    try:
                        if dom.is_active():
                            dom.destroy()
                    except Exception:  # noqa: BLE001
                        pass
            finally:
                conn.close()
        leftovers = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            leftovers = processes_under(str(self.base))
            if not leftovers:
                break
            time.sleep(0.1)
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        return leftovers


@contextlib.contextmanager
def private_env(kernel: str, linux: linuxguest.LinuxGuest | None, mp: pytest.MonkeyPatch) -> Iterator[Env]:
    """A private world in a fresh directory, its variables set through ``mp``; checked for leftovers."""
    # short paths: unix sockets must stay under 108 bytes
    base = Path(tempfile.mkdtemp(prefix="vq-", dir="/tmp"))
    os.chmod(base, 0o700)
    (base / "run").mkdir(mode=0o700)
    mp.setenv("XDG_RUNTIME_DIR", str(base / "run"))
    mp.setenv("VMGUI_LOCKSPACE", str(base / "lockspace"))
    mp.setenv("XDG_DATA_HOME", str(base / "data"))
    mp.delenv("VMGUI_RUNTIME_DIR", raising=False)
    e = Env(base, kernel, linux)
    yield e
    leftovers = e.cleanup()
    shutil.rmtree(base, ignore_errors=True)
    assert not leftovers, f"QEMU or supervisor processes left behind: {leftovers}"


@pytest.fixture
def env(guest_kernel: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest):
    linux = request.getfixturevalue("linux_guest") if "linux_guest" in request.fixturenames else None
    with private_env(guest_kernel, linux, monkeypatch) as e:
        yield e


@pytest.fixture(scope="module")
def module_env(guest_kernel: str, linux_guest: linuxguest.LinuxGuest):
    """One private world for all tests of a module: a guest booted once serves several tests."""
    with pytest.MonkeyPatch.context() as mp, private_env(guest_kernel, linux_guest, mp) as e:
        yield e


@pytest.fixture
def small_fs(env: Env) -> Iterator[Callable[[int], Path]]:
    """``small_fs(mib)``: a fresh tmpfs of ``mib`` MiB, where writes really run out of space (needs root)."""
    mounted: list[Path] = []

    def make(mib: int) -> Path:
        where = env.base / f"small{len(mounted)}"
        where.mkdir(mode=0o700)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={mib}m,mode=0700", "tmpfs", str(where)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs to fill (needs root): {done.stderr.strip()}")
        mounted.append(where)
        return where
    yield make
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)
