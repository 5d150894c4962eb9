"""The one table of domain actions: what each is called, how it looks, when it runs and what it runs.

The toolbar, the Domain menu, the context menu, the tooltips, the accessible
names, the confirmations and the bridge's dispatch are all read from
:data:`SPECS`; nothing else names an action's label, shortcut or rule. Plain
data, no Qt: the rules are tested without widgets.
"""
from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from drivers import Feature
from drivers.jobs import operation_text

from ..textmark import N_
from . import requests as rq
from . import rules
from .ids import ActionId
from .rules import Context, DomainRule, DomainText, HostRule, RecordRule, Selected


class Asks(enum.Enum):
    """What happens between the press and the run."""

    NOTHING = "runs at once on every selected domain it applies to"
    CONFIRM = "asks a question first (the action loses guest data)"
    DIALOG = "a dialog asks for its parameters"
    WINDOW = "opens a window (nothing runs on the domain by itself)"


@dataclass(frozen=True)
class Confirm:
    """The question before an action that loses data; ``{what}`` becomes the domains' names."""

    title: str  # the box's title and its button (marked with N_)
    question: str  # marked with N_; ``{what}`` is filled in when it is asked


#: What a missing feature is called in "… does not support backups".
FEATURE_TEXT = {Feature.MANAGED_SAVE: N_("saving"), Feature.SNAPSHOTS: N_("snapshots"), Feature.BACKUP: N_("backups"),
                Feature.DEFINE: N_("defining and deleting domains"), Feature.SERIAL_CONSOLE: N_("serial consoles"),
                Feature.CLONE: N_("cloning")}


@dataclass(frozen=True)
class ActionSpec:
    """One action. A domain action checks, per selected domain and in this order: its connection is
    connected, no GUI call on it is in flight, it is not broken (unless ``for_broken``), the connection
    has ``feature``, ``needs`` (destinations, a viewer), no job runs on it (if ``job_blocks``), and
    ``state_rule`` on its record. A host action (``host_rule``) needs no selection."""

    id: ActionId
    label: str  # (marked with N_, like every sentence here) what the button, the menu item and assistive technology say
    object_name: str  # what tests and the screenshot script find the QAction by
    icon: str  # a file name in resources/icons, without .svg
    shortcut: str
    description: str  # the tooltip and status tip while nothing else is to be said
    state_rule: RecordRule = rules.always
    feature: Feature | None = None
    needs: DomainRule | None = None
    job_blocks: bool = False  # the driver refuses it while a job runs on the domain
    for_broken: bool = False  # a way out for a domain whose files the driver cannot read
    host_rule: HostRule | None = None
    enabled_text: DomainText | None = None  # the tooltip when enabled, if not the description
    request: type[rq.DomainRequest] | None = None  # what the bridge runs (with no parameters: NOTHING/CONFIRM)
    asks: Asks = Asks.NOTHING
    confirm: Confirm | None = None
    fallback: ActionId | None = None  # the hard way offered when the guest ignores the request

    @property
    def confirm_name(self) -> str:
        """The objectName of the confirmation box (and its "don't ask again" key)."""
        return f"confirm_{self.id.value}"

    def why_not(self, sel: Selected, ctx: Context) -> str | None:
        """Why this action cannot run on ``sel`` now, or None."""
        rec = sel.record
        feats = ctx.features_of(sel.uri)
        if not feats:
            return N_("its connection {uri} is not connected", uri=sel.uri)
        if sel.busy:
            return N_("is busy with another request")
        if rec.broken and not self.for_broken:
            return N_("is broken: {problem}", problem=rec.problem)
        if self.feature is not None and self.feature not in feats:
            return N_("{uri} does not support {feature}", uri=sel.uri, feature=FEATURE_TEXT[self.feature])
        if self.needs is not None:
            why = self.needs(sel, ctx)
            if why:
                return why
        if sel.job is not None and self.job_blocks:
            return N_("its {operation} job {job} is running", operation=operation_text(sel.job.operation),
                      job=sel.job.id)
        return self.state_rule(rec)


