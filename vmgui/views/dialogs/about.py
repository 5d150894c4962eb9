"""Help ▸ About: what is running (versions), under which licence, and where its log is."""
from __future__ import annotations

import platform

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QMessageBox, QWidget

from ...appid import APP_NAME, HOMEPAGE, PROJECT_LICENSE, SUMMARY, version
from ...logsetup import log_file_path


def about_text() -> str:
    log = log_file_path()
    return (f"{SUMMARY}.\n\nVersion {version()}\nLicence: {PROJECT_LICENSE}\n{HOMEPAGE}\n\n"
            f"Python {platform.python_version()}, Qt {qVersion()}, PySide6 {pyside_version}\n"
            + (f"Log file: {log}" if log is not None else "No log file (started from Python, not as the program)"))


def show_about(parent: QWidget) -> QMessageBox:
    """Shown with open(), never a nested exec()."""
    box = QMessageBox(QMessageBox.Icon.Information, f"About {APP_NAME}", f"{APP_NAME} {version()}", parent=parent)
    box.setObjectName("aboutDialog")
    box.setInformativeText(about_text())
    box.setStandardButtons(QMessageBox.StandardButton.Close)
    box.open()
    return box
