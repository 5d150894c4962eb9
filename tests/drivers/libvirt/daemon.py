"""A private libvirtd for tests and benchmarks: no system setup, nothing left behind.

The daemon runs in *session* (unprivileged) mode, so every path it uses lives
under one temporary directory (XDG_CONFIG_HOME, XDG_CACHE_HOME,
XDG_RUNTIME_DIR, HOME), it needs no ``libvirt-qemu`` user, no system bus and no
init system, and several can run side by side (each with its own host UUID, so
libvirt agrees to migrate between them). As root it runs as ``nobody``
(libvirtd started by root is always privileged and would use /etc and /var).

Clients connect with ``qemu:///session?socket=<dir>/run/libvirt/libvirt-sock``.
:meth:`PrivateLibvirtd.stop` destroys every running domain, stops the daemon,
and kills by pid anything its pid files still name (QEMU processes are
daemonized, so they are not the daemon's children).
"""
from __future__ import annotations

import atexit
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

LIBVIRTD = shutil.which("libvirtd") or ("/usr/sbin/libvirtd" if os.path.exists("/usr/sbin/libvirtd") else None)
QEMU = shutil.which("qemu-system-x86_64")
QEMU_IMG = shutil.which("qemu-img")
QEMU_DRIVER_DIRS = ("/usr/lib/x86_64-linux-gnu/libvirt/connection-driver", "/usr/lib64/libvirt/connection-driver",
                    "/usr/lib/libvirt/connection-driver")


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unavailable_reason() -> str | None:
    """Why a private libvirtd with QEMU cannot run here (None when it can)."""
    try:
        import libvirt  # noqa: F401
    except ImportError:
        return "libvirt-python is not installed (pip install 'vmgui[libvirt]')"
    if LIBVIRTD is None:
        return "libvirtd is not installed (Debian: apt-get install libvirt-daemon libvirt-daemon-driver-qemu)"
    if QEMU is None or QEMU_IMG is None:
        return "qemu-system-x86_64/qemu-img are not installed (Debian: qemu-system-x86 qemu-utils)"
    if not any(os.path.exists(os.path.join(d, "libvirt_driver_qemu.so")) for d in QEMU_DRIVER_DIRS):
        return "libvirt's QEMU driver is not installed (Debian: libvirt-daemon-driver-qemu)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("nobody")
        except KeyError:
            return "running as root and there is no 'nobody' user to run an unprivileged libvirtd as"
    return None


_RUNNING: set[PrivateLibvirtd] = set()


def reap_stale(prefix: str = "vmgui-") -> list[int]:
    """Stop daemons (and their QEMUs) that an earlier, crashed test run left behind.

    Only directories this module created qualify: they hold ``owner.pid``; a daemon is
    stale when that owner process is gone. Each pid is checked against its command
    line (which names the directory) before it is signalled.
    """
    killed = []
    for root in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        owner_file = root / "owner.pid"
        try:
            owner = int(owner_file.read_text())
        except (OSError, ValueError):
            continue
        if owner == os.getpid() or Path(f"/proc/{owner}").exists():
            continue
        stale = PrivateLibvirtd.__new__(PrivateLibvirtd)
        stale.root, stale.proc = root, None
        for pidfile in [root / "run/libvirt/libvirtd.pid", *(root / "run/libvirt/qemu/run").glob("*.pid")]:
            try:
                pid = int(pidfile.read_text().strip())
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except (OSError, ValueError):
                continue
            if str(root).encode() in cmdline:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except ProcessLookupError:
                    pass
        shutil.rmtree(root, ignore_errors=True)
    return killed


@atexit.register
def _stop_leftovers() -> None:
    """Safety net: whatever ends this process (a crash, ^C), no daemon or QEMU outlives it."""
    for daemon in list(_RUNNING):
        try:
            daemon.stop()
        except Exception:  # noqa: BLE001
            pass


