"""A private ``qemu:///embed`` host for one benchmark: its own 0700 folder, runtime folder and lockspace,
and every guest it still runs forced off (and the folder removed) when the benchmark ends."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import drivers


@contextlib.contextmanager
def private_embed_host(prefix: str) -> Iterator[tuple[Path, drivers.Connection]]:
    """(the host's folder, a connection to it); needs the repository on ``sys.path``."""
    base = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    os.chmod(base, 0o700)
    (base / "run").mkdir(mode=0o700)
    os.environ.update(XDG_RUNTIME_DIR=str(base / "run"), VMGUI_LOCKSPACE=str(base / "lockspace"))
    conn = drivers.open(f"qemu:///embed?root={base / 'root'}")
    try:
        yield base, conn
    finally:
        for dom in conn.list_all_domains():
            if dom.is_active():
                dom.destroy()
        conn.close()
        shutil.rmtree(base, ignore_errors=True)
