"""The XML tab (``domainXml``): the domain's XML, read-only, with an "Edit XML" mode.

Editing starts from the definition the next start uses, is validated as you
type (hardened parse plus the core's rules; the sentence names the element,
``xmlError``), and Apply first shows the diff. Edits of a domain you leave are
kept as a draft and come back when you select it again: never lost silently.
The buttons sit in a bar below the text (viewport margins), so the tab page
stays the text widget itself.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QTimer
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from drivers.domxml import DomainXML

from ..i18n import MARKED_CONTEXT, N_, translate
from ..models import editing
from ..models.domains import Key
from ..models.editing import EditPlan
from ..models.messages import explain
from ..models.session import Session
from .editflow import EditFlow
from .names import error_label, fixed_font, name_widget
from .theme import error_style

VALIDATE_DELAY_MS = 250


@dataclass
class Draft:
    base: str  # the definition the edit started from
    text: str


class XmlPane(QPlainTextEdit):
    """Read-only XML, or an editor of one domain's definition with Validate / Apply… / Discard."""

    def __init__(self, session: Session, flow: EditFlow, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        name_widget(self, "domainXml", self.tr("Domain XML"))
        self._session, self._flow = session, flow
        self.setReadOnly(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setFont(fixed_font())
        self.key: Key | None = None
        self._loaded_for: Key | None = None
        self.editing: Draft | None = None
        self.drafts: dict[Key, Draft] = {}
        self._identity: tuple[str, str] = ("", "")  # uuid and name the edited XML must keep

        self.bar = QWidget(self)
        column = QVBoxLayout(self.bar)
        column.setContentsMargins(4, 2, 4, 2)
        self.error = error_label(self.bar, "xmlError")
        name_widget(self.error, "xmlError")  # the accessible name too
        column.addWidget(self.error)
        row = QHBoxLayout()
        row.addStretch(1)
        column.addLayout(row)
        self.edit_button = self._button(self.tr("Edit &XML"), "editXml", self.start_edit)
        self.validate_button = self._button(self.tr("Valida&te"), "validateXml", self.validate)
        self.apply_button = self._button(self.tr("A&pply…"), "applyXml", self.apply)
        self.discard_button = self._button(self.tr("Disc&ard"), "discardXml", self.discard)
        for button in (self.edit_button, self.validate_button, self.apply_button, self.discard_button):
            row.addWidget(button)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(VALIDATE_DELAY_MS)
        self._timer.timeout.connect(self.validate)
        self.textChanged.connect(self._edited)
        self._set_mode()

    def _button(self, text: str, name: str, slot: object) -> QPushButton:
        button = QPushButton(text, self.bar)
        name_widget(button, name)
        button.clicked.connect(slot)
        return button

    # -- layout: the bar under the text ----------------------------------------------
    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_bar()

    def _place_bar(self) -> None:
        self.error.setVisible(bool(self.error.text()))
        width = self.viewport().width()
        height = self.bar.heightForWidth(width) if self.bar.hasHeightForWidth() else -1
        height = height if height > 0 else self.bar.sizeHint().height()
        self.setViewportMargins(0, 0, 0, height)
        view = self.viewport().geometry()
        self.bar.setGeometry(view.left(), view.bottom() + 1, view.width(), height)

    def _set_mode(self) -> None:
        editing_now = self.editing is not None
        self.setReadOnly(not editing_now)
        self.edit_button.setVisible(not editing_now)
        self.edit_button.setEnabled(self.key is not None)
        for button in (self.validate_button, self.apply_button, self.discard_button):
            button.setVisible(editing_now)
        if not editing_now:
            self.error.setText("")
        self._place_bar()

    # -- viewing ---------------------------------------------------------------------
    def show_key(self, key: Key | None) -> None:
        """Follow the selection; an unsaved edit of the previous domain becomes its draft."""
        if key == self.key:
            return
        if self.key is not None and self.editing is not None:
            self.editing.text = self.toPlainText()
            if self.editing.text != self.editing.base:
                self.drafts[self.key] = self.editing
                self._session.status.emit(self.tr("Your unsaved XML edits are kept; select the domain again "
                                              "to apply or discard them"))
        self.editing = None
        self.key = key
        self._loaded_for = None
        draft = self.drafts.pop(key, None) if key is not None else None
        if draft is not None:
            self._begin(draft, self.tr("Your unsaved edits from before: apply or discard them."))
            return
        self.setPlainText("")
        self._set_mode()

    def reload(self) -> None:
        """Read again at the next :meth:`maybe_fetch` (the definition changed)."""
        self._loaded_for = None

    def maybe_fetch(self) -> None:
        """Load the XML when the tab is shown (and not while editing)."""
        if self.key is not None and self.editing is None and self._loaded_for != self.key and self.isVisible():
            self._loaded_for = self.key
            self.setPlainText(self.tr("Loading…"))
            self._session.spawn(self._load(self.key), self.tr("Reading the domain XML"))

    async def _load(self, key: Key) -> None:
        try:
            text = await self._session.domain_xml(key)
        except Exception as exc:  # noqa: BLE001 - shown in place, not as a dialog
            title, message, hint = (translate(MARKED_CONTEXT, part) for part in explain(exc, N_("Reading the XML")))
            text = f"<!-- {title}: {message} {hint} -->"
        if self.key == key and self.editing is None:
            self.setPlainText(text)

    # -- editing ---------------------------------------------------------------------
    def start_edit(self) -> None:
        if self.key is not None:
            self._session.spawn(self._start(self.key), self.tr("Reading the definition to edit"))

    async def _start(self, key: Key) -> None:
        text = await self._session.inactive_xml(key)
        if self.key == key and self.editing is None:
            self._begin(Draft(text, text), "")

    def _begin(self, draft: Draft, note: str) -> None:
        try:  # well-formed is enough: a broken domain's salvaged XML names it without being valid
            base = DomainXML.read(draft.base)
            self._identity = (base.uuid, base.name)
        except Exception:  # noqa: BLE001 - a definition the core cannot read: keep whatever it says
            self._identity = ("", "")
        self.setPlainText(draft.text)  # before editing starts: no re-validation timer for it
        self.editing = draft
        self._set_mode()
        self.validate()
        if note and self.error.text() == "":
            self.error.setStyleSheet("")
            self.error.setText(note)
            self._place_bar()

    def _edited(self) -> None:
        if self.editing is not None:
            self.apply_button.setEnabled(False)  # until the new text is validated
            self._timer.start()

    def validate(self) -> bool:
        """Hardened parse and the core's rules; Apply is enabled only for a valid, changed text."""
        if self.editing is None:
            return False
        self._timer.stop()
        text = self.toPlainText()
        _xml, why = editing.check_edited_xml(text, *self._identity)
        self.error.setStyleSheet(error_style())
        if why is None and text == self.editing.base:
            self.error.setStyleSheet("")
            self.error.setText(self.tr("No changes yet."))
        else:
            self.error.setText(translate(MARKED_CONTEXT, why) if why else "")  # marked, or the parser's sentence
        self.apply_button.setEnabled(why is None and text != self.editing.base)
        self._place_bar()
        return why is None

    def apply(self) -> None:
        """Show the diff; its Apply defines the text."""
        if self.editing is None or self.key is None or not self.validate():
            return
        text = self.toPlainText()
        lines = editing.unified_diff(self.editing.base, text)
        if not lines:
            return
        key = self.key
        self._flow.confirm(key, self._identity[1], lines, EditPlan(xml=text), lambda exc: self._applied(key, exc))

    def _applied(self, key: Key, exc: BaseException | None) -> None:
        if key != self.key:
            return
        if exc is not None:
            title, message, hint = (translate(MARKED_CONTEXT, part) for part in explain(exc, N_("Applying the XML")))
            self.error.setStyleSheet(error_style())
            self.error.setText(f"{message} {hint}".strip())
            self._place_bar()
            return
        self.editing = None
        self._loaded_for = None
        self._set_mode()  # the pane's "applied" hook reads the new XML

    def discard(self) -> None:
        if self.key is not None:
            self.drafts.pop(self.key, None)
        self.editing = None
        self._loaded_for = None
        self._set_mode()
        self.maybe_fetch()
