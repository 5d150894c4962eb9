"""Which package may import which: the layers of vmgui and the driver core, read from the source.

From the top: ``vmgui.app`` (builds everything) -> ``vmgui.views`` (widgets) -> ``vmgui.flows``
(QtCore-only sequences of steps) -> ``vmgui.models`` -> the bridge (``vmgui.bridge`` and the
plain-Python pieces it runs: worker pool, call queues, console streams, snapshot facts) -> the
driver core (``drivers``). A layer never imports one above it, views never reach past the models
to the bridge, the flows use no Qt beyond QtCore, and vmgui reaches a driver only through the
core's registry (``drivers.open``), never a driver package itself. The driver core knows nothing
of Qt or of vmgui. Every import
counts: inside functions, under ``TYPE_CHECKING``, relative or absolute.

KNOWN_VIOLATIONS lists the imports that break these rules today. It may only shrink: a new
violation fails, and so does a listed one that no longer occurs (remove it from the list).
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("drivers", "vmgui")

#: Driver packages vmgui must not import: it opens connections through drivers.open / the registry.
DRIVER_BACKENDS = ("drivers.qemu", "drivers.test", "drivers.libvirt", "drivers.locking")
#: What the driver core must never import.
NOT_IN_DRIVERS = ("PySide6", "qasync", "vmgui")
#: The bridge layer: the driver-call side of vmgui, below the models.
BRIDGE = ("vmgui.bridge", "vmgui.calls", "vmgui.workers", "vmgui.streams", "vmgui.snapshots")
#: vmgui's layers from the bottom up; a module not named here is a helper used by any layer
#: (application id, icons, logging, desktop files, single instance, the GC timer), which imports none.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("the bridge", BRIDGE),
    ("vmgui.models", ("vmgui.models",)),
    ("vmgui.flows", ("vmgui.flows",)),
    ("vmgui.views", ("vmgui.views",)),
    ("vmgui.app", ("vmgui.app", "vmgui.__main__")),
)

#: (importer, imported module) pairs that break a rule today.
KNOWN_VIOLATIONS: frozenset[tuple[str, str]] = frozenset()


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_modules(root: Path) -> dict[str, Path]:
    """Module name -> file, for every module of the checked packages."""
    return {module_name(path, root): path for package in PACKAGES for path in sorted((root / package).rglob("*.py"))}


def imports_of(module: str, path: Path, known: set[str]) -> Iterator[str]:
    """Every module ``module`` imports. ``from a import b`` is ``a.b`` when that is one of our modules
    or ``a`` is not ours (``PySide6.QtWidgets``, ``PySide6.QtCore.QObject``), else ``a``."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            ours = any(within(origin, package) for package in PACKAGES)
            for alias in node.names:
                dotted = f"{origin}.{alias.name}"
                yield dotted if dotted in known or not ours else origin


def layer_of(module: str) -> int | None:
    """The layer's height (the driver core is 0), or None for a vmgui helper module."""
    if within(module, "drivers"):
        return 0
    for height, (_name, members) in enumerate(LAYERS, start=1):
        if any(within(module, member) for member in members):
            return height
    return None


def broken_rule(importer: str, imported: str) -> str | None:
    """Why ``importer`` may not import ``imported``, or None if it may."""
    if within(importer, "drivers"):
        banned = next((name for name in NOT_IN_DRIVERS if within(imported, name)), None)
        return f"the driver core never imports {banned}" if banned else None
    if within(importer, "vmgui.flows") and within(imported, "PySide6") and not within(imported, "PySide6.QtCore"):
        return "the flows use no Qt beyond QtCore"
    if not within(imported, "vmgui") and not within(imported, "drivers"):
        return None  # the standard library, Qt, lxml...
    backend = next((name for name in DRIVER_BACKENDS if within(imported, name)), None)
    if backend:
        return f"vmgui never imports {backend}, only the driver core (connections come from drivers.open)"
    if within(importer, "vmgui.views") and within(imported, "vmgui.bridge"):
        return "views reach the bridge only through the models"
    low, high = layer_of(importer), layer_of(imported)
    if high is None or high == 0:
        return None  # a helper module or the driver core: every layer may use them
    if low is None:
        return f"a helper module never imports a layer ({LAYERS[high - 1][0]})"
    if high > low:
        return f"{LAYERS[low - 1][0]} never imports the layer above it ({LAYERS[high - 1][0]})"
    return None


