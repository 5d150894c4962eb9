"""What the bridge runs for an action: one typed request per driver operation.

A request carries its parameters and runs on a worker thread with the domain
already looked up there; the bridge only hands it the open connections (a
migration's destination). Long operations pass ``JobFlags.ASYNC`` where the
driver runs jobs, so :meth:`DomainRequest.run` returns the job id, or None
when the operation is done. Plain Python: no Qt, no widgets.
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from drivers import BackupFlags, CloneFlags, Connection, Domain, DriverError, ErrorCode, Feature, JobFlags, MigrateFlags
from drivers.domaindelete import DEFAULT_UNDEFINE, delete_domain
from drivers.domxml import DomainXML
from drivers.snapxml import BackupDef

from ..textmark import N_, Text

#: The open connections by URI, as the bridge holds them when the request is sent.
Peers = Mapping[str, Connection]
ASYNC = int(JobFlags.ASYNC)


def async_if_jobs(dom: Domain) -> int:
    """JobFlags.ASYNC where the driver runs jobs (the call returns a job id), else 0 (it blocks a worker)."""
    return ASYNC if dom.connection.supports_feature(Feature.JOBS) else 0


def job_id(result: object) -> int | None:
    """The job id an ASYNC call returned; None for a finished call's other results (a snapshot, a domain)."""
    return result if isinstance(result, int) and not isinstance(result, bool) else None


@dataclass(frozen=True)
class DomainRequest(ABC):
    """One operation on one domain, with its parameters."""

    #: How a busy row and a failure name it: "Starting" web01, "Starting web01 failed" (marked for translation).
    verb: ClassVar[Text]

    @abstractmethod
    def run(self, dom: Domain, peers: Peers) -> int | None:
        """Do it (on a worker thread); the job id of an ASYNC job, else None."""


@dataclass(frozen=True)
class Start(DomainRequest):
    verb: ClassVar[Text] = N_("Starting")

    def run(self, dom: Domain, peers: Peers) -> int | None:
        return job_id(dom.create(async_if_jobs(dom)))


@dataclass(frozen=True)
class Pause(DomainRequest):
    verb: ClassVar[Text] = N_("Pausing")

    def run(self, dom: Domain, peers: Peers) -> int | None:
        dom.suspend()
        return None


@dataclass(frozen=True)
class Resume(DomainRequest):
    verb: ClassVar[Text] = N_("Resuming")

    def run(self, dom: Domain, peers: Peers) -> int | None:
        dom.resume()
        return None


@dataclass(frozen=True)
class Shutdown(DomainRequest):
    """Asks the guest (its agent, else the ACPI power button); done once the guest did it, which the window follows."""

    verb: ClassVar[Text] = N_("Shutting down")

    def run(self, dom: Domain, peers: Peers) -> int | None:
        dom.shutdown()
        return None


@dataclass(frozen=True)
class Reboot(DomainRequest):
    verb: ClassVar[Text] = N_("Rebooting")

    def run(self, dom: Domain, peers: Peers) -> int | None:
        dom.reboot()
        return None


@dataclass(frozen=True)
class Reset(DomainRequest):
    verb: ClassVar[Text] = N_("Resetting")

    def run(self, dom: Domain, peers: Peers) -> int | None:
        dom.reset()
        return None


@dataclass(frozen=True)
class ForceOff(DomainRequest):
    verb: ClassVar[Text] = N_("Forcing off")

    def run(self, dom: Domain, peers: Peers) -> int | None:
        dom.destroy()
        return None


@dataclass(frozen=True)
class Save(DomainRequest):
    """Managed save: memory to disk, the domain stops; the next start restores it."""

    verb: ClassVar[Text] = N_("Saving")

    def run(self, dom: Domain, peers: Peers) -> int | None:
        return job_id(dom.managed_save(ASYNC))


@dataclass(frozen=True)
class Snapshot(DomainRequest):
    """A snapshot by name (the toolbar's); the snapshot tree's richer one is :class:`CreateSnapshot`."""

    name: str
    verb: ClassVar[Text] = N_("Snapshotting")

    def run(self, dom: Domain, peers: Peers) -> int | None:
        return job_id(dom.snapshot_create(self.name, async_if_jobs(dom)))


