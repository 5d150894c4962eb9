"""libvirt test-driver node files: ``<node>`` with ``<domain>`` children.

The ``test:`` namespace elements set the simulated state (runstate,
transient, hasmanagedsave, domainsnapshot, and vmgui's autostart); any object
may come from another file through ``file="rel.xml"``, resolved next to the
node file. Invalid combinations are INVALID_XML, as in libvirt.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field

from lxml import etree

from ..domxml import DomainXML
from ..errors import DriverError, ErrorCode
from ..flags import DomainState
from ..snapxml import SnapshotDef
from ..xmlutil import parse, path_of, xml_error

TEST_NS = "http://libvirt.org/schemas/domain/test/1.0"
TEST_PREFIX = f"{{{TEST_NS}}}"  # of the test: elements' tags (Clark notation)
MAX_NODE_BYTES = 64 * 1024 * 1024  # a node file may hold thousands of domains


@dataclass
class NodeDomain:
    definition: DomainXML
    runstate: DomainState = DomainState.RUNNING
    transient: bool = False
    managed_save: bool = False
    autostart: bool = False
    snapshots: list[SnapshotDef] = field(default_factory=list)
    current_snapshot: str | None = None


def _load_ref(el: etree._Element, base_dir: str | None, root_tag: str) -> etree._Element:
    ref = el.get("file")
    if ref is None:
        return el
    if base_dir is None:
        raise xml_error(f"{path_of(el)}: file= references need a node file on disk")
    path = os.path.normpath(os.path.join(base_dir, ref))
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_NODE_BYTES + 1)
    except OSError as exc:
        raise DriverError(ErrorCode.INVALID_ARG, f"{path_of(el)}: cannot read {path}: {exc.strerror}") from None
    return parse(data, root_tag, f"{path} (<{root_tag}>)")


def _snapshot_of(el: etree._Element, base_dir: str | None) -> tuple[SnapshotDef, bool]:
    """A ``<test:domainsnapshot>``: libvirt's form (snapshot children and ``<active>1</active>``
    for the current one), or a nested ``<domainsnapshot>``, or ``file=``."""
    if el.get("file") is not None:
        return SnapshotDef.of(_load_ref(el, base_dir, "domainsnapshot")), False
    nested = el.find("domainsnapshot")
    if nested is not None:
        return SnapshotDef.of(nested), False
    snap = etree.Element("domainsnapshot")
    active = False
    for child in el:
        if not isinstance(child.tag, str) or child.tag.startswith("{"):
            continue
        if child.tag == "active":
            active = (child.text or "").strip() == "1"
            continue
        snap.append(copy.deepcopy(child))
    if snap.find("name") is None:
        raise xml_error(f"{path_of(el)}: a snapshot needs a <name>")
    return SnapshotDef.of(snap), active


def _domain_of(el: etree._Element, base_dir: str | None) -> NodeDomain:
    el = _load_ref(el, base_dir, "domain")
    marks: dict[str, list[etree._Element]] = {}  # the test: elements by local name, read in one pass
    for child in el.iterchildren(TEST_PREFIX + "*"):
        marks.setdefault(child.tag[len(TEST_PREFIX):], []).append(child)
    runstate_el = marks["runstate"][0] if "runstate" in marks else None
    runstate = DomainState.RUNNING
    if runstate_el is not None:
        try:
            runstate = DomainState(int((runstate_el.text or "").strip()))
        except ValueError:
            raise xml_error(f"{path_of(runstate_el)}: unknown runstate {runstate_el.text!r}") from None
    transient = "transient" in marks
    managed_save = "hasmanagedsave" in marks
    autostart = "autostart" in marks
    snapshots, current = [], None
    for snap_el in marks.get("domainsnapshot", []):
        snap, is_current = _snapshot_of(snap_el, base_dir)
        snapshots.append(snap)
        if is_current or current is None:
            current = snap.name
    name = el.findtext("name") or "?"
    if transient and runstate == DomainState.SHUTOFF:
        raise xml_error(f"domain '{name}': a transient domain cannot be shut off (runstate 5)")
    if managed_save and runstate != DomainState.SHUTOFF:
        raise xml_error(f"domain '{name}': a managed save image needs runstate 5 (shut off)")
    if transient and autostart:
        raise xml_error(f"domain '{name}': a transient domain cannot autostart")
    for found in marks.values():
        for child in found:
            el.remove(child)
    etree.cleanup_namespaces(el)
    definition = DomainXML(el)
    definition.validate()
    definition.ensure_uuid()
    return NodeDomain(definition, runstate, transient, managed_save, autostart, snapshots, current)


@dataclass
class Node:
    """What a node file declares that vmgui simulates: domains, and the disk paths of its pools."""

    domains: list[NodeDomain]
    volumes: list[str] = field(default_factory=list)


def _volumes_of(pool: etree._Element, base_dir: str | None) -> list[str]:
    """Paths of a ``<pool>``'s volumes; as in libvirt, a volume without one lives in the pool's target."""
    pool = _load_ref(pool, base_dir, "pool")
    pool_path = (pool.findtext("target/path") or "").strip()
    paths = []
    for vol_el in pool.findall("volume"):
        vol = _load_ref(vol_el, base_dir, "volume")
        path = (vol.findtext("target/path") or "").strip()
        name = (vol.findtext("name") or "").strip()
        if not path and pool_path and name:
            path = os.path.join(pool_path, name)
        if os.path.isabs(path):
            paths.append(path)
    return paths


def load_node(text: str | bytes, base_dir: str | None = None) -> Node:
    """Domains and pool volumes of a node document; other objects (networks, ...) are ignored."""
    root = parse(text, "node", max_bytes=MAX_NODE_BYTES)
    domains = [_domain_of(el, base_dir) for el in root.findall("domain")]
    return Node(domains, [p for pool in root.findall("pool") for p in _volumes_of(pool, base_dir)])


def parse_node(text: str | bytes, base_dir: str | None = None) -> list[NodeDomain]:
    """Domains of a node document."""
    return load_node(text, base_dir).domains


def read_node_file(path: str) -> Node:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_NODE_BYTES + 1)
    except OSError as exc:
        raise DriverError(ErrorCode.INVALID_ARG, f"cannot read test node file {path}: {exc.strerror}") from None
    return load_node(data, os.path.dirname(path))
