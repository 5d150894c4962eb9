"""Desktop integration: the launcher, icons and AppStream metainfo of vmgui.

Everything here is generated from constants in this module and in
:mod:`vmgui.appid`, which makes this module the single source of truth:

* ``python -m vmgui.desktop install``   puts the ``.desktop`` launcher, the
  icons (scalable SVG plus PNG sizes for the hicolor theme) and the AppStream
  metainfo under ``$XDG_DATA_HOME`` (default ``~/.local/share``) so vmgui
  appears in the desktop's application menu; ``uninstall`` removes them.
  The ``Exec`` line names this environment's ``vmgui`` by absolute path
  unless it is in a system directory (see :func:`launcher_command`).
  The same as functions: :func:`install_desktop` / :func:`uninstall_desktop`.
* ``python packaging/render_icons.py`` (or ``python -m vmgui.desktop export``)
  rewrites the checked-in copies in ``packaging/`` and
  ``resources/icons/vmgui.svg`` for distribution packagers; a test checks
  that they are identical to what this module generates.

The installed package needs no data files: the texts are built from strings
and the PNG icons are rendered from the embedded SVG with QtSvg.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from vmgui.appid import APP_ID, APP_NAME, EXECUTABLE, HOMEPAGE, PROJECT_LICENSE, SUMMARY

if TYPE_CHECKING:  # QtGui is imported where it is used: installing the launcher needs no display
    from PySide6.QtGui import QIcon, QImage

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------
# Constants: edit these, then run ``python packaging/render_icons.py``.
# --------------------------------------------------------------------------

#: Square PNG sizes rendered for the hicolor icon theme (besides ``scalable``).
ICON_SIZES: tuple[int, ...] = (16, 32, 48, 64, 128, 256)

#: Where screenshots are published; AppStream wants absolute https URLs.
SCREENSHOT_BASE_URL = HOMEPAGE + "screenshots/"


@dataclass(frozen=True)
class Screenshot:
    file: str        # file name in ``screenshots/`` (made by screenshots/make_screenshots.py)
    caption: str     # AppStream caption: short, no trailing full stop
    default: bool = False

    @property
    def url(self) -> str:
        return SCREENSHOT_BASE_URL + self.file


#: The screenshots shown by software centres, in order: the one list of names.
SCREENSHOTS: tuple[Screenshot, ...] = (
    Screenshot("main-window.png", "The domain list with filters in use", default=True),
    Screenshot("jobs.png", "The job panel with a running backup and a live migration"),
)


@dataclass(frozen=True)
class Release:
    version: str
    date: str            # ISO 8601 (YYYY-MM-DD)
    notes: tuple[str, ...]


#: Newest first. The first version must equal ``[project] version`` in pyproject.toml.
RELEASES: tuple[Release, ...] = (
    Release("0.1.0", "2026-11-22", (
        "First release: the domain list with filters, the job panel with progress, "
        "rate and cancel for every long operation, and connections to the embedded "
        "simulated host, to QEMU through QMP and to libvirt hosts, local or remote.",
    )),
)

GENERIC_NAME = "Virtual Machine Manager"
CATEGORIES = ("System", "Emulator")
KEYWORDS = ("virtual machine", "VM", "QEMU", "KVM", "libvirt", "virtualization",
            "hypervisor", "migration", "backup", "snapshot")
METADATA_LICENSE = "CC0-1.0"
DEVELOPER_NAME = "The vmgui developers"
BUGTRACKER_URL = HOMEPAGE + "issues"

DESCRIPTION_PARAGRAPHS: tuple[str, ...] = (
    "vmgui is a desktop manager for virtual machines that stays fast and clear with "
    "thousands of machines and never freezes: every hypervisor call runs in the "
    "background, the machine list is kept current by events, and every long operation "
    "is a job you can watch and cancel.",
)
DESCRIPTION_ITEMS: tuple[str, ...] = (
    "Filter the machine list by state, autostart, persistence, snapshots and managed save",
    "Start, pause, save, restore and snapshot machines",
    "Back up disks and migrate machines between hosts with live progress, rate and time left",
    "Manage QEMU machines directly, with no daemon, or any libvirt host, local or over SSH",
    "Try everything on a built-in simulated host with demo machines",
)

# The application icon: an original drawing (a monitor showing a stack of
# virtual-machine windows, the front one running with a job in progress).
# Keep it valid SVG Tiny 1.2 (what QtSvg renders): no filters, no CSS.
ICON_SVG = """\
<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128" version="1.1">
  <title>vmgui</title>
  <defs>
    <linearGradient id="bezel" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="#48505e"/>
      <stop offset="1" stop-color="#262b34"/>
    </linearGradient>
    <linearGradient id="screen" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="#62a8ee"/>
      <stop offset="1" stop-color="#2a62ad"/>
    </linearGradient>
    <linearGradient id="stand" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="#8a94a3"/>
      <stop offset="1" stop-color="#5d6675"/>
    </linearGradient>
  </defs>
  <path d="M 52 96 L 76 96 L 81 112 L 47 112 Z" fill="url(#stand)"/>
  <rect x="34" y="109" width="60" height="9" rx="4.5" fill="#4c5461"/>
  <rect x="6" y="10" width="116" height="88" rx="12" fill="url(#bezel)"/>
  <rect x="13" y="17" width="102" height="72" rx="6" fill="url(#screen)"/>
  <rect x="22" y="24" width="56" height="38" rx="4" fill="#9fc3ec"/>
  <rect x="22" y="24" width="56" height="8" rx="4" fill="#7fa9dc"/>
  <rect x="34" y="35" width="58" height="38" rx="4" fill="#cfe1f6"/>
  <rect x="34" y="35" width="58" height="8" rx="4" fill="#9bbfe8"/>
  <rect x="46" y="46" width="62" height="38" rx="4" fill="#ffffff"/>
  <path d="M 50 46 L 104 46 A 4 4 0 0 1 108 50 L 108 55 L 46 55 L 46 50 A 4 4 0 0 1 50 46 Z" fill="#1f4a85"/>
  <circle cx="51.5" cy="50.5" r="1.8" fill="#9bbfe8"/>
  <circle cx="57" cy="50.5" r="1.8" fill="#9bbfe8"/>
  <path d="M 70 59 L 70 73 L 82 66 Z" fill="#2ea44f"/>
  <rect x="52" y="77" width="50" height="3.5" rx="1.75" fill="#d3dbe6"/>
  <rect x="52" y="77" width="30" height="3.5" rx="1.75" fill="#2ea44f"/>
