"""No English reaches a person without a translation function: every module of vmgui is parsed and each text
handed straight to something that shows it (a Qt setter or constructor, a QMessageBox helper, the status bar,
the message area, the label of a background task that heads its failure) must come out of ``tr()``,
``QCoreApplication.translate`` or the ``N_``/``NP_`` markers, never be a plain literal or f-string with words.

Data that contains letters (object names, URIs, file filters) is not handed to these sinks; what is, is allowed
one by one in ALLOWED, and text without letters ("{0} %", "—", "×") passes.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import vmgui

SOURCES = Path(vmgui.__file__).resolve().parent

#: Qt setters and adders: the positions of their arguments a person reads (0-based).
QT_SINKS: dict[str, tuple[int, ...]] = {
    **{name: (0,) for name in ("setText", "setToolTip", "setStatusTip", "setWindowTitle", "setPlaceholderText",
                                "setAccessibleName", "setAccessibleDescription", "setWhatsThis", "showMessage",
                                "setTitle", "setLabelText", "setWindowIconText", "setSubTitle", "setButtonText",
                                "setInformativeText", "setDetailedText", "setSpecialValueText", "setPlainText",
                                "setHtml", "setFormat", "setPrefix", "setSuffix", "setLabel")},
    "addAction": (0, 1), "addMenu": (0, 1), "insertAction": (), "setTabText": (1,), "setTabToolTip": (1,),
    "addTab": (1, 2), "insertTab": (2, 3), "setItemText": (1,), "addItem": (0,), "insertItem": (1,),
    "addSection": (0, 1), "setHeaderData": (2,),
}
#: Sinks that take a list of texts (each element is read).
LIST_SINKS = {"addItems": 0, "setHorizontalHeaderLabels": 0, "setVerticalHeaderLabels": 0, "setHeaderLabels": 0,
              "insertItems": 1}
#: Widgets and actions made with their text: the positions that may hold it.
CONSTRUCTORS: dict[str, tuple[int, ...]] = {
    name: (0, 1) for name in ("QLabel", "QPushButton", "QCheckBox", "QRadioButton", "QGroupBox", "QAction",
                              "QMenu", "QToolButton", "QCommandLinkButton", "QListWidgetItem", "QTableWidgetItem",
                              "QStandardItem")
}
#: QMessageBox's static helpers: (parent, title, text, …).
MESSAGE_BOX_HELPERS = {"information", "warning", "critical", "question", "about"}
#: vmgui's own sinks, called as a method or function of this name: the positions a person reads.
APP_SINKS: dict[str, tuple[int, ...]] = {
    "spawn": (1,), "_spawn": (1,),  # the label heads the failure in the message area ("… failed")
    "explain": (1,),
    "Message": (2, 3, 4),  # Message(id, level, title, text, hint)
    "CallAbandoned": (0,),
    "_request_done": (1,),
}
#: The bridge's calls, whose description (``what``) the status bar shows while a call is slow ("busy: listing
#: domains of … (12 s)") and a given-up call's message repeats: every literal among their arguments is one (but
#: ``_submit``'s first, the queue's key: "local files").
CALL_SINKS = {"call", "call_domain", "local_files", "_submit"}
#: ``<x>.status.emit(text)`` and ``<x>.messages.add(level, title, text, hint)``: the attribute chain and positions.
CHAINED_SINKS: dict[tuple[str, str], tuple[int, ...]] = {
    ("status", "emit"): (0,), ("message", "emit"): (0,), ("messages", "add"): (1, 2, 3),
    ("messages", "error"): (1,),
}
#: Names whose value is shown wherever it is used: a domain request's ``verb`` heads its failure ("Starting web01
#: failed") and names a busy row.
TEXT_ATTRIBUTES = {"verb"}
#: Keyword arguments that are text wherever they are given to a sink.
TEXT_KEYWORDS = {"text", "title", "hint", "doing", "label", "tooltip", "sentence"}

#: (module path under vmgui/, literal) that a sink may show as it is, each with the reason.
ALLOWED: dict[tuple[str, str], str] = {}


_LETTER = re.compile(r"[^\W\d_]")
#: What a format string fills in, not words: ``{field}`` and Qt's ``%p`` ``%v`` ``%m`` ``%n`` ``%1``.
_PLACEHOLDER = re.compile(r"\{[^{}]*\}|%[pvmn\d]")


def _has_words(text: str) -> bool:
    return _LETTER.search(_PLACEHOLDER.sub("", text)) is not None


@dataclass(frozen=True)
class Bare:
    """A text with words given to a sink without a translation function."""

    where: str  # "views/x.py:12"
    sink: str
    text: str

    def __str__(self) -> str:
        return f"{self.where}: {self.sink}({self.text!r})"


def _literal_words(node: ast.expr) -> str | None:
    """The words of ``node`` if it is (or is built straight from) a literal with letters: a string, an f-string,
    their ``+``/``%``/``.format()``/``.join()``, either branch of ``a if c else b``; else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value if _has_words(node.value) else None
    if isinstance(node, ast.JoinedStr):
        words = "".join(part.value for part in node.values if isinstance(part, ast.Constant))
        return ast.unparse(node) if _has_words(words) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return _literal_words(node.left) or _literal_words(node.right)
    if isinstance(node, ast.IfExp):
        return _literal_words(node.body) or _literal_words(node.orelse)
    if isinstance(node, ast.BoolOp):
        return next((w for w in map(_literal_words, node.values) if w), None)
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("format", "join", "capitalize", "upper", "lower", "strip")):
        return _literal_words(node.func.value)
    return None


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


