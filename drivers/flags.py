"""Flag and enum vocabulary of the driver contract.

Values match libvirt's wherever libvirt defines them, so the libvirt bridge
passes them through unchanged and users' knowledge of virsh carries over.
"""
from __future__ import annotations

import enum


class ListFlags(enum.IntFlag):
    """Filters of ``list_all_domains``: groups ANDed, bits inside a group ORed."""

    ACTIVE = 1 << 0
    INACTIVE = 1 << 1
    PERSISTENT = 1 << 2
    TRANSIENT = 1 << 3
    RUNNING = 1 << 4
    PAUSED = 1 << 5
    SHUTOFF = 1 << 6
    OTHER = 1 << 7
    MANAGEDSAVE = 1 << 8
    NO_MANAGEDSAVE = 1 << 9
    AUTOSTART = 1 << 10
    NO_AUTOSTART = 1 << 11
    HAS_SNAPSHOT = 1 << 12
    NO_SNAPSHOT = 1 << 13


#: The flag groups in display order, each a mask of mutually exclusive bits.
LIST_GROUPS: tuple[ListFlags, ...] = (
    ListFlags.RUNNING | ListFlags.PAUSED | ListFlags.SHUTOFF | ListFlags.OTHER,
    ListFlags.ACTIVE | ListFlags.INACTIVE,
    ListFlags.PERSISTENT | ListFlags.TRANSIENT,
    ListFlags.AUTOSTART | ListFlags.NO_AUTOSTART,
    ListFlags.HAS_SNAPSHOT | ListFlags.NO_SNAPSHOT,
    ListFlags.MANAGEDSAVE | ListFlags.NO_MANAGEDSAVE,
)
LIST_ALL = ListFlags((1 << 14) - 1)


class DomainState(enum.IntEnum):
    NOSTATE = 0
    RUNNING = 1
    BLOCKED = 2
    PAUSED = 3
    SHUTDOWN = 4  # shutting down
    SHUTOFF = 5
    CRASHED = 6
    PMSUSPENDED = 7


class NostateReason(enum.IntEnum):
    UNKNOWN = 0
    #: ours: the driver cannot read this domain's files; DomainRecord.problem says what is wrong.
    #: Only forcing off a process that still runs, a new definition, or undefining work on it.
    BROKEN = 100


class RunningReason(enum.IntEnum):
    UNKNOWN = 0
    BOOTED = 1
    MIGRATED = 2
    RESTORED = 3
    FROM_SNAPSHOT = 4
    UNPAUSED = 5
    MIGRATION_CANCELED = 6
    SAVE_CANCELED = 7
    WAKEUP = 8
    CRASHED = 9
    POSTCOPY = 10


class PausedReason(enum.IntEnum):
    UNKNOWN = 0
    USER = 1
    MIGRATION = 2
    SAVE = 3
    DUMP = 4
    IOERROR = 5
    WATCHDOG = 6
    FROM_SNAPSHOT = 7
    SHUTTING_DOWN = 8
    SNAPSHOT = 9
    CRASHED = 10
    STARTING_UP = 11


class ShutdownReason(enum.IntEnum):
    UNKNOWN = 0
    USER = 1


class ShutoffReason(enum.IntEnum):
    UNKNOWN = 0
    SHUTDOWN = 1
    DESTROYED = 2
    CRASHED = 3
    MIGRATED = 4
    SAVED = 5
    FAILED = 6
    FROM_SNAPSHOT = 7
    DAEMON = 8


class CrashedReason(enum.IntEnum):
    UNKNOWN = 0
    PANICKED = 1


REASONS: dict[DomainState, type[enum.IntEnum]] = {
    DomainState.NOSTATE: NostateReason,
    DomainState.RUNNING: RunningReason,
    DomainState.PAUSED: PausedReason,
    DomainState.SHUTDOWN: ShutdownReason,
    DomainState.SHUTOFF: ShutoffReason,
    DomainState.CRASHED: CrashedReason,
}


def describe_state(state: int, reason: int) -> str:
    """Human text for a state and its reason, e.g. 'shut off (saved)'."""
    st = DomainState(state)
    if st == DomainState.NOSTATE and reason == NostateReason.BROKEN:
        return "broken"
    text = {DomainState.SHUTOFF: "shut off", DomainState.SHUTDOWN: "shutting down",
            DomainState.NOSTATE: "no state"}.get(st, st.name.lower())
    enum_type = REASONS.get(st)
    if enum_type is None or reason == 0:
        return text
    try:
        why = enum_type(reason).name.lower().replace("_", " ")
    except ValueError:
        return text
    return f"{text} ({why})"


class JobType(enum.IntEnum):
    NONE = 0
    BOUNDED = 1
    UNBOUNDED = 2


