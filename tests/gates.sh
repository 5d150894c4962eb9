#!/usr/bin/env bash
# The static gates, each failing on its own kind of violation:
#   lint    ruff check .  (rules in pyproject.toml [tool.ruff])
#   types   mypy, strict on drivers and vmgui ([tool.mypy]), and the check that each per-module
#           override still relaxes only codes its module needs (tests/check_mypy_overrides.py)
#   layers  which package may import which (tests/test_layers.py)
#   bash tests/gates.sh [python]    (default: .venv/bin/python, with the lint extra installed)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-.venv/bin/python}"

failed=()
run() {
  local name="$1"; shift
  echo "== gate: $name"
  "$@" || failed+=("$name")
}
run lint "$PY" -m ruff check .
run types "$PY" -m mypy
run "mypy overrides" "$PY" tests/check_mypy_overrides.py
run layers "$PY" -m pytest -q -p no:cacheprovider tests/test_layers.py

if [ "${#failed[@]}" -gt 0 ]; then
  echo "== gates failed: ${failed[*]}" >&2
  exit 1
fi
echo "== gates passed"
