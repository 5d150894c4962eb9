"""Help ▸ About: what is running (versions), under which licence, and where its log is."""
from __future__ import annotations

import platform

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QMessageBox, QWidget

from ...appid import APP_NAME, HOMEPAGE, PROJECT_LICENSE, SUMMARY, version
from ...i18n import N_, translate
from ...logsetup import log_file_path

#: The translation context of the box's text.
CONTEXT = "AboutDialog"


def about_text() -> str:
    log = log_file_path()
    where = N_("Log file: {path}", path=str(log)) if log is not None \
        else N_("No log file (started from Python, not as the program)")
    return translate(CONTEXT, N_("{summary}.\n\nVersion {version}\nLicence: {licence}\n{homepage}\n\n"
                                 "Python {python}, Qt {qt}, PySide6 {pyside}\n{log}",
                                 summary=SUMMARY, version=version(), licence=PROJECT_LICENSE, homepage=HOMEPAGE,
                                 python=platform.python_version(), qt=qVersion(), pyside=pyside_version, log=where))


def show_about(parent: QWidget) -> QMessageBox:
    """Shown with open(), never a nested exec()."""
    box = QMessageBox(QMessageBox.Icon.Information, translate(CONTEXT, N_("About {app}", app=APP_NAME)),
                      translate(CONTEXT, N_("{app} {version}", app=APP_NAME, version=version())), parent=parent)
    box.setObjectName("aboutDialog")
    box.setInformativeText(about_text())
    box.setStandardButtons(QMessageBox.StandardButton.Close)
    box.open()
    return box