_SPECS = (
    ActionSpec(ActionId.NEW_VM, N_("New VM"), "actionNewVM", "action-new-vm", "Ctrl+N",
               N_("Define a new virtual machine"), host_rule=rules.can_define_somewhere, asks=Asks.DIALOG),
    ActionSpec(ActionId.START, N_("Start"), "actionStart", "action-start", "Ctrl+Return",
               N_("Start the selected domains"), rules.inactive, job_blocks=True, request=rq.Start),
    ActionSpec(ActionId.PAUSE, N_("Pause"), "actionPause", "action-pause", "Ctrl+P",
               N_("Pause the selected domains (their vCPUs stop; memory stays)"), rules.running, job_blocks=True,
               request=rq.Pause),
    ActionSpec(ActionId.RESUME, N_("Resume"), "actionResume", "action-resume", "Ctrl+Shift+P",
               N_("Resume the selected paused domains"), rules.paused, job_blocks=True, request=rq.Resume),
    ActionSpec(ActionId.SHUTDOWN, N_("Shut Down"), "actionShutdown", "action-shutdown", "Ctrl+D",
               N_("Ask the guests to shut down (through the guest agent where it answers, else the ACPI power "
                  "button). A guest without either ignores it: use Force Off then"),
               rules.running, job_blocks=True, request=rq.Shutdown, fallback=ActionId.FORCE_OFF),
    ActionSpec(ActionId.REBOOT, N_("Reboot"), "actionReboot", "action-reboot", "Ctrl+Shift+R",
               N_("Ask the guests to reboot (through the guest agent where it answers, else the ACPI power "
                  "button: they shut down and start again). A guest without either ignores it: use Reset then"),
               rules.running, job_blocks=True, request=rq.Reboot, fallback=ActionId.RESET),
    ActionSpec(ActionId.RESET, N_("Reset"), "actionReset", "action-reset", "Ctrl+Alt+R",
               N_("Reset at once, like the reset button: the guest starts again without shutting down "
                  "(unsaved guest data is lost)"),
               rules.running_or_paused, job_blocks=True, request=rq.Reset, asks=Asks.CONFIRM,
               confirm=Confirm(N_("Reset"), N_("Reset {what} at once? The guest starts again without shutting "
                                              "down: unsaved data in it is lost."))),
    ActionSpec(ActionId.FORCE_OFF, N_("Force Off"), "actionForceOff", "action-force-off", "Ctrl+Shift+D",
               N_("Power off at once, like pulling the plug (unsaved guest data is lost)"),
               rules.active, for_broken=True, request=rq.ForceOff, asks=Asks.CONFIRM,
               confirm=Confirm(N_("Force off"), N_("Power off {what} at once? Unsaved data in the guest is lost."))),
    ActionSpec(ActionId.SAVE, N_("Save"), "actionSave", "action-save", "Ctrl+S",
               N_("Save the guests' memory to disk and stop them; Start restores them"),
               rules.savable, Feature.MANAGED_SAVE, job_blocks=True, request=rq.Save),
    ActionSpec(ActionId.SNAPSHOT, N_("Snapshot"), "actionSnapshot", "action-snapshot", "Ctrl+Shift+S",
               N_("Take a named snapshot of the selected domains"), feature=Feature.SNAPSHOTS, job_blocks=True,
               request=rq.Snapshot, asks=Asks.DIALOG),
    ActionSpec(ActionId.BACKUP, N_("Backup"), "actionBackup", "action-backup", "Ctrl+B",
               N_("Back up the disks of the selected running domains into a folder"),
               rules.backed_up_live, Feature.BACKUP, job_blocks=True, request=rq.Backup, asks=Asks.DIALOG),
    ActionSpec(ActionId.MIGRATE, N_("Migrate"), "actionMigrate", "action-migrate", "Ctrl+M",
               N_("Move the selected domains to another open connection: running ones live, "
                  "shut-off ones as their definition (offline migration)"),
               needs=rules.migratable, job_blocks=True, request=rq.Migrate, asks=Asks.DIALOG),
    ActionSpec(ActionId.CLONE, N_("Clone"), "actionClone", "action-clone", "Ctrl+Shift+N",
               N_("Copy the selected domain to a new one (new name, UUID and MAC addresses; "
                  "its disks copied, or linked to the original's)"),
               feature=Feature.CLONE, needs=rules.clonable, job_blocks=True, request=rq.Clone, asks=Asks.DIALOG),
    ActionSpec(ActionId.DELETE, N_("Delete"), "actionDelete", "action-delete", "Del",
               N_("Delete the definitions of the selected domains (disk files only when ticked in the dialog)"),
               # running ones too: the dialog asks for an explicit "Force off" tick
               rules.persistent, Feature.DEFINE, job_blocks=True, for_broken=True, request=rq.Delete,
               asks=Asks.DIALOG),
    ActionSpec(ActionId.CONSOLE, N_("Console"), "actionConsole", "action-console", "Ctrl+Shift+C",
               N_("Open the serial console of the selected running domain"), rules.running, Feature.SERIAL_CONSOLE,
               asks=Asks.WINDOW),
    ActionSpec(ActionId.SNAPSHOTS, N_("Snapshots"), "actionSnapshots", "action-snapshots", "Ctrl+Shift+T",
               N_("Show the snapshot tree of the selected domain: create, revert, delete"), feature=Feature.SNAPSHOTS,
               asks=Asks.WINDOW),
    ActionSpec(ActionId.GRAPHICAL_CONSOLE, N_("Display"), "actionGraphicalConsole", "action-graphical-console",
               "Ctrl+Shift+G", N_("Show the screen of the selected running domain in its own window"),
               rules.active, asks=Asks.WINDOW),
    ActionSpec(ActionId.EXTERNAL_VIEWER, N_("Open in External Viewer"), "actionExternalViewer",
               "action-graphical-console", "Ctrl+Shift+E",
               N_("Open the graphical console of the selected running domain in a VNC or SPICE viewer"),
               rules.active, needs=rules.viewable, enabled_text=rules.viewer_text, asks=Asks.WINDOW),
    ActionSpec(ActionId.BACKUPS, N_("Backups"), "actionBackups", "action-backup", "Ctrl+Shift+B",
               N_("List the backups of the selected domain: verify them, restore one or delete it"),
               feature=Feature.BACKUP, asks=Asks.WINDOW),
)
#: Every action by id, in the order of :class:`ActionId`.
SPECS: dict[ActionId, ActionSpec] = {s.id: s for s in _SPECS}

