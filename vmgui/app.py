"""Entry point: ``vmgui`` / ``python -m vmgui`` -> :func:`main`.

One qasync loop runs on the Qt main thread. The window appears at once;
connections open in the background, so an unreachable host never delays it.
"""
from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import signal
import sys

import qasync
from PySide6.QtCore import QCoreApplication, QEvent, QSettings, QTimer
from PySide6.QtWidgets import QApplication

import drivers
from drivers import DriverError

from . import i18n, icons, logsetup
from .appid import APP_ID, EXECUTABLE, version
from .bridge import FALLBACK_URI, default_uri, load_drivers
from .gcguard import MainThreadGC
from .models import settings as store
from .models.session import Session
from .single_instance import SingleInstance, raise_window
from .textmark import N_
from .views.mainwindow import MainWindow

log = logging.getLogger(__name__)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vmgui", description="Manage virtual machines.")
    parser.add_argument("-c", "--connect", metavar="URI", action="append", default=[],
                        help="open this connection (repeatable), as virsh -c; default: the embedded "
                             "hypervisor, $LIBVIRT_DEFAULT_URI, the connections you left open and "
                             "the libvirt daemons running on this machine")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    parser.add_argument("--install-desktop", action="store_true",
                        help="add vmgui to the desktop's application menu and exit")
    parser.add_argument("--uninstall-desktop", action="store_true",
                        help="remove vmgui from the desktop's application menu and exit")
    return parser.parse_args(argv)


def prepare_qt_environment() -> None:
    """Settings that must be in place before the QApplication exists.

    Qt's GLib event dispatcher iterates GLib's global default context on the
    GUI thread; libvirt (>= 6.1) iterates the same context on its event thread,
    and the two race until the process crashes. Qt's own dispatcher avoids it.
    """
    os.environ.setdefault("QT_NO_GLIB", "1")


def open_settings() -> QSettings:
    """``$VMGUI_SETTINGS`` (an .ini path) when set, else the per-user vmgui settings."""
    path = os.environ.get("VMGUI_SETTINGS")
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "vmgui", "vmgui")


def start(uris: list[str], settings: QSettings, session: Session | None = None) -> MainWindow:
    """Build the window and begin opening connections; needs a current event loop."""
    session = session or Session()
    window = MainWindow(session, settings)
    window.apply_style(icons.style_sheet())
    if uris:
        load_drivers(uris)
        for uri in uris:
            window.connect_uri(uri)
        return window
    uri, why = default_uri()
    window.statusBar().showMessage(i18n.translate(i18n.MARKED_CONTEXT, N_("Default connection: {why}", why=why)),
                                   15000)
    if uri == FALLBACK_URI and "not" in why:
        session.messages.add("info", N_("Showing the demo host"), N_("{sentence}.", sentence=why),
                             N_("Use File ▸ Connect to open another hypervisor."))
    session.spawn(_open_default(session, uri), N_("Connecting to {uri}", uri=uri))
    opened = {uri, FALLBACK_URI}
    from_env = libvirt_default_uri()
    remembered = store.open_uris(settings)
    load_drivers([uri, *([from_env] if from_env is not None else []), *remembered])
    if from_env is not None:
        window.connect_uri(from_env)
        opened.add(from_env)
    for other in remembered:
        if other not in opened:
            window.connect_uri(other)
    if store.discover_libvirt(settings):
        session.spawn(open_discovered(session, settings.fileName()),
                      N_("Looking for this machine's libvirt daemons"))
    return window


def libvirt_default_uri() -> str | None:
    """``$LIBVIRT_DEFAULT_URI`` as libvirt's own tools read it: always a libvirt connection,
    so ``test:///default`` there is libvirt's test driver, not vmgui's."""
    value = os.environ.get("LIBVIRT_DEFAULT_URI", "").strip()
    if not value:
        return None
    return value if drivers.driver_for(value) == "libvirt" else f"libvirt:{value}"


async def open_discovered(session: Session, settings_file: str) -> None:
    """Open the libvirt daemons of this machine that answered, saying which and why.

    Finding none, or only ones that refuse or stay silent, is no news: that goes to the log only.
    """
    try:
        found = await session.bridge.discover_libvirt()
    except DriverError as exc:  # libvirt-python is not installed: nothing to discover
        log.info("not looking for libvirt daemons: %s", exc.message)
        session.discovered.emit([])
        return
    chosen = []
    for candidate in found:
        if not candidate.usable:
            log.info("not opening %s", candidate.sentence())
        elif candidate.same_as & set(session.uris()):
            log.info("%s is open already", candidate.name)
        else:
            chosen.append(candidate)
    session.discovered.emit([c.uri for c in chosen])
    if not chosen:
        return
    session.messages.add("info", N_("Opened this machine's libvirt connections"),
                         "; ".join(c.sentence() for c in chosen) + ".",  # the driver core's sentences: data
                         N_("To stop this, set discover_libvirt = false under [connections] in {settings_file}.",
                            settings_file=settings_file))
    for candidate in chosen:
        session.spawn(_open_candidate(session, candidate.uri, candidate.sentence()),
                      N_("Connecting to {uri}", uri=candidate.uri))


