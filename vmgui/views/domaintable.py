"""The domain table view: fixed row heights, sensible widths, a context menu."""
from __future__ import annotations

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QMenu, QTableView, QWidget

from ..i18n import N_, translate
from ..models.domains import Col, DomainTableModel, Key
from .names import name_widget

WIDTHS = {Col.NAME: 160, Col.STATE: 130, Col.VCPUS: 58, Col.MEMORY: 80, Col.CPU: 58, Col.PERSISTENT: 84,
          Col.AUTOSTART: 78, Col.SNAPSHOTS: 80, Col.MANAGED_SAVE: 86, Col.CONNECTION: 150}
ROW_HEIGHT = 26
CONTEXT = "NoMatchHint"
NO_MATCH = N_("No domain matches these filters — Clear filters")
NOTHING_DEFINED = N_("No virtual machines yet — New VM… creates one")


class NoMatchHint(QLabel):
    """``noMatchHint``: shown in the empty table: when filters hide every domain (its link clears them),
    or when the connected hosts have none at all (its link opens the New VM wizard)."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        name_widget(self, "noMatchHint")
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                     | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.say_no_match()
        self.hide()

    def say_no_match(self) -> None:
        self.setAccessibleName(translate(CONTEXT, NO_MATCH))
        self.setText(self.tr('No domain matches these filters — <a href="clear">Clear filters</a>'))

    def say_nothing_defined(self) -> None:
        self.setAccessibleName(translate(CONTEXT, NOTHING_DEFINED))
        self.setText(self.tr('No virtual machines yet — <a href="new">New VM…</a> creates one'))


class DomainTable(QTableView):
    """``domainTable``: sortable, multi-select; the model's rows are the visible domains.

    The selection is the user's: a selected domain that a filter hides is selected again
    when it shows again (a selection the user makes replaces it). While nothing chosen
    shows (at start, or when a search hides the choice), the first row stands in for it,
    so the details, the actions and their shortcuts work at once on what is shown.
    """

    #: the empty table's "Clear filters" link was followed
    clearFiltersRequested = Signal()
    #: the empty table's "New VM…" link was followed
    newVmRequested = Signal()

    def __init__(self, model: DomainTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        name_widget(self, "domainTable", self.tr("Domains"))
        self.setModel(model)
        self._model = model
        self._menu_actions: list[QAction | None] = []
        self._chosen: list[Key] = []  # what the user selected, kept while filters hide some of it
        self._relayout = False
        self.no_match = NoMatchHint(self.viewport())
        self.no_match.linkActivated.connect(self._hint_link)
        #: a host has answered and vmgui may define VMs there: an empty table then offers the New VM wizard
        self.offers_new_vm = False
        model.layoutAboutToBeChanged.connect(self._layout_begins)
        model.layoutChanged.connect(self._layout_done)  # after the selection model's own handler
        self.selectionModel().selectionChanged.connect(self._selection_changed)
        self.clicked.connect(self._selection_changed)  # a click is a choice, even of what is selected already
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.setTabKeyNavigation(False)  # Tab leaves the table for the details (arrows move between rows)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTabKeyNavigation(False)  # Tab leaves for the details; the arrow keys move between rows
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

    @property
    def reselecting(self) -> bool:
        """Whether the table itself is selecting again after its rows changed: no user's choice."""
        return self._relayout

    def _layout_begins(self) -> None:
        self._relayout = True

    def _selection_changed(self, *_args: object) -> None:
        if not self._relayout:
            self._chosen = self.selected_keys()

    def _layout_done(self) -> None:
        """Select again what the user chose and the filters show again; show the hint when empty."""
        try:
            wanted = sorted(p for p in (self._model.find(k) for k in self._chosen) if p is not None)
            selection = self.selectionModel()
            if not wanted and self._model.rowCount() > 0:
                # a stand-in, kept while it is shown (rows merging in must not move the details from
                # domain to domain); the choice itself is kept for when it shows again
                wanted = sorted({i.row() for i in selection.selectedRows()}) or [0]
            if wanted != sorted({i.row() for i in selection.selectedRows()}):
                ranges = QItemSelection()
                last = self._model.columnCount() - 1
                for row in wanted:
                    ranges.select(self._model.index(row, 0), self._model.index(row, last))
                selection.select(ranges, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            if wanted and selection.currentIndex().row() not in wanted:  # the arrow keys move from the selection
                selection.setCurrentIndex(self._model.index(wanted[0], 0), QItemSelectionModel.SelectionFlag.NoUpdate)
        finally:
            self._relayout = False
        self._place_hint()

    def _hint_link(self, link: str) -> None:
        (self.newVmRequested if link == "new" else self.clearFiltersRequested).emit()

    def set_offers_new_vm(self, offers: bool) -> None:
        self.offers_new_vm = offers
        self._place_hint()

    def _place_hint(self) -> None:
        shown = self._model.rowCount() == 0 and (self._model.total() > 0 or self.offers_new_vm)
        if shown:
            if self._model.total() > 0:
                self.no_match.say_no_match()
            else:
                self.no_match.say_nothing_defined()
            self.no_match.setGeometry(0, 0, self.viewport().width(), 3 * ROW_HEIGHT)
        self.no_match.setVisible(shown)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_hint()

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
