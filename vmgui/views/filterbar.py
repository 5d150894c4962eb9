"""The filter bar: a search field, a connection chooser and the ListFlags toggle groups."""
from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from drivers import ListFlags
from drivers.flags import LIST_GROUPS

from ..i18n import translate
from ..models.connections import ConnectionModel
from ..models.filters import CAPTIONS, GROUP_NAMES, IN_SENTENCE, FilterState, group_bits, object_name
from .names import name_widget

#: The translation context of the filter captions (the same as ``self.tr`` here).
CONTEXT = "FilterBar"

SEARCH_DELAY_MS = 120


class FilterBar(QWidget):
    """Edits a :class:`FilterState`; mirrors it when it changes elsewhere (restore, clear)."""

    def __init__(self, filters: FilterState, connections: ConnectionModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        name_widget(self, "filterBar")
        self._filters = filters
        self._connections = connections
        self.buttons: dict[ListFlags, QToolButton] = {}

        self.search = QLineEdit(self)
        name_widget(self.search, "domainSearch", self.tr("Search domains"))
        self.search.setPlaceholderText(self.tr("Search by name, title or UUID  (Ctrl+F)"))
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(240)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(lambda: filters.set_search(self.search.text()))
        self.search.textChanged.connect(lambda _t: self._search_timer.start())

        self.conn_combo = QComboBox(self)
        name_widget(self.conn_combo, "connectionFilter")
        self.conn_combo.setToolTip(self.tr("Show the domains of one connection only"))
        self.conn_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.conn_combo.currentIndexChanged.connect(self._conn_chosen)
        connections.rowsInserted.connect(self._fill_connections)
        connections.rowsRemoved.connect(self._fill_connections)

        self.clear_button = QToolButton(self)
        name_widget(self.clear_button, "clearFilters")
        self.clear_button.setText(self.tr("Clear filters"))
        self.clear_button.setToolTip(self.tr("Show every domain again"))
        self.clear_button.clicked.connect(self.clear_all)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.search, 3)
        connection = QLabel(self.tr("Co&nnection:"), self)
        connection.setBuddy(self.conn_combo)
        top.addWidget(connection)
        top.addWidget(self.conn_combo, 1)
        top.addWidget(self.clear_button)

        groups = QHBoxLayout()
        groups.setContentsMargins(0, 0, 0, 0)
        groups.setSpacing(12)
        caption = QLabel(self.tr("Show:"), self)
        caption.setObjectName("filterGroupLabel")
        groups.addWidget(caption)
        for title, group in zip(GROUP_NAMES, LIST_GROUPS, strict=False):
            groups.addWidget(self._group_box(title, group))
        groups.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 2)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addLayout(groups)

        filters.changed.connect(self.sync)
        self._fill_connections()
        self.sync()

    def _group_box(self, title: str, group: int) -> QWidget:
        """The toggles of one group side by side. Plain buttons, no QButtonGroup: a group gives only one of
        its buttons a Tab stop, and non-exclusive ones no arrow keys, so the others were out of keyboard reach."""
        box = QFrame(self)
        box.setObjectName("filterGroup")
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        title = translate(CONTEXT, title)
        box.setToolTip(title)
        for flag in group_bits(group):
            button = QToolButton(box)
            name_widget(button, object_name(flag))
            caption = translate(CONTEXT, CAPTIONS[flag])
            button.setText(caption)
            button.setCheckable(True)
            button.setToolTip(self.tr("{group}: show {caption} domains. Checked buttons of one group combine with "
                                      "OR, groups with AND; none checked = no filter")
                              .format(group=title, caption=translate(CONTEXT, IN_SENTENCE[flag])))
            button.toggled.connect(lambda on, f=flag: self._filters.set_flag(f, on))
            row.addWidget(button)
            self.buttons[flag] = button
        return box

    def sync(self) -> None:
        """Show the filter state (after a restore, a clear or a change from code)."""
        flags = self._filters.flags
        for flag, button in self.buttons.items():
            if button.isChecked() != bool(flags & flag):
                with QSignalBlocker(button):
                    button.setChecked(bool(flags & flag))
        if self.search.text() != self._filters.search and not self._search_timer.isActive():
            with QSignalBlocker(self.search):
                self.search.setText(self._filters.search)
        self.clear_button.setEnabled(bool(flags or self._filters.search or self._filters.only_uri))

    def clear_all(self) -> None:
        """Show every domain again: no search, every connection, no toggle."""
        self._search_timer.stop()
        with QSignalBlocker(self.search):
            self.search.clear()
        with QSignalBlocker(self.conn_combo):
            self.conn_combo.setCurrentIndex(0)
        self._filters.clear()

    def _fill_connections(self) -> None:
        current = self._filters.only_uri
        with QSignalBlocker(self.conn_combo):
            self.conn_combo.clear()
            self.conn_combo.addItem(self.tr("All connections"), None)
            for row in self._connections.rows():
                self.conn_combo.addItem(row.label, row.uri)
                self.conn_combo.setItemData(self.conn_combo.count() - 1, row.uri, Qt.ItemDataRole.ToolTipRole)
            index = self.conn_combo.findData(current) if current else 0
            self.conn_combo.setCurrentIndex(max(0, index))
        if current and index < 0:
            self._filters.set_only_uri(None)

    def _conn_chosen(self, index: int) -> None:
        self._filters.set_only_uri(self.conn_combo.itemData(index))