async def _open_candidate(session: Session, uri: str, sentence: str) -> None:
    if await session.open(uri):
        session.status.emit(sentence)


async def _open_default(session: Session, uri: str) -> None:
    if await session.open(uri) or uri == FALLBACK_URI:
        return
    session.close(uri)
    session.messages.add("warning", N_("Could not open {uri}", uri=uri),
                         N_("showing the demo host {uri} instead.", uri=FALLBACK_URI),
                         N_("The embedded QEMU driver may not be ready on this system."))
    await session.open(FALLBACK_URI)


def _claim_single_instance(app: QApplication, args: argparse.Namespace) -> tuple[bool, SingleInstance | None]:
    """Whether to go on, and the instance guard to keep while running.

    A second launch (from the menu, say) raises the running window and hands it
    its ``--connect`` URIs. ``VMGUI_SINGLE_INSTANCE=0`` runs independent copies.
    """
    try:
        instance = SingleInstance(parent=app)
        forwarded = [arg for uri in args.connect for arg in ("--connect", uri)]
        return (True, instance) if instance.claim(forwarded) else (False, None)
    except Exception as exc:  # noqa: BLE001 - a guard that fails must never stop the app
        log.warning("single-instance check unavailable: %s", exc)
        return True, None


def _finish_cancelled_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """Let cancelled tasks unwind before the loop closes (else: 'Task was destroyed but it is
    pending!'). They only await futures of driver calls, so this never waits for a driver."""
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def _set_icon(window: MainWindow) -> None:
    from . import desktop
    try:
        window.setWindowIcon(desktop.app_icon())
    except Exception as exc:  # noqa: BLE001 - cosmetic
        log.warning("no window icon: %s", exc)


def _close_on_signal(window: MainWindow, _signum: int, _frame: object) -> None:
    window.close()


def _activate(window: MainWindow, forwarded: list[str], token: str) -> None:
    try:
        uris = parse_args(forwarded).connect
    except SystemExit:
        uris = []
    for uri in uris:
        window.connect_uri(uri)
    raise_window(window, token)


def _log_to_file() -> None:
    """$XDG_STATE_HOME/vmgui/vmgui.log (vmgui.logsetup), and an error window naming it for any
    exception nobody caught (Qt slots, threads, asyncio tasks); never a reason not to start."""
    try:
        logsetup.setup_logging(capture_qt=False)
        logsetup.install_excepthook()
    except Exception as exc:  # noqa: BLE001
        print(f"vmgui: logging to a file is not available: {exc}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run vmgui until its window closes; reuses an existing QApplication."""
    try:
        args = parse_args(sys.argv[1:] if argv is None else list(argv))
    except SystemExit as exc:  # --help or a usage error, already printed by argparse
        return int(exc.code or 0)
    if args.install_desktop or args.uninstall_desktop:
        from . import desktop
        return desktop.main(["install" if args.install_desktop else "uninstall"])
    if argv is None:  # launched as the program (menu, shell): keep a log file for bug reports
        _log_to_file()
    prepare_qt_environment()
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([sys.argv[0] if sys.argv else EXECUTABLE])
    app.setApplicationName(EXECUTABLE)
    app.setDesktopFileName(APP_ID)  # the Wayland app_id / .desktop file (vmgui.appid)
    i18n.install_locale_translator(app)  # a vmgui_<locale>.qm from resources/translations, when one ships
    proceed, instance = _claim_single_instance(app, args) if existing is None else (True, None)
    if not proceed:
        return 0  # the running vmgui was asked to show itself (and open the URIs)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    if argv is None:
        logsetup.install_asyncio_handler(loop)
    settings = open_settings()
    collector = MainThreadGC()
    window = start(args.connect, settings)
    QTimer.singleShot(0, functools.partial(_set_icon, window))  # the SVG must not delay the table
    if instance is not None:
        instance.activation_requested.connect(functools.partial(_activate, window))
    window.session.loaded.connect(lambda _uri: collector.settle_soon())
    done = loop.create_future()
    window.closed.connect(lambda: done.done() or done.set_result(0))
    window.show()
    log.info("main window shown")
    # Ctrl+C in a terminal closes the window like the user would (the periodic timers run
    # Python often enough for the handler to fire promptly)
    previous_sigint = signal.signal(signal.SIGINT, functools.partial(_close_on_signal, window))
    try:
        return int(loop.run_until_complete(done))
    finally:
        signal.signal(signal.SIGINT, previous_sigint)
        window.session.stop()
        _finish_cancelled_tasks(loop)
        window.deleteLater()
        asyncio.set_event_loop(None)
        loop.close()
        # Delete the window now, on this thread: left to the cyclic GC it could be freed
        # from a driver thread, and Qt objects must die on the thread they live in.
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
        del window
        collector.stop()
        collector.deleteLater()
        if instance is not None:
            instance.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
