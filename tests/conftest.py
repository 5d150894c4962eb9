"""Fixtures shared by every test directory."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from nodegen import node_xml  # noqa: F401  (re-exported for tests)

import drivers
from drivers.test import DEFAULT_NODE_XML

# The environment vmgui.app.main() prepares, for QApplications that tests create themselves:
# Qt's own event dispatcher, not GLib's (libvirt iterates GLib's default context on its thread).
os.environ.setdefault("QT_NO_GLIB", "1")


@pytest.fixture(autouse=True)
def private_lockspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Disk deletion and VM starts consult the lock manager's lockspace: never the user's real one."""
    monkeypatch.setenv("VMGUI_LOCKSPACE", str(tmp_path / "lockspace"))


@pytest.fixture
def node_file(tmp_path: Path) -> Path:
    """The demo host's node XML as a private file."""
    path = tmp_path / "node.xml"
    path.write_text(DEFAULT_NODE_XML)
    return path


@pytest.fixture
def conn(node_file: Path) -> Iterator[drivers.Connection]:
    """A private copy of the demo host with fast simulated jobs (4 GiB/s)."""
    with drivers.open(f"test://{node_file}?rate=4096") as c:
        yield c


@pytest.fixture
def slow_conn(node_file: Path) -> Iterator[drivers.Connection]:
    """The demo host with slow jobs (64 MiB/s: a 2 GiB save takes 32 s) to observe and cancel."""
    with drivers.open(f"test://{node_file}?rate=64") as c:
        yield c
