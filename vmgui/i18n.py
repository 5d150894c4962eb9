"""Translation helpers: the marker for Qt-free code, translation at display time and the start-up translator.

Qt-free modules (the action table, flows) cannot call ``tr()``; they mark their
strings with ``N_`` (:mod:`vmgui.textmark`) so the text stays a plain English
``str`` and the views translate it at display time with ``translate(context, text)``
under a fixed context.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLocale, QTranslator

from .textmark import CONTEXT as MARKED_CONTEXT
from .textmark import N_, NP_, Text

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "resources" / "translations"
log = logging.getLogger(__name__)

__all__ = ["MARKED_CONTEXT", "NP_", "TRANSLATIONS_DIR", "N_", "Text", "install_locale_translator", "translate"]


def translate(context: str, text: str) -> str:
    """``text`` in the installed translation: a plain string under ``context``; a :class:`Text` under
    its own fixed context (:data:`MARKED_CONTEXT`) by its source text, filled with its translated
    arguments. Where no translation has it, its English stays (with the English singular or plural)."""
    if not isinstance(text, Text):
        return QCoreApplication.translate(context, text)
    count = -1 if text.number is None else text.number
    found = QCoreApplication.translate(MARKED_CONTEXT, text.source, None, count)
    untranslated = text.source if text.number is None else text.source.replace("%n", str(text.number))
    if found == untranslated:
        if not any(isinstance(value, Text) for value in text.args.values()):
            return str(text)
        found = text.singular if text.number == 1 else text.source
        if text.number is not None:
            found = found.replace("%n", f"{text.number:,}")
    args = {name: translate(context, value) if isinstance(value, Text) else value
            for name, value in text.args.items()}
    if not args:
        return found
    try:
        return found.format(**args)
    except (KeyError, IndexError, ValueError):  # a translation that names a field the text has not
        log.warning("translation of %r does not fit its fields %s: %r", text.source, sorted(args), found)
        return str(text)


def install_locale_translator(app: QCoreApplication, locale: QLocale | None = None) -> QTranslator | None:
    """Load ``vmgui_<locale>.qm`` from the translations folder if one ships; None when none matches."""
    translator = QTranslator(app)
    if translator.load(locale or QLocale(), "vmgui", "_", str(TRANSLATIONS_DIR)):
        app.installTranslator(translator)
        return translator
    return None
