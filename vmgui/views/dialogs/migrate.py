"""The migration dialog: destination, a compatibility check per domain, options.

The dialog only shows: when the destination changes it emits
``destinationChanged`` and the flow (vmgui/views/migrateflow.py) runs the check
off the UI thread, then hands the results to :meth:`MigrateDialog.set_checks`.
Start stays disabled, with the reason in red, until a check for the current
destination has arrived and at least one domain can move; blocked domains are
listed and skipped.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ... import icons
from ...i18n import N_, translate
from ...models.migration import Check, Level, Mode, flags_for
from ...models.pathprobe import Checking
from ..names import error_label, name_widget
from ..pathcheck import show_sentences
from ..theme import error_style

_ICONS = {Level.OK: "check-ok", Level.WARNING: "msg-warning", Level.BLOCKED: "msg-error"}
UNDEFINE_WARNING = N_("The source keeps no definition afterwards: the domain can then only be started "
                      "on the destination.")
OFFLINE_NOTE = N_("Shut-off domains move offline: only their definition moves, and it is always kept "
                  "persistent on the destination.")
#: The translation context of the dialog's text (``self.tr`` here uses it too).
CONTEXT = "MigrateDialog"


def _shown(names: list[str]) -> str:
    if len(names) <= 4:
        return ", ".join(names)
    return translate(CONTEXT, N_("{names} and {more} more", names=", ".join(names[:4]), more=len(names) - 4))


class MigrateDialog(QDialog):
    """``migrateDialog``: ``migrateDestination``, ``migrateCheck``, the options and ``migrateStart``."""

    #: the destination whose check is wanted (the flow answers with set_checks)
    destinationChanged = Signal(str)

    def __init__(self, names: list[str], destinations: list[str], any_running: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        name_widget(self, "migrateDialog")
        self.setWindowTitle(self.tr("Migrate"))
        self.setMinimumWidth(600)
        self._checks: list[Check] | None = None  # for the current destination; None while checking
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(self.tr("Move {names} to another connection.").format(names=_shown(names)), self))
        form = QFormLayout()
        self.dest = QComboBox(self)
        name_widget(self.dest, "migrateDestination")
        self.dest.addItems(destinations)
        form.addRow(self.tr("&Destination:"), self.dest)
        layout.addLayout(form)

        self.checking = QProgressBar(self)
        name_widget(self.checking, "migrateChecking", self.tr("Checking the destination"))
        self.checking.setRange(0, 0)  # a spinner while the check runs
        self.checking.setMaximumHeight(14)
        self.checking.setTextVisible(False)
        self.checking.hide()
        layout.addWidget(self.checking)
        self.check_list = QListWidget(self)
        name_widget(self.check_list, "migrateCheck", self.tr("Checks"))
        self.check_list.setMinimumHeight(140)
        # a reason is read whole: long findings wrap instead of running off to the right
        self.check_list.setWordWrap(True)
        self.check_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.check_list.setResizeMode(QListWidget.ResizeMode.Adjust)
        layout.addWidget(self.check_list, 1)

        self.live = QCheckBox(self.tr("&Live: the guest keeps running while its memory is copied "
                                      "(unticked: paused during the copy, which converges sooner)"), self)
        name_widget(self.live, "migrateLive")
        self.live.setChecked(any_running)
        self._live_wanted: bool | None = None  # the user's choice while no guest can copy live
        self.persist = QCheckBox(self.tr("&Persist on the destination (keep a definition there, not just the "
                                         "running guest)"), self)
        name_widget(self.persist, "migratePersist")
        self.persist.setChecked(True)
        self.undefine = QCheckBox(self.tr("&Undefine the source afterwards"), self)
        name_widget(self.undefine, "migrateUndefine")
        self.undefine_warning = QLabel(translate(CONTEXT, UNDEFINE_WARNING), self)
        name_widget(self.undefine_warning, "migrateUndefineWarning")
        self.undefine_warning.setWordWrap(True)
        self.undefine_warning.setStyleSheet(error_style())
        self.undefine_warning.setVisible(False)
        self.undefine.toggled.connect(self.undefine_warning.setVisible)
        self.offline_note = QLabel(translate(CONTEXT, OFFLINE_NOTE), self)
        name_widget(self.offline_note, "migrateOfflineNote")
        self.offline_note.setWordWrap(True)
        self.offline_note.hide()
        for widget in (self.live, self.persist, self.undefine, self.undefine_warning, self.offline_note):
            layout.addWidget(widget)

        self.error = error_label(self)
        layout.addWidget(self.error)
        self.note = QLabel("", self)
        name_widget(self.note, "migrateSummary")
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.start: QPushButton = self.buttons.addButton(self.tr("&Start"),
                                                                QDialogButtonBox.ButtonRole.AcceptRole)
        name_widget(self.start, "migrateStart")
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.dest.currentTextChanged.connect(self._destination_changed)
        self.validate()

    # -- the check -------------------------------------------------------------------
    def request_check(self) -> None:
        """Ask for the check of the destination shown now (the flow calls this once it listens)."""
        self._destination_changed(self.dest.currentText())

    def _destination_changed(self, dest: str) -> None:
        self._checks = None
        self.check_list.clear()
        if dest:
            self.checking.show()
            self.check_list.addItem(QListWidgetItem(self.tr("Checking whether {dest} can receive them…").format(
                dest=dest)))
            self.destinationChanged.emit(dest)
        self.validate()

    def set_checks(self, dest: str, checks: list[Check]) -> None:
        """Show the results for ``dest``; results for a destination no longer shown are dropped."""
        if dest != self.dest.currentText():
            return
        self._checks = checks
        self.checking.hide()
        self.check_list.clear()
        many = len(checks) > 1
        for check in checks:
            if many:
                verdict = self.tr("{name}: skipped") if check.blocked else self.tr("{name}: can move")
                head = QListWidgetItem(icons.icon(_ICONS[check.level]), verdict.format(name=check.name))
                font = head.font()
                font.setBold(True)
                head.setFont(font)
                self.check_list.addItem(head)
            for finding in check.findings:
                prefix = "    " if many else ""
                self.check_list.addItem(QListWidgetItem(icons.icon(_ICONS[finding.level]),
                                                        prefix + translate(CONTEXT, finding.text)))
        movable = self.runnable()
        self._offer_live([c for c in movable if c.mode is Mode.LIVE])
        offline = [c for c in movable if c.mode is Mode.OFFLINE]
        self.offline_note.setVisible(bool(offline))
        self.persist.setEnabled(len(offline) < len(movable) or not movable)
        self.validate()

    def _offer_live(self, live: list[Check]) -> None:
        """Live is a choice only where some guest can copy live; else unticked, with the driver's reason."""
        problems = [c.live_problem for c in live if c.live_problem]
        if live and len(problems) == len(live):
            if self.live.isEnabled():
                self._live_wanted = self.live.isChecked()
            self.live.setChecked(False)
            self.live.setEnabled(False)
            self.live.setToolTip(self.tr("Not available: {why}.").format(why=problems[0]))
            return
        if not self.live.isEnabled() and self._live_wanted is not None:
            self.live.setChecked(self._live_wanted)
            self._live_wanted = None
        self.live.setEnabled(bool(live))
        self.live.setToolTip("")

    # -- results ---------------------------------------------------------------------
    def checks(self) -> list[Check] | None:
        return self._checks

    def runnable(self) -> list[Check]:
        """The domains Start migrates: every checked one that is not blocked."""
        return [c for c in self._checks or [] if not c.blocked]

    def skipped(self) -> list[Check]:
        return [c for c in self._checks or [] if c.blocked]

    def flags(self, check: Check) -> int:
        return flags_for(check, self.live.isChecked(), self.persist.isChecked(), self.undefine.isChecked())

    def problem(self) -> str | None:
        dest = self.dest.currentText()
        if not dest:
            return self.tr("Open a destination connection first (File ▸ Connect).")
        if self._checks is None:
            return Checking(self.tr("Checking {dest}…").format(dest=dest))  # a wait, shown in the normal colour
        if not self.runnable():
            first = self._checks[0] if self._checks else None
            why = translate(CONTEXT, first.reasons()[0]) if first is not None and first.reasons() \
                else self.tr("nothing to migrate")
            if len(self._checks) > 1:
                return self.tr("None of the selected domains can move to {dest}: {why}, and more.").format(
                    dest=dest, why=why)
            return self.tr("Cannot migrate to {dest}: {why}.").format(dest=dest, why=why)
        return None

    def summary(self) -> str:
        """A line under the list for a partial bulk migration (not an error: Start works)."""
        skipped = self.skipped()
        if not skipped or not self.runnable():
            return ""
        return self.tr("Start migrates {runnable} of {checked}; skipped: {names}.").format(
            runnable=len(self.runnable()), checked=len(self._checks or []), names=", ".join(c.name for c in skipped))

    def validate(self) -> None:
        why = self.problem()
        show_sentences(self.error, [why] if why else [])
        self.note.setText("" if why else self.summary())
        self.start.setEnabled(why is None)
        self.start.setToolTip(why or "")

    def _accept(self) -> None:
        self.validate()
        if self.start.isEnabled():
            self.accept()
