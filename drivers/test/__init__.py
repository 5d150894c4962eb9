"""``test:///`` — an embedded, simulated hypervisor for demos, screenshots and tests.

* ``test:///default``: one demo host shared by every connection of the process.
* ``test:///abs/path/node.xml``: libvirt test-driver node XML, private per connection.

Query parameters: ``rate=N`` (MiB/s of simulated jobs started through this
connection, default 256) and ``migration=v3|v2|none`` (which migration
protocols the connection claims, to exercise negotiation).
"""
from __future__ import annotations

import os
import urllib.parse

from ..errors import DriverError, ErrorCode, invalid_arg
from ..flags import DomainState, PausedReason, RunningReason, ShutoffReason
from . import storage
from .connection import MIGRATION_FEATURES, TestConnection
from .defaults import DEFAULT_NODE_XML
from .nodexml import NodeDomain, parse_node, read_node_file
from .world import SimDomain, TestHost, default_host

__all__ = ["open_connection", "TestConnection", "DEFAULT_NODE_XML", "load_domains"]

DEFAULT_RATE_MIB = 256.0
_REASON_FOR = {
    DomainState.RUNNING: RunningReason.BOOTED, DomainState.PAUSED: PausedReason.USER,
    DomainState.SHUTOFF: ShutoffReason.UNKNOWN,
}


def load_domains(host: TestHost, domains: list[NodeDomain]) -> None:
    """Put parsed node domains into ``host`` in their declared states."""
    with host.lock:
        for nd in domains:
            sim = SimDomain(nd.definition, persistent=not nd.transient)
            host.add(sim)
            if nd.runstate != DomainState.SHUTOFF:  # every other runstate is active, as in libvirt
                host.start(sim, nd.runstate, _REASON_FOR.get(nd.runstate, 0))
            elif nd.managed_save:
                sim.set_state(DomainState.SHUTOFF, ShutoffReason.SAVED)
            sim.managed_save = nd.managed_save
            sim.autostart = nd.autostart
            for snap in nd.snapshots:
                sim.snapshots[snap.name] = snap
            sim.current_snapshot = nd.current_snapshot
            sim.touch()


def _query(parts: urllib.parse.SplitResult) -> tuple[float, str]:
    try:
        query = urllib.parse.parse_qs(parts.query, strict_parsing=bool(parts.query))
    except ValueError:
        raise invalid_arg(f"cannot parse the query of {parts.geturl()!r}") from None
    unknown = set(query) - {"rate", "migration"}
    if unknown:
        raise invalid_arg(f"unknown test:/// parameter(s) {', '.join(sorted(unknown))}; "
                          "known: rate (MiB/s), migration (v3, v2 or none)")
    try:
        rate = float(query.get("rate", [DEFAULT_RATE_MIB])[-1])
    except ValueError:
        raise invalid_arg("rate must be a number of MiB/s") from None
    if not 0 < rate < 1e7:
        raise invalid_arg("rate must be a positive number of MiB/s")
    migration = query.get("migration", ["v3"])[-1]
    if migration not in MIGRATION_FEATURES:
        raise invalid_arg("migration must be v3, v2 or none")
    return rate * 1024 * 1024, migration


def open_connection(uri: str) -> TestConnection:
    parts = urllib.parse.urlsplit(uri)
    if parts.netloc:
        raise DriverError(ErrorCode.NO_SUPPORT, f"test:// URIs name no host; use test:///default, not {uri!r}")
    rate, migration = _query(parts)
    path = urllib.parse.unquote(parts.path)
    if path in ("", "/"):
        raise invalid_arg("test:/// needs a node file path or 'default' (test:///default)")
    if path == "/default":
        host = default_host(lambda h: load_domains(h, parse_node(DEFAULT_NODE_XML)))
    else:
        if not os.path.isabs(path):
            raise invalid_arg(f"the node file path in {uri!r} must be absolute")
        host = TestHost(os.path.basename(path))
        node = read_node_file(path)
        load_domains(host, node.domains)
        storage.register(node.volumes)
    return TestConnection(uri, host, rate, migration)
