"""Which domain actions are possible for a selection, as plain data.

No widgets and no driver calls: the window feeds in the selected domains'
records, their running jobs and the cached features of their connections, and
gets back, per action, whether it is enabled, which domains it applies to and
a sentence saying why not. Bulk rule: an action is enabled when it applies to
at least one selected domain; it then runs on exactly those.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from drivers import DomainRecord, DomainState, Feature, JobInfo
from drivers.jobs import operation_text

from . import vnc
from .problems import WAYS_OUT

ACTIONS = ("new_vm", "start", "pause", "resume", "shutdown", "reboot", "reset", "force_off", "save",
           "snapshot", "backup", "migrate", "delete", "console", "snapshots", "graphical_console")
OBJECT_NAMES = {
    "new_vm": "actionNewVM", "start": "actionStart", "pause": "actionPause", "resume": "actionResume",
    "shutdown": "actionShutdown", "reboot": "actionReboot", "reset": "actionReset", "force_off": "actionForceOff",
    "save": "actionSave", "snapshot": "actionSnapshot", "backup": "actionBackup",
    "migrate": "actionMigrate", "delete": "actionDelete", "console": "actionConsole",
    "snapshots": "actionSnapshots", "graphical_console": "actionGraphicalConsole",
}
DESCRIPTIONS = {
    "new_vm": "Define a new virtual machine",
    "start": "Start the selected domains",
    "pause": "Pause the selected domains (their vCPUs stop; memory stays)",
    "resume": "Resume the selected paused domains",
    "shutdown": "Ask the guests to shut down (ACPI power button). "
                "A guest without ACPI ignores it: use Force Off then",
    "reboot": "Ask the guests to reboot (ACPI power button: they shut down and start again). "
              "A guest without ACPI ignores it: use Reset then",
    "reset": "Reset at once, like the reset button: the guest starts again without shutting down "
             "(unsaved guest data is lost)",
    "force_off": "Power off at once, like pulling the plug (unsaved guest data is lost)",
    "save": "Save the guests' memory to disk and stop them; Start restores them",
    "snapshot": "Take a named snapshot of the selected domains",
    "backup": "Back up the disks of the selected running domains into a folder",
    "migrate": "Move the selected domains to another open connection: running ones live, "
               "shut-off ones as their definition (offline migration)",
    "delete": "Delete the definitions of the selected domains (disk files only when ticked in the dialog)",
    "console": "Open the serial console of the selected running domain",
    "snapshots": "Show the snapshot tree of the selected domain: create, revert, delete",
    "graphical_console": "Open the graphical console of the selected running domain in a VNC viewer",
}
#: Actions whose single effect is guarded by the driver's busy rule while a job runs.
_BUSY_RULE = frozenset({"start", "pause", "resume", "shutdown", "reboot", "reset", "save", "snapshot",
                        "backup", "migrate", "delete"})
ACTIVE = frozenset({DomainState.RUNNING, DomainState.BLOCKED, DomainState.PAUSED, DomainState.SHUTDOWN,
                    DomainState.CRASHED, DomainState.PMSUSPENDED})


@dataclass(frozen=True)
class Selected:
    """One selected domain, as the action rules see it."""

    uri: str
    record: DomainRecord
    job: JobInfo | None = None  # its running job, if any
    busy: bool = False  # a GUI call on it is still in flight


@dataclass(frozen=True)
class ActionState:
    enabled: bool
    reason: str  # the tooltip: what it does, or why it is disabled
    targets: tuple[int, ...] = ()  # indexes into the selection it applies to


Rule = Callable[[DomainRecord], str | None]  # None = allowed, else why not


def _running(rec: DomainRecord) -> str | None:
    return None if rec.state in (DomainState.RUNNING, DomainState.BLOCKED) else "is not running"


_RULES: dict[str, tuple[Rule, Feature | None]] = {
    "start": (lambda r: None if r.id is None else "is already running", None),
    "pause": (_running, None),
    "resume": (lambda r: None if r.state == DomainState.PAUSED else "is not paused", None),
    "shutdown": (_running, None),
    "reboot": (_running, None),
    "reset": (lambda r: None if r.state in (DomainState.RUNNING, DomainState.BLOCKED, DomainState.PAUSED)
              else "is not running", None),
    "force_off": (lambda r: None if r.id is not None else "is not running", None),
    "save": (lambda r: ("is not running" if r.state not in (DomainState.RUNNING, DomainState.PAUSED)
                        else None if r.persistent else "is transient (only persistent domains keep a saved state)"),
             Feature.MANAGED_SAVE),
    "snapshot": (lambda r: None, Feature.SNAPSHOTS),
    "backup": (lambda r: None if r.id is not None else "is not running (a push backup needs a running guest)",
               Feature.BACKUP),
    "migrate": (lambda r: None, None),  # see _migrate_why_not: it needs the other connections too
    "delete": (lambda r: "is transient: it disappears when it stops" if not r.persistent else None,
               Feature.DEFINE),  # running ones: the dialog asks for an explicit "Force off" tick
    "console": (_running, Feature.SERIAL_CONSOLE),
    "snapshots": (lambda r: None, Feature.SNAPSHOTS),
    "graphical_console": (lambda r: None if r.id is not None else "is not running", None),
}
_FEATURE_TEXT = {Feature.MANAGED_SAVE: "saving", Feature.SNAPSHOTS: "snapshots", Feature.BACKUP: "backups",
                 Feature.DEFINE: "defining and deleting domains", Feature.SERIAL_CONSOLE: "serial consoles"}


def can_migrate(features: frozenset[Feature]) -> bool:
    """The driver speaks a migration protocol (V3 or V2), so its domains may move at all."""
    return Feature.MIGRATION_V3 in features or Feature.MIGRATION_V2 in features


def migration_targets(uri: str, features: Mapping[str, frozenset[Feature]]) -> list[str]:
    """Open connections a domain of ``uri`` could migrate to (a shared protocol, another host)."""
    mine = features.get(uri, frozenset())
    return [other for other, feats in features.items()
            if other != uri and ({Feature.MIGRATION_V3, Feature.MIGRATION_V2} & mine & feats)]


def _why_not(action: str, sel: Selected, features: Mapping[str, frozenset[Feature]],
             viewers: Sequence[tuple[str, str]]) -> str | None:
    rec = sel.record
    feats = features.get(sel.uri, frozenset())
    if not feats:
        return f"its connection {sel.uri} is not connected"
    if sel.busy:
        return "is busy with another request"
    if rec.broken and action not in WAYS_OUT:
        return f"is broken: {rec.problem}"
    rule, feature = _RULES[action]
    if feature is not None and feature not in feats:
        return f"{sel.uri} does not support {_FEATURE_TEXT[feature]}"
    if action == "migrate":
        why = _migrate_why_not(sel, features)
        if why:
            return why
    if action == "graphical_console":
        why = vnc.why_no_viewer(sel.uri, viewers, (sel.uri, rec.uuid))
        if why:
            return why
    if sel.job is not None and action in _BUSY_RULE:
        return f"its {operation_text(sel.job.operation)} job {sel.job.id} is running"
    return rule(rec)


def _migrate_why_not(sel: Selected, features: Mapping[str, frozenset[Feature]]) -> str | None:
    """Running domains move live; a shut-off persistent one moves offline where both ends can."""
    feats = features.get(sel.uri, frozenset())
    if not can_migrate(feats):
        return f"{sel.uri} cannot migrate domains"
    dests = migration_targets(sel.uri, features)
    if not dests:
        return "no other open connection can receive it (connect to a destination first)"
    if sel.record.id is not None:
        return None
    if not sel.record.persistent:
        return "is not running"
    if Feature.MIGRATION_OFFLINE not in feats:
        return f"is shut off, and {sel.uri} cannot migrate a definition offline (start it first)"
    if not any(Feature.MIGRATION_OFFLINE in features[d] for d in dests):
        return "is shut off, and no open destination accepts an offline migration (start it first)"
    return None


def compute(selection: Sequence[Selected], features: Mapping[str, frozenset[Feature]],
            viewers: Sequence[tuple[str, str]] | None = None) -> dict[str, ActionState]:
    """The state of every action in :data:`ACTIONS` for ``selection``.

    ``viewers`` are the installed VNC viewers, (name, executable); None looks them up on PATH (cached).
    """
    viewers = vnc.installed_viewers() if viewers is None else tuple(viewers)
    result: dict[str, ActionState] = {}
    definers = [u for u, f in features.items() if Feature.DEFINE in f]
    result["new_vm"] = ActionState(bool(definers), DESCRIPTIONS["new_vm"] if definers else
                                   "No open connection can define domains: connect to one first")
    for action in ACTIONS[1:]:
        if not selection:
            result[action] = ActionState(False, f"{DESCRIPTIONS[action]}. Select one or more domains first")
            continue
        reasons = [_why_not(action, sel, features, viewers) for sel in selection]
        targets = tuple(i for i, why in enumerate(reasons) if why is None)
        if not targets:
            first = next(i for i, why in enumerate(reasons) if why)
            others = f" (and {len(selection) - 1} more cannot either)" if len(selection) > 1 else ""
            result[action] = ActionState(
                False, f"{DESCRIPTIONS[action]}. Not possible: '{selection[first].record.name}' "
                       f"{reasons[first]}{others}")
            continue
        text = DESCRIPTIONS[action]
        if action == "graphical_console":
            text = f"Open the graphical console in {vnc.viewer_for(selection[targets[0]].uri, viewers)}"
        if len(targets) < len(selection):
            text += f". Applies to {len(targets)} of {len(selection)} selected"
        result[action] = ActionState(True, text, targets)
    return result
