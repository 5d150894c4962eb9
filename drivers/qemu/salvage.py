"""Domains whose files cannot be read: listed as broken, with the reason and a way out.

A definition (``domains/<uuid>/domain.xml``) or a running VM's state file
(``state/<uuid>.json``) can be damaged: a full disk, a hand edit, a file system
that lost the end of a file. Such a domain never vanishes from the listing. It
stays under its uuid, with the name that can still be read, in state NOSTATE
with reason BROKEN (the filters count it as OTHER), and ``DomainRecord.problem``
says what is wrong. The ways out:

* ``destroy`` (Force Off) stops a QEMU that runs without a readable state,
  through its lock supervisor: without the state file nothing says which QMP
  session, jobs or disks are ours, so the process is not talked to, only ended;
* ``define_xml`` with the domain's uuid replaces a broken definition (the
  salvaged text, what ``xml_desc`` returns, is a starting point to correct);
* ``undefine`` removes a broken entry's files.

Every other state change is refused with OPERATION_INVALID naming the problem
and the way out (:func:`check_usable`). A VM that still runs on its live
definition while its domain.xml is broken is not broken: it is managed as
usual and its record carries the problem; once it stops it shows as broken.
"""
from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path
from typing import Any

from lxml import etree

from .. import xmlutil
from ..domxml import DomainXML, validate_name, validate_uuid
from ..errors import DriverError, ErrorCode
from ..flags import DomainState, RunningReason
from ..fsutil import read_json
from . import leases
from .events import EventHost
from .layout import unlink
from .state import LiveVM, QDom
from .store import DomainStore

log = logging.getLogger(__name__)

#: how often a watcher looks whether a process without a readable state has ended
WATCH_S = 1.0


class Unreadable(Exception):
    """A state file that holds no usable JSON object."""


def check_usable(dom: QDom, action: str, definition_fix: bool = False) -> None:
    """OPERATION_INVALID when ``dom`` is broken; ``definition_fix``: the action replaces or removes
    the definition, which a broken definition allows (a process without a readable state does not)."""
    if dom.run_problem:
        raise DriverError(ErrorCode.OPERATION_INVALID,
                          f"cannot {action} '{dom.name}': {dom.run_problem} "
                          "Force it off first: that stops its QEMU process")
    if dom.config_problem and dom.live is None and not definition_fix:
        raise DriverError(ErrorCode.OPERATION_INVALID,
                          f"cannot {action} '{dom.name}': {dom.config_problem} "
                          "Define a corrected XML with its uuid, or delete the domain")


# -- domain.xml ---------------------------------------------------------------------
def definition_problem(path: Path, data: bytes | None, exc: Exception) -> str:
    """A sentence for a domain.xml that does not parse: empty, truncated, or invalid."""
    if isinstance(exc, OSError) or data is None:
        return f"domain.xml cannot be read ({path}): {getattr(exc, 'strerror', None) or exc}."
    detail = exc.message if isinstance(exc, DriverError) else str(exc)
    if not data.strip():
        return f"domain.xml is empty ({path})."
    if "not well-formed" in detail:
        detail = re.sub(r"\s*\(<string>, line \d+\)$", "", detail.split(": ", 1)[-1])
        if not data.rstrip().endswith(b"</domain>"):
            return f"domain.xml is truncated ({len(data)} bytes, {path}): {detail}."
        return f"domain.xml is not well-formed XML ({path}): {detail}."
    return f"domain.xml is not a valid definition ({path}): {detail}."


def broken_definition(host: DomainStore, ddir: Path, exc: Exception) -> None:
    """List the domain of ``ddir`` whose domain.xml did not parse, as broken (called by ``load``)."""
    try:
        uuid = validate_uuid(ddir.name)
    except DriverError:
        log.warning("skipping %s: not a domain folder (its name is no uuid)", ddir)
        return
    cfg = host.layout.config(uuid)
    try:
        data: bytes | None = cfg.read_bytes()
    except OSError:
        data = None
    salvaged = xmlutil.salvage(data, "domain") if data else None
    meta = read_json(host.layout.meta(uuid)) or {}
    name = _usable_name(host, uuid, xmlutil.child_text(salvaged, "name") if salvaged is not None else None,
                        meta.get("name"))
    dom = QDom(None, True, name, uuid)
    dom.config_problem = definition_problem(cfg, data, exc)
    dom.salvaged = _salvaged(salvaged, name, uuid)
    dom.autostart = bool(meta.get("autostart"))
    host.load_snapshots(dom, meta)
    dom.managed_save = host.layout.managed_save(uuid).is_file()
    dom.touch()
    try:
        host.add(dom)
    except DriverError as exc:  # its uuid is another domain's: that one's files are what counts
        log.warning("skipping %s: %s (%s)", cfg, exc.message, dom.config_problem)
        return
    log.warning("'%s' is listed as broken: %s", name, dom.config_problem)


