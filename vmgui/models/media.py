"""A domain's CD-ROM drives as the Hardware tab shows them, and the request that changes one.

Qt-free: the drives come from the definition the tab read; the request XML
is the driver core's (``drivers.media.request_xml``).
"""
from __future__ import annotations

from dataclasses import dataclass

from drivers import DeviceModifyFlags
from drivers.domxml import DomainXML

from ..textmark import N_, Text


@dataclass(frozen=True)
class CDDrive:
    """One CD-ROM drive: its target (``sda``) and the image in it (None: empty)."""

    target: str
    source: str | None

    @property
    def text(self) -> str:
        return self.source or N_("empty")


def cd_drives(xml: DomainXML) -> list[CDDrive]:
    return [CDDrive(d.target, d.source) for d in xml.disks() if d.device == "cdrom"]


def change_flags(running: bool, persistent: bool) -> int:
    """A running persistent domain gets the medium now and at its next start; any other, as it is."""
    if running and persistent:
        return int(DeviceModifyFlags.LIVE | DeviceModifyFlags.CONFIG)
    return int(DeviceModifyFlags.CURRENT)


def done_text(name: str, drive: CDDrive, source: str | None) -> Text:
    """The status line once a change is through."""
    if source is None:
        return N_("Ejected the CD of {name} (drive {target})", name=name, target=drive.target)
    return N_("{name} has {image} in drive {target}", name=name, image=source, target=drive.target)