class JobState(enum.IntEnum):
    RUNNING = 0
    COMPLETED = 1
    FAILED = 2
    CANCELLED = 3

    @property
    def finished(self) -> bool:
        return self is not JobState.RUNNING


class JobUnit(enum.Enum):
    """What a job's ``processed`` and ``total`` count."""

    BYTES = "bytes"  # data moved: rate in bytes/s
    STEPS = "steps"  # stages of an operation QEMU runs as a whole (a snapshot load): no rate


class JobOperation(enum.IntEnum):
    UNKNOWN = 0
    START = 1
    SAVE = 2
    RESTORE = 3
    MIGRATION_IN = 4
    MIGRATION_OUT = 5
    SNAPSHOT = 6
    SNAPSHOT_REVERT = 7
    DUMP = 8
    BACKUP = 9
    SNAPSHOT_DELETE = 10
    DISK_CREATE = 100  # ours: storage creation through qemu-img
    BACKUP_VERIFY = 101  # ours: a catalogued backup checked against its manifest
    BACKUP_RESTORE = 102  # ours: a catalogued backup copied to a new VM or onto a shut-off one
    BACKUP_PRUNE = 103  # ours: catalogued backups removed, each merged into the incrementals that stay
    CLONE = 104  # ours: a domain copied to a new one (new name, uuid, MACs; its disks copied or overlaid)


class JobFlags(enum.IntFlag):
    ASYNC = 1 << 30


class CreateFlags(enum.IntFlag):
    START_PAUSED = 1 << 0
    FORCE_BOOT = 1 << 3  # discard a managed-save image instead of restoring it


class DomainXMLFlags(enum.IntFlag):
    """For ``Domain.xml_desc`` (libvirt's values)."""

    SECURE = 1 << 0
    INACTIVE = 1 << 1  # the persistent definition the next start uses, not the running one
    UPDATE_CPU = 1 << 2


class BackupFlags(enum.IntFlag):
    """For ``Domain.backup_begin`` (combine with ``JobFlags.ASYNC``)."""

    #: ours: a shut-off domain is backed up too (its disks copied with qemu-img); without it only a
    #: running one, as libvirt's push backup
    SHUT_OFF = 1 << 16
    #: ours: the guest agent must freeze the guest's file systems for the point in time, else the
    #: backup fails before it starts; without it the freeze is tried whenever the agent is
    #: connected and a failure is only noted in the job (as libvirt's snapshot QUIESCE flag)
    QUIESCE = 1 << 17


class ShutdownFlags(enum.IntFlag):
    """How ``Domain.shutdown_flags`` and ``Domain.reboot`` ask the guest (libvirt's values).

    0 (the default) uses the guest agent when it answers and the ACPI power
    button otherwise; GUEST_AGENT alone fails when the agent does not answer;
    both bits try the agent first, then ACPI.
    """

    ACPI_POWER_BTN = 1 << 0
    GUEST_AGENT = 1 << 1


class InterfaceSource(enum.IntEnum):
    """Where ``Domain.interface_addresses`` learns the guest's addresses (libvirt's values)."""

    LEASE = 0  # the host's DHCP server
    AGENT = 1  # the guest agent, from inside the guest
    ARP = 2  # the host's ARP table


class GuestInfoTypes(enum.IntFlag):
    """What ``Domain.guest_info`` asks the guest agent (libvirt's values; 0: all of them)."""

    OS = 1 << 1
    HOSTNAME = 1 << 3
    FILESYSTEM = 1 << 4


class DiskCreateFlags(enum.IntFlag):
    """For ``Connection.create_disk`` (combine with ``JobFlags.ASYNC``)."""

    PREALLOCATE = 1 << 0  # allocate every byte now; the DISK_CREATE job shows the progress


class UndefineFlags(enum.IntFlag):
    """libvirt's values: NVRAM removes a UEFI domain's variable store, KEEP_NVRAM keeps the file."""

    MANAGED_SAVE = 1 << 0
    SNAPSHOTS_METADATA = 1 << 1
    NVRAM = 1 << 2
    KEEP_NVRAM = 1 << 3


class SaveFlags(enum.IntFlag):
    """For save, managed_save and restore: the state to come back in."""

    BYPASS_CACHE = 1 << 0
    RUNNING = 1 << 1
    PAUSED = 1 << 2


class SnapshotCreateFlags(enum.IntFlag):
    HALT = 1 << 3
    LIVE = 1 << 8


class CloneFlags(enum.IntFlag):
    """For ``Connection.clone_domain`` (combine with ``JobFlags.ASYNC``)."""

    #: the clone's disks are qcow2 overlays on the original's images, which become its read-only base
    LINKED = 1 << 0


class DeviceModifyFlags(enum.IntFlag):
    """For ``Domain.update_device_flags`` (libvirt's virDomainDeviceModifyFlags).

    CURRENT (0) is the running domain when it runs, else its persistent definition.
    """

    CURRENT = 0
    LIVE = 1 << 0
    CONFIG = 1 << 1
    FORCE = 1 << 2  # open a CD tray the guest locked


