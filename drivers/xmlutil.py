"""Hardened XML parsing shared by every XML format the drivers read.

XML comes from users, files and remote hosts, so the parser never expands
entities, never loads a DTD, never touches the network, and refuses documents
that are larger than any sane domain description.
"""
from __future__ import annotations

import re

from lxml import etree

from .errors import DriverError, ErrorCode

#: Larger inputs are refused outright (a domain XML is a few KiB).
MAX_XML_BYTES = 4 * 1024 * 1024

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
    huge_tree=False, remove_blank_text=False, collect_ids=False,
)
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)


def xml_error(message: str) -> DriverError:
    return DriverError(ErrorCode.INVALID_XML, message)


def parse(text: str | bytes, root_tag: str, what: str | None = None,
          max_bytes: int = MAX_XML_BYTES) -> etree._Element:
    """Parse ``text`` and check its root element is ``root_tag``.

    Raises INVALID_XML for anything malformed, oversized, with a DOCTYPE
    (entities are a classic attack and no libvirt format uses one), or with the
    wrong root.
    """
    what = what or f"<{root_tag}>"
    if isinstance(text, str):
        data = text.encode("utf-8")
    elif isinstance(text, bytes):
        data = text
    else:
        raise DriverError(ErrorCode.INVALID_ARG, f"{what} XML must be a string, not {type(text).__name__}")
    if len(data) > max_bytes:
        raise xml_error(f"{what} document is {len(data)} bytes; the limit is {max_bytes}")
    if not data.strip():
        raise xml_error(f"{what} document is empty")
    if _DOCTYPE.search(data):
        raise xml_error(f"{what} document has a DOCTYPE; DTDs and entities are not accepted")
    if data.lstrip().startswith(b"<?xml"):
        data = re.sub(rb"^\s*<\?xml[^>]*\?>", b"", data, count=1)  # str input may carry an encoding decl
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise xml_error(f"{what} is not well-formed XML: {exc}") from None
    if root is None:
        raise xml_error(f"{what} document has no root element")
    if root.tag != root_tag:
        raise xml_error(f"expected root element <{root_tag}>, found <{root.tag}>")
    return root


_RECOVERING = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
    huge_tree=False, remove_blank_text=False, collect_ids=False, recover=True,
)


def salvage(data: bytes, root_tag: str, max_bytes: int = MAX_XML_BYTES) -> etree._Element | None:
    """What can be read of a damaged document (a truncated file: its open elements closed), or None.

    The same refusals as :func:`parse` (size, DOCTYPE); nothing is expanded or fetched.
    For showing a person what was there, never for running it unchecked.
    """
    if len(data) > max_bytes or _DOCTYPE.search(data) or not data.strip():
        return None
    data = re.sub(rb"^\s*<\?xml[^>]*\?>", b"", data, count=1)
    try:
        root = etree.fromstring(data, _RECOVERING)
    except etree.XMLSyntaxError:
        return None
    return root if root is not None and root.tag == root_tag else None


def path_of(el: etree._Element) -> str:
    """A readable element path like ``/domain/devices/disk[2]/target`` for messages."""
    parts = []
    node: etree._Element | None = el
    while node is not None:
        parent = node.getparent()
        tag = node.tag if isinstance(node.tag, str) else "?"
        if parent is not None:
            same = [c for c in parent if c.tag == node.tag]
            if len(same) > 1:
                tag = f"{tag}[{same.index(node) + 1}]"
        parts.append(tag)
        node = parent
    return "/" + "/".join(reversed(parts))


def to_string(root: etree._Element) -> str:
    return etree.tostring(root, encoding="unicode", pretty_print=True)


def child_text(el: etree._Element, tag: str, default: str | None = None) -> str | None:
    child = el.find(tag)
    if child is None or child.text is None:
        return default
    return child.text.strip()


def ensure_child(el: etree._Element, tag: str) -> etree._Element:
    """The first direct child ``tag`` of ``el``, appended if there is none."""
    child = el.find(tag)
    return child if child is not None else etree.SubElement(el, tag)


def set_child_text(el: etree._Element, tag: str, value: str | None) -> None:
    """Set (or with ``None`` remove) the text of a direct child, keeping others."""
    if value is None:
        child = el.find(tag)
        if child is not None:
            el.remove(child)
        return
    ensure_child(el, tag).text = value
