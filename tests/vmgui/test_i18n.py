"""The translation helpers route text through the installed Qt translators."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pseudo_translation import BracketTranslator
from PySide6.QtCore import QCoreApplication, QLocale, QTranslator

from vmgui.i18n import N_, NP_, install_locale_translator, translate


@pytest.fixture
def bracketed(qapp: QCoreApplication) -> Iterator[None]:
    translator = BracketTranslator()
    qapp.installTranslator(translator)
    yield
    qapp.removeTranslator(translator)


def test_marker_returns_text_unchanged() -> None:
    assert N_("Start") == "Start"


def test_marker_fills_in_its_fields_in_english() -> None:
    assert N_("{uri} does not support {feature}", uri="test:///default", feature=N_("saving")) \
        == "test:///default does not support saving"


def test_a_count_picks_the_english_singular_or_plural() -> None:
    assert NP_("%n domain", "%n domains", 1) == "1 domain"
    assert NP_("%n domain", "%n domains", 2) == "2 domains"
    assert NP_("%n domain of {uri}", "%n domains of {uri}", 1024, uri="qemu:///embed") \
        == "1,024 domains of qemu:///embed"


def test_translate_uses_installed_translator(bracketed: None) -> None:
    assert translate("Actions", N_("Start")) == "\u27e6Start\u27e7"


def test_no_translation_leaves_the_english(qapp: QCoreApplication) -> None:
    assert translate("Actions", "Start") == "Start"
    assert translate("Actions", NP_("%n domain", "%n domains", 1)) == "1 domain"
    assert translate("Actions", N_("{what} is {why}", what="web01", why=N_("not running"))) == "web01 is not running"


def test_fields_are_translated_inside_the_translated_sentence(bracketed: None) -> None:
    reason = N_("{uri} does not support {feature}", uri="test:///default", feature=N_("saving"))
    assert translate("Actions", reason) == "\u27e6test:///default does not support \u27e6saving\u27e7\u27e7"


def test_a_translated_plural_gets_the_count(bracketed: None) -> None:
    assert translate("Actions", NP_("%n domain", "%n domains", 3)) == "\u27e63 domains\u27e7"


def test_data_with_braces_is_not_a_field() -> None:
    assert N_("Delete {name}?", name="{odd}") == "Delete {odd}?"


def test_no_translator_when_no_qm_ships(qapp: QCoreApplication) -> None:
    assert install_locale_translator(qapp, QLocale("xx_YY")) is None


class MisspeltTranslator(QTranslator):
    """A translation whose sentence names a field the text does not have."""

    def translate(self, context: str, source: str, disambiguation: str | None = None, n: int = -1) -> str:
        return "{nmae} läuft nicht" if source == "{name} is not running" else ""


def test_a_translation_with_a_wrong_field_shows_the_english(qapp: QCoreApplication, caplog) -> None:
    translator = MisspeltTranslator()
    qapp.installTranslator(translator)
    try:
        assert translate("Actions", N_("{name} is not running", name="web01")) == "web01 is not running"
    finally:
        qapp.removeTranslator(translator)
    assert "does not fit its fields" in caplog.text
