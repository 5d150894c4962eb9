"""An installed vmgui has everything it loads at run time: icons and style sheet included."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_ships_every_resource_and_both_packages(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("vmgui-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {f"vmgui-{wheel.name.split('-')[1]}.data/data/share/vmgui/{p.relative_to(ROOT)}"
              for p in (ROOT / "resources").rglob("*") if p.is_file() and p.suffix in (".svg", ".qss")}
    assert wanted and wanted <= names, sorted(wanted - names)
    for module in ("vmgui/app.py", "vmgui/icons.py", "drivers/__init__.py", "drivers/test/__init__.py",
                   "drivers/qemu/__init__.py", "drivers/libvirt/__init__.py", "drivers/locking/supervisor.py"):
        assert module in names
    assert not any(n.startswith("tests/") for n in names)
