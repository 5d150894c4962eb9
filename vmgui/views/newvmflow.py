"""New VM from the wizard to a defined (and started) domain, every step through the session.

Order: look at the plan's local files again (in a worker: the wizard's facts
may be a moment old), create the new disk as a DISK_CREATE job (it shows in
the job panel by its own JOB events), wait for it to finish, define the XML
(an imported disk's format comes from the magic the worker read), optionally
start it, then select the new row. A failed or cancelled disk job defines nothing;
a failed define removes the disk file this flow just created (never an
imported one). Failures land in the message area; the UI never waits.
"""
from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import Any

import drivers
from drivers import DiskCreateFlags, DriverError, Feature, JobFlags, JobInfo, JobState

from ..actions.requests import Start
from ..bridge import CallAbandoned
from ..models.domains import Key
from ..models.hosts import remote_host
from ..models.newvm import NewVMPlan, Target, host_memory_mib, image_dir_for
from ..models.pathprobe import look_up
from ..models.session import Session
from .dialogs.newvm import NewVMDialog
from .pathcheck import serve

log = logging.getLogger(__name__)

#: how often the flow looks at the job model for the disk job's end (no driver call)
WATCH_S = 0.3
#: every this many looks, re-read the job from the driver too (connections without JOB events)
REREAD_EVERY = 10
#: how long the wizard waits for a connection's root folder before it opens with the defaults
FACTS_TIMEOUT_S = 5.0


def _host_facts(conn: drivers.Connection) -> tuple[str | None, bool]:
    """The connection's root folder (qemu:///embed) and whether KVM works there (worker thread)."""
    root = getattr(conn, "root", None)
    kvm = False
    if conn.uri.startswith("qemu:///embed"):
        from drivers.qemu.cmdline import kvm_problem
        kvm = kvm_problem() is None
    return (str(root) if root else None), kvm


def _create_disk(conn: drivers.Connection, plan: NewVMPlan) -> int:
    """Start the DISK_CREATE job (worker thread); the default image folder is made on first use."""
    path = plan.disk_target()
    if plan.needs_image_dir():
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    flags = int(JobFlags.ASYNC) | (int(DiskCreateFlags.PREALLOCATE) if plan.preallocate else 0)
    return conn.create_disk(path, plan.disk_size, plan.disk_format, flags)  # type: ignore[return-value]


def _remove_new_disk(conn: drivers.Connection, path: str) -> None:
    """The disk made for a definition that failed goes again, deleted by the driver (worker thread).

    The define's error is what the user must read: a refusal here (something
    uses the file by now) keeps the file and is only logged.
    """
    try:
        conn.delete_disks([path])
    except DriverError as exc:
        log.warning("keeping the new disk %s: %s", path, exc)


class NewVMFlow:
    """Reads what each connection offers, shows :class:`NewVMDialog`, and creates what it returns."""

    def __init__(self, session: Session, show: Callable[[Any, Callable[[], None]], None], parent: Any) -> None:
        self._session = session
        self._show = show
        self._parent = parent

    def ask(self) -> None:
        self._session.spawn(self._ask(), "Opening the New VM wizard")

    async def _ask(self) -> None:
        uris = self._session.connections.definers()
        targets = list(await asyncio.gather(*(self._target(u) for u in uris)))
        dialog = NewVMDialog(targets, self._taken, self._parent, host_memory_mib(), os.cpu_count())
        serve(self._session, dialog.checker)

        def accepted() -> None:
            self.create(dialog.plan())
        self._show(dialog, accepted)

    async def _target(self, uri: str) -> Target:
        features = self._session.connections.features().get(uri, frozenset())
        try:
            root, kvm = await self._session.bridge.call(uri, _host_facts, f"reading where {uri} keeps disk images",
                                                        timeout=FACTS_TIMEOUT_S)
        except (DriverError, CallAbandoned):  # a busy or hung host must not keep the wizard shut
            root, kvm = None, False
        return Target(uri, image_dir_for(root), Feature.DISK_CREATE in features, Feature.SCREENSHOT in features,
                      "kvm" if kvm else "qemu", remote_host(uri) is not None)

    def _taken(self, uri: str) -> frozenset[str]:
        return frozenset(self._session.domains.names(uri))

    # -- creating -----------------------------------------------------------------
    def create(self, plan: NewVMPlan) -> asyncio.Task[Any] | None:
        return self._session.spawn(self._create(plan), f"Creating {plan.name}")

    async def _create(self, plan: NewVMPlan) -> Key | None:
        bridge, uri = self._session.bridge, plan.uri
        plan = plan.with_(facts=await look_up(bridge.local_files, plan.local_paths()))
        if plan.problems():
            self._session.messages.add("error", f"{plan.name} was not created", "\n".join(plan.problems()),
                                       "Nothing was defined.")
            return None
        created = None
        if plan.creates_disk():
            path = plan.disk_target()
            job_id = await bridge.call(uri, lambda c: _create_disk(c, plan), f"creating the disk {path}")
            info = await self.wait_job(uri, job_id)
            if info.state is not JobState.COMPLETED:
                what = "was cancelled" if info.state is JobState.CANCELLED else f"failed: {info.error or 'no reason given'}"
                self._session.messages.add("error", f"{plan.name} was not created",
                                           f"Creating its disk {path} {what}.", "Nothing was defined.")
                return None
            created = path
        xml = plan.xml()
        try:
            uuid = await bridge.call(uri, lambda c: c.define_xml(xml).uuid, f"defining {plan.name} on {uri}")
        except BaseException:
            if created is not None:
                await bridge.call(uri, lambda c: _remove_new_disk(c, created), f"removing the new disk {created}")
            raise
        key = (uri, uuid)
        records, _gone = await bridge.fetch_records(uri, [uuid])
        self._session.domains.apply(uri, records)
        self._session.status.emit(f"Defined {plan.name} on {uri}")
        self._parent.table.select_key(key)  # the main window's table (Commands builds this flow for it)
        if plan.start:
            self._session.run(Start(), [key])
        return key

    async def wait_job(self, uri: str, job_id: int) -> JobInfo:
        """The finished job ``job_id``: watched in the job model, re-read from the driver now and then."""
        jobs = self._session.jobs
        looks = 0
        while True:
            pos = jobs.find((uri, job_id))
            if pos is not None and jobs.row_at(pos).info.finished:
                return jobs.row_at(pos).info
            if looks % REREAD_EVERY == REREAD_EVERY - 1:
                jobs.update(uri, [j for j in await self._session.bridge.list_jobs(uri) if j.id == job_id])
            looks += 1
            await asyncio.sleep(WATCH_S)
