"""Translation helpers: a no-op marker for Qt-free code and the start-up translator.

Qt-free modules (the action table, flows) cannot call ``tr()``; they mark their
strings with ``N_`` so the text stays a plain ``str`` and the views translate it
at display time with ``translate(context, text)`` under a fixed context.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLocale, QTranslator

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "resources" / "translations"


def N_(text: str) -> str:
    """Mark ``text`` for extraction; returns it unchanged (translated later in the views)."""
    return text


def translate(context: str, text: str) -> str:
    """Translate ``text`` under ``context`` with whatever translators the application has installed."""
    return QCoreApplication.translate(context, text)


def install_locale_translator(app: QCoreApplication, locale: QLocale | None = None) -> QTranslator | None:
    """Load ``vmgui_<locale>.qm`` from the translations folder if one ships; None when none matches."""
    translator = QTranslator(app)
    if translator.load(locale or QLocale(), "vmgui", "_", str(TRANSLATIONS_DIR)):
        app.installTranslator(translator)
        return translator
    return None
