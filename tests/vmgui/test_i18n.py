"""The translation helpers route text through the installed Qt translators."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pseudo_translation import BracketTranslator
from PySide6.QtCore import QCoreApplication, QLocale, QTranslator

from vmgui.calls import CallAbandoned
from vmgui.i18n import N_, NP_, install_locale_translator, translate
from vmgui.models.messages import explain
from vmgui.textmark import joined


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


def test_joined_texts_are_each_translated_and_data_stays(bracketed: None) -> None:
    report = joined("\n", ["full: no checkpoint", N_("{path} on {host}", path="/b/vda.qcow2", host="h1"),
                           N_("{path} ({size})", path="/b/{x}.qcow2", size=N_("not found on this machine"))])
    assert report == "full: no checkpoint\n/b/vda.qcow2 on h1\n/b/{x}.qcow2 (not found on this machine)"
    assert translate("Any", report) == ("\u27e6full: no checkpoint\n\u27e6/b/vda.qcow2 on h1\u27e7\n"
                                        "\u27e6/b/{x}.qcow2 (\u27e6not found on this machine\u27e7)\u27e7\u27e7")


def test_joined_texts_without_a_translation_are_the_english(qapp: QCoreApplication) -> None:
    assert translate("Any", joined(" ", [N_("Reading the XML failed"), "no such domain."])) \
        == "Reading the XML failed no such domain."
    assert joined("; ", []) == ""


def test_a_call_given_up_on_is_explained_in_translated_words(bracketed: None) -> None:
    exc = CallAbandoned(N_("gave up waiting for {what}", what=N_("{verb} {name}", verb=N_("Starting"), name="web01")))
    assert str(exc) == "gave up waiting for Starting web01"
    title, text, _hint = explain(exc, N_("{verb} {name}", verb=N_("Starting"), name="web01"))
    assert translate("Any", title) == "\u27e6\u27e6\u27e6Starting\u27e7 web01\u27e7: stopped waiting\u27e7"
    assert translate("Any", text) == ("\u27e6\u27e6gave up waiting for \u27e6\u27e6Starting\u27e7 web01\u27e7\u27e7"
                                      ".\u27e7")


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
