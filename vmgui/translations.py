"""Keeping the translation sources (``resources/translations/vmgui_<lang>.ts``) up to date.

``pyside6-lupdate`` finds the ``tr()`` and ``QCoreApplication.translate()`` calls
of the views itself. The texts the Qt-free code marks with ``N_``/``NP_`` it cannot
see, so :func:`update` writes them as ``translate()`` calls under their fixed
context into a scratch file and hands that to lupdate with the sources: one
``.ts`` per language with every string, merged by lupdate as usual (translations
already made are kept). ``pyside6-lrelease`` then makes the ``.qm`` that
:func:`vmgui.i18n.install_locale_translator` loads.

    python -m vmgui.translations resources/translations/vmgui_de.ts            # update
    python -m vmgui.translations --release resources/translations/vmgui_de.ts  # check, then make the .qm
"""
from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from drivers import xmlutil
from drivers.errors import DriverError, ErrorCode

from .textmark import CONTEXT

SOURCES = Path(__file__).resolve().parent
_FIELD = re.compile(r"\{(\w+)\}")
_DOCTYPE = re.compile(r"<!DOCTYPE TS>")  # lupdate's, naming no DTD; the hardened parser refuses any DOCTYPE


@dataclass(frozen=True)
class Marked:
    """One marked text: its source text, whether a count picks its form (``NP_``), where it is."""

    source: str
    numerus: bool
    where: str


def marked_texts(paths: Iterable[Path]) -> Iterator[Marked]:
    """Every ``N_("…")`` and ``NP_("…", "…%n…", n)`` with literal text in ``paths`` (a call that re-marks
    text marked elsewhere, ``N_(pattern.source, …)``, has no literal and adds nothing)."""
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            index = {"N_": 0, "NP_": 1}.get(node.func.id)
            if index is None or len(node.args) <= index:
                continue
            arg = node.args[index]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                yield Marked(arg.value, node.func.id == "NP_", f"{path.name}:{node.lineno}")


def stub(texts: Iterable[Marked]) -> str:
    """Python source lupdate reads: one ``translate()`` call per distinct marked text."""
    lines = ["from PySide6.QtCore import QCoreApplication", ""]
    seen: set[str] = set()
    for text in texts:
        if text.source not in seen:
            seen.add(text.source)
            count = ", None, 1" if text.numerus else ""
            lines.append(f"QCoreApplication.translate({CONTEXT!r}, {text.source!r}{count})  # {text.where}")
    return "\n".join(lines) + "\n"


def tool(name: str) -> str:
    """A PySide6 command-line tool: beside this Python (a virtualenv's bin), else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise DriverError(ErrorCode.INTERNAL_ERROR, f"{name} is not installed: install PySide6's tools "
                                                    "(pip install pyside6) to update translations")
    return found


def update(ts: Path, sources: Path = SOURCES) -> None:
    """Create or refresh ``ts`` with every translatable string of the Python files under ``sources``."""
    files = sorted(sources.rglob("*.py"))
    with tempfile.TemporaryDirectory(prefix="vmgui-lupdate-") as scratch:
        marked = Path(scratch) / "marked_texts.py"
        marked.write_text(stub(marked_texts(files)), encoding="utf-8")
        subprocess.run([tool("pyside6-lupdate"), "-locations", "none", *map(str, files),
                        str(marked), "-ts", str(ts)], check=True, capture_output=True, text=True)


def _fields(text: str) -> set[str]:
    return set(_FIELD.findall(text))


def field_problems(ts: Path) -> list[str]:
    """The translations in ``ts`` whose ``{fields}`` differ from their source text's (the text would not
    fill in, or would lose a value): "source -> translation" for each."""
    data = _DOCTYPE.sub("", ts.read_text(encoding="utf-8"), count=1)
    problems = []
    for message in xmlutil.parse(data, "TS", str(ts)).iter("message"):
        source, translation = message.findtext("source") or "", message.find("translation")
        if translation is None or translation.get("type") in ("unfinished", "vanished", "obsolete"):
            continue
        forms = [form.text or "" for form in translation.iter("numerusform")] or [translation.text or ""]
        problems += [f"{source!r} -> {form!r}" for form in forms if _fields(form) != _fields(source)]
    return problems


def release(ts: Path, qm: Path) -> None:
    """Compile ``ts`` into ``qm`` (what the application loads), after checking every translation keeps
    the fields of its text."""
    problems = field_problems(ts)
    if problems:
        raise DriverError(ErrorCode.INVALID_ARG, f"{ts}: {len(problems)} translation(s) do not keep the "
                          "{fields} of their text; correct them first: " + "; ".join(problems))
    subprocess.run([tool("pyside6-lrelease"), str(ts), "-qm", str(qm)], check=True, capture_output=True,
                   text=True)


def main(argv: list[str]) -> int:
    """``LANG.ts ...`` updates them; ``--release LANG.ts ...`` checks and compiles each into LANG.qm beside it."""
    compile_them = argv[:1] == ["--release"]
    names = argv[1:] if compile_them else argv
    if not names:
        print("usage: python -m vmgui.translations [--release] resources/translations/vmgui_<lang>.ts ...",
              file=sys.stderr)
        return 2
    for name in names:
        try:
            if compile_them:
                release(Path(name), Path(name).with_suffix(".qm"))
            else:
                update(Path(name))
        except DriverError as exc:
            print(exc.message, file=sys.stderr)
            return 1
        print(Path(name).with_suffix(".qm") if compile_them else name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