</svg>
"""

# --------------------------------------------------------------------------
# Generated texts
# --------------------------------------------------------------------------

def desktop_file_name() -> str:
    return f"{APP_ID}.desktop"


def metainfo_file_name() -> str:
    return f"{APP_ID}.metainfo.xml"


def _desktop_escape(value: str) -> str:
    """Escape a string value of a desktop entry key."""
    return (value.replace("\\", "\\\\").replace("\n", "\\n")
            .replace("\t", "\\t").replace("\r", "\\r"))


def _exec_quote(arg: str) -> str:
    """Quote one argument of an ``Exec`` key (Desktop Entry spec, "The Exec key")."""
    reserved = set(" \t\n\"'\\><~|&;$*?#()`=")
    if arg and not any(c in reserved for c in arg) and "%" not in arg:
        return arg
    inner = "".join("\\" + c if c in '"`$\\' else c for c in arg).replace("%", "%%")
    # The desktop file itself escapes backslashes once more (string value rules).
    return '"' + inner + '"'


def desktop_entry(exec_command: Sequence[str] = (EXECUTABLE,)) -> str:
    """The ``.desktop`` file. ``exec_command`` is the launcher's argv (unquoted).

    The checked-in file uses the default (``vmgui`` looked up in ``$PATH``);
    :func:`install_desktop` passes :func:`launcher_command`, an absolute path
    unless the launcher is in ``/usr/bin`` or another system directory.
    """
    exec_line = " ".join(_exec_quote(a) for a in exec_command)
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.4",
        f"Name={_desktop_escape(APP_NAME)}",
        f"GenericName={_desktop_escape(GENERIC_NAME)}",
        f"Comment={_desktop_escape(SUMMARY)}",
        f"Exec={_desktop_escape(exec_line)}",
        f"TryExec={_desktop_escape(exec_command[0])}",
        f"Icon={APP_ID}",
        "Terminal=false",
        "Categories=" + "".join(c + ";" for c in CATEGORIES),
        "Keywords=" + "".join(_desktop_escape(k) + ";" for k in KEYWORDS),
        "StartupNotify=true",
        f"StartupWMClass={EXECUTABLE}",
    ]
    return "\n".join(lines) + "\n"


def metainfo_xml() -> str:
    """The AppStream metainfo (``appstreamcli validate --no-net`` clean)."""
    e = escape
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<!-- Generated by vmgui/desktop.py; edit that file, then run packaging/render_icons.py -->",
        '<component type="desktop-application">',
        f"  <id>{e(APP_ID)}</id>",
        f"  <metadata_license>{e(METADATA_LICENSE)}</metadata_license>",
        f"  <project_license>{e(PROJECT_LICENSE)}</project_license>",
        f"  <name>{e(APP_NAME)}</name>",
        f"  <summary>{e(SUMMARY)}</summary>",
        f"  <developer_name>{e(DEVELOPER_NAME)}</developer_name>",
        "  <description>",
    ]
    out += [f"    <p>{e(p)}</p>" for p in DESCRIPTION_PARAGRAPHS]
    out.append("    <ul>")
    out += [f"      <li>{e(item)}</li>" for item in DESCRIPTION_ITEMS]
    out += [
        "    </ul>",
        "  </description>",
        f'  <launchable type="desktop-id">{e(desktop_file_name())}</launchable>',
        f'  <icon type="stock">{e(APP_ID)}</icon>',
        f'  <url type="homepage">{e(HOMEPAGE)}</url>',
        f'  <url type="bugtracker">{e(BUGTRACKER_URL)}</url>',
        "  <categories>",
    ]
    out += [f"    <category>{e(c)}</category>" for c in CATEGORIES]
    out.append("  </categories>")
    out.append("  <keywords>")
    out += [f"    <keyword>{e(k)}</keyword>" for k in KEYWORDS]
    out.append("  </keywords>")
    out.append("  <screenshots>")
    for shot in SCREENSHOTS:
        attr = ' type="default"' if shot.default else ""
        out += [
            f"    <screenshot{attr}>",
            f"      <caption>{e(shot.caption)}</caption>",
            f'      <image type="source">{e(shot.url)}</image>',
            "    </screenshot>",
        ]
    out.append("  </screenshots>")
    out.append("  <releases>")
    for rel in RELEASES:
        out += [
            f'    <release version="{e(rel.version)}" date="{e(rel.date)}">',
            "      <description>",
        ]
        out += [f"        <p>{e(p)}</p>" for p in rel.notes]
        out += ["      </description>", "    </release>"]
    out.append("  </releases>")
    out += [
        "  <provides>",
        f"    <binary>{e(EXECUTABLE)}</binary>",
        "  </provides>",
        "  <supports>",
        "    <control>pointing</control>",
        "    <control>keyboard</control>",
        "  </supports>",
        '  <content_rating type="oars-1.1"/>',
        "</component>",
    ]
    return "\n".join(out) + "\n"


def icon_svg() -> str:
    return ICON_SVG


def render_icon_image(size: int) -> QImage:
    """Render the icon to a ``size`` x ``size`` ARGB32 ``QImage`` (no QApplication needed)."""
    from PySide6.QtCore import QByteArray, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(QByteArray(ICON_SVG.encode("utf-8")))
    if not renderer.isValid():
        raise ValueError("the embedded application icon is not valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
    renderer.render(painter)
    painter.end()
    return image.convertToFormat(QImage.Format.Format_ARGB32)


def render_icon_png(size: int) -> bytes:
    """Render the icon to a ``size`` x ``size`` PNG (QtSvg; no QApplication needed)."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    if not render_icon_image(size).save(buf, "PNG"):  # type: ignore[call-overload]
        raise OSError(f"could not encode the {size}px icon as PNG")
    buf.close()
    return bytes(data.data())


