"""``xmlDiffDialog``: what a new definition changes, as a coloured unified diff, before it is applied.

Both the edit form and the XML editor end here: nothing is defined until the
person has seen the lines that change and pressed Apply.
"""
from __future__ import annotations

from html import escape

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTextEdit, QVBoxLayout, QWidget

from ...i18n import NP_, translate
from ...models.editing import changed_lines, is_header
from .. import theme
from ..names import fixed_font, name_widget


def diff_html(lines: list[str]) -> str:
    """Added lines green, removed red, hunk headers grey, others in the palette's text colour;
    everything escaped."""
    chosen = theme.colours()
    styles = {key: f"color:{fg}; background:{bg}; " for key, (fg, bg) in
              (("+", chosen.diff_added), ("-", chosen.diff_removed), ("@", chosen.diff_header))}
    out = []
    for line in lines:
        key = "" if is_header(line) else line[:1]
        style = styles.get(key, "")
        out.append(f'<div style="{style}white-space:pre">{escape(line) or "&nbsp;"}</div>')
    return "".join(out)


#: The translation context of the dialog's text (``self.tr`` here uses it too).
CONTEXT = "XmlDiffDialog"


class XmlDiffDialog(QDialog):
    """Apply (``diffApply``) accepts, Cancel rejects; ``lines`` are the unified diff shown."""

    def __init__(self, name: str, lines: list[str], note: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        name_widget(self, "xmlDiffDialog")
        self.setWindowTitle(self.tr("Apply these changes to {name}?").format(name=name))
        self.lines = lines
        layout = QVBoxLayout(self)
        changed = len(changed_lines(lines))
        layout.addWidget(QLabel(translate(CONTEXT, NP_("The new definition of {name} changes %n line:",
                                                       "The new definition of {name} changes %n lines:", changed,
                                                       name=name)), self))
        view = QTextEdit(self)
        name_widget(view, "xmlDiff")
        view.setReadOnly(True)
        view.setLineWrapMode(QTextEdit.LineWrapMode.NoWrap)
        view.setFont(fixed_font())
        view.setHtml(diff_html(lines))
        layout.addWidget(view, 1)
        if note:
            notice = QLabel(note, self)
            notice.setObjectName("diffNote")
            notice.setWordWrap(True)
            layout.addWidget(notice)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.apply = buttons.addButton(self.tr("&Apply"), QDialogButtonBox.ButtonRole.AcceptRole)
        name_widget(self.apply, "diffApply")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(720, 480)
