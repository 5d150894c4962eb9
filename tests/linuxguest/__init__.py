"""A real Linux guest for the data-safety tests, built from Debian packages at test time.

Debian's kernel (``linux-image-amd64``) and a ``busybox-static`` initramfs whose ``/init``
(``init.sh`` beside this file) runs the workloads named on the kernel command line:

* ``vmgui.work=ram`` copies a random buffer of ``vmgui.ram=24`` MiB back and forth in tmpfs
  and prints ``VMGUI RAM ok N`` (or ``RAM BAD N``) after checking its md5 each time;
* ``vmgui.work=disk`` writes numbered 512-byte records, each with its md5, to ``vmgui.disk``
  (``/dev/vda``), syncing each before printing ``VMGUI DISK N``;
* the ACPI power button powers the guest off (busybox ``acpid``), after ``VMGUI POWEROFF``;
  ``vmgui.acpi=ignore`` leaves it unheard, as a guest without ACPI support would;
* ``vmgui.work=agent`` runs Debian's QEMU guest agent (``qemu-ga``) on the virtio port
  ``org.qemu.guest_agent.0``, gives ``eth0`` the address ``vmgui.ip=10.0.2.15/24`` and, with
  ``vmgui.fs=/dev/vdb``, makes and mounts an ext2 file system there (at ``/mnt/data``) for the
  agent to report and freeze. It prints ``VMGUI AGENT FSFREEZE freeze|thaw`` from the agent's
  freeze hook and ``VMGUI AGENT SHUTDOWN <args>`` when the agent shuts the guest down;
  ``vmgui.agent=deaf`` opens the agent's port instead and never answers (``VMGUI AGENT deaf``).

The packages are fetched with ``apt-get download`` (no root, nothing installed) and the
result is cached under ``$VMGUI_TEST_CACHE`` or ``~/.cache/vmgui-tests``. ``qemu-ga`` gets the
libraries ``ldd`` names from this machine (Debian 12 has every one of them installed).
"""
from __future__ import annotations

import gzip
import hashlib
import lzma
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from linuxguest.cpio import CpioWriter

HERE = Path(__file__).resolve().parent
# Drivers the guest loads: virtio disks, the ACPI power button and its input device, TPM,
# the virtio console (guest agent), ext4 (which mounts the agent's ext2 file system), the
# CD-ROM and efivarfs (the Secure Boot state); their
# dependencies are added from modinfo.
MODULES = ("virtio_pci", "virtio_blk", "virtio_net", "virtio_console", "button", "evdev",
           "tpm_crb", "tpm_tis", "sr_mod", "isofs", "ahci", "efivarfs", "crc32c_generic", "ext4")
# Kernel arguments for every boot: the serial console, errors shown, no waiting on a
# missing clock source calibration or random numbers, and no IO-APIC timer check (on a
# busy host TCG can miss its deadline; the kernel then panics "IO-APIC + timer doesn't work").
BASE_CMDLINE = "console=ttyS0 loglevel=4 panic=-1 random.trust_cpu=on tsc=unstable no_timer_check"


class GuestBuildError(RuntimeError):
    """The guest could not be built (apt-get download or unpacking failed)."""


@dataclass(frozen=True)
class LinuxGuest:
    kernel: str
    initrd: str
    kernel_version: str

    def cmdline(self, *work: str, ram_mib: int | None = None, extra: str = "") -> str:
        """The kernel command line running ``work`` (``"ram"``, ``"disk"``)."""
        words = [BASE_CMDLINE]
        if work:
            words.append("vmgui.work=" + ",".join(work))
        if ram_mib is not None:
            words.append(f"vmgui.ram={ram_mib}")
        if extra:
            words.append(extra)
        return " ".join(words)


def cache_dir() -> Path:
    base = os.environ.get("VMGUI_TEST_CACHE") or os.path.join(Path.home(), ".cache", "vmgui-tests")
    return Path(base) / "linuxguest"


