"""The modules of drivers/qemu form a one-way stack: read with ``ast``, no module is imported.

Three rules, each a failure a person can act on:

* every import sits at module level (``if TYPE_CHECKING:`` blocks included), so what a
  module needs is in its first lines and nothing loads behind the reader's back;
* the package's modules import each other without a cycle, TYPE_CHECKING imports counted:
  an import that points up the stack is a cycle to remove, not one to hide;
* no module reads a ``_private`` attribute of an object it does not own: as far as the
  syntax tells, an ``x._name`` on anything but ``self`` or ``cls`` (``x.__dunder__`` is fine).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "drivers" / "qemu"
NAME = "drivers.qemu"
#: names of the standard library that start with an underscore and are its public API all the same
PUBLIC_UNDERSCORE = frozenset({"os._exit"})


def modules(package: Path = PACKAGE) -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in sorted(package.glob("*.py"))}


def _type_checking_block(node: ast.stmt) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING" or \
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _module_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports of the module body, inside module-level ``if``/``try`` blocks too (not in functions or classes)."""
    found: list[ast.Import | ast.ImportFrom] = []
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, (ast.If, ast.Try)):
            todo += node.body + node.orelse + getattr(node, "finalbody", [])
            todo += [stmt for handler in getattr(node, "handlers", []) for stmt in handler.body]
    return found


def function_level_imports(trees: dict[str, ast.Module]) -> list[str]:
    out = []
    for name, tree in trees.items():
        top = {id(node) for node in _module_level_imports(tree)}
        out += [f"{name}.py:{node.lineno}" for node in ast.walk(tree)
                if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top]
    return out


def imported_siblings(name: str, tree: ast.Module, siblings: set[str]) -> set[str]:
    """The package's modules ``name`` imports (``from . import x``, ``from .x import y``, absolute forms)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                base = node.module
            elif node.level == 0 and node.module and node.module.startswith(NAME):
                base = node.module[len(NAME) + 1:] or None
            else:
                continue
            if base:
                out.add(base.split(".")[0])
            else:
                out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name[len(NAME) + 1:].split(".")[0] for a in node.names if a.name.startswith(NAME + ".")}
    return (out & siblings) - {name, "__init__"}


def import_graph(trees: dict[str, ast.Module]) -> dict[str, set[str]]:
    names = set(trees)
    return {name: imported_siblings(name, tree, names) for name, tree in trees.items() if name != "__init__"}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first module repeated at the end), or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def foreign_private_reads(trees: dict[str, ast.Module]) -> list[str]:
    out = []
    for name, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            attr = node.attr
            if not attr.startswith("_") or attr.startswith("__"):
                continue
            owner = node.value
            if isinstance(owner, ast.Name) and (owner.id in ("self", "cls")
                                                or f"{owner.id}.{attr}" in PUBLIC_UNDERSCORE):
                continue
            out.append(f"{name}.py:{node.lineno} .{attr} of {ast.unparse(owner)}")
    return out


def test_every_import_is_at_module_level() -> None:
    trees = modules()
    found = function_level_imports(trees)
    assert found == [], f"imports inside functions or classes (move them to the top): {found}"


def test_the_package_imports_one_way() -> None:
    cycle = find_cycle(import_graph(modules()))
    assert cycle is None, f"import cycle: {' -> '.join(cycle or [])}"


def test_no_module_reads_another_objects_private_attributes() -> None:
    found = foreign_private_reads(modules())
    assert found == [], f"private attributes read from outside their class: {found}"


# -- the checks themselves catch what they are for ----------------------------------------------
CYCLIC = {
    "low": "from __future__ import annotations\nfrom typing import TYPE_CHECKING\n"
           "if TYPE_CHECKING:\n    from .high import Thing\n",
    "high": "from . import low\n\ndef f():\n    from .low import x\n    return x\n",
    "user": "def g(dom):\n    return dom._busy, self_like._host\n\nclass A:\n    def h(self):\n"
            "        return self._own, cls.__name__, self.__dict__\n",
}


@pytest.fixture
def cyclic(tmp_path: Path) -> dict[str, ast.Module]:
    for name, text in CYCLIC.items():
        (tmp_path / f"{name}.py").write_text(text)
    return modules(tmp_path)


def test_the_checks_find_each_kind_of_fault(cyclic: dict[str, ast.Module]) -> None:
    assert function_level_imports(cyclic) == ["high.py:4"]
    assert find_cycle(import_graph(cyclic)) in (["high", "low", "high"], ["low", "high", "low"])
    assert foreign_private_reads(cyclic) == ["user.py:2 ._busy of dom", "user.py:2 ._host of self_like"]


def test_the_readme_shows_the_import_order_the_code_has() -> None:
    """drivers/qemu/README.md lists, per module, the package's modules it imports."""
    text = (PACKAGE / "README.md").read_text(encoding="utf-8")
    block = text.split("Import order", 1)[1].split("```", 2)[1]
    shown: dict[str, set[str]] = {}
    for line in block.strip().splitlines():
        if line.endswith(": no module of the package"):
            shown.update({name: set() for name in line.split(":")[0].split()})
        else:
            name, _, imported = line.partition("<-")
            shown[name.strip()] = set(imported.split())
    assert shown == import_graph(modules())
