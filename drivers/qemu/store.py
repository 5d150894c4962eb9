"""A root's domains on disk: definitions, metadata, snapshot metadata and the running VMs' state files.

Every write goes through :mod:`layout` (``drivers.fsutil``: tmp + fsync +
rename), so a file under its final name is always whole. The domain index,
event bus and job table are the core's :class:`drivers.stateful.StatefulHost`.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from ..diskdelete import DomainUse
from ..diskimage import guest_file_paths
from ..domxml import DomainXML
from ..errors import DriverError
from ..flags import DefinedDetail, EventType, ShutoffReason
from ..fsutil import read_json
from ..snapxml import SnapshotDef
from ..stateful import StatefulHost
from .layout import RootLayout, base_runtime_dir, unlink, write_file, write_json
from .state import QDom

log = logging.getLogger(__name__)

#: the suffix of a snapshot operation's marker, ``snapshots/<name>.pending`` (see snapjournal)
PENDING_SUFFIX = ".pending"


class DomainStore(StatefulHost[QDom]):
    """The files of one root, read at open and written as its domains change."""

    def __init__(self, layout: RootLayout) -> None:
        super().__init__(f"qemu-events-{layout.key}")
        self.layout = layout

    def disk_use(self, dom: QDom) -> DomainUse:
        """Every file of the definition, the running one and a transient one being started."""
        vm = dom.live
        defs = {id(d): d for d in (dom.config, dom.shadow, vm.definition if vm is not None else None, dom.salvaged)
                if d is not None}
        files = frozenset().union(*(guest_file_paths(d) for d in defs.values()))
        return DomainUse(dom.name, dom.uuid, vm is not None, vm.pid if vm is not None else None, files)

    def save_config(self, dom: QDom) -> None:
        assert dom.config is not None
        write_file(self.layout.config(dom.uuid), dom.config.to_string())
        dom.config_problem, dom.salvaged = "", None  # the file is whole again
        self.save_meta(dom)

    def replace_config(self, dom: QDom, definition: DomainXML) -> None:
        """Make ``definition`` the persistent one (written first; kept in memory only once it is), DEFINED/UPDATED.

        Call under the lock; for changes that are not a define_xml (a CD changed, a linked clone's base).
        """
        before, dom.config = dom.config, definition
        try:
            self.save_config(dom)
        except DriverError:
            dom.config = before
            raise
        dom.touch()
        self.emit(dom, EventType.DEFINED, DefinedDetail.UPDATED)

    def save_meta(self, dom: QDom) -> None:
        if not dom.persistent and not dom.snapshots:
            return
        write_json(self.layout.meta(dom.uuid), {"name": dom.name, "autostart": dom.autostart,
                                                "current_snapshot": dom.current_snapshot})

    def rename_files(self, old: str, new: str) -> None:
        """Move QEMU's log of a renamed domain along (unless one of the new name is there already)."""
        src, dst = self.layout.log(old), self.layout.log(new)
        if src.exists() and not dst.exists():
            try:
                os.replace(src, dst)
            except OSError as exc:
                log.warning("keeping %s after the rename to '%s': %s", src, new, exc.strerror)
        unlink(self.layout.serial_log(old))  # a new boot starts it afresh anyway

    def save_snapshot(self, dom: QDom, snap: SnapshotDef) -> None:
        write_file(self.layout.snapshot_dir(dom.uuid) / f"{snap.name}.xml", snap.to_xml())

    def forget_files(self, dom: QDom, keep_nvram: bool = False) -> None:
        """Remove a domain's directory (undefine): its TPM state too, and its UEFI variables unless kept."""
        d = self.layout.domain_dir(dom.uuid)
        nvram = dom.config.nvram if dom.config is not None else None
        if nvram and not keep_nvram:
            unlink(nvram)
        for sub in (d / "snapshots", self.layout.checkpoint_dir(dom.uuid), self.layout.tpm_dir(dom.uuid)):
            if sub.is_dir():
                for f in sub.iterdir():
                    unlink(f)
                sub.rmdir()
        for f in (self.layout.config(dom.uuid), self.layout.meta(dom.uuid), self.layout.managed_save(dom.uuid)):
            unlink(f)
        try:
            d.rmdir()
        except OSError:
            pass

    def portable_xml(self, definition: DomainXML) -> str:
        """The XML without what only this root's runtime directory means (our VNC socket)."""
        copy = definition.copy()
        drop_runtime_sockets(copy)
        return copy.to_string()

    def write_state(self, dom: QDom) -> None:
        vm = dom.live
        if vm is None:
            unlink(self.layout.state(dom.uuid))
            return
        write_json(self.layout.state(dom.uuid), {
            "uuid": dom.uuid, "name": dom.name, "id": vm.id, "xml": vm.definition.to_string(),
            "qmp": vm.qmp_path, "serial_log": vm.serial_log, "console": vm.console_socket,
            "persistent": dom.persistent,
            **vm.clock.to_state(), "reason": dom.reason, "state": int(dom.state),
            "incoming": vm.incoming, "job_note": vm.job_note, "reboot_pending": vm.reboot_pending,
            "disks": [d.__dict__ for d in vm.disks]})

    def load_snapshots(self, dom: QDom, meta: dict[str, Any]) -> None:
        sdir = self.layout.snapshot_dir(dom.uuid)
        snaps = []
        if sdir.is_dir():
            for f in sdir.glob("*.xml"):
                try:
                    snaps.append(SnapshotDef.parse(f.read_text()))
                except (DriverError, OSError):
                    continue
        for s in sorted(snaps, key=lambda s: (s.creation_time, s.name)):
            dom.snapshots[s.name] = s
        cur = meta.get("current_snapshot")
        dom.current_snapshot = cur if cur in dom.snapshots else None

    def load_definitions(self) -> list[tuple[Path, Exception]]:
        """Index every readable domain.xml with its metadata; the folders whose file does not parse."""
        lay = self.layout
        broken: list[tuple[Path, Exception]] = []
        for d in sorted((lay.root / "domains").iterdir()) if (lay.root / "domains").is_dir() else []:
            cfg = d / "domain.xml"
            if not cfg.is_file():
                continue
            try:
                definition = DomainXML.parse(cfg.read_bytes())
            except (DriverError, OSError) as exc:
                broken.append((d, exc))
                continue
            dom = QDom(definition, True, definition.name, definition.ensure_uuid())
            meta = read_json(lay.meta(dom.uuid)) or {}
            dom.autostart = bool(meta.get("autostart"))
            self.load_snapshots(dom, meta)
            dom.managed_save = lay.managed_save(dom.uuid).is_file()
            if dom.managed_save:
                dom.reason = int(ShutoffReason.SAVED)
            dom.touch()
            try:
                self.add(dom)
            except DriverError as exc:
                log.warning("skipping %s: %s", cfg, exc)
        return broken

    def snapshot_pending(self, uuid: str) -> bool:
        """Whether a snapshot operation of ``uuid`` was under way when its process ended (a marker is left)."""
        sdir = self.layout.snapshot_dir(uuid)
        return sdir.is_dir() and any(sdir.glob(f"*{PENDING_SUFFIX}"))


def runtime_socket(path: str | None) -> bool:
    """Whether ``path`` is a socket a driver chose in a root's runtime directory (meaningless elsewhere)."""
    base = str(base_runtime_dir()) + os.sep
    return bool(path) and str(path).startswith(base) and \
        os.path.basename(os.path.dirname(str(path))).startswith("q-")


def drop_runtime_sockets(definition: DomainXML) -> None:
    """Forget the VNC and guest agent sockets a driver chose in a root's runtime directory, and the
    agent's connection state: what only a running VM of this root means."""
    for el in definition.root.iterfind("devices/graphics"):
        if runtime_socket(el.get("socket")):
            del el.attrib["socket"]
    for node in definition.channel_nodes():
        if runtime_socket(node.path):
            node.path = None
            node.mode = None
            source = node.el.find("source")
            if source is not None and not source.attrib and not len(source):
                node.el.remove(source)
        node.state = None
