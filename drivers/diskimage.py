"""Rules every driver's disk paths share: ``create_disk``, ``storage_visible``, guest files.

One place decides what a valid request is (so the test driver refuses exactly
what qemu-img would be asked to do and the qemu driver refuses), what
"this host sees that disk" means on a local filesystem, and which host files
a guest may never be given (system files, character devices).
"""
from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from lxml import etree

from .errors import DriverError, ErrorCode, invalid_arg

if TYPE_CHECKING:
    from .domxml import DomainXML

FORMATS = ("qcow2", "raw")


def check_path(path: object, what: str = "path") -> str:
    """An absolute path without NUL or newline; INVALID_ARG otherwise."""
    if not isinstance(path, str) or not path:
        raise invalid_arg(f"{what} must be a non-empty string, not {path!r}")
    if not os.path.isabs(path):
        raise invalid_arg(f"{what} {path!r} must be absolute")
    if any(c in path for c in "\x00\n\r"):
        raise invalid_arg(f"{what} {path!r} contains a control character")
    return path


def check_create_args(path: object, size_bytes: object, fmt: object) -> tuple[str, int, str]:
    """The (path, size, format) of a valid ``create_disk`` call; INVALID_ARG or OPERATION_INVALID else."""
    path = check_path(path, "disk path")
    if fmt not in FORMATS:
        raise invalid_arg(f"disk format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if isinstance(size_bytes, bool) or not isinstance(size_bytes, int) or size_bytes <= 0:
        raise invalid_arg(f"disk size must be a positive number of bytes, not {size_bytes!r}")
    if size_bytes % 512:
        raise invalid_arg("disk size must be a multiple of 512 bytes")
    return check_new_file(path), size_bytes, str(fmt)


def already_exists(path: str) -> DriverError:
    return DriverError(ErrorCode.OPERATION_INVALID, f"{path} already exists; choose a new file name")


def reserve_new_file(path: str) -> None:
    """Take the name ``path`` with an empty file of our own before a tool (qemu-img) writes it.

    qemu-img truncates whatever it is pointed at: a file that appeared after
    the caller's checks is refused here (OPERATION_INVALID) instead of
    overwritten. The caller removes the file if its work fails.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        raise already_exists(path) from None
    except OSError as exc:
        raise DriverError(ErrorCode.OPERATION_FAILED, f"cannot create {path}: {exc.strerror}") from None
    os.close(fd)


def check_new_file(path: str, what: str = "path") -> str:
    """A file a driver is about to create: nothing may have the name yet (a file, a symlink, a
    device node: OPERATION_INVALID, never replaced), its folder must exist (INVALID_ARG), and it
    must not lie in a system folder (INVALID_ARG)."""
    path = check_path(path, what)
    if os.path.lexists(path):
        raise already_exists(path)
    if not os.path.isdir(os.path.dirname(path)):
        raise invalid_arg(f"the folder of {path} does not exist")
    top = system_location(path)
    if top is not None:
        raise invalid_arg(f"{path} is in the system folder {top}; choose a folder of your own")
    return path


def job_key(path: str) -> str:
    """The job-table key of a disk creation: it belongs to no domain, so the busy rule is per file."""
    return f"disk:{path}"


def check_path_list(paths: object) -> list[str]:
    """``storage_visible``'s argument: a list of strings (INVALID_ARG otherwise)."""
    if isinstance(paths, (str, bytes)) or not isinstance(paths, Iterable):
        raise invalid_arg(f"paths must be a list of file paths, not {paths!r}")
    checked = list(paths)
    for path in checked:
        if not isinstance(path, str):
            raise invalid_arg(f"a disk path must be a string, not {path!r}")
    return checked


def locally_visible(path: str) -> bool | None:
    """Whether this machine's filesystem holds a usable disk at ``path``.

    A directory or a dangling symlink is no disk (False); a relative path says
    nothing about where it would be looked up (None).
    """
    if not os.path.isabs(path) or "\x00" in path:
        return None
    return os.path.exists(path) and not os.path.isdir(path)


#: Folders of the operating system itself: a guest never gets their files as disks (as root it
#: could rewrite /etc/shadow or /boot), and nothing a driver writes goes there.
SYSTEM_DIRS = ("/etc", "/boot", "/usr", "/proc", "/sys", "/bin", "/sbin", "/lib", "/lib32", "/lib64")
#: Where a boot file (kernel, initrd) may not come from: distributions install kernels in /boot
#: and firmware in /usr, and QEMU only reads them; configuration and kernel state stay out.
BOOT_FILE_REFUSED_DIRS = ("/etc", "/proc", "/sys")
#: Where a read-only disk or CD-ROM may not come from: images shipped in /usr (driver ISOs) are
#: public; /boot holds root-only files (System.map) besides kernels.
READ_ONLY_REFUSED_DIRS = ("/etc", "/boot", "/proc", "/sys")


def _under(real: str, dirs: tuple[str, ...]) -> str | None:
    for top in dirs:
        if real == top or real.startswith(top + "/"):
            return top
    return None


def system_location(path: str, dirs: tuple[str, ...] = SYSTEM_DIRS) -> str | None:
    """The system folder ``path`` lies in once symlinks and ``..`` are resolved, or None."""
    try:
        real = os.path.realpath(path)
    except OSError:  # a symlink loop: nothing can be opened through it either
        real = os.path.normpath(path)
    return _under(real, dirs) or _under(os.path.normpath(path), dirs)


def _not_a_file(real: str) -> str | None:
    """Why the existing ``real`` is a device node or channel no guest may get: a character
    device (/dev/mem, /dev/zero), a pipe, a socket. (QEMU itself refuses a directory.)"""
    try:
        st = os.stat(real)
    except OSError:
        return None
    if stat.S_ISCHR(st.st_mode):
        return "a character device, not a disk"
    if stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(st.st_mode):
        return "a pipe or socket, not a disk image"
    return None


def unsafe_source(path: str, refused_dirs: tuple[str, ...] = SYSTEM_DIRS) -> str | None:
    """Why a guest must not get ``path`` (a disk, a serial log, a kernel), or None: a file in one
    of ``refused_dirs`` (system files; fewer for what QEMU only reads), or a device node other
    than a block device (/dev/null, /dev/zero, /dev/mem). Block devices are legitimate disks."""
    top = system_location(path, refused_dirs)
    real = os.path.realpath(path)
    shown = path if real == path else f"{path} (which is {real})"
    if top is not None:
        return f"{shown} is a system file (under {top}); give the guest an image file or a block device"
    why = _not_a_file(real)
    return f"{shown} is {why}" if why else None


def guest_files(definition: DomainXML) -> list[tuple[str, str, tuple[str, ...]]]:
    """(element path, file, folders it may not come from) of every host file a definition hands its guest."""
    found: list[tuple[str, str, tuple[str, ...]]] = [(f"/domain/os/{tag}", path, BOOT_FILE_REFUSED_DIRS)
             for tag, path in (("kernel", definition.kernel), ("initrd", definition.initrd)) if path]
    found += [(f"/domain/devices/disk[{i + 1}]/source", d.source,
               READ_ONLY_REFUSED_DIRS if d.readonly or d.device == "cdrom" else SYSTEM_DIRS)
              for i, d in enumerate(definition.disks()) if d.source]
    found += [(f"/domain/devices/{c.kind}/source/@path", c.path, SYSTEM_DIRS)
              for c in definition.char_devices() if c.type == "file" and c.path]
    return found


#: The same files as :func:`guest_files` and the base images under overlays (``<backingStore>``),
#: in one XPath: what the deletion checks read of every domain of every open host, so it must
#: stay cheap at 10,000 domains.
_GUEST_FILES = etree.XPath("os/kernel/text() | os/initrd/text() | devices/disk/source/@file"
                           " | devices/disk/source/@dev | devices/disk//backingStore/source/@file"
                           " | devices/serial[@type='file']/source/@path"
                           " | devices/console[@type='file']/source/@path")


def guest_file_paths(definition: DomainXML) -> frozenset[str]:
    """Every host file a definition hands its guest, without where each is named."""
    paths = cast("list[str]", _GUEST_FILES(definition.root))  # text() and @attribute results: always a list
    return frozenset(str(p).strip() for p in paths if str(p).strip())


def check_guest_files(definition: DomainXML, code: ErrorCode = ErrorCode.INVALID_XML) -> None:
    """Refuse a definition that hands its guest a system file or a non-block device node.

    Asked at define (INVALID_XML, the element named) and again at every start
    (``code`` OPERATION_INVALID): a symlink may point elsewhere by then.
    """
    for where, path, refused_dirs in guest_files(definition):
        if not os.path.isabs(path):
            continue  # the drivers' own checks name relative paths
        why = unsafe_source(path, refused_dirs)
        if why:
            raise DriverError(code, f"{where}: {why}")
