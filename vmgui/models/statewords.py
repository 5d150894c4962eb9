"""The window's words for the driver core's domain states, their reasons and job operations.

The core describes a state in English for logs and errors (``describe_state``,
``operation_text``); the window says the same words in the user's language, so
it maps the core's enum values to its own marked words here instead of
translating the core's sentences. In English both read the same.
"""
from __future__ import annotations

from drivers import DomainState, JobOperation
from drivers.flags import REASONS, NostateReason

from ..textmark import N_, Text

STATE_WORDS: dict[DomainState, Text] = {
    DomainState.NOSTATE: N_("no state"), DomainState.RUNNING: N_("running"), DomainState.BLOCKED: N_("blocked"),
    DomainState.PAUSED: N_("paused"), DomainState.SHUTDOWN: N_("shutting down"),
    DomainState.SHUTOFF: N_("shut off"), DomainState.CRASHED: N_("crashed"),
    DomainState.PMSUSPENDED: N_("pmsuspended"),
}
BROKEN = N_("broken")
#: Why a domain is in its state, by the name of the reason in its state's enum (``drivers.flags.REASONS``).
REASON_WORDS: dict[str, Text] = {
    "BOOTED": N_("booted"), "MIGRATED": N_("migrated"), "RESTORED": N_("restored"),
    "FROM_SNAPSHOT": N_("from snapshot"), "UNPAUSED": N_("unpaused"),
    "MIGRATION_CANCELED": N_("migration canceled"), "SAVE_CANCELED": N_("save canceled"), "WAKEUP": N_("wakeup"),
    "CRASHED": N_("crashed"), "POSTCOPY": N_("postcopy"), "USER": N_("user"), "MIGRATION": N_("migration"),
    "SAVE": N_("save"), "DUMP": N_("dump"), "IOERROR": N_("ioerror"), "WATCHDOG": N_("watchdog"),
    "SHUTTING_DOWN": N_("shutting down"), "SNAPSHOT": N_("snapshot"), "STARTING_UP": N_("starting up"),
    "SHUTDOWN": N_("shutdown"), "DESTROYED": N_("destroyed"), "SAVED": N_("saved"), "FAILED": N_("failed"),
    "DAEMON": N_("daemon"), "PANICKED": N_("panicked"),
}
OPERATION_WORDS: dict[JobOperation, Text] = {
    JobOperation.UNKNOWN: N_("unknown"), JobOperation.SAVE: N_("save"), JobOperation.RESTORE: N_("restore"),
    JobOperation.MIGRATION_OUT: N_("outgoing migration"), JobOperation.MIGRATION_IN: N_("incoming migration"),
    JobOperation.SNAPSHOT: N_("snapshot"), JobOperation.SNAPSHOT_REVERT: N_("snapshot revert"),
    JobOperation.SNAPSHOT_DELETE: N_("snapshot delete"), JobOperation.BACKUP: N_("backup"),
    JobOperation.DUMP: N_("dump"), JobOperation.START: N_("start"), JobOperation.DISK_CREATE: N_("disk creation"),
    JobOperation.BACKUP_VERIFY: N_("backup verify"), JobOperation.BACKUP_RESTORE: N_("backup restore"),
    JobOperation.BACKUP_PRUNE: N_("backup removal"), JobOperation.CLONE: N_("clone"),
}


def state_words(state: int, reason: int) -> str:
    """The state and its reason as the window says them, e.g. "shut off (saved)" (a Text where marked)."""
    st = DomainState(state)
    if st == DomainState.NOSTATE and reason == NostateReason.BROKEN:
        return BROKEN
    text = STATE_WORDS.get(st) or st.name.lower()
    enum_type = REASONS.get(st)
    if enum_type is None or reason == 0:
        return text
    try:
        name = enum_type(reason).name
    except ValueError:
        return text
    return N_("{state} ({reason})", state=text, reason=REASON_WORDS.get(name) or name.lower().replace("_", " "))


def operation_words(op: JobOperation) -> str:
    """What a job does, as the window says it ("outgoing migration")."""
    return OPERATION_WORDS.get(op) or op.name.lower()