def build(cache: Path | None = None) -> LinuxGuest:
    """The guest's kernel and initramfs, built once and then taken from the cache."""
    cache = cache or cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    debs = _download(cache / "debs")
    agent_deb = _download_agent(cache / "agent")
    # the packages, /init and this builder itself: a change to any of them builds anew
    key = hashlib.sha256("".join(sorted(p.name for p in [*debs, agent_deb])).encode()
                         + b"".join((HERE / f).read_bytes() for f in ("init.sh", "__init__.py", "cpio.py"))
                         ).hexdigest()[:16]
    out = cache / key
    kernel, initrd = out / "vmlinuz", out / "initrd.gz"
    version_file = out / "version"
    if not (kernel.exists() and initrd.exists() and version_file.exists()):
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            stage = Path(tmp) / "out"
            stage.mkdir()
            version = _assemble(debs, agent_deb, Path(tmp), stage)
            (stage / "version").write_text(version)
            shutil.rmtree(out, ignore_errors=True)
            os.rename(stage, out)
    return LinuxGuest(str(kernel), str(initrd), version_file.read_text())


def _download(where: Path) -> list[Path]:
    """The .deb files of the kernel and busybox, fetched once (``apt-get download``)."""
    where.mkdir(parents=True, exist_ok=True)
    have = sorted(where.glob("*.deb"))
    if any(_is_kernel(p) for p in have) and any(p.name.startswith("busybox-static_") for p in have):
        return have
    kernel_pkg = _kernel_package()
    with tempfile.TemporaryDirectory(dir=where) as tmp:
        proc = subprocess.run(["apt-get", "download", kernel_pkg, "busybox-static"], cwd=tmp,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise GuestBuildError(f"apt-get download {kernel_pkg} busybox-static failed "
                                  f"(run 'apt-get update' first?):\n{proc.stderr.strip()}")
        for deb in Path(tmp).glob("*.deb"):
            os.replace(deb, where / deb.name)
    return sorted(where.glob("*.deb"))


def _download_agent(where: Path) -> Path:
    """Debian's qemu-guest-agent package, fetched once (its own folder: the other packages' list stays)."""
    where.mkdir(parents=True, exist_ok=True)
    have = sorted(where.glob("qemu-guest-agent_*.deb"))
    if have:
        return have[-1]
    with tempfile.TemporaryDirectory(dir=where) as tmp:
        proc = subprocess.run(["apt-get", "download", "qemu-guest-agent"], cwd=tmp, capture_output=True, text=True)
        found = sorted(Path(tmp).glob("qemu-guest-agent_*.deb"))
        if proc.returncode != 0 or not found:
            raise GuestBuildError("apt-get download qemu-guest-agent failed (run 'apt-get update' first?):\n"
                                  + proc.stderr.strip())
        os.replace(found[-1], where / found[-1].name)
        return where / found[-1].name


def _is_kernel(deb: Path) -> bool:
    """A versioned kernel package (linux-image-6.1.0-57-amd64_...), not the metapackage."""
    return deb.name.startswith("linux-image-") and not deb.name.startswith("linux-image-amd64_")


def _kernel_package() -> str:
    """linux-image-amd64 is a metapackage: the versioned package it depends on."""
    proc = subprocess.run(["apt-cache", "depends", "linux-image-amd64"], capture_output=True, text=True)
    found = re.findall(r"Depends: (linux-image-\S+)", proc.stdout)
    if proc.returncode != 0 or not found:
        raise GuestBuildError("apt-cache knows no linux-image-amd64 (run 'apt-get update' first?): "
                              + (proc.stderr.strip() or proc.stdout.strip()))
    return found[0]


def _assemble(debs: list[Path], agent_deb: Path, tmp: Path, out: Path) -> str:
    tree = tmp / "tree"
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], check=True)
    agent_tree = tmp / "agent"
    subprocess.run(["dpkg-deb", "-x", str(agent_deb), str(agent_tree)], check=True)
    agent = _first(agent_tree, "usr/sbin/qemu-ga", "usr/bin/qemu-ga")
    kernels = sorted((tree / "boot").glob("vmlinuz-*"))
    if not kernels:
        raise GuestBuildError("the kernel package holds no /boot/vmlinuz-*")
    version = kernels[-1].name.removeprefix("vmlinuz-")
    shutil.copyfile(kernels[-1], out / "vmlinuz")
    modules = _module_files(_first(tree, f"lib/modules/{version}", f"usr/lib/modules/{version}"))
    with gzip.open(out / "initrd.gz", "wb", compresslevel=1) as fh:
        cpio = CpioWriter(fh)
        for d in ("bin", "dev", "etc", "lib", "lib/modules", "proc", "sys", "tmp", "root"):
            cpio.directory(d)
        cpio.char_device("dev/console", 5, 1)
        cpio.file("bin/busybox", _first(tree, "bin/busybox", "usr/bin/busybox").read_bytes(), 0o755)
        cpio.file("init", (HERE / "init.sh").read_bytes(), 0o755)
        cpio.file("etc/modules", ("\n".join(name for name, _ in modules) + "\n").encode())
        for name, data in modules:
            cpio.file(f"lib/modules/{name}.ko", data)
        cpio.file("bin/qemu-ga", agent.read_bytes(), 0o755)
        made = {"bin", "dev", "etc", "lib", "lib/modules", "proc", "sys", "tmp", "root"}
        for lib in _libraries(agent):
            parts = lib.strip("/").split("/")
            for depth in range(1, len(parts)):
                folder = "/".join(parts[:depth])
                if folder not in made:
                    cpio.directory(folder)
                    made.add(folder)
            cpio.file("/".join(parts), Path(lib).resolve().read_bytes(), 0o755)
        cpio.close()
    return version


