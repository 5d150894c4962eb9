"""The Schedule dialog of one VM: back it up daily or weekly at a time, and which backups to keep.

It edits a :class:`vmgui.models.backupschedule.Schedule`; the Backups dialog
hands the result to :class:`vmgui.flows.backupschedule.BackupScheduler`.
"""
from __future__ import annotations

from PySide6.QtCore import QTime
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QLineEdit, QSpinBox, QTimeEdit, QWidget

from ...i18n import translate
from ...models.backupschedule import PERIODS, WEEKDAYS, Schedule
from ..names import name_widget
from .simple import _FormDialog

#: The translation context of the dialog's text (``self.tr`` here uses it too).
CONTEXT = "ScheduleDialog"


def _limit(box: QSpinBox, name: str, spoken: str, none_text: str, value: int | None, parent: QWidget) -> QSpinBox:
    """A spin box whose lowest value (0) means "no limit"."""
    name_widget(box, name, spoken)
    box.setRange(0, 9999)
    box.setSpecialValueText(none_text)
    box.setValue(value or 0)
    return box


class ScheduleDialog(_FormDialog):
    """``scheduleDialog``: whether, when and where the VM is backed up, and the retention rule."""

    def __init__(self, domain: str, current: Schedule | None, folder: str, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Backup schedule of {domain}").format(domain=domain), "scheduleDialog", parent)
        self.current = current
        shown = current or Schedule(folder=folder)
        automatically = self.tr("Back up {domain} automatically").format(domain=domain)
        self.enabled = QCheckBox(automatically, self)
        name_widget(self.enabled, "scheduleEnabled", automatically)
        self.enabled.setChecked(current is not None)
        self.period = QComboBox(self)
        name_widget(self.period, "schedulePeriod", self.tr("Repeat"))
        periods = {"daily": self.tr("Daily"), "weekly": self.tr("Weekly")}
        self.period.addItems([periods[p] for p in PERIODS])
        self.period.setCurrentIndex(PERIODS.index(shown.period))
        self.weekday = QComboBox(self)
        name_widget(self.weekday, "scheduleWeekday", self.tr("Day of the week"))
        self.weekday.addItems([translate(CONTEXT, day) for day in WEEKDAYS])
        self.weekday.setCurrentIndex(shown.weekday)
        self.at = QTimeEdit(QTime(shown.hour, shown.minute), self)
        name_widget(self.at, "scheduleTime", self.tr("Time of day"))
        self.at.setDisplayFormat("HH:mm")
        self.folder = QLineEdit(shown.folder, self)
        name_widget(self.folder, "scheduleFolder", self.tr("Backup folder"))
        self.keep_last = _limit(QSpinBox(self), "scheduleKeepLast", self.tr("Keep the newest backups"),
                                self.tr("every backup"), shown.keep_last, self)
        self.keep_days = _limit(QSpinBox(self), "scheduleKeepDays", self.tr("Keep the backups of the last days"),
                                self.tr("no day limit"), shown.keep_days, self)
        self.keep_days.setSuffix(self.tr(" days"))
        self.form.addRow(self.enabled)
        self.form.addRow(self.tr("Repeat:"), self.period)
        self.form.addRow(self.tr("On:"), self.weekday)
        self.form.addRow(self.tr("At:"), self.at)
        self.form.addRow(self.tr("Into folder:"), self.folder)
        self.form.addRow(self.tr("Keep the newest:"), self.keep_last)
        self.form.addRow(self.tr("And those of the last:"), self.keep_days)
        note = QLabel(self.tr("Backups run while vmgui runs; one missed while it was closed runs at the next start. "
                              "After each, older backups the rule does not keep are removed (an incremental that "
                              "depends on one gets its data first)."), self)
        note.setWordWrap(True)
        self.form.addRow(note)
        self.finish_layout()
        self.enabled.toggled.connect(self._update)
        self.period.currentIndexChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        on = self.enabled.isChecked()
        for widget in (self.period, self.at, self.folder, self.keep_last, self.keep_days):
            widget.setEnabled(on)
        self.weekday.setEnabled(on and PERIODS[self.period.currentIndex()] == "weekly")

    def schedule(self) -> Schedule | None:
        """What the fields say (None: no schedule); its last run carries over from the one edited."""
        if not self.enabled.isChecked():
            return None
        time = self.at.time()
        kept = self.current
        return Schedule(period=PERIODS[self.period.currentIndex()], hour=time.hour(), minute=time.minute(),
                        weekday=self.weekday.currentIndex(), folder=self.folder.text().strip(),
                        keep_last=self.keep_last.value() or None, keep_days=self.keep_days.value() or None,
                        last_run=kept.last_run if kept else None, since=kept.since if kept else 0.0)

    def problem(self) -> str | None:
        schedule = self.schedule()
        return None if schedule is None else schedule.problem()  # marked text: shown translated