def violations(root: Path) -> dict[tuple[str, str], str]:
    """(importer, imported) -> the rule it breaks, over the whole source tree under ``root``."""
    modules = source_modules(root)
    known = set(modules)
    found = {}
    for module, path in modules.items():
        for imported in imports_of(module, path, known):
            reason = broken_rule(module, imported)
            if reason is not None:
                found[(module, imported)] = reason
    return found


def test_no_import_breaks_the_layers() -> None:
    new = {pair: why for pair, why in violations(ROOT).items() if pair not in KNOWN_VIOLATIONS}
    assert not new, "imports that break the layers:\n" + "\n".join(
        f"  {importer} imports {imported}: {why}" for (importer, imported), why in sorted(new.items()))


def test_every_known_violation_still_occurs() -> None:
    gone = KNOWN_VIOLATIONS - violations(ROOT).keys()
    assert not gone, "no longer happening, remove from KNOWN_VIOLATIONS:\n" + "\n".join(
        f"  {importer} imports {imported}" for importer, imported in sorted(gone))


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name in ("drivers/__init__.py", "vmgui/__init__.py", *files):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files.get(name, ""))
    return root


@pytest.mark.parametrize(("files", "expected"), [
    ({"drivers/core.py": "def f():\n    from PySide6.QtCore import QObject\n"},
     {("drivers.core", "PySide6.QtCore.QObject")}),
    ({"vmgui/models/__init__.py": "", "vmgui/models/m.py": "from ..views import w\n",
      "vmgui/views/__init__.py": "", "vmgui/views/w.py": ""},
     {("vmgui.models.m", "vmgui.views.w")}),
    ({"vmgui/views/__init__.py": "", "vmgui/views/v.py": "from typing import TYPE_CHECKING\n"
      "if TYPE_CHECKING:\n    from vmgui.bridge import Bridge\n", "vmgui/bridge.py": ""},
     {("vmgui.views.v", "vmgui.bridge")}),
    ({"vmgui/models/__init__.py": "", "vmgui/models/m.py": "import drivers.locking.client\n"},
     {("vmgui.models.m", "drivers.locking.client")}),
    ({"vmgui/flows/__init__.py": "", "vmgui/flows/f.py": "from .. import app\n", "vmgui/app.py": ""},
     {("vmgui.flows.f", "vmgui.app")}),
    ({"vmgui/flows/__init__.py": "", "vmgui/flows/f.py": "from PySide6.QtCore import QObject\n"
      "from PySide6 import QtCore, QtWidgets\n"},
     {("vmgui.flows.f", "PySide6.QtWidgets")}),
    ({"vmgui/icons.py": "from vmgui.models import format\n", "vmgui/models/__init__.py": "",
      "vmgui/models/format.py": ""},
     {("vmgui.icons", "vmgui.models.format")}),
    ({"vmgui/views/__init__.py": "", "vmgui/views/v.py": "from ..models import format\nimport drivers\n"
      "from drivers.domxml import DomainXML\nfrom vmgui import icons\n", "vmgui/models/__init__.py": "",
      "vmgui/models/format.py": "from ..bridge import Bridge\n", "vmgui/bridge.py": "import drivers\n",
      "vmgui/icons.py": "from PySide6.QtGui import QIcon\n"},
     set()),
])
def test_the_check_sees_each_kind_of_violation(tmp_path: Path, files: dict[str, str],
                                               expected: set[tuple[str, str]]) -> None:
    assert set(violations(_tree(tmp_path, files))) == expected


def bridge_reaches(root: Path) -> list[str]:
    """Places in vmgui.views that touch an object's ``bridge`` attribute ("module:line"): a view hands its
    work to the session's methods, which go through the bridge, and never holds the bridge itself."""
    found = []
    for module, path in source_modules(root).items():
        if not within(module, "vmgui.views"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "bridge":
                found.append(f"{module}:{node.lineno}")
    return found


def test_views_never_reach_the_bridge_through_the_session() -> None:
    assert bridge_reaches(ROOT) == []


def test_the_bridge_check_sees_an_attribute_reach(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"vmgui/views/w.py": "def f(session):\n    return session.bridge.call\n"})
    assert bridge_reaches(root) == ["vmgui.views.w:2"]
