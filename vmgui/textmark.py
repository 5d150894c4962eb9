"""Translatable text for Qt-free code: English now, translated by the views when they show it.

The action table and the flows cannot call ``tr()``. They build their sentences
with :func:`N_` (and :func:`NP_` where a count decides the wording, ``number``): the result
is the finished English ``str`` that code and tests compare as before, and it
remembers its source text and arguments, so :func:`vmgui.i18n.translate` can
look the source text up in a translation and fill in the (translated) arguments.
Every marked text has the one translation context :data:`CONTEXT`, wherever it is
shown, so a translator translates it once; ``vmgui.translations`` extracts them.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

#: The translation context of every marked text.
CONTEXT = "vmgui"


class Text(str):
    """English text that knows the source text it was made from and what was filled in."""

    source: str  # the text a translation is looked up by: ``{name}`` fields, ``%n`` for a count
    args: Mapping[str, object]  # the fields; a Text among them is translated too
    number: int | None  # the number deciding singular or plural (Qt's ``%n``), if any
    singular: str  # the English text when ``count`` is 1

    def __new__(cls, source: str, args: Mapping[str, object], count: int | None = None,
                singular: str | None = None) -> Text:
        chosen = singular if count == 1 and singular is not None else source
        if count is not None:
            chosen = chosen.replace("%n", f"{count:,}")
        text = super().__new__(cls, chosen.format(**args) if args else chosen)
        text.source, text.args, text.number, text.singular = source, dict(args), count, singular or source
        return text


def N_(source: str, /, **args: object) -> Text:
    """Mark ``source`` for translation; ``args`` fill its ``{name}`` fields (they are data or Text)."""
    return Text(source, args)


def NP_(singular: str, plural: str, count: int, /, **args: object) -> Text:
    """A sentence with a count: ``plural`` holds ``%n`` and is the source a translation gives every form of."""
    return Text(plural, args, count, singular)


def joined(separator: str, parts: Sequence[str], /) -> Text:
    """``separator.join(parts)`` that still translates each marked part where it is shown (the lines of a
    report, a title and its sentence). A ``str.join`` would give plain English that no view can translate."""
    fields = {f"part{i}": part for i, part in enumerate(parts)}
    pattern = separator.replace("{", "{{").replace("}", "}}").join(f"{{{name}}}" for name in fields)
    return Text(pattern, fields)
