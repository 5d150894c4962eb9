"""Delete from the dialog to the session: read disks, who shares them and which the driver refuses to
delete, ask, then undefine (and have the driver delete the ticked disk files)."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from drivers import DriverError, xmlutil
from drivers.domxml import Disk, DomainXML

from ..actions.requests import Delete
from ..models.deletion import DeleteEntry
from ..models.domains import Key
from ..models.hosts import remote_host
from ..models.session import Session
from .dialogs.delete import DeleteDialog


class DeleteFlow:
    """Builds :class:`DeleteDialog` from the domains' XML and runs the deletes it allows."""

    def __init__(self, session: Session, show: Callable[[Any, Callable[[], None]], None], parent: Any) -> None:
        self._session = session
        self._show = show
        self._parent = parent

    def ask(self, targets: list[Key]) -> None:
        self._session.spawn(self._ask(targets), "Reading the disks of the domains to delete")

    async def _ask(self, targets: list[Key]) -> None:
        pairs = [(k, row) for k in targets if (row := self._session.domains.get(k)) is not None]
        keys = [k for k, _row in pairs]
        rows = [row for _k, row in pairs]
        xmls = await asyncio.gather(*(self._session.domain_xml(k) for k in keys))
        uris = sorted({k[0] for k in keys})
        users = dict(zip(uris, await asyncio.gather(*(self._session.bridge.disk_users(u) for u in uris)), strict=False))
        entries = [DeleteEntry(row.rec.name, row.rec.id is not None, row.rec.managed_save, row.rec.snapshot_count,
                               listed_disks(x), users[k[0]], remote_host(k[0]))
                   for k, row, x in zip(keys, rows, xmls, strict=False)]
        # the driver says, before anything is undefined, which disk files it would refuse to delete
        refusals = await asyncio.gather(*(self._refusals(k, e) for k, e in zip(keys, entries, strict=False)))
        entries = [replace(e, refused=r) for e, r in zip(entries, refusals, strict=False)]
        dialog = DeleteDialog(entries, self._parent)

        def delete() -> None:
            for key, entry in zip(keys, entries, strict=False):
                self._session.run(Delete(dialog.flags(), dialog.force.isChecked(), tuple(dialog.files(entry.name))),
                                  [key])
        self._show(dialog, delete)

    async def _refusals(self, key: Key, entry: DeleteEntry) -> dict[str, str]:
        paths = [d.source for d in entry.files() if d.source]
        if not paths:
            return {}
        try:
            found = await self._session.bridge.check_delete_disks(key[0], key[1], paths)
        except DriverError as exc:  # no answer is no permission: the files are kept
            return {path: f"cannot tell whether {path} is in use: {exc.message}" for path in paths}
        return {path: error.message for path, error in found.items()}


def listed_disks(xml: str) -> list[Disk]:
    """The disks the XML names; also of a broken domain's salvaged XML, which need not be a valid definition."""
    try:
        return DomainXML(xmlutil.parse(xml, "domain")).disks()
    except DriverError:
        return []
