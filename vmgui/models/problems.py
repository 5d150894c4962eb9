"""What the window says about a domain whose files the driver cannot read, and the way out.

The driver says what is wrong (``DomainRecord.problem``) and whether it can
still manage the domain (``DomainRecord.broken``); this adds what the user can
do about it in this window. Plain data, no widgets.
"""
from __future__ import annotations

from drivers import DomainRecord

from ..textmark import N_


def way_out(rec: DomainRecord) -> str:
    """The next step for a domain with a problem ("" when it has none), marked for translation."""
    if not rec.problem:
        return ""
    if rec.broken and rec.id is not None:
        return N_("Force Off stops the process that still runs; then the domain can be started again.")
    if rec.broken:
        return N_("Correct the definition in the XML tab (Edit XML, then Apply…), or delete the domain.")
    return N_("It runs on the definition it started with: correct the definition in the XML tab before it stops.")


def problem_text(rec: DomainRecord) -> str:
    """The problem (the driver's sentence, as it is) and the way out, for the details pane and the table's
    tooltip."""
    return N_("{problem} {way_out}", problem=rec.problem, way_out=way_out(rec)) if rec.problem else ""


def with_attention(state: str, rec: DomainRecord) -> str:
    """``state``, saying so where the domain still runs although it has a problem."""
    return N_("{state}, needs attention", state=state) if rec.problem and not rec.broken else state