def app_icon() -> QIcon:
    """A ``QIcon`` of the application icon for ``QApplication.setWindowIcon``.

    Uses the installed theme icon when present, otherwise the embedded SVG
    (so the window has its icon even before ``--install-desktop``). Needs a
    ``QGuiApplication``.
    """
    from PySide6.QtGui import QIcon, QPixmap

    icon = QIcon.fromTheme(APP_ID)
    if not icon.isNull():
        return icon
    icon = QIcon()
    for size in (16, 32, 64, 256):   # Qt scales between these; rendering all costs start-up time
        icon.addPixmap(QPixmap.fromImage(render_icon_image(size)))
    return icon


# --------------------------------------------------------------------------
# Where files go
# --------------------------------------------------------------------------

def xdg_data_home() -> Path:
    """``$XDG_DATA_HOME`` if set to an absolute path, else ``~/.local/share``."""
    value = os.environ.get("XDG_DATA_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / ".local" / "share"


def _relative_files() -> dict[str, str | int]:
    """Relative path under a data dir -> text (str) or PNG size (int)."""
    files: dict[str, str | int] = {
        f"applications/{desktop_file_name()}": "desktop",
        f"metainfo/{metainfo_file_name()}": "metainfo",
        f"icons/hicolor/scalable/apps/{APP_ID}.svg": "svg",
    }
    for size in ICON_SIZES:
        files[f"icons/hicolor/{size}x{size}/apps/{APP_ID}.png"] = size
    return files


def installed_paths(data_home: str | os.PathLike[str] | None = None) -> list[Path]:
    """The files :func:`install_desktop` writes (and :func:`uninstall_desktop` removes)."""
    base = Path(data_home) if data_home is not None else xdg_data_home()
    return [base / rel for rel in _relative_files()]


#: Directories on every desktop session's ``$PATH``: a launcher there is named plainly.
SYSTEM_BIN_DIRS = ("/usr/bin", "/bin", "/usr/local/bin")


def launcher_command() -> list[str]:
    """The argv the installed launcher runs.

    This environment's ``vmgui`` script by absolute path (a virtualenv as in
    the README's quick start, ``pip --user``, pipx: menus do not read the
    shell's ``$PATH`` additions), or plain ``vmgui`` when that script is in a
    system directory every session has on ``$PATH`` -- as in the checked-in
    file for distribution packages. Falls back to ``vmgui`` (with a warning)
    when this environment has no launcher, e.g. when run from a checkout.
    """
    candidates = []
    for scheme_dir in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        if scheme_dir:
            candidates.append(Path(scheme_dir) / EXECUTABLE)
    local = next((c for c in candidates if c.is_file() and os.access(c, os.X_OK)), None)
    if local is None:
        if shutil.which(EXECUTABLE) is None:
            log.warning("%s is not installed as a command; the menu entry will run %r "
                        "from $PATH", EXECUTABLE, EXECUTABLE)
        return [EXECUTABLE]
    if str(local.parent) in SYSTEM_BIN_DIRS:
        return [EXECUTABLE]
    return [str(local.absolute())]


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _refresh_caches(base: Path) -> None:
    """Best effort: tell menus and the icon theme cache that files changed."""
    cmds = []
    if shutil.which("update-desktop-database"):
        cmds.append(["update-desktop-database", "-q", str(base / "applications")])
    hicolor = base / "icons" / "hicolor"
    # Only refresh an existing cache: a user hicolor dir normally has none, and
    # creating one would hide icons installed later without a refresh.
    if (hicolor / "icon-theme.cache").exists() and shutil.which("gtk-update-icon-cache"):
        cmds.append(["gtk-update-icon-cache", "-q", "-f", "-t", str(hicolor)])
    for cmd in cmds:
        try:
            subprocess.run(cmd, check=False, timeout=30,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError) as exc:  # pragma: no cover
            log.info("could not run %s: %s", cmd[0], exc)


def _content(kind: str | int, exec_command: Sequence[str]) -> bytes:
    if isinstance(kind, int):
        return render_icon_png(kind)
    text = {"desktop": lambda: desktop_entry(exec_command), "metainfo": metainfo_xml,
            "svg": icon_svg}[kind]()
    return text.encode("utf-8")


def install_desktop(data_home: str | os.PathLike[str] | None = None, *,
                    exec_command: Sequence[str] | None = None,
                    refresh_caches: bool = True) -> list[Path]:
    """Install the launcher, icons and metainfo under ``data_home``.

    ``data_home`` defaults to ``$XDG_DATA_HOME`` (``~/.local/share``). Files
    are replaced atomically, so installing again updates them. Returns the
    paths written.
    """
    base = Path(data_home) if data_home is not None else xdg_data_home()
    command = list(exec_command) if exec_command is not None else launcher_command()
    written = []
    for rel, kind in _relative_files().items():
        path = base / rel
        _atomic_write(path, _content(kind, command))
        written.append(path)
    if refresh_caches:
        _refresh_caches(base)
    log.info("installed the desktop launcher under %s (Exec=%s)", base, " ".join(command))
    return written


def uninstall_desktop(data_home: str | os.PathLike[str] | None = None, *,
                      refresh_caches: bool = True) -> list[Path]:
    """Remove what :func:`install_desktop` installed; returns the paths removed.

    Only vmgui's own files are removed (and directories left empty by that
    inside the icon theme); other applications' files are never touched.
    """
    base = Path(data_home) if data_home is not None else xdg_data_home()
    removed = []
    for path in installed_paths(base):
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path)
        # Remove now-empty size directories of the icon theme, not the theme itself.
        parent = path.parent
        hicolor = base / "icons" / "hicolor"
        while parent != hicolor and hicolor in parent.parents:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent
    if refresh_caches and removed:
        _refresh_caches(base)
    log.info("removed %d desktop integration files from %s", len(removed), base)
    return removed


