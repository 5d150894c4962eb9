"""The translation sources made by vmgui.translations hold every string the window shows, under the context
the running code looks it up by: a .ts made by lupdate, translated (into the pseudo-language), compiled by
lrelease and loaded from disk leaves nothing of vmgui's own untranslated."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from pseudo_translation import CLOSE, OPEN, BracketTranslator
from PySide6.QtCore import QLocale, QTranslator
from test_translated import assert_translated
from test_window import select

from drivers.errors import DriverError, ErrorCode
from vmgui import i18n, translations
from vmgui.textmark import CONTEXT

_TS_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


class QtOwnBracketTranslator(BracketTranslator):
    """Wraps only Qt's own texts (its contexts are its class names: QPlatformTheme, QShortcut, QTabBar …),
    which vmgui's catalogue does not carry."""

    def translate(self, context: str, source: str, disambiguation: str | None = None, n: int = -1) -> str:
        return super().translate(context, source, disambiguation, n) if context.startswith("Q") else ""


def translate_everything(ts: Path) -> int:
    """Fill every message of ``ts`` with its pseudo-translation (each plural form too); how many there are."""
    root = etree.fromstring(ts.read_bytes(), _TS_PARSER)
    messages = root.findall("context/message")
    for message in messages:
        translation = message.find("translation")
        translation.attrib.pop("type", None)
        text = f"{OPEN}{message.findtext('source')}{CLOSE}"
        forms = translation.findall("numerusform")
        for form in forms:
            form.text = text
        if not forms:
            translation.text = text
    ts.write_bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
    return len(messages)


@pytest.fixture
def catalogue(qapp, tmp_path: Path) -> Iterator[Path]:
    """vmgui_de.qm built from the sources as a translator would, installed the way the application does."""
    ts = tmp_path / "vmgui_de.ts"
    translations.update(ts)
    assert translate_everything(ts) > 200
    translations.release(ts, tmp_path / "vmgui_de.qm")
    qt_own = QtOwnBracketTranslator()
    qapp.installTranslator(qt_own)
    loaded = QTranslator()
    assert loaded.load(QLocale("de_DE"), "vmgui", "_", str(tmp_path))
    qapp.installTranslator(loaded)
    yield ts
    qapp.removeTranslator(loaded)
    qapp.removeTranslator(qt_own)


def test_marked_texts_are_found_with_their_plural_sources(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text('A = N_("Start {uri}", uri=u)\nB = NP_("%n domain", "%n domains", n)\nC = N_(A.source, x=1)\n')
    found = list(translations.marked_texts([source]))
    assert [(m.source, m.numerus) for m in found] == [("Start {uri}", False), ("%n domains", True)]
    assert f"QCoreApplication.translate({CONTEXT!r}, '%n domains', None, 1)" in translations.stub(found)


def test_an_update_keeps_the_translations_already_made(qapp, tmp_path: Path) -> None:
    ts = tmp_path / "vmgui_de.ts"
    translations.update(ts)
    count = translate_everything(ts)
    translations.update(ts)
    root = etree.fromstring(ts.read_bytes(), _TS_PARSER)
    kept = [m for m in root.findall("context/message") if m.find("translation").get("type") != "unfinished"]
    assert len(kept) == count


def test_the_window_in_a_compiled_catalogue_shows_nothing_untranslated(catalogue, open_window, node_uri, qtbot):
    window = open_window(node_uri)
    assert window.windowTitle() == f"{OPEN}vmgui — virtual machines{CLOSE}"
    select(window, "test", "web01")
    assert_translated(window, window)
    window.show_connect_dialog()
    assert_translated(window.commands.last_dialog, window)


def test_the_application_finds_a_shipped_catalogue(qapp, tmp_path: Path, monkeypatch) -> None:
    ts = tmp_path / "vmgui_de.ts"
    translations.update(ts)
    translate_everything(ts)
    translations.release(ts, tmp_path / "vmgui_de.qm")
    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", tmp_path)
    installed = i18n.install_locale_translator(qapp, QLocale("de_DE"))
    assert installed is not None
    try:
        assert i18n.translate("MainWindow", i18n.N_("Start")) == f"{OPEN}Start{CLOSE}"
    finally:
        qapp.removeTranslator(installed)


def test_a_translation_that_loses_a_field_is_not_compiled(qapp, tmp_path: Path, capsys) -> None:
    ts = tmp_path / "vmgui_de.ts"
    translations.update(ts)
    translate_everything(ts)
    text = ts.read_text(encoding="utf-8")
    good = (f"<source>Connected to {{uri}}</source>\n        "
            f"<translation>{OPEN}Connected to {{uri}}{CLOSE}</translation>")
    assert good in text
    ts.write_text(text.replace(good, good.replace(f"{OPEN}Connected to {{uri}}", "Verbunden mit {url}")),
                  encoding="utf-8")
    with pytest.raises(DriverError) as refused:
        translations.release(ts, tmp_path / "vmgui_de.qm")
    assert refused.value.code is ErrorCode.INVALID_ARG
    assert "'Connected to {uri}' -> 'Verbunden mit {url}\u27e7'" in refused.value.message
    assert translations.main(["--release", str(ts)]) == 1  # the command says the same, and makes nothing
    assert "Verbunden mit {url}" in capsys.readouterr().err
    assert not (tmp_path / "vmgui_de.qm").exists()
