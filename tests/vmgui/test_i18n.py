"""The translation helpers route text through the installed Qt translators."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QLocale, QTranslator

from vmgui.i18n import N_, install_locale_translator, translate


class BracketTranslator(QTranslator):
    """Pseudo-translation: wraps every source text in markers."""

    def translate(self, context: str, source: str, disambiguation: str | None = None, n: int = -1) -> str:
        return f"\u27e6{source}\u27e7"


def test_marker_returns_text_unchanged() -> None:
    assert N_("Start") == "Start"


def test_translate_uses_installed_translator(qapp: QCoreApplication) -> None:
    translator = BracketTranslator()
    qapp.installTranslator(translator)
    try:
        assert translate("Actions", N_("Start")) == "\u27e6Start\u27e7"
    finally:
        qapp.removeTranslator(translator)
    assert translate("Actions", "Start") == "Start"


def test_no_translator_when_no_qm_ships(qapp: QCoreApplication) -> None:
    assert install_locale_translator(qapp, QLocale("xx_YY")) is None
