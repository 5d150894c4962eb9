"""Delete from the selection to undefined domains: read the disks, who shares them and which files the
driver refuses to delete, then undefine (and have the driver delete the ticked disk files)."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

from drivers import DriverError
from drivers.domxml import Disk, DomainXML

from ..actions.requests import Delete
from ..models.deletion import DeleteEntry
from ..models.domains import Key
from ..models.hosts import remote_host
from ..models.session import Session
from ..textmark import N_


class DeleteController:
    """What deleting each domain would touch, and the deletes the dialog allows."""

    def __init__(self, session: Session) -> None:
        self._session = session

    async def entries(self, targets: list[Key]) -> list[tuple[Key, DeleteEntry]]:
        """One entry per domain still in the table, with the driver's refusals read before anything is undone."""
        session = self._session
        pairs = [(k, row) for k in targets if (row := session.domains.get(k)) is not None]
        keys = [k for k, _row in pairs]
        xmls = await asyncio.gather(*(session.domain_xml(k) for k in keys))
        uris = sorted({k[0] for k in keys})
        users = dict(zip(uris, await asyncio.gather(*(session.disk_users(u) for u in uris)), strict=True))
        entries = [DeleteEntry(row.rec.name, row.rec.id is not None, row.rec.managed_save, row.rec.snapshot_count,
                               listed_disks(x), users[k[0]], remote_host(k[0]))
                   for (k, row), x in zip(pairs, xmls, strict=True)]
        refusals = await asyncio.gather(*(self._refusals(k, e) for k, e in zip(keys, entries, strict=True)))
        return [(k, replace(e, refused=r)) for k, e, r in zip(keys, entries, refusals, strict=True)]

    def delete(self, entries: list[tuple[Key, DeleteEntry]], flags: int, force: bool,
               files: Callable[[str], list[str]]) -> None:
        """Delete each domain (``files(name)``: the disk files ticked for it), each on its own."""
        for key, entry in entries:
            self._session.run(Delete(flags, force, tuple(files(entry.name))), [key])

    async def _refusals(self, key: Key, entry: DeleteEntry) -> dict[str, str]:
        paths = [d.source for d in entry.files() if d.source]
        if not paths:
            return {}
        try:
            found = await self._session.delete_refusals(key, paths)
        except DriverError as exc:  # no answer is no permission: the files are kept
            return {path: N_("cannot tell whether {path} is in use: {why}", path=path, why=exc.message)
                    for path in paths}
        return {path: error.message for path, error in found.items()}


def listed_disks(xml: str) -> list[Disk]:
    """The disks the XML names; also of a broken domain's salvaged XML, which need not be a valid definition."""
    try:
        return DomainXML.read(xml).disks()
    except DriverError:
        return []
