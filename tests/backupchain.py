"""Chains of catalogued backups for tests: a full backup and incrementals, real qcow2 images whose
backing file is the parent's (``qemu-img create -b ../<parent>/vda.qcow2``), as incremental backups are
written, and what restoring one yields (the image with everything it depends on, flattened)."""
from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

from drivers import backupcatalog as catalog

MIB = 1 << 20
UUID = "6d1f0c3e-5b0a-4c47-9a57-3f4f1d2e8a10"
DOMAIN_XML = (f"<domain type='kvm'><name>vm</name><uuid>{UUID}</uuid>"
              "<memory unit='MiB'>64</memory><devices/></domain>")


def qemu_io(image: Path, *commands: str) -> None:
    argv = ["qemu-io", "-f", "qcow2"]
    for command in commands:
        argv += ["-c", command]
    subprocess.run([*argv, str(image)], check=True, capture_output=True)


def catalogue(folder: Path, started: float, parent: str | None, name: str, uuid: str, xml: str) -> catalog.Backup:
    image = folder / "vda.qcow2"
    [entry] = catalog.describe([catalog.Written("vda", str(image), str(image), "qcow2")])
    if parent is not None:
        entry = dataclasses.replace(entry, backing=f"../{parent}/vda.qcow2")
    lineage = catalog.Lineage(kind="incremental" if parent else "full", parent=parent)
    return catalog.write_manifest(str(folder), name, uuid, xml, started, [entry], lineage)


def chain(root: Path, length: int = 3, name: str = "vm", uuid: str = UUID,
          xml: str = DOMAIN_XML) -> list[catalog.Backup]:
    """A full backup and ``length - 1`` incrementals, each writing its own MiB and overwriting part of the last."""
    backups: list[catalog.Backup] = []
    for n in range(length):
        folder = root / f"{name}-{n + 1}"
        folder.mkdir(parents=True)
        image = folder / "vda.qcow2"
        parent = backups[-1].id if backups else None
        argv = ["qemu-img", "create", "-q", "-f", "qcow2"]
        if parent:
            argv += ["-b", f"../{parent}/vda.qcow2", "-F", "qcow2"]
        subprocess.run([*argv, str(image), str(8 * MIB)], check=True)
        writes = [f"write -P {n + 1} {n * MIB} {MIB}"]
        if n:
            writes.append(f"write -P {0x40 + n} {(n - 1) * MIB + 256 * 1024} 4096")
        qemu_io(image, *writes)
        backups.append(catalogue(folder, 1000.0 * (n + 1), parent, name, uuid, xml))
    return backups


def restored(backup: catalog.Backup, into: Path) -> Path:
    """What a restore of ``backup`` yields: its image with everything it depends on, as one raw file."""
    [image] = backup.images
    out = into / f"{backup.id}.raw"
    subprocess.run(["qemu-img", "convert", "-f", image.format, "-O", "raw", backup.path(image), str(out)],
                   check=True)
    return out


def same(a: Path, b: Path) -> bool:
    """``qemu-img compare`` of two raw images."""
    return subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", "raw", str(a), str(b)],
                          capture_output=True).returncode == 0