def _usable_name(host: DomainStore, uuid: str, *candidates: Any) -> str:
    """The first readable name no other domain has, else the uuid."""
    for name in candidates:
        try:
            validate_name(name)
        except DriverError:
            continue
        if name not in host.by_name:
            return str(name)
    return uuid


def _salvaged(root: Any, name: str, uuid: str) -> DomainXML:
    """The readable part of the file with its uuid and name in place: a start to correct and apply."""
    definition = DomainXML(root) if root is not None else skeleton(name, uuid)
    definition.uuid = uuid
    if definition.name != name:
        definition.name = name
    return definition


def skeleton(name: str, uuid: str) -> DomainXML:
    """A definition that only names the domain (its figures read as 0): nothing else is known."""
    definition = DomainXML(etree.Element("domain", type="qemu"))
    definition.name, definition.uuid = name, uuid
    return definition


def take_name(host: DomainStore, dom: QDom, name: str) -> None:
    """A definition that replaces a broken one may carry the real name back (if no other domain has it)."""
    if dom.config_problem and dom.live is None and dom.name != name and name not in host.by_name:
        host.rename(dom, name)


# -- state/<uuid>.json ------------------------------------------------------------------
def read_state(path: Path) -> dict[str, Any]:
    """The state file's object; :class:`Unreadable` says why not."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Unreadable(f"cannot read it: {getattr(exc, 'strerror', None) or exc}") from None
    if not text.strip():
        raise Unreadable("it is empty")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise Unreadable(f"it is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not data.get("uuid") or not data.get("xml"):
        raise Unreadable("it lacks the VM's uuid or definition")
    return data


def unreadable_state(host: EventHost, path: Path, exc: Exception) -> None:
    """A state file that could not be used: list its still-running QEMU as broken, or forget a dead one."""
    try:
        uuid = validate_uuid(path.stem)
    except DriverError:
        log.warning("ignoring %s: its name is no uuid", path)
        return
    with host.lock:
        dom = host.by_uuid.get(uuid)
        if dom is not None and dom.live is not None:
            return  # re-attached after all; the failure came later and was logged
    try:
        sup = leases.attach(uuid, host.layout.supervisors)
    except DriverError as exc2:
        log.warning("cannot look for the VM of %s: %s", path, exc2)
        return
    if sup is None:  # its VM ended: nothing runs that the file could describe
        log.warning("removing %s of a VM that ended: %s", path, exc)
        unlink(path)
        return
    why = exc if isinstance(exc, Unreadable) else f"re-attaching failed ({exc})"
    with host.lock:
        if dom is None:
            meta = read_json(host.layout.meta(uuid)) or {}
            dom = QDom(None, False, _usable_name(host, uuid, meta.get("name")), uuid)
            host.load_snapshots(dom, meta)
        definition = dom.config.copy() if dom.config is not None else skeleton(dom.name, uuid)
        vm = LiveVM(host.next_id(), definition, sup, host.layout.socket(uuid, "qmp"), [], None)
        dom.live = vm
        dom.state, dom.reason = DomainState.RUNNING, int(RunningReason.UNKNOWN)
        dom.run_problem = (f"its QEMU process (pid {sup.vm_pid}) runs, but its state file {path} "
                           f"cannot be used: {why}.")
        if dom.uuid not in host.by_uuid:
            host.add(dom)
        dom.touch()
    log.warning("'%s' is listed as broken: %s", dom.name, dom.run_problem)
    threading.Thread(target=_watch, args=(host, dom, vm), name=f"qemu-watch-{uuid[:8]}", daemon=True).start()


def _watch(host: EventHost, dom: QDom, vm: LiveVM) -> None:
    """Without QMP nothing reports the process's end: notice it through its supervisor."""
    while not host.closed and not vm.finished:
        try:
            ended = vm.sup.wait(WATCH_S) is not None
        except Exception:  # noqa: BLE001 - the handle closed (the host shut down)
            return
        if ended:
            host.dispatch(lambda: host.on_process_end(dom, vm))
            return
