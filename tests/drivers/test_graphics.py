"""Domain.open_graphics where a driver has no display to hand out: a typed refusal, not a traceback."""
from __future__ import annotations

from refusals import refused

from drivers import ErrorCode


def test_the_test_driver_has_no_display_stream(conn):
    dom = conn.lookup_by_name("test")
    with refused(ErrorCode.NO_SUPPORT, "An external VNC viewer can still open the display"):
        dom.open_graphics()
