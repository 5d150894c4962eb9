"""libvirt test-driver node files for the bridge's tests (loaded by conftest.py by path)."""
from __future__ import annotations

import uuid as uuidlib

TEST_NS = "http://libvirt.org/schemas/domain/test/1.0"

#: name -> (runstate, transient, managed save, snapshots)
NODE_DOMAINS = {
    "run1": (1, False, False, 0),
    "run2": (1, False, False, 2),
    "pause1": (3, False, False, 0),
    "off1": (5, False, False, 0),
    "off2": (5, False, False, 1),
    "saved1": (5, False, True, 0),
    "trans1": (1, True, False, 0),
    "transpause": (3, True, False, 0),
    "crash1": (6, False, False, 0),
}
#: set through the API after opening (libvirt's node files cannot say it)
NODE_AUTOSTART = ("run1", "off1", "saved1")


def _snapshot(name: str, domain: str, index: int, parent: str | None) -> str:
    parent_xml = f"<parent><name>{parent}</name></parent>" if parent else ""
    return (f"<test:domainsnapshot><name>{name}</name><state>shutoff</state>"
            f"<creationTime>{index + 1}</creationTime><active>0</active>{parent_xml}"
            f"<domain type='test'><name>{domain}</name><memory>65536</memory><os><type>hvm</type></os>"
            f"</domain></test:domainsnapshot>")


def node_xml(domains: dict[str, tuple[int, bool, bool, int]] = NODE_DOMAINS) -> str:
    parts = []
    for name, (runstate, transient, managed, snapshots) in domains.items():
        extra = f"<test:runstate>{runstate}</test:runstate>"
        if transient:
            extra += "<test:transient/>"
        if managed:
            extra += "<test:hasmanagedsave/>"
        for i in range(snapshots):
            extra += _snapshot(f"s{i}", name, i, f"s{i - 1}" if i else None)
        parts.append(
            f"<domain type='test' xmlns:test='{TEST_NS}'><name>{name}</name>"
            f"<uuid>{uuidlib.uuid5(uuidlib.NAMESPACE_DNS, name)}</uuid>"
            f"<memory unit='MiB'>64</memory><currentMemory unit='MiB'>48</currentMemory><vcpu>2</vcpu>"
            f"<os><type>hvm</type></os>{extra}</domain>")
    return "<node>" + "".join(parts) + "</node>"
