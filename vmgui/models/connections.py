"""Open connections, their status and what each can do.

Features are asked once, in the worker pool, when a connection opens; the UI
then computes action enablement from this cached data and never calls a
driver to decide whether a button is enabled.
"""
from __future__ import annotations

import enum
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from drivers import Feature

from ..i18n import N_, NP_, Text, translate

DISPLAY = Qt.ItemDataRole.DisplayRole.value
TOOLTIP = Qt.ItemDataRole.ToolTipRole.value
URI_ROLE = Qt.ItemDataRole.UserRole.value + 1


#: The invisible root: a flat model's rows all hang off it.
_ROOT = QModelIndex()


class ConnState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    FAILED = "failed"
    DISCONNECTED = "disconnected"


#: What each state is called, marked for translation.
STATE_TEXT = {ConnState.CONNECTING: N_("connecting"), ConnState.CONNECTED: N_("connected"),
              ConnState.FAILED: N_("failed"), ConnState.DISCONNECTED: N_("disconnected")}
#: The translation context of connection text (the status bar's chips use it too).
CONTEXT = "ConnectionStatus"


def short_label(uri: str) -> str:
    """A label short enough for a table column that still tells two hosts apart.

    ``qemu:///embed?root=/srv/vms`` -> ``embed (vms)``, ``qemu+ssh://admin@web.example/system``
    -> ``web.example/system``, ``test:///abs/path/node.xml`` -> ``test: node.xml``; short plain
    URIs (``qemu:///embed``, ``test:///default``) stay as they are.
    """
    parts = urllib.parse.urlsplit(uri)
    root = urllib.parse.parse_qs(parts.query).get("root")
    if root:
        return f"{parts.path.strip('/') or parts.scheme} ({root[0].rstrip('/').rsplit('/', 1)[-1] or '/'})"
    if len(uri) <= 28:
        return uri
    if parts.hostname:
        return f"{parts.hostname}{parts.path}"
    name = parts.path.rstrip("/").rsplit("/", 1)[-1]
    return f"{parts.scheme}: {name}" if name else uri


@dataclass
class ConnRow:
    uri: str
    ordinal: int  # 1 for the first connection opened in this session, then 2, 3, ...
    state: ConnState = ConnState.CONNECTING
    message: str = ""
    features: frozenset[Feature] = field(default_factory=frozenset)
    busy: str = ""
    domains: int = 0

    @property
    def label(self) -> str:
        return short_label(self.uri)

    @property
    def ready(self) -> bool:
        return self.state is ConnState.CONNECTED

    def status_text(self) -> Text:
        """What the status bar says of it (marked for translation; the views translate it)."""
        if self.busy:
            return N_("busy: {what}", what=self.busy)
        state = STATE_TEXT[self.state]  # read before the check below narrows self.state (mypy loses the type)
        if self.state is ConnState.CONNECTED:
            return NP_("%n domain", "%n domains", self.domains)
        if self.message:
            return N_("{state}: {message}", state=state, message=self.message)
        return state


class ConnectionModel(QAbstractListModel):
    """One row per connection, in the order they were opened."""

    connectionChanged = Signal(str)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[ConnRow] = []
        self._next_ordinal = 1

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = DISPLAY) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if role == DISPLAY:
            return translate(CONTEXT, N_("{label} — {status}", label=row.label, status=row.status_text()))
        if role == TOOLTIP:
            return row.uri
        if role == URI_ROLE:
            return row.uri
        return None

    # -- queries -----------------------------------------------------------------
    def get(self, uri: str) -> ConnRow | None:
        for row in self._rows:
            if row.uri == uri:
                return row
        return None

    def rows(self) -> list[ConnRow]:
        return list(self._rows)

    def uris(self) -> list[str]:
        return [row.uri for row in self._rows]

    def features(self) -> dict[str, frozenset[Feature]]:
        """Features of every connected connection (disconnected ones can do nothing)."""
        return {row.uri: (row.features if row.ready else frozenset()) for row in self._rows}

    def definers(self) -> list[str]:
        """Connected connections that can define new domains."""
        return [row.uri for row in self._rows if row.ready and Feature.DEFINE in row.features]

    # -- updates -----------------------------------------------------------------
    def add(self, uri: str) -> ConnRow:
        row = self.get(uri)
        if row is not None:
            return row
        row = ConnRow(uri, self._next_ordinal)
        self._next_ordinal += 1
        self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows))
        self._rows.append(row)
        self.endInsertRows()
        self.connectionChanged.emit(uri)
        return row

    def update(self, uri: str, **changes: Any) -> None:
        """Set fields of ``uri``'s row (state, message, features, busy, domains)."""
        for i, row in enumerate(self._rows):
            if row.uri == uri:
                for name, value in changes.items():
                    setattr(row, name, value)
                self.dataChanged.emit(self.index(i), self.index(i))
                self.connectionChanged.emit(uri)
                return

    def remove(self, uri: str) -> None:
        for i, row in enumerate(self._rows):
            if row.uri == uri:
                self.beginRemoveRows(QModelIndex(), i, i)
                del self._rows[i]
                self.endRemoveRows()
                self.connectionChanged.emit(uri)
                return
