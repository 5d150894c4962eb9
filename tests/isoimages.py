"""CD/DVD images for tests, made by the real tools (xorriso for ISO 9660, mkudffs for UDF).

Each image holds one small file and carries the volume id (and publisher) a
real distribution's installer has, so osinfo-db matches it as it would the
real medium.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from drivers.xmlutil import parse

#: volume ids of real installers that the osinfo-db of Debian 12 (0.20221130) and 13 knows
DEBIAN_11_FILE = "debian.org/debian-11.xml"
DEBIAN_11 = "Debian 11.6.0 amd64 n"
UBUNTU_SERVER_22_04 = "Ubuntu-Server 22.04.1 LTS amd64"
FEDORA_WS_37 = "Fedora-WS-Live-37-1-7"
WINDOWS_11 = "CCCOMA_X64FRE_EN-US_DV9"
MICROSOFT = "MICROSOFT CORPORATION"


def build_iso(path: Path, volume_id: str, publisher: str = "") -> Path:
    """An ISO 9660 image at ``path`` named ``volume_id`` (xorriso's mkisofs mode; no pytest needed)."""
    content = path.parent / f"{path.name}.content"
    content.mkdir(exist_ok=True)
    (content / "README.TXT").write_text("installer\n")
    argv = ["xorriso", "-as", "mkisofs", "-quiet", "-V", volume_id, "-o", str(path)]
    subprocess.run(argv + (["-publisher", publisher] if publisher else []) + [str(content)],
                   check=True, capture_output=True, timeout=60)
    return path


def make_iso(path: Path, volume_id: str, publisher: str = "") -> Path:
    """:func:`build_iso` in a test: skipped where xorriso is missing."""
    if shutil.which("xorriso") is None:
        pytest.skip("xorriso is not installed (Debian: xorriso)")
    return build_iso(path, volume_id, publisher)


def make_udf(path: Path, label: str, block_size: int = 2048) -> Path:
    """A UDF-only image at ``path`` labelled ``label`` (no ISO 9660 bridge), made by mkudffs."""
    if shutil.which("mkudffs") is None:
        pytest.skip("mkudffs is not installed (Debian: udftools)")
    with open(path, "wb") as fh:
        fh.truncate(4 * 1024 * 1024)
    subprocess.run(["mkudffs", f"--label={label}", f"--blocksize={block_size}", str(path)],
                   check=True, capture_output=True, timeout=60)
    return path


def stated_ram_and_storage(db_root: str, os_file: str) -> tuple[int, int, int, int]:
    """(recommended RAM, minimum RAM, recommended storage, minimum storage) in bytes, as the installed
    osinfo-db's ``os/<os_file>`` states them for every architecture: read here on their own, so tests
    follow the db's figures (they change between osinfo-db releases) rather than restate them."""
    root = parse(Path(db_root, "os", os_file).read_bytes(), "libosinfo")
    resources = root.find("os/resources[@arch='all']")
    assert resources is not None, f"{os_file} states no resources for every architecture"

    def figure(path: str) -> int:
        return int(resources.findtext(path) or 0)
    return (figure("recommended/ram"), figure("minimum/ram"), figure("recommended/storage"),
            figure("minimum/storage"))
