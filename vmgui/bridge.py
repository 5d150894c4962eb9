"""The only door from Qt to the drivers.

Driver calls are synchronous and may hang (an unreachable host, a stuck QMP
socket), so every call runs on a bounded pool of *daemon* threads and is
awaited from the UI as an asyncio future on the qasync loop. A hung call only
holds its own thread: the window keeps painting, the connection shows as busy
(``busyChanged``), the user can give up on it (:meth:`Bridge.give_up`), and a
hung thread never blocks interpreter exit. Each connection may use at most
:data:`PER_CONNECTION` threads, so one dead host cannot starve the others.

Driver events arrive on driver threads; they are queued here and re-posted to
the UI thread in batches (at most one batch per :data:`EVENT_BATCH_S`), so a
storm of job-progress events costs one slot call, not thousands.
"""
from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal, Slot

import drivers
from drivers import DomainEvent, DriverError, ErrorCode, Feature
from drivers.base import Console, Screenshot
from drivers.discovery import Candidate, discover_local
from drivers.domxml import DomainXML
from drivers.registry import driver_for, driver_problem

from .actions.requests import DomainRequest
from .calls import CallAbandoned, CallQueue
from .snapshots import SnapshotInfo, read_snapshots
from .streams import ConsoleStream
from .textmark import N_, NP_, Text
from .workers import MAX_WORKERS, WorkerPool

#: jobs cancelled through the connection: they may belong to no domain
HOST_JOBS = frozenset({drivers.JobOperation.DISK_CREATE, drivers.JobOperation.BACKUP_VERIFY,
                       drivers.JobOperation.BACKUP_RESTORE, drivers.JobOperation.BACKUP_PRUNE})

__all__ = ["Bridge", "CallAbandoned", "default_uri"]

log = logging.getLogger(__name__)
T = TypeVar("T")

PER_CONNECTION = 4
#: seconds the whole look for this machine's libvirt daemons may take (each probe has a shorter timeout)
DISCOVERY_DEADLINE_S = 60.0
BUSY_AFTER_S = 1.0
EVENT_BATCH_S = 0.05
EMBEDDED_URI = "qemu:///embed"
FALLBACK_URI = "test:///default"


def default_uri() -> tuple[str, Text]:
    """The embedded default connection and a sentence saying why it was chosen (marked for translation)."""
    if shutil.which("qemu-system-x86_64") is None:
        return FALLBACK_URI, N_("qemu-system-x86_64 is not installed: showing the demo host {uri}", uri=FALLBACK_URI)
    problem = driver_problem("qemu")
    if problem is not None:
        return FALLBACK_URI, N_("the QEMU driver is not available ({problem}): showing the demo host {uri}",
                                problem=problem, uri=FALLBACK_URI)
    return EMBEDDED_URI, N_("embedded QEMU ({uri})", uri=EMBEDDED_URI)


def load_drivers(uris: Iterable[str]) -> None:
    """Import the drivers that open ``uris`` on this (the UI) thread, before the event loop runs.

    Imported by the first worker to open one instead, a driver's tens of milliseconds of Python
    would hold the GIL against the window's first paint. A driver that cannot be imported is
    left for opening its URI to report.
    """
    for name in sorted({n for n in map(driver_for, uris) if n is not None}):
        driver_problem(name)


#: What the Display tab says of a domain whose only display speaks SPICE (vmgui draws VNC only).
SPICE_ONLY = N_("This VM's display is SPICE: open it in an external viewer")


def open_vnc(dom: drivers.Domain) -> socket.socket:
    """The stream of ``dom``'s first VNC display (worker thread); a SPICE-only domain is refused, typed."""
    kinds = [g.type for g in DomainXML.read(dom.xml_desc()).graphics()]
    if "vnc" not in kinds and "spice" in kinds:
        raise DriverError(ErrorCode.NO_SUPPORT, SPICE_ONLY)
    return dom.open_graphics(kinds.index("vnc") if "vnc" in kinds else 0)