def _libraries(binary: Path) -> list[str]:
    """The shared libraries (and the loader) ``binary`` needs, as this machine's ``ldd`` finds them."""
    proc = subprocess.run(["ldd", str(binary)], capture_output=True, text=True)
    missing = re.findall(r"^\s*(\S+) => not found", proc.stdout, re.M)
    if proc.returncode != 0 or missing:
        lacking = ", ".join(missing) or proc.stderr.strip()
        raise GuestBuildError(f"qemu-ga needs libraries this machine lacks ({lacking});"
                              " install qemu-guest-agent's dependencies (libglib2.0-0 libnuma1 libudev1 liburing2)")
    found = re.findall(r"=> (/\S+)", proc.stdout) + re.findall(r"^\s*(/\S+) \(", proc.stdout, re.M)
    return sorted(set(found))


def _first(tree: Path, *paths: str) -> Path:
    """The first of ``paths`` in the unpacked packages (Debian 13 ships /usr/bin, /usr/lib)."""
    for path in paths:
        if (tree / path).exists():
            return tree / path
    raise GuestBuildError(f"the packages hold none of {', '.join(paths)}")


def _module_files(moddir: Path) -> list[tuple[str, bytes]]:
    """MODULES and their dependencies, in load order, decompressed; built-in ones are skipped."""
    paths = {re.sub(r"\.ko(\.xz|\.zst|\.gz)?$", "", p.name).replace("-", "_"): p
             for p in moddir.rglob("*.ko*")}
    order: list[tuple[str, bytes]] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        name = name.replace("-", "_")
        if name in seen or name not in paths:
            return
        seen.add(name)
        data = _decompress(paths[name])
        deps = re.search(rb"\x00depends=([^\x00]*)\x00", data)
        for dep in (deps.group(1).decode().split(",") if deps and deps.group(1) else []):
            visit(dep)
        order.append((name, data))

    for name in MODULES:
        visit(name)
    return order


def _decompress(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".xz"):
        return lzma.decompress(data)
    if path.name.endswith(".gz"):
        return gzip.decompress(data)
    if path.name.endswith(".zst"):
        proc = subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True)
        return proc.stdout
    return data
