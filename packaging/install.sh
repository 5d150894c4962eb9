#!/bin/sh
# Put vmgui in the desktop's application menu (launcher, icons, AppStream
# metainfo under $XDG_DATA_HOME, default ~/.local/share), or take it out:
#   sh packaging/install.sh [install|uninstall] [--data-home DIR]
# Same as `vmgui --install-desktop` / `vmgui --uninstall-desktop`. Uses the
# project's .venv when there is one (the README's quick start), else python3.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
if [ -z "${PYTHON:-}" ] && [ -x "$root/.venv/bin/python" ]; then python="$root/.venv/bin/python"; fi
action=${1:-install}
[ $# -gt 0 ] && shift
case "$action" in
  install|uninstall) ;;
  *) echo "usage: $0 [install|uninstall] [--data-home DIR]" >&2; exit 2 ;;
esac
cd "$root"
exec "$python" -m vmgui.desktop "$action" "$@"
