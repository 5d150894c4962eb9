"""Where a new incremental backup joins the catalog: the backup taken at its checkpoint, and its images.

Shared by the drivers that write catalogued backups. A backup into a
folder of its own (a catalog entry) builds on the finished backup taken at
the checkpoint it starts from, found beside it by its manifest; each of its
images names the parent's image of the same disk as ``../<parent-id>/<file>``
(the manifest's ``backing`` and the qcow2's backing file). A backup written
elsewhere is libvirt's plain incremental: the changed blocks only, no chain.
"""
from __future__ import annotations

import os

from . import backupcatalog
from .backupcatalog import Backup
from .snapxml import BackupDef


def parent_backup(domain_uuid: str, spec: BackupDef) -> tuple[Backup | None, str | None]:
    """The catalogued backup an incremental ``spec`` builds on, or why it cannot be one (it is then full).

    (None, None): not incremental, or not a catalog entry (no chain to join).
    """
    if spec.incremental is None:
        return None, None
    folders = {os.path.dirname(d.target) for d in spec.disks}
    folder = folders.pop() if len(folders) == 1 else None
    try:
        others = set(os.listdir(folder)) - {os.path.basename(d.target) for d in spec.disks} if folder else {""}
    except OSError:
        others = {""}
    if folder is None or others:
        return None, None
    backups_dir = os.path.dirname(folder)
    parent = backupcatalog.checkpoint_backup(backups_dir, domain_uuid, spec.incremental)
    if parent is None:
        return None, f"no finished backup taken at checkpoint '{spec.incremental}' is in {backups_dir}"
    held = {i.target for i in parent.images}
    missing = [d.name for d in spec.disks if d.name not in held]
    if missing:
        return None, (f"the backup {parent.id} taken at checkpoint '{spec.incremental}' holds no copy of "
                      f"disk {missing[0]}")
    return parent, None


def raw_target(spec: BackupDef) -> str | None:
    """Why an incremental ``spec`` cannot be one on a real host: a raw target has no backing file."""
    raw = [d.name for d in spec.disks if d.format != "qcow2"]
    if spec.incremental is None or not raw:
        return None
    return f"the backup of disk {raw[0]} is raw; an incremental image must be qcow2"


def backing_files(parent: Backup | None, spec: BackupDef) -> dict[str, tuple[str, str]]:
    """Per backed-up disk: its parent image as (``../<parent-id>/<file>``, format); empty without a parent."""
    if parent is None:
        return {}
    images = {i.target: i for i in parent.images}
    return {d.name: (f"../{parent.id}/{images[d.name].file}", images[d.name].format) for d in spec.disks}
