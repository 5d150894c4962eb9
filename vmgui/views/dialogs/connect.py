"""Connect dialog: a URI with history and examples; validated before it is tried."""
from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from ...i18n import N_, translate
from ..names import error_label, name_widget

EXAMPLES = ("test:///default", "qemu:///embed", "qemu:///system", "qemu+ssh://user@host/system")


def uri_problem(uri: str) -> str | None:
    """Why ``uri`` cannot be a connection URI (marked for translation), or None."""
    uri = uri.strip()
    if not uri:
        return N_("Enter a connection URI, for example test:///default.")
    if ":" not in uri or any(c.isspace() for c in uri):
        return N_("“{uri}” is not a URI: it needs a scheme such as test:/// or qemu:///.", uri=uri)
    return None


class ConnectDialog(QDialog):
    """Non-blocking: use ``open()`` and read :attr:`uri` in ``accepted``."""

    def __init__(self, history: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        name_widget(self, "connectDialog")
        self.setWindowTitle(self.tr("Connect to a hypervisor"))
        self.combo = QComboBox(self)
        name_widget(self.combo, "connectUri", self.tr("Connection URI"))
        self.combo.setEditable(True)
        line = self.combo.lineEdit()
        if line is not None:
            line.setAccessibleName(self.tr("Connection URI"))
        self.combo.setMinimumWidth(380)
        for uri in history + [u for u in EXAMPLES if u not in history]:
            self.combo.addItem(uri)
        self.combo.setCurrentText(history[0] if history else EXAMPLES[0])
        self.error = error_label(self, "connectError")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.tr("&Connect"))
        buttons.accepted.connect(self._check)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        caption = QLabel(self.tr("Connection &URI (test:///default, qemu:///embed, or any libvirt URI):"), self)
        caption.setBuddy(self.combo)
        layout.addWidget(caption)
        layout.addWidget(self.combo)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    @property
    def uri(self) -> str:
        return self.combo.currentText().strip()

    def _check(self) -> None:
        problem = uri_problem(self.uri)
        if problem:
            self.error.setText(translate("ConnectDialog", problem))
            return
        self.accept()
