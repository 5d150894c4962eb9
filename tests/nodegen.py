"""Generators of libvirt test-driver node XML for tests and benchmarks."""
from __future__ import annotations

import uuid as uuidlib

TEST_NS = "http://libvirt.org/schemas/domain/test/1.0"


def node_xml(domains: list[dict] | int) -> str:
    """Node XML for a test:/// host. ``domains``: a count, or dicts of name/runstate/flags."""
    if isinstance(domains, int):
        domains = [{"name": f"vm{i:05d}", "runstate": (1, 3, 5, 6)[i % 4],
                    "transient": i % 7 == 0 and (1, 3, 5, 6)[i % 4] != 5,
                    "autostart": i % 3 == 0 and not (i % 7 == 0 and (1, 3, 5, 6)[i % 4] != 5),
                    "snapshots": i % 5 == 0,
                    "managed_save": (1, 3, 5, 6)[i % 4] == 5 and i % 2 == 0} for i in range(domains)]
    parts = []
    for d in domains:
        extra = f"<test:runstate>{d.get('runstate', 1)}</test:runstate>"
        if d.get("transient"):
            extra += "<test:transient/>"
        if d.get("autostart"):
            extra += "<test:autostart/>"
        if d.get("managed_save"):
            extra += "<test:hasmanagedsave/>"
        if d.get("snapshots"):
            extra += ("<test:domainsnapshot><name>s1</name><state>running</state>"
                      "<creationTime>1767225600</creationTime><active>1</active></test:domainsnapshot>")
        parts.append(
            f"<domain type='test' xmlns:test='{TEST_NS}'><name>{d['name']}</name>"
            f"<uuid>{d.get('uuid') or uuidlib.uuid4()}</uuid><memory unit='MiB'>{d.get('memory', 64)}</memory>"
            f"<vcpu>1</vcpu><os><type>hvm</type></os><devices><disk type='file' device='disk'>"
            f"<source file='/var/lib/vmgui/{d['name']}.qcow2'/><target dev='vda' bus='virtio'/></disk>"
            f"</devices>{extra}</domain>")
    return "<node>" + "".join(parts) + "</node>"
