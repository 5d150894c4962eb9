"""New VM from a plan to a defined (and started) domain, every step through the session.

Order: look at the plan's local files again (in a worker: the wizard's facts
may be a moment old), create the new disk as a DISK_CREATE job (it shows in
the job panel by its own JOB events), wait for it to finish, define the XML
(an imported disk's format comes from the magic the worker read), optionally
start it, then tell who shows it (``created``). A failed or cancelled disk job
defines nothing; a failed define removes the disk file this flow just created
(never an imported one). Failures land in the message area (a later Finish
that creates the VM dismisses them), and go to the ``report`` the wizard
passes (it stays open with everything typed); the UI never waits. The
wizard's ISO is named from osinfo-db (:meth:`identify`).
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from drivers import DriverError, ErrorCode, Feature, JobInfo, JobState
from drivers.isoinfo import IsoInfo
from drivers.osinfo import OsProfile

from ..actions.requests import Start
from ..models.domains import Key
from ..models.hosts import remote_host
from ..models.newvm import NewVMPlan, Target, boots_of, image_dir_for
from ..models.session import Session
from ..textmark import N_

#: how often the flow looks at the job model for the disk job's end (no driver call)
WATCH_S = 0.3
#: every this many looks, re-read the job from the driver too (connections without JOB events)
REREAD_EVERY = 10
#: how long the wizard waits for a connection's host facts before it opens with the defaults
FACTS_TIMEOUT_S = 5.0


class NewVMController(QObject):
    """The New VM wizard's questions to the hosts, and the creation of what it returns."""

    #: Key of a domain this flow just defined (the window selects its row)
    created = Signal(object)

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session = session

    # -- what the wizard offers ------------------------------------------------------
    async def targets(self) -> list[Target]:
        """One :class:`Target` per connection that can define domains, each from its host's facts."""
        uris = self._session.connections.definers()
        return list(await asyncio.gather(*(self.target(u) for u in uris)))

    async def target(self, uri: str) -> Target:
        features = self._session.connections.features().get(uri, frozenset())
        # a busy, hung or older host must not keep the wizard shut: it opens with the defaults
        facts = await self._session.host_facts(uri, timeout=FACTS_TIMEOUT_S)
        can_create, graphics = Feature.DISK_CREATE in features, Feature.SCREENSHOT in features
        if facts is None:
            return Target(uri, image_dir_for(None), can_create, graphics, "qemu", remote_host(uri) is not None)
        return Target(uri, facts.image_dir or image_dir_for(None), can_create, graphics, facts.domain_type,
                      not facts.local, boots_of(facts), facts.tpm, facts.memory_bytes,
                      facts.image_free_bytes if facts.image_dir else None)

    def taken(self, uri: str) -> frozenset[str]:
        """Names already used on ``uri`` (from the table: no driver call)."""
        return frozenset(self._session.domains.names(uri))

    async def index_osinfo(self) -> None:
        """Read osinfo-db's media now, while the user types (too slow a disk only delays the naming)."""
        try:
            await self._session.index_osinfo()
        except DriverError as exc:
            if exc.code is not ErrorCode.OPERATION_TIMEOUT:
                raise

    async def identify(self, medium: IsoInfo) -> OsProfile | None:
        """The system on an installer image by osinfo-db; None when unknown, without osinfo-db, or too slow."""
        try:
            return await self._session.identify_medium(medium)
        except DriverError as exc:
            if exc.code is not ErrorCode.OPERATION_TIMEOUT:
                raise
            return None

    # -- creating --------------------------------------------------------------------
    def create(self, plan: NewVMPlan) -> asyncio.Task[Any] | None:
        return self._session.spawn(self.run(plan), N_("Creating {name}", name=plan.name))

    async def run(self, plan: NewVMPlan, report: Callable[[str], None] | None = None) -> Key | None:
        """Create ``plan``: its disk (a job), its definition, its start; the new domain's key, or None.

        ``report`` gets each reason it was not created, as a sentence (also in the message area).
        """
        session, uri = self._session, plan.uri

        title = N_("{name} was not created", name=plan.name)

        def failed(*texts: str) -> None:
            session.messages.add("error", title, "\n".join(texts), N_("Nothing was defined."))
            if report is not None:
                for text in texts:
                    report(text)
        plan = plan.with_(facts=await session.local_facts(plan.local_paths()))
        if plan.problems():
            failed(*plan.problems())
            return None
        created = None
        if plan.creates_disk():
            path = plan.disk_target()
            info = await self.wait_job(uri, await session.create_disk(uri, plan))
            if info.state is not JobState.COMPLETED:
                failed(N_("Creating its disk {path} was cancelled.", path=path) if info.state is JobState.CANCELLED
                       else N_("Creating its disk {path} failed: {why}.", path=path,
                               why=info.error or N_("no reason given")))
                return None
            created = path
        try:
            key = await session.define(uri, plan.xml(), plan.name)
        except BaseException as exc:
            if created is not None:
                await session.remove_new_disk(uri, created)
            if report is not None and isinstance(exc, DriverError):
                report(N_("{uri} refused to define it: {why}", uri=uri, why=exc.message))
            raise
        session.status.emit(N_("Defined {name} on {uri}", name=plan.name, uri=uri))
        for msg in session.messages.messages():
            if msg.level == "error" and msg.title == title:
                session.messages.dismiss(msg.id)  # an earlier Finish's failure no longer holds
        self.created.emit(key)
        if plan.start:
            session.run(Start(), [key])
        return key

    async def wait_job(self, uri: str, job_id: int) -> JobInfo:
        """The finished job ``job_id``: watched in the job model, re-read from the driver now and then."""
        looks = 0
        while True:
            info = self._session.job_info(uri, job_id)
            if info is not None and info.finished:
                return info
            if looks % REREAD_EVERY == REREAD_EVERY - 1:
                await self._session.refresh_job(uri, job_id)
            looks += 1
            await asyncio.sleep(WATCH_S)
