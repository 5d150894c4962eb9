"""What the driver knows about a domain and its running QEMU process: plain declared state.

Every field is declared here, so the modules above read and change named,
typed state (under the host lock) instead of hanging attributes on objects
later. Nothing here starts processes, writes files or emits events.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from ..domxml import DomainXML
from ..errors import DriverError, ErrorCode
from ..flags import DomainState, NostateReason, ShutoffReason
from ..guestagent import AgentClient
from ..guestclock import GuestClock
from ..records import DomainRecord, filter_bits
from ..snapxml import SnapshotDef
from .cmdline import BlockNode
from .monitor import Monitor
from .serialhub import SerialHub

#: the state and reason a broken domain shows (DomainRecord.broken; the filters count it as OTHER)
BROKEN_STATE: tuple[DomainState, int] = (DomainState.NOSTATE, int(NostateReason.BROKEN))

_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass(eq=False)
class LiveVM:
    """A running QEMU process of a domain, seen through its supervisor and QMP."""

    id: int
    definition: DomainXML
    #: the lock supervisor that runs QEMU and holds the disk leases (drivers.locking's handle)
    sup: Any
    qmp_path: str
    disks: list[BlockNode]
    serial_log: str | None
    #: QEMU's socket for serial port 0, and our one connection to it while consoles are open
    console_socket: str | None = None
    hub: SerialHub | None = None
    mon: Monitor | None = None
    #: when the guest booted and how long it was paused since (the record's uptime figures)
    clock: GuestClock = field(default_factory=GuestClock)
    #: (shutoff reason, stopped detail) when we caused or expect the end
    ending: tuple[int, int] | None = None
    #: an incoming migration's QEMU that has not been handed the guest (and its leases) yet
    incoming: bool = False
    #: reason / event detail to use for the next pause or resume QEMU reports
    pause_hint: tuple[int, int] | None = None
    resume_hint: tuple[int, int] | None = None
    finished: bool = False
    last_reset: float = 0.0
    #: a graceful reboot was asked for: the guest's next shutdown is followed by a reset, not an exit
    reboot_pending: bool = False
    #: what a running job did to this VM that a later process must undo if we die
    #: (e.g. {"kind": "save", "was_running": True}); persisted in the state file
    job_note: dict[str, Any] = field(default_factory=dict)
    #: set on every QMP job or migration event: pollers sleep on it instead of spinning
    wakeup: threading.Event = field(default_factory=threading.Event)
    #: (QEMU version, accelerator) of this process, asked once over QMP (see migration.live_copy_problem)
    engine: tuple[tuple[int, int, int], str] | None = None
    #: an outgoing migration found the guest paused: a cancelled one leaves it paused
    migration_was_paused: bool = False
    #: the host end of the guest agent's channel (None: the domain has none), and whether the
    #: guest has the port open (QEMU's VSERPORT_CHANGE; query-chardev on re-attach)
    agent: AgentClient | None = None
    agent_connected: bool = False

    @property
    def pid(self) -> int | None:
        return getattr(self.sup, "vm_pid", None)

    def cpu_time_ns(self) -> int:
        pid = self.pid
        if not pid:
            return 0
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            ticks = int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            return 0
        return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")

    def rss_kib(self) -> int | None:
        """Resident memory of the QEMU process (VmRSS), from /proc/<pid>/statm: one short read, no parsing."""
        pid = self.pid
        if not pid:
            return None
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                resident = int(fh.read().split()[1])
        except (OSError, IndexError, ValueError):
            return None
        return resident * _PAGE_KIB

    def detach(self) -> None:
        """Drop our ties to the process: consoles hang up (after their buffered output), the guest
        agent's channel, QMP, supervisor."""
        if self.hub is not None:
            self.hub.hang_up()
        if self.agent is not None:
            self.agent.disconnect()
        if self.mon is not None:
            self.mon.close()
        try:
            self.sup.close()
        except Exception:  # noqa: BLE001
            pass

    def monitor(self) -> Monitor:
        """The QMP session; OPERATION_INVALID when there is none (re-attached without one)."""
        if self.mon is None:
            raise DriverError(ErrorCode.OPERATION_INVALID, f"no monitor for '{self.definition.name}'")
        return self.mon

    def execute(self, cmd: str, args: dict[str, Any] | None = None, timeout: float = 30.0) -> Any:
        return self.monitor().execute(cmd, args, timeout)