# --------------------------------------------------------------------------
# Checked-in copies for packagers
# --------------------------------------------------------------------------

def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def packaging_files(packaging_dir: Path, resources_dir: Path) -> dict[Path, bytes | int]:
    """Checked-in file -> bytes (text files) or PNG size (icons)."""
    files: dict[Path, bytes | int] = {
        packaging_dir / desktop_file_name(): desktop_entry().encode("utf-8"),
        packaging_dir / metainfo_file_name(): metainfo_xml().encode("utf-8"),
        packaging_dir / "icons/hicolor/scalable/apps" / f"{APP_ID}.svg": ICON_SVG.encode("utf-8"),
        resources_dir / "icons" / "vmgui.svg": ICON_SVG.encode("utf-8"),
    }
    for size in ICON_SIZES:
        files[packaging_dir / f"icons/hicolor/{size}x{size}/apps/{APP_ID}.png"] = size
    return files


def export_packaging(packaging_dir: str | os.PathLike[str] | None = None,
                     resources_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Write the checked-in copies (``packaging/`` and ``resources/icons/vmgui.svg``)."""
    root = repo_root()
    pdir = Path(packaging_dir) if packaging_dir is not None else root / "packaging"
    rdir = Path(resources_dir) if resources_dir is not None else root / "resources"
    written = []
    for path, content in packaging_files(pdir, rdir).items():
        data = render_icon_png(content) if isinstance(content, int) else content
        _atomic_write(path, data)
        written.append(path)
    return written


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vmgui.desktop",
        description=f"Install or remove {APP_NAME}'s menu entry, icons and AppStream metainfo.")
    sub = parser.add_subparsers(dest="command", required=True)
    inst = sub.add_parser("install", help="install into the XDG data directory")
    inst.add_argument("--exec", dest="exec_command", metavar="PATH",
                      help="launcher for the Exec line (default: found automatically)")
    uninst = sub.add_parser("uninstall", help="remove from the XDG data directory")
    for p in (inst, uninst):
        p.add_argument("--data-home", metavar="DIR",
                       help="data directory (default: $XDG_DATA_HOME or ~/.local/share)")
    ex = sub.add_parser("export", help="rewrite the checked-in files in packaging/")
    ex.add_argument("--packaging-dir", metavar="DIR")
    ex.add_argument("--resources-dir", metavar="DIR")
    args = parser.parse_args(argv)

    try:
        if args.command == "install":
            exec_command = [args.exec_command] if args.exec_command else None
            paths = install_desktop(args.data_home, exec_command=exec_command)
            print(f"Installed {APP_NAME} into the application menu:")
        elif args.command == "uninstall":
            paths = uninstall_desktop(args.data_home)
            print(f"Removed {len(paths)} files." if paths else f"{APP_NAME} was not installed.")
        else:
            paths = export_packaging(args.packaging_dir, args.resources_dir)
            print("Wrote:")
    except OSError as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
