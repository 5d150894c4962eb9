"""The Clone dialog: the new domain's name, and whether its disks are copies or linked to the original's."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QLabel, QLineEdit, QRadioButton, QWidget

from ...i18n import N_, translate
from ..names import name_widget
from .simple import _FormDialog

#: The translation context of the dialog's text (``self.tr`` here uses it too).
CONTEXT = "CloneDialog"
#: what each way of cloning does to the disks, in the user's words
FULL_TEXT = N_("Full copy: the clone gets its own copy of each disk (takes as long as copying them)")
LINKED_TEXT = N_("Linked: the clone's disks record only its changes to the original's, which from then on "
                 "are read-only for the original too")


class CloneDialog(_FormDialog):
    def __init__(self, original: str, suggested: str, problem: Callable[[str], str | None],
                 running: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Clone {original}").format(original=original), "cloneDialog", parent)
        self._problem = problem
        intro = QLabel(self.tr("A new domain from “{original}”, with a new UUID and new MAC addresses.").format(
            original=original), self)
        intro.setWordWrap(True)
        self.form.addRow(intro)
        self.name = QLineEdit(suggested, self)
        name_widget(self.name, "cloneName")
        self.form.addRow(self.tr("Name of the clone:"), self.name)
        self.full = QRadioButton(translate(CONTEXT, FULL_TEXT), self)
        name_widget(self.full, "cloneFull", self.tr("Full copy"))
        self.linked = QRadioButton(translate(CONTEXT, LINKED_TEXT), self)
        name_widget(self.linked, "cloneLinked", self.tr("Linked"))
        self.full.setChecked(True)
        if running:  # its images cannot become a read-only base while it writes them
            self.linked.setEnabled(False)
            self.linked.setToolTip(self.tr("{original} is running: shut it down for a linked clone").format(
                original=original))
        self.form.addRow(self.full)
        self.form.addRow(self.linked)
        self.name.textChanged.connect(lambda _t: self.error.setText(""))
        self.finish_layout()

    def problem(self) -> str | None:
        return self._problem(self.name.text())
