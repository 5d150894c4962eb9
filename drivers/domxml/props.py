"""Declarative XML-to-property mapping for libvirt XML.

A class bound to an element (:class:`XMLNode`) declares its fields as
:class:`XMLProperty` descriptors with a path relative to that element::

    vcpus = XMLProperty[int]("vcpu", kind=int, default=1)
    arch = XMLProperty[str]("os/type/@arch", default="x86_64")
    readonly = XMLProperty[bool]("readonly", kind=bool)

Reading never changes the tree; writing creates the missing elements on the
path (appended, so what is already there keeps its place) and writing ``None``
removes the text element or attribute. Everything the properties do not name
stays in the tree untouched.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any, Generic, TypeVar, cast, overload

from lxml import etree

from ..xmlutil import path_of, xml_error

T = TypeVar("T")
V = TypeVar("V")

UNITS = {
    "b": 1, "bytes": 1, "k": 1024, "kib": 1024, "kb": 1000, "m": 1024 ** 2, "mib": 1024 ** 2,
    "mb": 1000 ** 2, "g": 1024 ** 3, "gib": 1024 ** 3, "gb": 1000 ** 3, "t": 1024 ** 4,
    "tib": 1024 ** 4, "tb": 1000 ** 4,
}


def to_kib(el: etree._Element) -> int:
    """Read a libvirt memory element (with its ``unit``) as KiB."""
    unit = (el.get("unit") or "KiB").lower()
    factor = UNITS.get(unit)
    if factor is None:
        raise xml_error(f"{path_of(el)}: unknown unit {el.get('unit')!r}")
    try:
        value = int((el.text or "").strip())
    except ValueError:
        raise xml_error(f"{path_of(el)}: expected an integer, found {el.text!r}") from None
    if value <= 0:
        raise xml_error(f"{path_of(el)}: must be positive")
    return value * factor // 1024


def drop_attributes(el: etree._Element, *names: str) -> None:
    """Remove those of ``names`` that ``el`` has."""
    for name in names:
        if name in el.attrib:
            del el.attrib[name]


class XMLNode:
    """An object that reads and writes one element of a document through its declared properties."""

    #: the order :meth:`assign` writes fields in (new child elements follow it); empty: the dataclass's
    FIELD_ORDER: tuple[str, ...] = ()

    def __init__(self, el: etree._Element) -> None:
        self.el = el

    def child(self, path: str) -> etree._Element:
        """The element at ``path`` (``a/b``), created (appended) where missing."""
        el = self.el
        for tag in path.split("/"):
            found = el.find(tag)
            el = found if found is not None else etree.SubElement(el, tag)
        return el

    def values(self, cls: type[V]) -> V:
        """The node read into the frozen dataclass ``cls``: each field from the property of its name."""
        return cls(**{f.name: getattr(self, f.name) for f in fields(cast(Any, cls))})

    def assign(self, value: object) -> None:
        """Write every field of the dataclass ``value`` to the property of its name.

        Empty fields (None, False) are skipped, so a new element only gets what the value says.
        """
        for name in self.FIELD_ORDER or [f.name for f in fields(cast(Any, value))]:
            item = getattr(value, name)
            if item is not None and item is not False:
                setattr(self, name, item)


class XMLProperty(Generic[T]):
    """One typed field at ``path`` below its node's element.

    ``path`` is ``a/b`` (or ``./a/b``) for an element's text (``kind=bool``: whether the element is there) or
    ``a/b/@attr`` / ``@attr`` for an attribute. ``kind=int`` reads integers: a value that is not one
    is INVALID_XML naming the element, or the default with ``lenient``; with ``unit`` the element's
    own ``unit`` attribute is converted (libvirt memory sizes) and writing sets ``unit``. An empty
    value reads as ``default``. ``check`` validates (and may normalise) what is written.
    """

    def __init__(self, path: str, *, default: T | None = None, kind: type = str,
                 unit: str | None = None, lenient: bool = False,
                 check: Callable[[T], T | None] | None = None) -> None:
        element, _, attr = path.rpartition("@") if "@" in path else (path, "", "")
        self.element = element.rstrip("/").removeprefix("./")
        self.attr = attr or None
        if kind is bool and self.attr is not None:
            raise ValueError(f"{path}: a boolean property is an element's presence")
        if unit is not None and (kind is not int or self.attr is not None or unit.lower() not in UNITS):
            raise ValueError(f"{path}: a unit applies to an integer element with a known unit")
        self.path, self.default, self.kind, self.unit = path, cast(T, default), kind, unit
        self.lenient, self.check = lenient, check
        #: a plain child tag is looked up directly: ``find`` compiles a path (4x the time), and
        #: opening a host reads ten fields of each of its domains
        self._tag = self.element if self.element and not any(c in self.element for c in "/[]*.:@") else None

    @overload
    def __get__(self, node: None, owner: type) -> XMLProperty[T]: ...
    @overload
    def __get__(self, node: XMLNode, owner: type) -> T: ...

    def __get__(self, node: XMLNode | None, owner: type) -> XMLProperty[T] | T:
        if node is None:
            return self
        if self._tag is not None:
            el = next(node.el.iterchildren(self._tag), None)
        else:
            el = node.el.find(self.element) if self.element else node.el
        if self.kind is bool:
            return cast(T, el is not None)
        if el is None:
            return self.default
        if self.unit is not None:
            return cast(T, to_kib(el) * 1024 // UNITS[self.unit.lower()])
        raw = el.get(self.attr) if self.attr else el.text
        raw = raw.strip() if raw is not None and self.attr is None else raw
        if not raw:
            return self.default
        return self._convert(el, raw)

    def _convert(self, el: etree._Element, raw: str) -> T:
        if self.kind is not int:
            return cast(T, raw)
        try:
            return cast(T, int(raw))
        except ValueError:
            if self.lenient:
                return self.default
            where = path_of(el) + (f"/@{self.attr}" if self.attr else "")
            raise xml_error(f"{where}: expected an integer, found {raw!r}") from None

    def __set__(self, node: XMLNode, value: T | None) -> None:
        if self.check is not None:
            value = self.check(cast(T, value))
        if value is None or (self.kind is bool and not value):
            self._remove(node)
            return
        el = node.child(self.element) if self.element else node.el
        if self.kind is bool:
            return
        text = str(value)
        if self.attr:
            el.set(self.attr, text)
            return
        el.text = text
        if self.unit is not None:
            el.set("unit", self.unit)

    def _remove(self, node: XMLNode) -> None:
        el = node.el.find(self.element) if self.element else node.el
        if el is None:
            return
        if self.attr:
            drop_attributes(el, self.attr)
        elif el is not node.el:
            parent = el.getparent()
            if parent is not None:
                parent.remove(el)
