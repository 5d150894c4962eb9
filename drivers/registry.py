"""URI scheme -> driver. Drivers are imported lazily: opening test:/// never
pays for importing the QEMU or libvirt code."""
from __future__ import annotations

import importlib
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from .base import Connection
from .errors import DriverError, ErrorCode


@dataclass(frozen=True)
class DriverEntry:
    name: str
    claims: Callable[[str], bool]
    module: str  # module with ``open_connection(uri) -> Connection``
    examples: str


def _scheme(uri: str) -> str:
    return urllib.parse.urlsplit(uri).scheme


def _is_embedded_qemu(uri: str) -> bool:
    parts = urllib.parse.urlsplit(uri)
    return parts.scheme == "qemu" and not parts.netloc and parts.path == "/embed"


def _is_other_libvirt(uri: str) -> bool:
    if uri.startswith("libvirt:"):
        return True
    scheme = _scheme(uri).split("+")[0]
    return scheme in {"qemu", "xen", "lxc", "vbox", "bhyve", "ch", "esx", "vpx", "hyperv", "vz"} \
        and not _is_embedded_qemu(uri)


DRIVERS: tuple[DriverEntry, ...] = (
    DriverEntry("test", lambda u: _scheme(u) == "test", "drivers.test",
                "test:///default, test:///abs/path/node.xml"),
    DriverEntry("qemu", _is_embedded_qemu, "drivers.qemu", "qemu:///embed[?root=DIR]"),
    DriverEntry("libvirt", _is_other_libvirt, "drivers.libvirt",
                "libvirt:<any libvirt URI>, qemu:///system, qemu+ssh://user@host/system"),
)


def supported_uris() -> str:
    return "; ".join(f"{d.name}: {d.examples}" for d in DRIVERS)


def driver_for(uri: str) -> str | None:
    """The name of the driver that would open ``uri`` ("test", "qemu", "libvirt"), or None."""
    return next((entry.name for entry in DRIVERS if entry.claims(uri.strip())), None)


def driver_problem(name: str) -> str | None:
    """Why the driver ``name`` ("test", "qemu", "libvirt") cannot open connections in this process, or None.

    Imports the driver's module (what opening its first URI would do anyway):
    an installation missing a dependency is named here, before any connection.
    """
    entry = next((e for e in DRIVERS if e.name == name), None)
    if entry is None:
        return f"there is no driver named {name!r} (known: {', '.join(d.name for d in DRIVERS)})"
    try:
        module = importlib.import_module(entry.module)
    except Exception as exc:  # noqa: BLE001 - any import failure means "not available", said in words
        return f"{entry.module} cannot be imported: {exc}"
    if not hasattr(module, "open_connection"):
        return f"{entry.module} has no open_connection"
    return None


def open_uri(uri: str) -> Connection:
    """Open ``uri`` with the driver that claims it; NO_SUPPORT lists what exists."""
    if not isinstance(uri, str) or not uri.strip():
        raise DriverError(ErrorCode.INVALID_ARG, f"a connection URI is required ({supported_uris()})")
    uri = uri.strip()
    for entry in DRIVERS:
        if entry.claims(uri):
            open_connection: Callable[[str], Connection] = importlib.import_module(entry.module).open_connection
            return open_connection(uri)
    raise DriverError(ErrorCode.NO_SUPPORT,
                      f"no driver handles the URI {uri!r}; supported: {supported_uris()}")