class MigrateFlags(enum.IntFlag):
    LIVE = 1 << 0
    PEER2PEER = 1 << 1
    TUNNELLED = 1 << 2
    PERSIST_DEST = 1 << 3
    UNDEFINE_SOURCE = 1 << 4
    PAUSED = 1 << 5
    NON_SHARED_DISK = 1 << 6
    NON_SHARED_INC = 1 << 7
    CHANGE_PROTECTION = 1 << 8
    UNSAFE = 1 << 9
    OFFLINE = 1 << 10
    AUTO_CONVERGE = 1 << 13


class Feature(enum.IntEnum):
    """What a connection can do; values 1-16 are libvirt's VIR_DRV_FEATURE_*."""

    MIGRATION_V1 = 1
    REMOTE = 2
    MIGRATION_V2 = 3
    MIGRATION_P2P = 4
    MIGRATION_DIRECT = 5
    MIGRATION_V3 = 6
    MIGRATE_CHANGE_PROTECTION = 7
    FD_PASSING = 8
    TYPED_PARAM_STRING = 9
    PROGRAM_KEEPALIVE = 10
    XML_MIGRATABLE = 11
    MIGRATION_OFFLINE = 12
    MIGRATION_PARAMS = 13
    # vmgui's own features, for actions the GUI offers only where they work.
    JOBS = 100  # get_job_info / abort_job / list_all_jobs
    BACKUP = 101
    SNAPSHOTS = 102
    MANAGED_SAVE = 103
    SAVE_RESTORE = 104
    AUTOSTART = 105
    DEFINE = 106  # define_xml / undefine
    DISK_CREATE = 107
    SERIAL_CONSOLE = 108
    SCREENSHOT = 109
    RENAME = 110  # Domain.rename (libvirt: virDomainRename)
    DELETE_DISKS = 111  # Connection.delete_disks / check_delete_disks
    GUESTS_OUTLIVE_CLIENT = 112  # running guests go on when this process ends (a daemon or supervisors hold them)
    INCREMENTAL_BACKUP = 113  # checkpoints and backup_begin(<incremental>, checkpoint_xml)
    CHANGE_MEDIA = 114  # Domain.update_device_flags changes or ejects a CD-ROM's medium
    CLONE = 115  # Connection.clone_domain
    CLONE_RUNNING = 116  # clone_domain copies a running domain too (its disks as of one instant)


class EventType(enum.IntEnum):
    """Domain event kinds; the lifecycle ones carry libvirt's numbers."""

    DEFINED = 0
    UNDEFINED = 1
    STARTED = 2
    SUSPENDED = 3
    RESUMED = 4
    STOPPED = 5
    SHUTDOWN = 6
    PMSUSPENDED = 7
    CRASHED = 8
    JOB = 100
    SNAPSHOT = 101
    DISCONNECTED = 102  # the connection to a (remote) host was lost; calls reconnect on demand
    REBOOT = 103
    RECONNECTED = 104  # a lost connection is back: re-read the domain list
    AGENT = 105  # the guest agent connected or went away (detail: AgentDetail)


class DefinedDetail(enum.IntEnum):
    ADDED = 0
    UPDATED = 1
    RENAMED = 2
    FROM_SNAPSHOT = 3


class UndefinedDetail(enum.IntEnum):
    REMOVED = 0
    RENAMED = 1


class StartedDetail(enum.IntEnum):
    BOOTED = 0
    MIGRATED = 1
    RESTORED = 2
    FROM_SNAPSHOT = 3
    WAKEUP = 4


class SuspendedDetail(enum.IntEnum):
    PAUSED = 0
    MIGRATED = 1
    IOERROR = 2
    WATCHDOG = 3
    RESTORED = 4
    FROM_SNAPSHOT = 5
    API_ERROR = 6


class ResumedDetail(enum.IntEnum):
    UNPAUSED = 0
    MIGRATED = 1
    FROM_SNAPSHOT = 2


class StoppedDetail(enum.IntEnum):
    SHUTDOWN = 0
    DESTROYED = 1
    CRASHED = 2
    MIGRATED = 3
    SAVED = 4
    FAILED = 5
    FROM_SNAPSHOT = 6


class ShutdownDetail(enum.IntEnum):
    FINISHED = 0
    GUEST = 1
    HOST = 2


class AgentDetail(enum.IntEnum):
    """libvirt's agent lifecycle states: the guest opened or closed the agent's port."""

    CONNECTED = 1
    DISCONNECTED = 2


class JobEventDetail(enum.IntEnum):
    STARTED = 0
    PROGRESS = 1
    FINISHED = 2


class SnapshotEventDetail(enum.IntEnum):
    CREATED = 0
    DELETED = 1
    REVERTED = 2
