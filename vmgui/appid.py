"""The application's identity: one id used everywhere.

``APP_ID`` is the reverse-DNS application id. It is the base name of the
``.desktop`` file, the AppStream ``<id>`` and ``<launchable>``, the icon name
in the hicolor theme, the argument of ``QGuiApplication.setDesktopFileName()``
(which becomes the Wayland app_id) and the name of the single-instance socket.
Change it here and nowhere else (then run ``python packaging/render_icons.py``
to regenerate the checked-in files in ``packaging/``).
"""
from __future__ import annotations

import importlib.metadata

from .textmark import N_

#: Reverse-DNS application id (``.desktop`` base name, AppStream id, icon name).
APP_ID = "org.vmgui.VMGui"

#: Name shown to people: menu entry, window titles, message boxes.
APP_NAME = "vmgui"

#: Name of the executable (the ``vmgui`` gui-scripts entry point) and the
#: ``QCoreApplication.applicationName()``; X11 uses it as the WM_CLASS class,
#: matched by ``StartupWMClass`` in the ``.desktop`` file.
EXECUTABLE = "vmgui"

#: Directory name under the XDG base directories (state, runtime, config).
DIR_NAME = "vmgui"

#: One-line description (``.desktop`` Comment and AppStream summary; Help ▸ About shows it translated).
SUMMARY = N_("Manage virtual machines, local and remote, without waiting")

#: Project home; AppStream screenshot URLs live under it.
HOMEPAGE = "https://vmgui.org/"

#: SPDX id of the project's licence (pyproject.toml, AppStream <project_license>).
PROJECT_LICENSE = "GPL-2.0-or-later"


def version() -> str:
    """The installed package's version ("unknown" in a checkout that was never installed)."""
    try:
        return importlib.metadata.version("vmgui")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


__all__ = ["APP_ID", "APP_NAME", "EXECUTABLE", "DIR_NAME", "SUMMARY", "HOMEPAGE", "PROJECT_LICENSE", "version"]
