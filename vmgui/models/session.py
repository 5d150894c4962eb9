"""The live state of the window: open connections, their domains and jobs.

The table is fed by one bulk ``get_all_domain_stats`` per connection, then kept
current by events: a batch of events marks domains dirty and one worker call
re-reads just those. A cheap bulk re-sync runs every few seconds (it also gives
the CPU usage column its figures). Nothing here blocks: every driver call is
awaited through the bridge, and failures land in the message model.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Coroutine
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from drivers import (
    Domain,
    DomainEvent,
    DomainRecord,
    DriverError,
    ErrorCode,
    EventType,
    Feature,
    JobFlags,
    JobInfo,
    backupcatalog,
)
from drivers.backupcatalog import Backup
from drivers.base import Screenshot
from drivers.hostfacts import HostFacts
from drivers.isoinfo import IsoInfo
from drivers.media import request_xml
from drivers.osinfo import OsInfoDb, OsProfile

from ..actions import ACTION_OF, ActionId
from ..actions.requests import DomainRequest
from ..bridge import Bridge, CallAbandoned
from ..textmark import N_, NP_, Text
from .connections import ConnectionModel, ConnState
from .console import ConsoleModel
from .display import DisplayModel
from .domains import DomainTableModel, Key
from .editing import XML_SECURE, XML_TO_EDIT, EditPlan
from .filters import FilterState
from .guestinfo import GuestReport, read_guest
from .history import History
from .jobs import JobTableModel
from .media import CDDrive, change_flags, done_text
from .messages import CONNECTION_ACTIONS, MessageModel
from .newvm import NewVMPlan
from .pathprobe import Facts, look_up
from .pending import FALLBACK, PendingRequests
from .provision import create_disk, remove_new_disk

log = logging.getLogger(__name__)
OPEN_TIMEOUT_S = 120.0
#: how long making or removing a backup's folder may take before it counts as a hung mount
FOLDER_TIMEOUT_S = 20.0
#: indexing osinfo-db reads ~800 small files (about 0.4 s here; a cold disk cache takes longer)
OSINFO_TIMEOUT_S = 30.0
RESYNC_S = 5.0
FETCH_FEW = 64
RESYNC_SLICE = 1000  # records merged per event-loop turn
EARLY_SAMPLE_MAX = 2000  # above this many dirty domains, one bulk listing is cheaper


class Session(QObject):
    """Owns the bridge and the models; the window only talks to this."""

    #: a sentence for the status bar (str; an object signal, so a marked Text reaches the view whole and is
    #: translated there: a str signal would hand over a plain copy)
    status = Signal(object)
    #: uri: its domains and jobs are loaded (a moment to tidy memory up)
    loaded = Signal(str)
    #: list[str]: the libvirt daemons of this machine found at start and being opened (maybe none)
    discovered = Signal(list)
    #: (uri, uuid): the domain's guest agent connected or went away (its report is worth reading again)
    agentChanged = Signal(str, str)

    def __init__(self, bridge: Bridge | None = None, parent: QObject | None = None,
                 resync_s: float = RESYNC_S) -> None:
        super().__init__(parent)
        self.bridge = bridge or Bridge(self)
        self.connections = ConnectionModel(self)
        self.domains = DomainTableModel(self)
        self.jobs = JobTableModel(self)
        self.messages = MessageModel(self)
        #: osinfo-db, indexed in a worker on first use (replace it to read another copy)
        self.osinfo = OsInfoDb()
        self.filters = FilterState(self)
        self.history = History(self)  # CPU/memory graphs of the recently shown domains
        #: shutdowns and reboots asked for and not yet carried out by the guest
        self.pending = PendingRequests(self)
        self.pending.changed.connect(lambda key: self.domains.set_pending(key, self.pending.doing(key)))
        self.pending.finished.connect(self._request_done)
        self.pending.overdue.connect(self._request_overdue)
        self._overdue_messages: dict[Key, int] = {}
        self.filters.changed.connect(self.apply_filter)
        self.bridge.eventsArrived.connect(self._on_events)
        self.bridge.busyChanged.connect(self._on_busy)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopped = False
        self._dirty: dict[str, set[str]] = {}
        self._refreshing: set[str] = set()
        self._setup_turn: asyncio.Future[None] | None = None  # the last host to set up (see _take_setup_turn)
        self._awaiting_setup: list[str] = []  # asked to open, waiting for their setup turn
        self._first_loads: dict[str, list[DomainRecord]] = {}  # first listings merged together next turn
        self._first_loads_merged: asyncio.Future[None] | None = None
        self._resync = QTimer(self)
        self._resync.setInterval(int(resync_s * 1000))
        self._resync.timeout.connect(self._resync_all)
        self._resync.start()
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self.jobs.tick)
        self._ticker.start()

    # -- tasks -------------------------------------------------------------------
    def console_model(self, key: Key, name: str) -> ConsoleModel:
        """The serial console of ``key``, streamed through the bridge off the UI thread."""
        return ConsoleModel(self.bridge, self.spawn, key[0], key[1], name)

    def display_model(self, key: Key, name: str, parent: QObject | None = None) -> DisplayModel:
        """The screen of ``key``: an RFB stream the bridge opens, read off the UI thread."""
        return DisplayModel(self.bridge, self.spawn, key[0], key[1], name, parent)

    def spawn(self, coro: Coroutine[Any, Any, Any], doing: str) -> asyncio.Task[Any] | None:
        """Run ``coro`` on the loop; a failure becomes a message, never a traceback."""
        if self._stopped:
            coro.close()
            return None
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                self.messages.error(t.exception(), doing)  # type: ignore[arg-type]
        task.add_done_callback(done)
        return task

    def stop(self) -> None:
        self._stopped = True
        self._resync.stop()
        self._ticker.stop()
        for task in list(self._tasks):
            task.cancel()
        self.bridge.shutdown()

    # -- connections -------------------------------------------------------------
    async def open(self, uri: str) -> bool:
        """Connect, subscribe to events, then load domains and jobs; False on failure."""
        uri = uri.strip()
        self._awaiting_setup.append(uri)
        try:
            turn = await self._take_setup_turn()
        finally:
            self._awaiting_setup.remove(uri)
        try:
            existing = self.connections.get(uri)
            if existing is not None and existing.state in (ConnState.CONNECTED, ConnState.CONNECTING):
                self.status.emit(N_("{uri} is already open", uri=uri))
                return True
            if existing is not None:
                self.bridge.forget(uri)  # a retry: drop the dead connection object first
            row = self.connections.add(uri)
            self.connections.update(uri, state=ConnState.CONNECTING, message="")
            self.domains.set_label(uri, row.label)
        finally:
            self._end_setup_turn(turn)
        try:
            await self.bridge.open(uri, timeout=OPEN_TIMEOUT_S)
            features = await self.bridge.features(uri)
            self.connections.update(uri, features=features)
            try:
                await self.bridge.watch(uri)
            except DriverError as exc:
                if exc.code is not ErrorCode.NO_SUPPORT:
                    raise
                self.messages.add("warning", N_("{uri} sends no events", uri=uri),
                                  N_("changes show up within {secs} s instead.", secs=self._resync.interval() // 1000))
            await self.resync(uri)
            if Feature.JOBS in features:
                self.jobs.update(uri, await self.bridge.list_jobs(uri))
        except Exception as exc:  # noqa: BLE001 - shown to the user, the window carries on
            if self.connections.get(uri) is None:
                return False  # closed meanwhile
            self.connections.update(uri, state=ConnState.FAILED, message=str(exc))
            self.messages.error(exc, N_("Connecting to {uri}", uri=uri), actions=tuple(CONNECTION_ACTIONS), target=uri)
            self.bridge.forget(uri)
            return False
        self.connections.update(uri, state=ConnState.CONNECTED, message="")
        self.status.emit(N_("Connected to {uri}", uri=uri))
        self.loaded.emit(uri)
        # a second sample soon gives the CPU column figures without waiting a full re-sync
        # period (on big hosts the regular re-sync will do: an extra bulk listing costs there)
        if self.domains.total(uri) <= EARLY_SAMPLE_MAX:
            QTimer.singleShot(1500, self, lambda: self._resync_one(uri))
        return True

    def uris(self) -> list[str]:
        """Every connection's URI, with those asked to open and not set up yet."""
        return self.connections.uris() + [u for u in self._awaiting_setup if self.connections.get(u) is None]

    async def _take_setup_turn(self) -> asyncio.Future[None]:
        """Wait until the host asked for before this one has set up (its row, status chip and
        worker): twenty ``--connect`` URIs then take twenty short loop turns, not one long one."""
        previous = self._setup_turn
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._setup_turn = mine
        if previous is not None:
            try:
                await asyncio.shield(previous)
            except BaseException:
                self._end_setup_turn(mine)
                raise
        return mine

    def _end_setup_turn(self, turn: asyncio.Future[None]) -> None:
        """The next host sets up in a later loop turn, after painting and timers had theirs."""
        asyncio.get_running_loop().call_soon(_resolve, turn)

    async def _merge_first_listing(self, uri: str, records: list[DomainRecord]) -> None:
        """Merge a connection's first listing together with those of every other host that
        answered in the same loop turn: one sort and one layout change for all of them."""
        self._first_loads[uri] = records
        if self._first_loads_merged is None:
            self._first_loads_merged = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(self._merge_first_loads)
        await asyncio.shield(self._first_loads_merged)

    def _merge_first_loads(self) -> None:
        batch, self._first_loads = self._first_loads, {}
        merged, self._first_loads_merged = self._first_loads_merged, None
        try:
            self.domains.apply_many({u: r for u, r in batch.items() if self.connections.get(u) is not None})
        finally:
            if merged is not None:
                merged.set_result(None)

    def close(self, uri: str) -> None:
        """Forget ``uri``: its rows and jobs go; a hung close happens in the background."""
        self.bridge.forget(uri)
        self.domains.remove_connection(uri)
        self.jobs.remove_connection(uri)
        self.connections.remove(uri)
        self._dirty.pop(uri, None)
        self.history.forget_connection(uri)
        self.pending.forget_connection(uri)
        for key in [k for k in self._overdue_messages if k[0] == uri]:
            self.messages.dismiss(self._overdue_messages.pop(key))

    def give_up(self, uri: str) -> None:
        """Stop waiting on ``uri``'s hung calls; a connection still opening is dropped."""
        row = self.connections.get(uri)
        count = self.bridge.give_up(uri)
        if row is not None and row.state is ConnState.CONNECTING:
            self.connections.update(uri, state=ConnState.FAILED, message=N_("gave up connecting"))
        self.status.emit(NP_("Stopped waiting for %n request to {uri}", "Stopped waiting for %n requests to {uri}",
                             count, uri=uri))

    def _on_busy(self, uri: str, text: str) -> None:
        self.connections.update(uri, busy=text)

    # -- domains -----------------------------------------------------------------
    def apply_filter(self) -> None:
        f = self.filters
        self.domains.set_filter(f.accepts(), f.search, f.only_uri)

    async def resync(self, uri: str) -> None:
        """One bulk listing, merged in slices so a big host never stalls the loop for long."""
        records = await self.bridge.list_records(uri)
        if self.domains.total(uri) == 0 and self.connections.get(uri) is not None:
            await self._merge_first_listing(uri, records)  # one sort, one layout change
            records_left: list[DomainRecord] = []
        else:
            records_left = records
        for start in range(0, len(records_left), RESYNC_SLICE):
            if self.connections.get(uri) is None:
                return
            self.domains.apply(uri, records_left[start:start + RESYNC_SLICE])
            if start + RESYNC_SLICE < len(records_left):
                await asyncio.sleep(0)  # let painting and events in between slices
        if self.connections.get(uri) is None:
            return
        uuids = {r.uuid for r in records}
        self.domains.retain(uri, uuids)
        self.pending.on_records(uri, records, self.pending.uuids(uri) - uuids)
        self.connections.update(uri, domains=len(records))
        self.history.collect(self.domains.get, uri)

    def _resync_all(self) -> None:
        for row in self.connections.rows():
            self._resync_one(row.uri)

    def _resync_one(self, uri: str) -> None:
        """Bulk re-sync unless the connection is gone, not ready or still busy with earlier calls."""
        row = self.connections.get(uri)
        if row is not None and row.ready and self.bridge.pending(uri) == 0 and not self._stopped:
            self.spawn(self.resync(uri), N_("Refreshing {uri}", uri=uri))

    def mark_dirty(self, uri: str, uuids: set[str]) -> None:
        self._dirty.setdefault(uri, set()).update(uuids)
        if uri not in self._refreshing:
            self._refreshing.add(uri)
            self.spawn(self._refresh(uri), N_("Refreshing {uri}", uri=uri))

    async def _refresh(self, uri: str) -> None:
        """Re-read dirty domains until none are left (events keep coming meanwhile)."""
        try:
            while self._dirty.get(uri):
                uuids = self._dirty.pop(uri)
                if len(uuids) > FETCH_FEW:
                    await self.resync(uri)
                    continue
                try:
                    records, gone = await self.bridge.fetch_records(uri, sorted(uuids))
                except DriverError as exc:
                    if exc.code is not ErrorCode.NO_SUPPORT:
                        raise
                    await self.resync(uri)
                    continue
                row = self.connections.get(uri)
                if row is not None:
                    self.domains.apply(uri, records, removed=gone)
                    self.pending.on_records(uri, records, gone)
                    self.history.collect(self.domains.get, uri)
                    total = self.domains.total(uri)
                    if row.domains != total:  # a domain defined or undefined: the status bar says so now
                        self.connections.update(uri, domains=total)
        finally:
            self._refreshing.discard(uri)

    def _on_events(self, uri: str, events: list[DomainEvent]) -> None:
        jobs = []
        dirty: set[str] = set()
        for event in events:
            if event.type == EventType.JOB and event.job is not None:
                jobs.append(event.job)
            elif event.type == EventType.DISCONNECTED:
                self.connections.update(uri, state=ConnState.DISCONNECTED, message=event.message)
                self.messages.add("error", N_("Lost the connection to {uri}", uri=uri),
                                  event.message or N_("the host went away."),
                                  N_("Reconnect from Connection ▸ Connect when it is back."))
            if event.type == EventType.AGENT and event.domain_uuid:
                self.agentChanged.emit(uri, event.domain_uuid)
            if event.domain_uuid and event.type != EventType.JOB:
                dirty.add(event.domain_uuid)
                self.pending.on_event((uri, event.domain_uuid), event.type, event.detail)
        if jobs:
            self.jobs.update(uri, jobs)
        if dirty:
            self.mark_dirty(uri, dirty)

    # -- actions -----------------------------------------------------------------
    def run(self, request: DomainRequest, keys: list[Key]) -> list[asyncio.Task[Any] | None]:
        """Run ``request`` on every domain in ``keys`` (bulk), each call on its own."""
        return [self.spawn(self._run_one(request, key), N_("{verb} {name}", verb=request.verb,
                                                           name=self.domains.name_of(key)))
                for key in keys]

    async def _run_one(self, request: DomainRequest, key: Key) -> int | None:
        uri, uuid = key
        name = self.domains.name_of(key)
        verb = request.verb
        action = ACTION_OF.get(type(request))
        # a shutdown or reboot: done once the guest did it, not when asked
        asked = action if action is not None and action in FALLBACK else None
        if asked is not None:
            self.pending.begin(key, asked, name)
        self.domains.set_busy(key, verb.lower())
        try:
            result = await self.bridge.run_action(uri, uuid, request, N_("{verb} {name}", verb=verb, name=name))
        except BaseException:
            if asked is not None:
                self.pending.cancel(key)
            raise
        finally:
            self.domains.set_busy(key, "")
            if self.connections.get(uri) is not None:
                self.mark_dirty(uri, {uuid})
        if asked is not None:
            if key in self.pending:
                self.status.emit(N_("Asked {name} to {what}; waiting for its guest", name=name, what=_ASKED[asked]))
        elif result is not None:
            self.status.emit(N_("{verb} {name}: started as job {job}", verb=verb, name=name, job=result))
        else:
            self.status.emit(N_("{verb} {name}: done", verb=verb, name=name))
        return result  # the job id of an ASYNC job

    def _request_done(self, key: Key, sentence: Text) -> None:
        """A shutdown or reboot happened: say so, and drop the offer of the hard way."""
        self.status.emit(sentence)
        msg_id = self._overdue_messages.pop(key, None)
        if msg_id is not None:
            self.messages.dismiss(msg_id)

    def _request_overdue(self, key: Key, fallback: str, sentence: Text) -> None:
        name = self.domains.name_of(key)
        if fallback == ActionId.FORCE_OFF:
            title = N_("{name} did not shut down", name=name)
            hint = N_("Force Off powers it off at once (unsaved data in the guest is lost).")
        else:
            title = N_("{name} did not reboot", name=name)
            hint = N_("Reset restarts it at once, without shutting down (unsaved data in the guest is lost).")
        msg = self.messages.add("warning", title, N_("{sentence}.", sentence=sentence), hint,
                                actions=(fallback,), target=key)
        self._overdue_messages[key] = msg.id
        self.status.emit(sentence)

    def cancel_job(self, uri: str, job_id: int) -> None:
        pos = self.jobs.find((uri, job_id))
        if pos is None:
            return
        info = self.jobs.row_at(pos).info
        self.spawn(self.bridge.abort_job(uri, info), N_("Cancelling the {domain} job", domain=info.domain))

    async def domain_xml(self, key: Key) -> str:
        return await self.bridge.xml_desc(*key)

    async def screenshot(self, key: Key) -> Screenshot:
        return await self.bridge.screenshot(*key)

    async def guest_report(self, key: Key) -> GuestReport:
        """What the domain's guest agent reports, asked in a worker (an agent that does not answer
        costs that worker its deadline of a few seconds, never the UI)."""
        return await self.bridge.call_domain(*key, read_guest, N_("asking the guest agent"))

    def supports(self, uri: str, feature: Feature) -> bool:
        """From the features cached at connect time: no driver call."""
        return feature in self.connections.features().get(uri, frozenset())

    # -- hosts, new domains and files ------------------------------------------------
    async def host_facts(self, uri: str, timeout: float | None = None) -> HostFacts | None:
        """What ``uri``'s host offers a new domain (``Connection.host_facts``); None when it cannot tell
        within ``timeout`` (a driver without host facts, a busy or hung host, a call given up on)."""
        try:
            return await self.bridge.call(uri, lambda c: c.host_facts(),
                                          N_("reading what {uri} offers a new domain", uri=uri),
                                          timeout=timeout)
        except (DriverError, CallAbandoned) as exc:
            log.info("no host facts from %s: %s", uri, exc)
            return None

    async def create_disk(self, uri: str, plan: NewVMPlan) -> int:
        """Start creating ``plan``'s new disk as a DISK_CREATE job; its id (the job panel shows it by events,
        under the name of the domain the disk is for)."""
        job_id = await self.bridge.call(uri, lambda c: create_disk(c, plan), N_("creating the disk {path}",
                                                                                 path=plan.disk_target()))
        self.jobs.set_owner(uri, job_id, plan.name)
        return job_id

    async def remove_new_disk(self, uri: str, path: str) -> None:
        """Delete the disk made for a definition that failed (a refusal keeps it and is only logged)."""
        await self.bridge.call(uri, lambda c: remove_new_disk(c, path), N_("removing the new disk {path}", path=path))

    async def define(self, uri: str, xml: str, name: str) -> Key:
        """Define ``xml`` (a persistent domain named ``name``) and show its row at once; its key."""
        uuid = await self.bridge.call(uri, lambda c: c.define_xml(xml).uuid,
                                      N_("defining {name} on {uri}", name=name, uri=uri))
        records, _gone = await self.bridge.fetch_records(uri, [uuid])
        self.domains.apply(uri, records)
        return uri, uuid

    # -- backup catalog (drivers.backupcatalog): the files are read and copied in the pool ---------------
    async def list_backups(self, uri: str, folders: list[str], uuid: str | None) -> list[Backup]:
        """The restorable backups in ``folders`` (of domain ``uuid``, or of any domain when None)."""
        return await self.bridge.call(uri, lambda _c: backupcatalog.find(folders, uuid),
                                      N_("reading the backups in {folders}", folders=", ".join(folders)))

    async def restore_problems(self, uri: str, backups: list[Backup]) -> dict[str, str]:
        """Why each backup that cannot be restored cannot (an incremental whose parent is gone), by folder."""
        def ask(_c: object) -> dict[str, str]:
            return {b.folder: why for b in backups if (why := backupcatalog.restore_problem(b))}
        return await self.bridge.call(uri, ask, N_("checking the backups' chains"))

    async def checkpoint_names(self, key: Key) -> set[str]:
        """The names of a domain's checkpoints (an incremental backup starts from one)."""
        return await self.bridge.call_domain(*key, lambda d: {c.name for c in d.list_all_checkpoints()},
                                             N_("listing the checkpoints of {name}", name=self.domains.name_of(key)))

    async def verify_backup(self, uri: str, folder: str) -> int:
        """Start verifying the backup in ``folder`` as a job; its id."""
        return int(await self.bridge.call(uri, lambda c: c.backup_verify(folder, int(JobFlags.ASYNC)) or 0,
                                          N_("verifying the backup in {folder}", folder=folder)))

    async def restore_backup(self, uri: str, folder: str, name: str) -> int:
        """Start restoring the backup in ``folder`` as the new VM ``name`` (images in the host's image folder)."""
        return int(await self.bridge.call(
            uri, lambda c: c.backup_restore(folder, name, None, int(JobFlags.ASYNC)) or 0,
            N_("restoring the backup in {folder} as {name}", folder=folder, name=name)))

    async def restore_backup_onto(self, uri: str, folder: str, domain: str) -> int:
        """Start restoring the backup in ``folder`` onto the disks of the shut-off ``domain``; the job id."""
        return int(await self.bridge.call(
            uri, lambda c: c.backup_restore_onto(folder, domain, int(JobFlags.ASYNC)) or 0,
            N_("restoring the backup in {folder} onto {domain}", folder=folder, domain=domain)))

    async def prune_backups(self, uri: str, folders: list[str]) -> int:
        """Start removing the backups in ``folders`` as a job (each merged into the incrementals that stay)."""
        return int(await self.bridge.call(uri, lambda c: c.backup_prune(folders, int(JobFlags.ASYNC)) or 0,
                                          N_("removing the backups in {folders}", folders=", ".join(folders))))

    async def refresh_job(self, uri: str, job_id: int) -> None:
        """Re-read job ``job_id`` from the driver into the job model (for connections without JOB events)."""
        self.jobs.update(uri, [j for j in await self.bridge.list_jobs(uri) if j.id == job_id])

    def job_info(self, uri: str, job_id: int) -> JobInfo | None:
        """The job model's latest figures of job ``job_id`` (no driver call)."""
        pos = self.jobs.find((uri, job_id))
        return None if pos is None else self.jobs.row_at(pos).info

    async def local_facts(self, paths: list[str]) -> Facts:
        """Facts about local ``paths``, each looked at in a worker with a timeout (a hung mount answers late)."""
        return await look_up(self.bridge.local_files, paths)

    async def index_osinfo(self) -> int:
        """Index osinfo-db in a worker now (the wizard's first ISO is then named at once); its media count."""
        db = self.osinfo
        return await self.bridge.local_files(lambda: len(db.media()), N_("indexing osinfo-db"), OSINFO_TIMEOUT_S)

    async def identify_medium(self, medium: IsoInfo) -> OsProfile | None:
        """The system osinfo-db names for an installer image (None: unknown, or no osinfo-db), in a worker."""
        db = self.osinfo
        return await self.bridge.local_files(lambda: db.identify(medium),
                                             N_("looking up {label} in osinfo-db", label=repr(medium.volume_id)),
                                             OSINFO_TIMEOUT_S)

    async def make_backup_folder(self, path: str) -> None:
        """Create the folder of one backup on this machine (0700: the images hold the guest's data),
        in a worker; OSError when it cannot be made (it exists, no permission)."""
        await self.bridge.local_files(functools.partial(os.mkdir, path, 0o700), N_("creating {path}", path=path),
                                      FOLDER_TIMEOUT_S)

    async def remove_empty_folder(self, path: str) -> None:
        """Remove a backup's folder that a failed or cancelled job left empty (a full one stays)."""
        try:
            await self.bridge.local_files(functools.partial(os.rmdir, path), N_("removing {path}", path=path),
                                          FOLDER_TIMEOUT_S)
        except OSError as exc:
            log.info("left %s: %s", path, exc)

    async def file_sizes(self, uri: str, paths: list[str]) -> dict[str, int | None]:
        """Sizes of files on this machine (None when missing), read in a worker."""
        return await self.bridge.file_sizes(uri, paths)

    async def disk_users(self, uri: str) -> dict[str, list[str]]:
        """Disk path -> names of the domains of ``uri`` that use it."""
        return await self.bridge.disk_users(uri)

    async def delete_refusals(self, key: Key, paths: list[str]) -> dict[str, DriverError]:
        """Why the driver would refuse to delete each of ``paths`` with domain ``key`` (absent: it would not)."""
        return await self.bridge.check_delete_disks(key[0], key[1], paths)

    # -- details: sampling and editing ----------------------------------------------
    def sample(self, key: Key) -> None:
        """Re-read one domain now (the details pane's graphs), unless its connection is busy or not ready."""
        row = self.connections.get(key[0])
        if row is not None and row.ready and self.bridge.pending(key[0]) == 0 and not self._stopped:
            self.mark_dirty(key[0], {key[1]})

    async def inactive_xml(self, key: Key) -> str:
        """The definition the next start uses (the live one of a transient domain)."""
        return await self.bridge.call_domain(*key, _inactive_xml, N_("reading the definition to edit"))

    async def edit_source(self, key: Key) -> tuple[str, bool, frozenset[str]]:
        """The definition the next start uses, the autostart flag, and the other domains' names.

        The names come from the table (no listing of a big host); a name taken since is
        still refused by the driver's rename.
        """
        def read(dom: Domain) -> tuple[str, str, bool]:
            return dom.name, _inactive_xml(dom), bool(dom.autostart)
        name, text, autostart = await self.bridge.call_domain(*key, read, N_("reading the definition to edit"))
        return text, autostart, frozenset(self.domains.names(key[0]) - {name})

    async def apply_edit(self, key: Key, plan: EditPlan) -> None:
        """Define the new XML (same uuid), then rename, then set autostart: in that order, in one worker call."""
        name = self.domains.name_of(key)

        def apply(dom: Domain) -> None:
            if plan.xml is not None:
                dom.connection.define_xml(plan.xml)
            if plan.rename_to is not None:
                dom.rename(plan.rename_to)
            if plan.autostart is not None:
                dom.set_autostart(plan.autostart)
        self.domains.set_busy(key, "applying changes")
        try:
            await self.bridge.call_domain(key[0], key[1], apply, N_("applying changes to {name}", name=name))
        finally:
            self.domains.set_busy(key, "")
            if self.connections.get(key[0]) is not None:
                self.mark_dirty(key[0], {key[1]})
        self.status.emit(N_("Applied the changes to {name}", name=plan.rename_to or name))

    async def change_media(self, key: Key, drive: CDDrive, source: str | None) -> None:
        """Put ``source`` into ``drive`` (None: eject); a running persistent domain keeps it at its next start too."""
        row = self.domains.get(key)
        flags = change_flags(row is not None and row.rec.active, row is not None and row.rec.persistent)
        xml, name = request_xml(drive.target, source), self.domains.name_of(key)
        await self.bridge.call_domain(key[0], key[1], lambda dom: dom.update_device_flags(xml, flags),
                                      N_("changing the CD of {name}", name=name))
        if self.connections.get(key[0]) is not None:
            self.mark_dirty(key[0], {key[1]})
        self.status.emit(done_text(name, drive, source))


_ASKED = {ActionId.SHUTDOWN: N_("shut down"), ActionId.REBOOT: N_("reboot")}


def _inactive_xml(dom: Domain) -> str:
    return dom.xml_desc(XML_TO_EDIT if dom.is_persistent() else XML_SECURE)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
