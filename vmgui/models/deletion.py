"""What deleting a domain would touch, as plain data: its disks and the warnings to show."""
from __future__ import annotations

from dataclasses import dataclass, field

from drivers.domxml import Disk

from ..textmark import N_, NP_, Text


@dataclass(frozen=True)
class DeleteEntry:
    """One domain to delete, with the facts the dialog warns about."""

    name: str
    running: bool
    managed_save: bool
    snapshot_count: int
    disks: list[Disk]
    users: dict[str, list[str]] = field(default_factory=dict)  # disk source -> domains using it
    #: the other machine the domain lives on; its files are not this machine's to delete
    remote: str | None = None
    #: disk source -> why the driver refuses to delete it (in use by another VM, not supported, ...)
    refused: dict[str, str] = field(default_factory=dict)

    def files(self) -> list[Disk]:
        """Disks backed by a file the dialog lists for deletion (only on this machine)."""
        if self.remote:
            return []
        return [d for d in self.disks if d.type == "file" and d.source and d.device == "disk"]

    def refusal(self, disk: Disk) -> str | None:
        """Why this disk's file cannot be deleted, in the driver's words; None if it can."""
        return self.refused.get(disk.source or "")

    def needs_metadata_flags(self) -> bool:
        return self.managed_save or self.snapshot_count > 0

    def warnings(self) -> list[Text]:
        """What deleting it discards or leaves behind (marked for translation; the dialog translates them)."""
        out = []
        if self.snapshot_count:
            out.append(NP_("{name} has %n snapshot: its metadata would be removed",
                           "{name} has %n snapshots: their metadata would be removed", self.snapshot_count,
                           name=self.name))
        if self.managed_save:
            out.append(N_("{name} has a saved state (managed save) that would be discarded", name=self.name))
        if self.running:
            out.append(N_("{name} is running", name=self.name))
        for disk in self.disks:
            if disk.shareable:
                out.append(N_("{name}: disk {target} is marked shareable", name=self.name, target=disk.target))
            others = [n for n in self.users.get(disk.source or "", []) if n != self.name]
            if others:
                out.append(N_("{name}: disk {target} ({path}) is also used by {others}", name=self.name,
                              target=disk.target, path=disk.source, others=", ".join(others)))
        if self.remote and any(d.type == "file" and d.source for d in self.disks):
            out.append(N_("{name}'s disk files stay on {host}: delete them there if you no longer need them",
                          name=self.name, host=self.remote))
        return out
