"""The simulated hypervisor's state: domains, ids, events and jobs under one lock.

Every mutation happens under :attr:`TestHost.lock` and ends with
:meth:`SimDomain.touch`, which refreshes the cached filter bits; listing then
walks one consistent snapshot (no domain skipped or listed twice) in time
proportional to the number of domains and nothing else.
"""
from __future__ import annotations

import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from math import sin as _sin

from ..checkpointxml import CheckpointDef
from ..diskdelete import DomainUse
from ..diskimage import guest_file_paths
from ..domxml import DomainXML
from ..flags import DomainState, EventType
from ..guestclock import GuestClock
from ..records import DomainRecord, filter_bits
from ..snapxml import SnapshotDef
from ..stateful import StatefulHost
from .console import SerialPort

ACTIVE_STATES = frozenset({DomainState.RUNNING, DomainState.PAUSED, DomainState.BLOCKED,
                           DomainState.SHUTDOWN, DomainState.CRASHED, DomainState.PMSUSPENDED})


class SimDomain:
    """One simulated domain. Mutate only under the host lock, then ``touch()``."""

    __slots__ = ("config", "live", "name", "uuid", "id", "state", "reason", "persistent",
                 "autostart", "managed_save", "managed_save_paused", "snapshots", "current_snapshot",
                 "cpu_ns", "run_since", "clock", "load", "rss_shape", "bits", "title", "incoming", "sizes",
                 "sizes_of", "serial", "serial_boot", "checkpoints", "checkpoints_broken")

    def __init__(self, definition: DomainXML, persistent: bool = True) -> None:
        self.config = definition
        self.live: DomainXML | None = None
        self.name = definition.name
        self.uuid = definition.ensure_uuid()
        self.title = definition.title
        self.id: int | None = None
        self.state = DomainState.SHUTOFF
        self.reason = 0
        self.persistent = persistent
        self.autostart = False
        self.managed_save = False
        self.managed_save_paused = False
        self.snapshots: OrderedDict[str, SnapshotDef] = OrderedDict()
        self.current_snapshot: str | None = None
        self.checkpoints: OrderedDict[str, CheckpointDef] = OrderedDict()
        #: why the checkpoints no longer tell what changed (a revert): the next backup is full
        self.checkpoints_broken: str | None = None
        self.cpu_ns = 0
        self.run_since: float | None = None
        self.clock: GuestClock | None = None  # the guest's uptime while it is active
        # a stable per-domain CPU load between 5 % and 65 % makes the demo look alive
        self.load = 0.05 + (zlib.crc32(self.uuid.encode()) % 60) / 100
        # simulated resident memory: a busier guest touches more of its RAM (see record())
        self.rss_shape = (0.55 + 0.25 * self.load, self.load * 40)
        self.incoming = False  # a half-built guest of an incoming migration
        self.serial: SerialPort | None = None
        #: while active: the name it booted with and when (monotonic), for its serial port made on first use
        self.serial_boot: tuple[str, float] | None = None
        self.sizes_of: DomainXML | None = None
        self.bits = 0
        self.touch()

    @property
    def active(self) -> bool:
        return self.id is not None

    def serial_port(self) -> SerialPort | None:
        """The running guest's serial port (None while shut off), made when first asked for: a host
        opens with hundreds of running domains whose consoles nobody may ever read."""
        if self.serial is None and self.serial_boot is not None:
            self.serial = SerialPort(*self.serial_boot)
        return self.serial

    @property
    def definition(self) -> DomainXML:
        """What the guest runs with now (live) or will boot with (config)."""
        return self.live if self.live is not None else self.config

    def touch(self) -> None:
        """Refresh what listing reads, so listing never parses XML."""
        d = self.definition
        if d is not self.sizes_of:  # sizes change only with the definition
            self.sizes = (d.current_memory_kib, d.memory_kib, d.vcpus)
            self.sizes_of = d
        self.bits = filter_bits(self.id is not None, self.persistent, self.state, self.managed_save,
                                self.autostart, bool(self.snapshots))

    def set_state(self, state: DomainState, reason: int) -> None:
        now = time.monotonic()
        if self.run_since is not None:
            self.cpu_ns += int((now - self.run_since) * 1e9 * self.load * self.sizes[2])
            self.run_since = None
        if state == DomainState.RUNNING:
            self.run_since = now
        if self.clock is not None:
            if state == DomainState.PAUSED:
                self.clock.pause()
            else:
                self.clock.resume()
        self.state = state
        self.reason = int(reason)

    def cpu_time_ns(self, now: float) -> int:
        if self.run_since is None:
            return self.cpu_ns
        return self.cpu_ns + int((now - self.run_since) * 1e9 * self.load * self.sizes[2])

    def record(self, now: float | None = None) -> DomainRecord:
        """The domain's row; an active one "uses" 55-80 % of its memory, drifting slowly with time.

        Inlined arithmetic, no helper calls: this runs 10,000 times per listing.
        """
        now = time.monotonic() if now is None else now
        memory, max_memory, vcpus = self.sizes
        clock = self.clock
        if self.id is None:
            used = None
        else:
            base, phase = self.rss_shape
            used = int(memory * (base + 0.08 * _sin(now / 7.0 + phase)))
        return DomainRecord(self.name, self.uuid, self.id, self.state, self.reason, self.persistent,
                            self.autostart, self.managed_save, len(self.snapshots),
                            memory, max_memory, vcpus, self.cpu_time_ns(now), self.title,
                            None if clock is None else clock.booted_at, used, "",
                            0.0 if clock is None else clock.paused_s, None if clock is None else clock.paused_since)


