"""Generate libvirt test-driver node XML with many domains in every filter group."""
from __future__ import annotations

import uuid as uuidlib

NS = "http://libvirt.org/schemas/domain/test/1.0"
# runstate, transient, managed save, autostart, snapshots: a cycle that covers every group
_KINDS = (
    (1, False, False, True, 1), (3, False, False, False, 0), (5, False, True, False, 0),
    (5, False, False, True, 2), (1, True, False, False, 0), (6, False, False, False, 1),
    (5, False, False, False, 0), (1, False, False, False, 0), (3, True, False, False, 0),
)


def domain_xml(i: int, kind: tuple[int, bool, bool, bool, int]) -> str:
    runstate, transient, saved, autostart, snaps = kind
    uid = uuidlib.UUID(int=0x5EED_0000_0000_0000_0000_0000_0000_0000 + i)
    extra = f"<test:runstate>{runstate}</test:runstate>"
    extra += "<test:transient/>" if transient else ""
    extra += "<test:hasmanagedsave/>" if saved else ""
    extra += "<test:autostart/>" if autostart else ""
    extra += "".join(f"<test:domainsnapshot><domainsnapshot><name>s{j}</name></domainsnapshot>"
                     f"</test:domainsnapshot>" for j in range(snaps))
    return (f"<domain type='test' xmlns:test='{NS}'><name>vm{i:05d}</name><uuid>{uid}</uuid>"
            f"<memory unit='MiB'>{256 * (1 + i % 8)}</memory><vcpu>{1 + i % 4}</vcpu>"
            "<os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'>"
            f"<source file='/var/lib/vmgui/images/vm{i:05d}.qcow2'/><target dev='vda' bus='virtio'/></disk>"
            f"</devices>{extra}</domain>")


def node_xml(count: int) -> str:
    body = "".join(domain_xml(i, _KINDS[i % len(_KINDS)]) for i in range(count))
    return f"<node>{body}</node>"


def write_node(path: str, count: int) -> str:
    """Write a node file of ``count`` domains; returns its test:/// URI."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(node_xml(count))
    return f"test://{path}"
