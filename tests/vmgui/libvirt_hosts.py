"""Private libvirt daemons for the window's tests: the bridge tests' ``daemon.py``, loaded by path."""
from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import pytest

DAEMON_PY = Path(__file__).resolve().parents[1] / "drivers" / "libvirt" / "daemon.py"


def daemon_module() -> ModuleType:
    name = "vmgui_window_tests_libvirt_daemon"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, DAEMON_PY)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@contextmanager
def running_libvirtd(host_uuid: str, label: str) -> Iterator:
    """A private unprivileged libvirtd (skips the test when this machine cannot run one)."""
    daemon = daemon_module()
    reason = daemon.unavailable_reason()
    if reason:
        pytest.skip(f"no private libvirtd: {reason}")
    daemon.reap_stale()
    d = daemon.PrivateLibvirtd(host_uuid, label=label)
    d.start_or_skip()
    try:
        yield d
    finally:
        leftovers = d.stop()
        d.remove()
        assert leftovers == [], f"QEMU processes outlived the test: {leftovers}"