class PrivateLibvirtd:
    def __init__(self, host_uuid: str, root: str | None = None, label: str = "libvirtd",
                 tcp_port: int | None = None) -> None:
        self.host_uuid = host_uuid
        self.tcp_port = tcp_port  # also listen on 127.0.0.1:PORT without auth (peer-to-peer tests)
        self.label = label
        if os.geteuid() == 0:
            user = pwd.getpwnam("nobody")
            self.uid, self.gid = user.pw_uid, user.pw_gid
        else:
            self.uid, self.gid = os.geteuid(), os.getegid()
        self.root = Path(root or tempfile.mkdtemp(prefix=f"vmgui-{label}-", dir="/tmp"))
        self.images = self.root / "images"
        self.sock = self.root / "run" / "libvirt" / "libvirt-sock"
        self.uri = f"qemu:///session?socket={self.sock}"
        self.tcp_uri = f"qemu+tcp://127.0.0.1:{tcp_port}/session" if tcp_port else None
        self.log = self.root / "libvirtd.log"
        self.proc: subprocess.Popen | None = None

    # -- files -----------------------------------------------------------------
    def _own(self, path: Path) -> None:
        if os.geteuid() == 0:
            os.chown(path, self.uid, self.gid)

    def _prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        for sub in ("run", "config/libvirt", "cache", "images"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "owner.pid").write_text(str(os.getpid()))
        tcp = ""
        if self.tcp_port:
            tcp = (f'listen_tls = 0\nlisten_tcp = 1\nauth_tcp = "none"\ntcp_port = "{self.tcp_port}"\n'
                   'listen_addr = "127.0.0.1"\n')
        (self.root / "libvirtd.conf").write_text(
            f'host_uuid = "{self.host_uuid}"\n'
            f'log_outputs = "3:file:{self.log}"\n' + tcp)
        (self.root / "config/libvirt/qemu.conf").write_text(
            'stdio_handler = "file"\n')
        for dirpath, _dirnames, filenames in os.walk(self.root):
            self._own(Path(dirpath))
            for name in filenames:
                self._own(Path(dirpath) / name)

    def seed_capabilities(self, other: PrivateLibvirtd) -> None:
        """Reuse another daemon's QEMU capability cache (probing costs seconds)."""
        src = other.root / "cache/libvirt/qemu/capabilities"
        if src.is_dir():
            dst = self.root / "cache/libvirt/qemu/capabilities"
            shutil.copytree(src, dst, dirs_exist_ok=True)
            for path in [dst.parent.parent, dst.parent, dst, *dst.iterdir()]:
                self._own(path)

    # -- process -----------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> None:
        self._prepare()
        for stale in (self.sock, self.sock.with_name("libvirt-admin-sock")):
            stale.unlink(missing_ok=True)  # from a daemon that was killed
        env = {"HOME": str(self.root), "XDG_RUNTIME_DIR": str(self.root / "run"),
               "XDG_CONFIG_HOME": str(self.root / "config"), "XDG_CACHE_HOME": str(self.root / "cache"),
               "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
        kwargs = {}
        if os.geteuid() == 0:
            kwargs = {"user": self.uid, "group": self.gid, "extra_groups": []}
        with open(self.root / "stderr.log", "ab") as err:
            self.proc = subprocess.Popen(
                [LIBVIRTD, "--config", str(self.root / "libvirtd.conf"), *(["--listen"] if self.tcp_port else [])],
                env=env, cwd=self.root,
                stdin=subprocess.DEVNULL, stdout=err, stderr=err, start_new_session=True, **kwargs)
        _RUNNING.add(self)
        deadline = time.monotonic() + timeout
        while not self.sock.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log_tail()
                self.stop()
                raise RuntimeError(f"private libvirtd did not start: {tail}")
            time.sleep(0.05)

    def log_tail(self, lines: int = 15) -> str:
        text = ""
        for path in (self.root / "stderr.log", self.log):
            try:
                text += path.read_text(errors="replace")
            except OSError:
                pass
        return "\n".join(text.splitlines()[-lines:])

    def qemu_pids(self) -> list[int]:
        pids = []
        run = self.root / "run/libvirt/qemu/run"
        for pidfile in run.glob("*.pid") if run.is_dir() else []:
            if pidfile.name == "driver.pid":
                continue
            try:
                pid = int(pidfile.read_text().strip())
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except (OSError, ValueError):
                continue
            if b"qemu" in cmdline:
                pids.append(pid)
        return pids

    def destroy_all(self) -> None:
        try:
            import libvirt
            conn = libvirt.open(self.uri)
        except Exception:  # noqa: BLE001
            return
        try:
            for dom in conn.listAllDomains(0):
                try:
                    if dom.isActive():
                        dom.destroy()
                except libvirt.libvirtError:
                    pass
        finally:
            conn.close()

    def pause(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGSTOP)

    def cont(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def kill(self) -> None:
        """Stop the daemon abruptly (its QEMU processes are left for stop() to clean up)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> list[int]:
        """Stop everything; returns the pids that had to be killed (should be [])."""
        _RUNNING.discard(self)
        if self.proc is not None and self.proc.poll() is None:
            self.cont()
            try:
                self.destroy_all()
            except Exception:  # noqa: BLE001 - stopping must go on
                pass
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        leftovers = self.qemu_pids()
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        # a session daemon may have spawned its own virtlogd: it is ours too
        for pidfile in (self.root / "run/libvirt").glob("virt*d.pid"):
            try:
                pid = int(pidfile.read_text().strip())
                if b"virt" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGTERM)
            except (OSError, ValueError):
                pass
        return leftovers

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def start_or_skip(self) -> None:
        """Start, or skip the calling test with the daemon's reason (machine cannot run it)."""
        import pytest
        try:
            self.start()
        except RuntimeError as exc:
            self.remove()
            pytest.skip(str(exc))

    # -- disks -------------------------------------------------------------------
    def disk(self, name: str, size_mib: int, data_mib: int = 0) -> Path:
        """A qcow2 image owned by the daemon's user, with ``data_mib`` MiB of non-zero data."""
        path = self.images / f"{name}.qcow2"
        if data_mib:
            raw = self.images / f"{name}.raw"
            chunk = bytes(range(256)) * 4096  # 1 MiB, not zero: backup copies all of it
            with open(raw, "wb") as fh:
                for _ in range(data_mib):
                    fh.write(chunk)
                fh.truncate(size_mib * 1024 * 1024)
            subprocess.run([QEMU_IMG, "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(path)],
                           check=True)
            raw.unlink()
        else:
            subprocess.run([QEMU_IMG, "create", "-q", "-f", "qcow2", str(path), f"{size_mib}M"], check=True)
        self._own(path)
        return path

    def domain_xml(self, name: str, disk: Path | None = None, memory_mib: int = 32) -> str:
        disk_xml = ""
        if disk is not None:
            disk_xml = (f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                        f"<source file='{disk}'/><target dev='vda' bus='virtio'/></disk>")
        return (f"<domain type='qemu'><name>{name}</name><memory unit='MiB'>{memory_mib}</memory>"
                f"<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>"
                f"<on_crash>destroy</on_crash><devices><emulator>{QEMU}</emulator>{disk_xml}"
                f"</devices></domain>")
