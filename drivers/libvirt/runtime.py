"""Process-wide libvirt plumbing: import, event loop thread, open with a timeout.

* libvirt-python is optional (``pip install 'vmgui[libvirt]'``); :func:`lv`
  imports it or fails with NO_SUPPORT saying how to install it.
* libvirt's default event loop (``virEventRegisterDefaultImpl``) runs on one
  daemon thread, ``libvirt-events``, started before the first connection is
  opened. It carries keepalive, the close callbacks and every domain event of
  every libvirt connection of the process. Since libvirt 6.1 that loop iterates
  GLib's *global* default context: nothing else in the process may iterate it
  on another thread (Qt's GLib dispatcher does; vmgui.app sets QT_NO_GLIB=1). Callbacks only translate and queue
  (see :mod:`drivers.events`), so nothing slow ever runs on that thread.
* :func:`open_with_timeout` opens a connection on a helper thread and gives up
  after a deadline: a host that never answers costs its caller the timeout and
  nothing else. If the abandoned open succeeds later, that connection is closed.
* :func:`driver_supports_feature` asks libvirt's ``virConnectSupportsFeature``
  (exported by libvirt.so but not wrapped by libvirt-python) through ctypes:
  it is the RPC the remote driver answers for migration negotiation.
"""
from __future__ import annotations

import ctypes
import logging
import threading
from typing import Any

from ..errors import DriverError, ErrorCode
from .errors import translate

log = logging.getLogger(__name__)

INSTALL_HINT = ("libvirt connections need libvirt-python: install it with "
                "pip install 'vmgui[libvirt]' (building it needs gcc, pkg-config and libvirt-dev, "
                "e.g. apt-get install libvirt-dev)")

_lock = threading.Lock()
_libvirt: Any = None
_loop_thread: threading.Thread | None = None
_feature_fn: Any = None
_feature_fn_loaded = False


def lv() -> Any:
    """The ``libvirt`` module with the event loop running; NO_SUPPORT when missing."""
    global _libvirt
    if _libvirt is not None:
        return _libvirt
    with _lock:
        if _libvirt is None:
            try:
                import libvirt
            except ImportError as exc:
                raise DriverError(ErrorCode.NO_SUPPORT, f"{INSTALL_HINT} ({exc})") from None
            # libvirt prints every error to stderr by default; we raise them instead.
            libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
            _start_event_loop(libvirt)
            _libvirt = libvirt
    return _libvirt


def _start_event_loop(libvirt: Any) -> None:
    global _loop_thread
    if _loop_thread is not None:
        return
    libvirt.virEventRegisterDefaultImpl()

    def run() -> None:
        while True:
            try:
                libvirt.virEventRunDefaultImpl()
            except Exception:
                log.exception("libvirt event loop iteration failed")

    _loop_thread = threading.Thread(target=run, name="libvirt-events", daemon=True)
    _loop_thread.start()


def open_with_timeout(uri: str, timeout: float, readonly: bool = False) -> Any:
    """``libvirt.open(uri)`` that gives up after ``timeout`` seconds (OPERATION_TIMEOUT)."""
    libvirt = lv()
    state: dict[str, Any] = {}
    done = threading.Event()
    guard = threading.Lock()

    def run() -> None:
        try:
            conn = libvirt.openReadOnly(uri) if readonly else libvirt.open(uri)
        except libvirt.libvirtError as exc:
            state["error"] = exc
        except BaseException as exc:  # noqa: BLE001
            state["error"] = exc
        else:
            with guard:
                if state.get("abandoned"):
                    _close_quietly(conn)
                    return
                state["conn"] = conn
        finally:
            done.set()

    threading.Thread(target=run, name=f"libvirt-open {uri}", daemon=True).start()
    done.wait(timeout)
    with guard:
        if "conn" in state:
            return state["conn"]
        if "error" not in state:
            state["abandoned"] = True
            raise DriverError(ErrorCode.OPERATION_TIMEOUT,
                              f"{uri} did not answer within {timeout:g} s; check that the host is up "
                              "and reachable, then connect again")
    error = state["error"]
    if isinstance(error, libvirt.libvirtError):
        raise translate(error, f"cannot connect to {uri}")
    raise DriverError(ErrorCode.OPERATION_FAILED, f"cannot connect to {uri}: {error}")


def _close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # noqa: BLE001
        pass


def _load_feature_fn() -> Any:
    global _feature_fn, _feature_fn_loaded
    if _feature_fn_loaded:
        return _feature_fn
    _feature_fn_loaded = True
    try:
        lib = ctypes.CDLL("libvirt.so.0")
        fn = lib.virConnectSupportsFeature
        fn.argtypes = [ctypes.c_void_p, ctypes.c_int]
        fn.restype = ctypes.c_int
        get = ctypes.pythonapi.PyCapsule_GetPointer
        get.restype = ctypes.c_void_p
        get.argtypes = [ctypes.py_object, ctypes.c_char_p]
        _feature_fn = (fn, get)
    except (OSError, AttributeError):
        log.info("virConnectSupportsFeature is not available; features come from capabilities")
        _feature_fn = None
    return _feature_fn


def driver_supports_feature(vconn: Any, feature: int) -> bool | None:
    """libvirt's own answer for a VIR_DRV_FEATURE_* number; None when it cannot be asked."""
    loaded = _load_feature_fn()
    if loaded is None:
        return None
    fn, get = loaded
    try:
        pointer = get(vconn._o, b"virConnectPtr")
    except Exception:  # noqa: BLE001 - another binding layout
        return None
    result = fn(pointer, int(feature))
    if result < 0:
        return None
    return bool(result)
