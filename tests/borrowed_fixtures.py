"""Fixtures of another test folder's conftest.py, for the few files that need both worlds.

A GUI test on real QEMU needs tests/vmgui's offscreen window and tests/e2e's private
roots and test guest. A conftest is not importable as a module, so it is loaded from
its file once per session (cached in sys.modules) and its fixtures are re-exported
by the test module that asked: ``env = borrow("e2e").env``.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

TESTS = Path(__file__).resolve().parent


def borrow(folder: str) -> ModuleType:
    """tests/<folder>/conftest.py as a module (loading it also runs its sys.path set-up)."""
    name = f"borrowed_conftest_{folder}"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, TESTS / folder / "conftest.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module