#: The toolbar and the Domain menu, in order; None is a separator.
LAYOUT: tuple[ActionId | None, ...] = (
    ActionId.NEW_VM, None, ActionId.START, ActionId.PAUSE, ActionId.RESUME, ActionId.SHUTDOWN, ActionId.REBOOT,
    ActionId.RESET, ActionId.FORCE_OFF, None, ActionId.SAVE, ActionId.SNAPSHOT, ActionId.BACKUP, ActionId.BACKUPS,
    ActionId.MIGRATE, ActionId.CLONE,
    None, ActionId.SNAPSHOTS, ActionId.CONSOLE, ActionId.GRAPHICAL_CONSOLE, ActionId.EXTERNAL_VIEWER, None,
    ActionId.DELETE,
)
#: In the Domain menu and the context menu but not on the toolbar (the Display and Backup buttons lead to the
#: first two; Clone is for a shut-off domain now and then).
MENU_ONLY: frozenset[ActionId] = frozenset({ActionId.EXTERNAL_VIEWER, ActionId.BACKUPS, ActionId.CLONE})


def context_menu(layout: Sequence[ActionId | None] = LAYOUT) -> list[ActionId | None]:
    """The layout's domain actions for a row's context menu: no host actions, no leading or doubled separator."""
    items: list[ActionId | None] = []
    for item in layout:
        if item is None:
            if items and items[-1] is not None:
                items.append(None)
        elif SPECS[item].host_rule is None:
            items.append(item)
    while items and items[-1] is None:
        items.pop()
    return items


#: Which action a request is the run of (the snapshot tree's operations are no action).
ACTION_OF: dict[type[rq.DomainRequest], ActionId] = {s.request: s.id for s in _SPECS if s.request is not None}