def _chain(func: ast.expr) -> tuple[str, str] | None:
    """("status", "emit") for ``self.session.status.emit``."""
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Attribute):
        return func.value.attr, func.attr
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return func.value.id, func.attr
    return None


def _texts_given(call: ast.Call) -> Iterator[tuple[str, ast.expr]]:
    """(sink name, argument) for each argument of ``call`` that a person reads."""
    name, chain = _name(call.func), _chain(call.func)
    positions: tuple[int, ...] = ()
    if chain in CHAINED_SINKS:
        positions = CHAINED_SINKS[chain]  # type: ignore[index]
    elif chain is not None and chain[0] in ("bridge", "self") and name in CALL_SINKS:
        positions = tuple(range(name == "_submit", len(call.args)))
    elif (isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name)
          and call.func.value.id == "QMessageBox" and name in MESSAGE_BOX_HELPERS):
        positions = (1, 2)
    elif name in QT_SINKS and isinstance(call.func, ast.Attribute):
        positions = QT_SINKS[name]
    elif name in CONSTRUCTORS and isinstance(call.func, ast.Name):
        positions = CONSTRUCTORS[name]
    elif name in APP_SINKS:
        positions = APP_SINKS[name]
    elif name in LIST_SINKS and isinstance(call.func, ast.Attribute):
        index = LIST_SINKS[name]
        if len(call.args) > index and isinstance(call.args[index], (ast.List, ast.Tuple)):
            yield from ((name, element) for element in call.args[index].elts)  # type: ignore[attr-defined]
        return
    else:
        return
    sink = ".".join(chain) if chain in CHAINED_SINKS else str(name)
    yield from ((sink, call.args[i]) for i in positions if i < len(call.args))
    yield from ((sink, kw.value) for kw in call.keywords if kw.arg in TEXT_KEYWORDS)


def _assigned(node: ast.AST) -> Iterator[tuple[str, ast.expr]]:
    """(name, value) for an assignment to one of TEXT_ATTRIBUTES (``verb = …``, ``verb: ClassVar[…] = …``)."""
    if isinstance(node, ast.AnnAssign) and node.value is not None:
        targets, value = [node.target], node.value
    elif isinstance(node, ast.Assign):
        targets, value = node.targets, node.value
    else:
        return
    for target in targets:
        name = _name(target)
        if name in TEXT_ATTRIBUTES:
            yield f"{name} =", value


def bare_texts(source: str, where: str) -> Iterator[Bare]:
    """Every text with words that ``source`` hands to a sink as a plain literal (``where`` names the module)."""
    for node in ast.walk(ast.parse(source, where)):
        given = _texts_given(node) if isinstance(node, ast.Call) else _assigned(node)
        for sink, arg in given:
            words = _literal_words(arg)
            if words is not None and (where, words) not in ALLOWED:
                yield Bare(f"{where}:{arg.lineno}", sink, words)


def modules() -> Iterator[tuple[str, str]]:
    """(path under vmgui/, source) of every module the check covers."""
    for path in sorted(SOURCES.rglob("*.py")):
        yield path.relative_to(SOURCES).as_posix(), path.read_text(encoding="utf-8")


def test_no_module_of_vmgui_hands_bare_english_to_what_a_person_reads() -> None:
    found = [str(bare) for rel, source in modules() for bare in bare_texts(source, rel)]
    assert found == [], "wrap these in tr() / N_():\n" + "\n".join(found)


def test_the_check_finds_bare_text_in_each_kind_of_sink() -> None:
    source = '''
label = QLabel("Name:")
button.setText(f"Start {name}")
box.addItems(["Never", "Daily"])
QMessageBox.warning(self, "Cannot quit", text)
self.session.spawn(work(), "Looking at files")
self.status.emit("Connected to " + uri)
session.messages.add("error", "Lost the connection", why)
raise CallAbandoned(f"gave up waiting for {what}")
self.messages.error(exc, "Deleting" if one else "Deleting all")
await self.bridge.call_domain(*key, read, f"reading the XML of {name}")
class Start(DomainRequest):
    verb: ClassVar[str] = "Starting"
'''
    found = [(b.sink, b.text) for b in bare_texts(source, "example.py")]
    assert found == [("QLabel", "Name:"), ("setText", "f'Start {name}'"), ("addItems", "Never"),
                     ("addItems", "Daily"), ("warning", "Cannot quit"), ("spawn", "Looking at files"),
                     ("status.emit", "Connected to "), ("messages.add", "Lost the connection"),
                     ("CallAbandoned", "f'gave up waiting for {what}'"), ("messages.error", "Deleting"),
                     ("verb =", "Starting"), ("call_domain", "f'reading the XML of {name}'")]


def test_translated_text_data_and_symbols_pass() -> None:
    source = '''
label = QLabel(self.tr("Name:"))
button.setText(self.tr("Start {name}").format(name=name))
self.session.spawn(work(), N_("Looking at {path}", path=path))
self.status.emit(NP_("%n domain", "%n domains", n))
box.addItem(QCoreApplication.translate("Dialog", "Never"), "never")
self.cpu.setText("{0} %".format(cpu))
bar.setFormat(f"{state} · %p %")
self.heading.setText("{title} — {text}".format(title=title, text=text))
self.close.setText("\u00d7")
self.uri.setText(row.uri)
session.messages.add("error", title, text)
class Pause(DomainRequest):
    verb: ClassVar[Text] = N_("Pausing")
'''
    assert list(bare_texts(source, "example.py")) == []

