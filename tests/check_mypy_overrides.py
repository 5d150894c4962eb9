"""Fail when a ``[[tool.mypy.overrides]]`` entry relaxes an error code its module no longer needs.

The overrides in pyproject.toml list, per module, the error codes that strict mode still reports
there. The list may only shrink. This runs mypy once with every such relaxation removed (strict
everywhere, the rest of the configuration unchanged), collects the (module, error code) pairs it
reports, and names each relaxed code that is not among them.

    python tests/check_mypy_overrides.py    # from the checkout, with mypy installed
"""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import tomllib
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: ``path/to/module.py:12: error: message  [code]``
_ERROR = re.compile(r"^(?P<path>[\w/.-]+\.py):\d+: error: .*\[(?P<code>[a-z-]+)\]$")

Value = bool | int | str | list[str]
#: ``[tool.mypy]`` as tomllib reads it
Config = dict[str, Any]


def _ini_value(value: Value) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list):
        return ", ".join(value)
    return str(value)


def _ini_section(header: str, options: dict[str, Value]) -> list[str]:
    return [f"[{header}]", *(f"{key} = {_ini_value(value)}" for key, value in options.items()), ""]


def _modules(entry: Config) -> list[str]:
    module = entry["module"]
    return module if isinstance(module, list) else [str(module)]


def relaxations(config: Config) -> dict[str, set[str]]:
    """Module -> the error codes its overrides disable."""
    relaxed: dict[str, set[str]] = defaultdict(set)
    for entry in config.get("overrides", []):
        for module in _modules(entry):
            relaxed[module].update(entry.get("disable_error_code", []))
    return relaxed


def strict_config(config: Config) -> str:
    """The same configuration as INI text, without any ``disable_error_code`` in the overrides."""
    top = {key: value for key, value in config.items() if key != "overrides"}
    lines = _ini_section("mypy", top)
    for entry in config.get("overrides", []):
        rest = {key: value for key, value in entry.items() if key not in ("module", "disable_error_code")}
        if rest:
            lines += _ini_section("mypy-" + ",".join(_modules(entry)), rest)
    return "\n".join(lines)


def module_of(path: str) -> str:
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def reported(lines: Iterable[str]) -> dict[str, set[str]]:
    """Module -> the error codes mypy reported in it."""
    found: dict[str, set[str]] = defaultdict(set)
    for line in lines:
        match = _ERROR.match(line.strip())
        if match:
            found[module_of(match["path"])].add(match["code"])
    return found


def unneeded(relaxed: dict[str, set[str]], found: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted((module, code) for module, codes in relaxed.items() for code in codes - found.get(module, set()))


def main() -> int:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    with tempfile.TemporaryDirectory() as tmp:
        ini = Path(tmp) / "mypy.ini"
        ini.write_text(strict_config(config))
        result = subprocess.run(
            [sys.executable, "-m", "mypy", "--config-file", str(ini), "--no-pretty", "--show-error-codes",
             "--cache-dir", str(ROOT / ".mypy_cache" / "no-overrides")],
            cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode not in (0, 1):  # 2: mypy itself failed (bad configuration, crash)
        sys.stderr.write(result.stdout + result.stderr)
        return 2
    stale = unneeded(relaxations(config), reported(result.stdout.splitlines()))
    for module, code in stale:
        print(f"pyproject.toml: {module} no longer needs {code} relaxed; remove it from its [[tool.mypy.overrides]]")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