class Bridge(QObject):
    """Runs driver calls off the UI thread and turns driver events into Qt signals."""

    #: uri, list[DomainEvent] in arrival order (already on the UI thread)
    eventsArrived = Signal(str, list)
    #: uri, "" when idle or a description of the call that is taking long
    busyChanged = Signal(str, object)  # the text is marked for translation: a str signal would drop that
    _post = Signal(object)

    def __init__(self, parent: QObject | None = None, max_workers: int = MAX_WORKERS,
                 per_connection: int = PER_CONNECTION) -> None:
        super().__init__(parent)
        self._pool = WorkerPool(max_workers)
        self._calls = CallQueue(self._pool, per_connection, self._post_from_thread, self._check_busy)
        self._conns: dict[str, drivers.Connection] = {}
        self._handles: dict[str, int] = {}
        self._streams: set[ConsoleStream] = set()
        self._events_lock = threading.Lock()
        self._events: list[tuple[str, DomainEvent]] = []
        self._flush_pending = False
        self._last_flush = 0.0
        self._closed = False
        self._post.connect(self._run_posted)
        self._busy_timer = QTimer(self)
        self._busy_timer.setInterval(250)
        self._busy_timer.timeout.connect(self._check_busy)
        self._busy_timer.start()

    # -- calls ---------------------------------------------------------------
    def connection(self, uri: str) -> drivers.Connection | None:
        return self._conns.get(uri)

    async def open(self, uri: str, timeout: float | None = None) -> drivers.Connection:
        """Open ``uri`` in the pool; the connection is then addressed by its URI."""
        conn = await self._submit(uri, N_("connecting to {uri}", uri=uri), lambda: drivers.open(uri), timeout,
                                  orphan=self._close_late)
        self._conns[uri] = conn
        return conn

    def _close_late(self, late: drivers.Connection) -> None:
        """Close a connection that opened after nobody wanted it any more: in a worker, or, once the pool
        has shut down (the window closed meanwhile), in a thread of its own; never on the UI thread."""
        try:
            self._pool.submit(lambda: _quiet_close(late))
        except RuntimeError:  # the pool is shut down
            threading.Thread(target=_quiet_close, args=(late,), name="vmgui-late-close", daemon=True).start()

    async def call(self, uri: str, fn: Callable[[drivers.Connection], T], what: str,
                   timeout: float | None = None) -> T:
        """Run ``fn(connection)`` in the pool and return its result."""
        conn = self._conns.get(uri)
        if conn is None:
            raise DriverError(ErrorCode.OPERATION_INVALID, f"connection {uri} is not open")
        return await self._submit(uri, what, lambda: fn(conn), timeout)

    async def call_domain(self, uri: str, uuid: str, fn: Callable[[drivers.Domain], T], what: str,
                          timeout: float | None = None) -> T:
        """Run ``fn(domain)`` with the domain looked up by uuid inside the worker."""
        return await self.call(uri, lambda conn: fn(conn.lookup_by_uuid(uuid)), what, timeout)

    async def features(self, uri: str) -> frozenset[Feature]:
        """Every Feature the connection supports, asked once so the UI never has to."""
        def ask(conn: drivers.Connection) -> frozenset[Feature]:
            return frozenset(f for f in Feature if conn.supports_feature(f))
        return await self.call(uri, ask, N_("asking {uri} what it supports", uri=uri))

    def _submit(self, key: str, what: str, work: Callable[[], T], timeout: float | None,
                orphan: Callable[[T], None] | None = None) -> asyncio.Future[T]:
        return self._calls.submit(key, what, work, timeout, orphan)

    def give_up(self, uri: str) -> int:
        """Fail every pending call of ``uri`` with :class:`CallAbandoned`; returns how many."""
        count = self._calls.give_up(uri)
        self._check_busy()
        return count

    def pending(self, uri: str) -> int:
        return self._calls.pending(uri)

    # -- the driver API the models use -------------------------------------------
    async def list_records(self, uri: str) -> list[drivers.DomainRecord]:
        """One bulk snapshot of every domain of ``uri``."""
        return await self.call(uri, lambda c: c.get_all_domain_stats(), N_("listing domains of {uri}", uri=uri))

    async def fetch_records(self, uri: str, uuids: list[str]) -> tuple[list[drivers.DomainRecord], list[str]]:
        """Fresh records of a few domains, and the uuids that no longer exist."""
        def fetch(conn: drivers.Connection) -> tuple[list[drivers.DomainRecord], list[str]]:
            records, gone = [], []
            for uuid in uuids:
                try:
                    records.append(conn.lookup_by_uuid(uuid).record())
                except DriverError as exc:
                    if exc.code is not ErrorCode.NO_DOMAIN:
                        raise
                    gone.append(uuid)
            return records, gone
        return await self.call(uri, fetch, NP_("refreshing %n domain of {uri}", "refreshing %n domains of {uri}",
                                               len(uuids), uri=uri))

    async def list_jobs(self, uri: str) -> list[drivers.JobInfo]:
        return await self.call(uri, lambda c: c.list_all_jobs(), N_("listing jobs of {uri}", uri=uri))

    async def abort_job(self, uri: str, info: drivers.JobInfo) -> None:
        def abort(conn: drivers.Connection) -> None:
            if info.operation in HOST_JOBS:
                conn.abort_job(info.id)  # a disk creation or backup verify belongs to no domain
                return
            dom = conn.lookup_by_uuid(info.domain_uuid) if info.domain_uuid else conn.lookup_by_name(info.domain)
            dom.abort_job(info.id)
        await self.call(uri, abort, N_("cancelling job {id} of {domain}", id=info.id, domain=info.domain))

    async def xml_desc(self, uri: str, uuid: str) -> str:
        return await self.call_domain(uri, uuid, lambda d: d.xml_desc(), N_("reading the domain XML"))

    async def run_action(self, uri: str, uuid: str, request: DomainRequest, what: str) -> int | None:
        """Run ``request`` on domain ``uuid`` in the pool; the job id of an ASYNC job, else None."""
        peers = dict(self._conns)  # read here, on the UI thread: a migration's destination
        return await self.call_domain(uri, uuid, lambda d: request.run(d, peers), what)

    async def file_sizes(self, uri: str, paths: list[str]) -> dict[str, int | None]:
        """Sizes of local files (None when missing), read in the worker pool."""
        def sizes() -> dict[str, int | None]:
            import os
            return {p: (os.path.getsize(p) if os.path.isfile(p) else None) for p in paths}
        return await self._submit(uri, N_("reading backup file sizes"), sizes, None)

    async def local_files(self, work: Callable[[], T], what: str, timeout: float) -> T:
        """Run a blocking look at this machine's files (stat, a few bytes) in the pool, under a key of its
        own ("local files"): a hung network mount then holds only that key's slots, never a connection's,
        and the caller gets the result or an OPERATION_TIMEOUT DriverError after ``timeout`` s."""
        return await self._submit("local files", what, work, timeout)

    async def disk_users(self, uri: str) -> dict[str, list[str]]:
        """Disk source path -> names of the domains of ``uri`` that use it."""
        def users(conn: drivers.Connection) -> dict[str, list[str]]:
            result: dict[str, list[str]] = {}
            for dom in conn.list_all_domains():
                try:
                    disks = DomainXML.parse(dom.xml_desc()).disks()
                except DriverError:
                    continue  # it went away meanwhile
                for disk in disks:
                    if disk.source:
                        result.setdefault(disk.source, []).append(dom.name)
            return result
        return await self.call(uri, users, N_("reading the disks of every domain of {uri}", uri=uri))

    async def check_delete_disks(self, uri: str, uuid: str, paths: list[str]) -> dict[str, DriverError]:
        """Why the driver would refuse to delete each of ``paths`` of domain ``uuid`` (absent: it would not)."""
        return await self.call(uri, lambda c: c.check_delete_disks(paths, c.lookup_by_uuid(uuid)),
                               N_("asking {uri} whether the disk files may be deleted", uri=uri))

    async def list_snapshots(self, uri: str, uuid: str) -> list[SnapshotInfo]:
        return await self.call_domain(uri, uuid, read_snapshots, N_("listing snapshots"))

    async def discover_libvirt(self) -> list[Candidate]:
        """This machine's libvirt daemons, probed in the pool (:func:`drivers.discovery.discover_local`).

        The driver's code is imported there too: the window never waits for it.
        """
        return await self._submit("libvirt discovery", N_("looking for libvirt daemons"), discover_local,
                                  DISCOVERY_DEADLINE_S)

    # -- console and screen ------------------------------------------------------
    async def open_console(self, uri: str, uuid: str, name: str) -> ConsoleStream:
        """Open ``uuid``'s serial console; its output then streams from a daemon reader thread.

        Set the stream's ``on_data``/``on_end``, then call its ``start``.
        """
        def open_it(dom: drivers.Domain) -> tuple[Console, bytes]:
            console = dom.open_console()
            return console, console.history()
        console, history = await self.call_domain(uri, uuid, open_it, N_("opening the console of {name}", name=name))
        stream = ConsoleStream(uri, console, self._post_from_thread, f"console-{name}", history)
        self._streams.add(stream)
        return stream

    def close_console(self, stream: ConsoleStream) -> None:
        self._streams.discard(stream)
        stream.close()

    async def console_write(self, stream: ConsoleStream, data: bytes) -> None:
        await self._submit(stream.uri, N_("typing into a console"), lambda: stream.console.write(data), None)

    async def screenshot(self, uri: str, uuid: str) -> Screenshot:
        return await self.call_domain(uri, uuid, lambda d: d.screenshot(), N_("taking a screenshot"))

    async def open_graphics(self, uri: str, uuid: str, name: str) -> socket.socket:
        """A connected stream to ``uuid``'s display; the caller owns it (and reads it on a thread of its own)."""
        return await self.call_domain(uri, uuid, open_vnc, N_("opening the display of {name}", name=name))

    # -- busy ------------------------------------------------------------------
    @Slot()
    def _check_busy(self) -> None:
        for key, text in self._calls.busy_changes(BUSY_AFTER_S):
            self.busyChanged.emit(key, text)

    # -- events ----------------------------------------------------------------
    async def watch(self, uri: str) -> None:
        """Subscribe to ``uri``'s events; they arrive as ``eventsArrived`` batches."""
        def callback(_conn: Any, _dom: Any, event: DomainEvent) -> None:
            self._queue_event(uri, event)
        self._handles[uri] = await self.call(uri, lambda c: c.register_event_callback(callback),
                                             N_("subscribing to events of {uri}", uri=uri))

    def _queue_event(self, uri: str, event: DomainEvent) -> None:
        """Driver thread: queue and post at most one flush."""
        with self._events_lock:
            self._events.append((uri, event))
            if self._flush_pending or self._closed:
                return
            self._flush_pending = True
        _emit_safely(self._post, self._flush_events)

    def _flush_events(self) -> None:
        wait = EVENT_BATCH_S - (time.monotonic() - self._last_flush)
        if wait > 0:
            QTimer.singleShot(int(wait * 1000) + 1, self._flush_events)
            return
        with self._events_lock:
            batch, self._events = self._events, []
            self._flush_pending = False
        self._last_flush = time.monotonic()
        grouped: dict[str, list[DomainEvent]] = {}
        for uri, event in batch:
            grouped.setdefault(uri, []).append(event)
        for uri, events in grouped.items():
            if uri in self._conns:
                self.eventsArrived.emit(uri, events)

    @Slot(object)
    def _run_posted(self, fn: Callable[[], None]) -> None:
        fn()

    def _post_from_thread(self, fn: Callable[[], None]) -> None:
        """Any thread: run ``fn`` on the UI thread (dropped once shut down)."""
        if not self._closed:
            _emit_safely(self._post, fn)

    # -- teardown --------------------------------------------------------------
    def forget(self, uri: str) -> drivers.Connection | None:
        """Stop tracking ``uri``; close it in the background (a hung close never blocks)."""
        self.give_up(uri)
        self._calls.forget(uri)
        self._handles.pop(uri, None)
        for stream in [s for s in self._streams if s.uri == uri]:
            self.close_console(stream)
        conn = self._conns.pop(uri, None)
        if conn is not None:
            self._pool.submit(lambda: _quiet_close(conn))
        return conn

    def shutdown(self) -> None:
        """Abandon everything and stop the pool without waiting on hung calls."""
        for uri in list(self._conns):
            self.forget(uri)
        for stream in list(self._streams):
            self.close_console(stream)
        self._calls.close()
        self._closed = True
        self._busy_timer.stop()
        self._pool.shutdown()


def _quiet_close(conn: drivers.Connection) -> None:
    try:
        conn.close()
    except Exception:
        log.warning("closing %s failed", conn.uri, exc_info=True)


def _emit_safely(signal: Any, fn: Callable[[], None]) -> None:
    """Post to the UI thread; after the window is gone there is nobody to tell."""
    try:
        signal.emit(fn)
    except RuntimeError:  # the Bridge's C++ object was deleted during shutdown
        pass