@dataclass(frozen=True)
class Backup(DomainRequest):
    """A push backup: ``xml`` as the backup dialog planned it, else every disk into ``folder``."""

    folder: str = "."
    xml: str | None = None
    #: the domain is shut off: its disks are copied as they are (BackupFlags.SHUT_OFF)
    shut_off: bool = False
    #: ``<domaincheckpoint>`` created at the backup's point in time (the next backup can be incremental)
    checkpoint_xml: str | None = None
    verb: ClassVar[Text] = N_("Backing up")

    def run(self, dom: Domain, peers: Peers) -> int | None:
        flags = ASYNC | (int(BackupFlags.SHUT_OFF) if self.shut_off else 0)
        return job_id(dom.backup_begin(self.xml or self.every_disk(dom), flags, self.checkpoint_xml))

    def every_disk(self, dom: Domain) -> str:
        """``<domainbackup>`` writing each disk (not cdroms or floppies) of ``dom`` to a new file in the folder."""
        disks = [d.target for d in DomainXML.parse(dom.xml_desc()).disks() if d.device == "disk"]
        return BackupDef.into_folder(dom.name, disks, self.folder, time.strftime("%Y%m%d-%H%M%S")).to_xml()


@dataclass(frozen=True)
class Migrate(DomainRequest):
    """To the open connection ``dest`` (its URI), with MigrateFlags (ASYNC is added)."""

    dest: str
    flags: int = MigrateFlags.LIVE
    verb: ClassVar[Text] = N_("Migrating")

    def run(self, dom: Domain, peers: Peers) -> int | None:
        dest = peers.get(self.dest)
        if dest is None:
            raise DriverError(ErrorCode.OPERATION_INVALID, f"destination {self.dest} is not open")
        return job_id(dom.migrate(dest, int(self.flags) | ASYNC))


@dataclass(frozen=True)
class Clone(DomainRequest):
    """A new domain ``name`` copied from a shut-off one; ``linked``: its disks are overlays on the original's."""

    name: str = ""
    linked: bool = False
    verb: ClassVar[Text] = N_("Cloning")

    def run(self, dom: Domain, peers: Peers) -> int | None:
        flags = (int(CloneFlags.LINKED) if self.linked else 0) | ASYNC
        return job_id(dom.connection.clone_domain(dom, self.name, flags))


@dataclass(frozen=True)
class Delete(DomainRequest):
    """Undefine with UndefineFlags ``flags``, forced off first if asked, then the ticked disk ``files``."""

    flags: int = DEFAULT_UNDEFINE
    force_off: bool = False
    files: tuple[str, ...] = ()
    verb: ClassVar[Text] = N_("Deleting")

    def run(self, dom: Domain, peers: Peers) -> int | None:
        delete_domain(dom, self.flags, self.force_off, self.files)
        return None


# -- the snapshot tree dialog's operations (not toolbar actions) --------------------------------
@dataclass(frozen=True)
class CreateSnapshot(DomainRequest):
    """``<domainsnapshot>`` XML with SnapshotCreateFlags (a running guest: live, or halted after)."""

    xml: str
    flags: int = 0
    verb: ClassVar[Text] = N_("Snapshotting")

    def run(self, dom: Domain, peers: Peers) -> int | None:
        return job_id(dom.snapshot_create(self.xml, int(self.flags) | async_if_jobs(dom)))


@dataclass(frozen=True)
class RevertSnapshot(DomainRequest):
    snapshot: str
    verb: ClassVar[Text] = N_("Reverting")

    def run(self, dom: Domain, peers: Peers) -> int | None:
        return job_id(dom.snapshot_lookup(self.snapshot).revert(async_if_jobs(dom)))


@dataclass(frozen=True)
class DeleteSnapshot(DomainRequest):
    snapshot: str
    verb: ClassVar[Text] = N_("Deleting a snapshot of")

    def run(self, dom: Domain, peers: Peers) -> int | None:
        return job_id(dom.snapshot_lookup(self.snapshot).delete(async_if_jobs(dom)))
