"""Whether a connection's host is this machine, so local file checks mean something.

Backup folders, disk files and sizes are checked with the local filesystem only
when the domains live here; for a remote host (``qemu+ssh://admin@db/system``)
a local check would test the wrong machine, so the host checks at run time.
"""
from __future__ import annotations

import urllib.parse

LIBVIRT_PREFIX = "libvirt:"


def remote_host(uri: str) -> str | None:
    """The host named by ``uri`` when it is another machine, else None (test:///, qemu:///embed, qemu:///system)."""
    if uri.startswith(LIBVIRT_PREFIX):
        uri = uri[len(LIBVIRT_PREFIX):]
    host = urllib.parse.urlsplit(uri).hostname
    if not host or host in ("localhost", "127.0.0.1", "::1"):
        return None
    return host
