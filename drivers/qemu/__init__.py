"""``qemu:///embed`` — real ``qemu-system-x86_64`` processes managed in-process.

No daemon: each VM runs detached under the lock manager's supervisor
(``drivers.locking``), so VMs outlive the application and a new connection
re-attaches through their QMP sockets. ``?root=DIR`` selects the directory
that holds definitions, snapshots and save images (default
``$XDG_DATA_HOME/vmgui/qemu``); several roots can be open at once and count
as different hosts (migration between them is a real migration).

Modules: layout (root and runtime paths), cmdline (XML -> argv), monitor
(QMP via qemu.qmp on a loop thread), host (per-root state, processes,
events), domain (lifecycle), saveops/saveimg/streams (save, restore),
snapshots, backup, migration, storage (qemu-img), connection.

Extras beyond the contract: ``conn.root``, ``dom.serial_log()``, ``dom.qemu_pid()``;
``PREALLOCATE`` is an alias of ``drivers.DiskCreateFlags.PREALLOCATE``.
"""
from __future__ import annotations

from .connection import QemuConnection, autostart
from .host import acquire_host
from .layout import parse_uri
from .storage import PREALLOCATE

__all__ = ["open_connection", "QemuConnection", "PREALLOCATE"]


def open_connection(uri: str) -> QemuConnection:
    root = parse_uri(uri)
    host, new = acquire_host(root)
    conn = QemuConnection(uri, host)
    if new:
        autostart(conn)
    return conn
