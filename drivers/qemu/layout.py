"""Where an embedded QEMU root keeps its files (written with :mod:`drivers.fsutil`).

A *root* (``qemu:///embed?root=DIR``, default ``$XDG_DATA_HOME/vmgui/qemu``)
holds everything that must survive a reboot::

    domains/<uuid>/domain.xml        persistent definition (libvirt domain XML)
    domains/<uuid>/meta.json         autostart, managed-save facts
    domains/<uuid>/managed.save      managed-save image
    domains/<uuid>/snapshots/<name>.xml   snapshot metadata (libvirt snapshot XML)
    state/<uuid>.json                facts about a running VM (live XML, id, reason)
    logs/<name>.log                  QEMU's own output

Sockets live in a 0700 per-user runtime directory keyed by a hash of the
root, so two roots never collide::

    $XDG_RUNTIME_DIR/vmgui/q-<hash>/   (else /tmp/vmgui-<uid>/q-<hash>/)
        <uuid16>.qmp  <uuid16>.vnc  <uuid16>.con (serial console)  s/ (the lock supervisors' files)
"""
from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import fsutil
from ..diskimage import check_path
from ..errors import DriverError, ErrorCode, invalid_arg

#: Unix socket paths must fit sun_path (108 bytes with the NUL).
MAX_SOCKET_PATH = 107


def default_root() -> Path:
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(data) / "vmgui" / "qemu"


def base_runtime_dir() -> Path:
    """``$XDG_RUNTIME_DIR/vmgui`` when that exists, else ``/tmp/vmgui-<uid>``."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg):
        return Path(xdg) / "vmgui"
    return Path(tempfile.gettempdir()) / f"vmgui-{os.getuid()}"


def parse_uri(uri: str) -> Path:
    """The root directory named by ``qemu:///embed[?root=DIR]``."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme != "qemu" or parts.netloc or parts.path != "/embed":
        raise invalid_arg(f"not an embedded QEMU URI: {uri!r} (use qemu:///embed[?root=DIR])")
    try:
        query = urllib.parse.parse_qs(parts.query, strict_parsing=bool(parts.query))
    except ValueError:
        raise invalid_arg(f"cannot parse the query of {uri!r}") from None
    unknown = set(query) - {"root"}
    if unknown:
        raise invalid_arg(f"unknown qemu:///embed parameter(s) {', '.join(sorted(unknown))}; known: root")
    if "root" not in query:
        return default_root()
    root = query["root"][-1]
    check_path(root, "root directory")
    return Path(os.path.normpath(root))


def private_dir(path: Path) -> Path:
    """Create ``path`` 0700 (parents too) and refuse one others could tamper with."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(path)
    except OSError as exc:
        raise DriverError(ErrorCode.OPERATION_FAILED, f"cannot create directory {path}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise DriverError(ErrorCode.OPERATION_FAILED,
                          f"{path} must be a directory of uid {os.getuid()} with mode 0700")
    return path


class RootLayout:
    """Paths of one root and its runtime directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.abspath(root))
        key = hashlib.sha256(str(self.root).encode("utf-8", "surrogateescape")).hexdigest()[:12]
        self.key = key
        self.runtime = base_runtime_dir() / f"q-{key}"
        self.supervisors = self.runtime / "s"

    def ensure(self) -> None:
        for d in (self.root, self.root / "domains", self.root / "state", self.root / "logs"):
            try:
                d.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                raise DriverError(ErrorCode.OPERATION_FAILED,
                                  f"cannot create the root directory {d}: {exc.strerror}") from None
        private_dir(base_runtime_dir())
        private_dir(self.runtime)
        private_dir(self.supervisors)

    # per domain
    def domain_dir(self, uuid: str) -> Path:
        return self.root / "domains" / uuid

    def config(self, uuid: str) -> Path:
        return self.domain_dir(uuid) / "domain.xml"

    def meta(self, uuid: str) -> Path:
        return self.domain_dir(uuid) / "meta.json"

    def managed_save(self, uuid: str) -> Path:
        return self.domain_dir(uuid) / "managed.save"

    def nvram(self, uuid: str) -> Path:
        """The UEFI variable store a domain gets when its XML names none."""
        return self.domain_dir(uuid) / "VARS.fd"

    def tpm_dir(self, uuid: str) -> Path:
        """The emulated TPM's state (swtpm), 0700."""
        return self.domain_dir(uuid) / "tpm"

    def snapshot_dir(self, uuid: str) -> Path:
        return self.domain_dir(uuid) / "snapshots"

    def checkpoint_dir(self, uuid: str) -> Path:
        """Checkpoint metadata (``<name>.xml``) and whether their bitmaps can be trusted."""
        return self.domain_dir(uuid) / "checkpoints"

    def state(self, uuid: str) -> Path:
        return self.root / "state" / f"{uuid}.json"

    def log(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    def tpm_log(self, name: str) -> Path:
        """What the VM's swtpm reports (errors only)."""
        return self.root / "logs" / f"{name}.swtpm.log"

    def serial_log(self, name: str) -> Path:
        """Where QEMU logs serial port 0 of type pty (served as the console socket)."""
        return self.root / "logs" / f"{name}.serial.log"

    def socket(self, uuid: str, kind: str) -> str:
        path = str(self.runtime / f"{uuid.replace('-', '')[:16]}.{kind}")
        if len(path.encode()) > MAX_SOCKET_PATH:
            raise DriverError(ErrorCode.OPERATION_FAILED,
                              f"socket path {path} is longer than {MAX_SOCKET_PATH} bytes; "
                              "set XDG_RUNTIME_DIR to a shorter directory")
        return path

    @property
    def autostart_marker(self) -> Path:
        return self.runtime / "autostarted"


def _checked(write: Callable[[Path, Any], None], path: Path | str, data: Any) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write(path, data)
    except OSError as exc:
        raise DriverError(ErrorCode.OPERATION_FAILED, f"cannot write {path}: {exc.strerror}") from None


def write_file(path: Path | str, data: bytes | str) -> None:
    """:func:`drivers.fsutil.write_atomically`, creating the folder; OPERATION_FAILED on failure."""
    _checked(fsutil.write_atomically, path, data)


def write_json(path: Path | str, data: dict[str, Any]) -> None:
    """:func:`drivers.fsutil.write_json`, creating the folder; OPERATION_FAILED on failure."""
    _checked(fsutil.write_json, path, data)


def unlink(path: Path | str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise DriverError(ErrorCode.OPERATION_FAILED, f"cannot remove {path}: {exc.strerror}") from None