@dataclass(eq=False)
class QDom:
    """One domain of a root. Mutate under the host lock, then ``touch()``."""

    config: DomainXML | None
    persistent: bool
    name: str
    uuid: str
    #: what a transient domain that is being started (or restored, or migrated in) will run
    shadow: DomainXML | None = None
    title: str = ""
    autostart: bool = False
    managed_save: bool = False
    snapshots: OrderedDict[str, SnapshotDef] = field(default_factory=OrderedDict)
    current_snapshot: str | None = None
    live: LiveVM | None = None
    state: DomainState = DomainState.SHUTOFF
    reason: int = int(ShutoffReason.UNKNOWN)
    #: the synchronous state change under way without the host lock (start, ...), or None
    busy: str | None = None
    #: why domain.xml could not be read (cleared when a definition is written); see salvage
    config_problem: str = ""
    #: why the running VM's state file could not be read (cleared when its process ends)
    run_problem: str = ""
    #: what could be read of a broken domain.xml: xml_desc shows it, to be corrected and applied,
    #: and the deletion checks count the disks it names as this domain's
    salvaged: DomainXML | None = None
    bits: int = 0

    def __post_init__(self) -> None:
        if self.config is not None and not self.title:
            self.title = self.config.title
        self.touch()

    @property
    def id(self) -> int | None:
        return self.live.id if self.live is not None else None

    @property
    def active(self) -> bool:
        return self.live is not None

    @property
    def definition(self) -> DomainXML:
        if self.live is not None:
            return self.live.definition
        if self.config is not None:
            return self.config
        if self.shadow is not None:
            return self.shadow
        raise DriverError(ErrorCode.NO_DOMAIN, f"domain '{self.name}' has no definition any more")

    @property
    def problem(self) -> str:
        """What is wrong with this domain's files, for DomainRecord.problem ("" when nothing)."""
        return " ".join(p for p in (self.run_problem, self.config_problem) if p)

    @property
    def broken(self) -> bool:
        """Nothing to manage it by: its process runs without a readable state, or it has no definition."""
        return bool(self.run_problem) or (bool(self.config_problem) and self.live is None)

    def shown_state(self) -> tuple[DomainState, int]:
        """The state callers see: NOSTATE (BROKEN) while :attr:`broken`."""
        return BROKEN_STATE if self.broken else (self.state, self.reason)

    def touch(self) -> None:
        self.bits = filter_bits(self.live is not None, self.persistent, self.shown_state()[0], self.managed_save,
                                self.autostart, bool(self.snapshots))

    def record(self) -> DomainRecord:
        vm = self.live
        d = self.definition if vm is not None or self.config is not None or self.shadow is not None else None
        memory, max_memory, vcpus = (d.current_memory_kib, d.memory_kib, d.vcpus) if d is not None else (0, 0, 0)
        state, reason = self.shown_state()
        if vm is None:
            return DomainRecord(self.name, self.uuid, self.id, state, reason, self.persistent,
                                self.autostart, self.managed_save, len(self.snapshots), memory,
                                max_memory, vcpus, 0, self.title, None, None, self.problem)
        clock = vm.clock
        return DomainRecord(self.name, self.uuid, self.id, state, reason, self.persistent,
                            self.autostart, self.managed_save, len(self.snapshots), memory,
                            max_memory, vcpus, vm.cpu_time_ns(), self.title, clock.booted_at, vm.rss_kib(),
                            self.problem, clock.paused_s, clock.paused_since)
