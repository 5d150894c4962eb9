"""Snapshot facts as plain data, read in a worker thread (no Qt here).

A tree view needs every snapshot's parent, whether it is current, and a few
fields of its XML; reading them all in one worker call keeps the dialog from
making one round trip per snapshot.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from xml.sax.saxutils import escape

import drivers
from drivers.snapxml import SnapshotDef


@dataclass(frozen=True)
class SnapshotInfo:
    name: str
    parent: str | None
    current: bool
    description: str
    state: str  # the domain's state when it was taken ("running", "shutoff", ...)
    created: int  # seconds since the epoch

    @property
    def created_text(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.created))


def read_snapshots(dom: drivers.Domain) -> list[SnapshotInfo]:
    """Every snapshot of ``dom``, oldest first."""
    result = []
    for snap in dom.list_all_snapshots():
        spec = SnapshotDef.parse(snap.xml_desc())
        result.append(SnapshotInfo(snap.name, snap.parent_name(), snap.is_current(), spec.description,
                                   spec.state, spec.creation_time))
    return sorted(result, key=lambda s: (s.created, s.name))


def snapshot_xml(name: str, description: str) -> str:
    """The ``<domainsnapshot>`` request for a new snapshot."""
    desc = f"<description>{escape(description)}</description>" if description.strip() else ""
    return f"<domainsnapshot><name>{escape(name)}</name>{desc}</domainsnapshot>"