class TestHost(StatefulHost[SimDomain]):
    """One simulated hypervisor; ``test:///default`` has one per process."""

    __test__ = False  # not a pytest test class

    def __init__(self, label: str) -> None:
        super().__init__(f"test-events-{label}")
        self.label = label
        self._next_id = 1

    def disk_use(self, dom: SimDomain) -> DomainUse:
        files = guest_file_paths(dom.config)
        if dom.live is not None and dom.live is not dom.config:
            files |= guest_file_paths(dom.live)
        return DomainUse(dom.name, dom.uuid, dom.id is not None, None, files)

    def next_id(self) -> int:
        with self.lock:
            value = self._next_id
            self._next_id += 1
            return value

    # -- state changes -----------------------------------------------------
    def start(self, dom: SimDomain, state: DomainState, reason: int,
              live: DomainXML | None = None) -> None:
        """Give ``dom`` a run id and a live definition (its config unless given).

        Definitions are never edited in place (a change is a new DomainXML), so the
        live definition can be the config object itself until one of them changes.
        """
        dom.id = self.next_id()
        dom.clock = GuestClock()
        dom.live = live if live is not None else dom.config
        dom.serial, dom.serial_boot = None, (dom.name, time.monotonic())
        dom.touch()
        dom.set_state(state, reason)
        dom.touch()

    def guest_rebooted(self, dom: SimDomain) -> None:
        """The simulated guest booted again, at once: its uptime restarts; REBOOT, as QEMU's RESET gives."""
        if dom.clock is not None:
            dom.clock.reboot()
        self.emit(dom, EventType.REBOOT)

    def stop(self, dom: SimDomain, reason: int) -> None:
        """Shut ``dom`` off; a transient domain disappears."""
        dom.id = None
        dom.clock = None
        dom.live = None
        if dom.serial is not None:
            dom.serial.hang_up()
        dom.serial, dom.serial_boot = None, None
        dom.incoming = False
        dom.set_state(DomainState.SHUTOFF, reason)
        dom.touch()
        if not dom.persistent:
            self.remove(dom)


_default_lock = threading.Lock()
_default_host: TestHost | None = None


def default_host(loader: Callable[[TestHost], None]) -> TestHost:
    """The process-wide ``test:///default`` state, built on first use."""
    global _default_host
    with _default_lock:
        if _default_host is None:
            host = TestHost("default")
            loader(host)
            _default_host = host
        return _default_host
