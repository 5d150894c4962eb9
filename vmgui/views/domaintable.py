"""The domain table view: fixed row heights, sensible widths, a context menu."""
from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTableView, QWidget

from ..models.domains import Col, DomainTableModel, Key
from .names import name_widget

WIDTHS = {Col.NAME: 160, Col.STATE: 140, Col.VCPUS: 58, Col.MEMORY: 80, Col.CPU: 58, Col.PERSISTENT: 84,
          Col.AUTOSTART: 78, Col.SNAPSHOTS: 90, Col.MANAGED_SAVE: 96, Col.CONNECTION: 150}
ROW_HEIGHT = 26


class DomainTable(QTableView):
    """``domainTable``: sortable, multi-select; the model's rows are the visible domains."""

    def __init__(self, model: DomainTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        name_widget(self, "domainTable", "Domains")
        self.setModel(model)
        self._model = model
        self._menu_actions: list[QAction | None] = []
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setSortingEnabled(True)
        self.sortByColumn(Col.NAME, Qt.SortOrder.AscendingOrder)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        vertical = self.verticalHeader()
        vertical.hide()
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # ResizeToContents costs tens of ms
        vertical.setDefaultSectionSize(ROW_HEIGHT)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        header.setSectionsMovable(True)
        for col, width in WIDTHS.items():
            self.setColumnWidth(col, width)

    def set_menu_actions(self, actions: list[QAction | None]) -> None:
        """Actions for the context menu; None is a separator."""
        self._menu_actions = actions

    def selected_keys(self) -> list[Key]:
        rows = sorted({index.row() for index in self.selectionModel().selectedRows()})
        return [self._model.row_at(r).key for r in rows]

    def select_key(self, key: Key) -> bool:
        row = self._model.find(key)
        if row is None:
            return False
        self.selectRow(row)
        return True

    def _context_menu(self, pos: QPoint) -> None:
        index = self.indexAt(pos)
        if index.isValid() and not self.selectionModel().isRowSelected(index.row()):
            self.selectRow(index.row())
        menu = QMenu(self)
        for action in self._menu_actions:
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)
        menu.popup(self.viewport().mapToGlobal(pos))
