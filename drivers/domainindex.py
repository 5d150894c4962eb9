"""The name and uuid index every stateful driver keeps, with libvirt's clash rules."""
from __future__ import annotations

import threading
from typing import Any, Generic, Protocol, TypeVar

from .errors import DriverError, ErrorCode


class Named(Protocol):
    name: str
    uuid: str


D = TypeVar("D", bound=Named)


class DomainIndex(Generic[D]):
    """Domains keyed twice; ``lock`` guards the index and, by convention, the domains."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.by_uuid: dict[str, D] = {}
        self.by_name: dict[str, D] = {}

    def add(self, dom: D) -> None:
        """Insert or re-insert ``dom``; a clash of name or uuid is OPERATION_FAILED."""
        with self.lock:
            other = self.by_uuid.get(dom.uuid)
            if other is not None and other is not dom and other.name != dom.name:
                raise DriverError(ErrorCode.OPERATION_FAILED,
                                  f"domain '{other.name}' is already defined with uuid {dom.uuid}")
            other = self.by_name.get(dom.name)
            if other is not None and other.uuid != dom.uuid:
                raise DriverError(ErrorCode.OPERATION_FAILED,
                                  f"domain '{dom.name}' already exists with uuid {other.uuid}")
            self.by_uuid[dom.uuid] = dom
            self.by_name[dom.name] = dom

    def remove(self, dom: D) -> None:
        with self.lock:
            if self.by_uuid.get(dom.uuid) is dom:
                del self.by_uuid[dom.uuid]
            if self.by_name.get(dom.name) is dom:
                del self.by_name[dom.name]

    def rename(self, dom: D, new_name: str) -> None:
        """Move ``dom`` to ``new_name`` in the index (the caller checked the name is free)."""
        with self.lock:
            if self.by_name.get(dom.name) is dom:
                del self.by_name[dom.name]
            dom.name = new_name
            self.by_name[new_name] = dom

    def get(self, uuid: str, name: str = "") -> D:
        """The domain, or NO_DOMAIN when it vanished since the handle was made."""
        dom = self.by_uuid.get(uuid)
        if dom is None:
            raise DriverError(ErrorCode.NO_DOMAIN, f"domain '{name or uuid}' no longer exists")
        return dom

    def find_by_name(self, name: str, where: str) -> D:
        """The domain named ``name``, or NO_DOMAIN naming ``where`` (the connection's URI)."""
        with self.lock:
            dom = self.by_name.get(name)
        if dom is None:
            raise DriverError(ErrorCode.NO_DOMAIN, f"no domain named '{name}' on {where}")
        return dom

    def find_by_uuid(self, uuid: str, where: str) -> D:
        with self.lock:
            dom = self.by_uuid.get(str(uuid).lower())
        if dom is None:
            raise DriverError(ErrorCode.NO_DOMAIN, f"no domain with uuid {uuid} on {where}")
        return dom

    def adopt_uuid(self, definition: Any) -> str:
        """XML without a uuid for an existing name means that domain (virt-install style); returns the uuid."""
        if not definition.uuid and definition.name in self.by_name:
            definition.uuid = self.by_name[definition.name].uuid
        return str(definition.ensure_uuid())
