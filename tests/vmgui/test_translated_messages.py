"""Under a pseudo-translation, what the session says of a domain request comes out translated: the failure's
heading in the message area ("Starting web01 failed") with its verb, the status bar's "… done", and what a
connection is busy with while a call hangs."""
from __future__ import annotations

import pytest
from pseudo_translation import CLOSE, OPEN, untranslated
from test_hung import HUNG, release  # noqa: F401 - release: the fixture that makes hung:/// hang
from test_translated import data_of, pseudo  # noqa: F401 - pseudo: the fixture every test here uses
from test_window import select

from drivers import DomainState, UndefineFlags
from vmgui.actions import requests as rq
from vmgui.models import vnc
from vmgui.models.connections import ConnState
from vmgui.views.messagearea import OneLineLabel

pytestmark = pytest.mark.usefixtures("pseudo")


def test_a_failed_request_is_headed_by_its_translated_verb(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    select(window, "web01")
    [key] = window.table.selected_keys()
    gone = window.session.bridge.connection(node_uri).lookup_by_name("web01")
    gone.destroy()  # another client removes the domain while the window still shows it
    gone.undefine(UndefineFlags.SNAPSHOTS_METADATA)
    window.session.run(rq.Start(), [key])
    qtbot.waitUntil(lambda: any(m.level == "error" for m in window.session.messages.messages()), timeout=10000)
    [msg] = window.session.messages.messages()
    assert msg.title == "Starting web01 failed"  # the English, word for word
    [row] = [label for label in window.message_area.findChildren(OneLineLabel) if label.isVisibleTo(window)]
    assert row.text().startswith(f"{OPEN}{OPEN}{OPEN}{OPEN}Starting{CLOSE} web01{CLOSE} failed{CLOSE} \u2014 ")
    assert untranslated(window.message_area, data_of(window)) == []


def test_a_finished_request_says_so_in_the_status_bar_translated(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    select(window, "web01")
    [key] = window.table.selected_keys()
    assert window.session.domains.get(key).rec.state == DomainState.RUNNING
    window.session.run(rq.Pause(), [key])
    qtbot.waitUntil(lambda: "web01" in window.statusBar().currentMessage(), timeout=10000)
    assert window.statusBar().currentMessage() == f"{OPEN}{OPEN}Pausing{CLOSE} web01: done{CLOSE}"


@pytest.mark.usefixtures("release")
def test_a_hung_call_is_named_in_translated_words(open_window, node_uri, qtbot):
    window = open_window(node_uri, HUNG, wait=False)
    conns = window.session.connections
    qtbot.waitUntil(lambda: conns.get(HUNG) is not None, timeout=10000)  # after the demo host's setup turn
    qtbot.waitUntil(lambda: "listing domains of hung:///nowhere" in conns.get(HUNG).busy, timeout=10000)
    chip = window.conn_status.chips[HUNG]
    # the chip's frame, "busy: …", the call's slow-for frame and the call's own description, each translated
    busy = f"{OPEN}{conns.get(HUNG).label}: {OPEN}busy: {OPEN}{OPEN}listing domains of hung:///nowhere{CLOSE} ("
    qtbot.waitUntil(lambda: chip.text.text().startswith(busy), timeout=5000)
    chip.give_up.click()
    qtbot.waitUntil(lambda: conns.get(HUNG).state is ConnState.FAILED, timeout=10000)
    assert conns.get(HUNG).message == "gave up connecting"
    assert chip.toolTip() == f"{HUNG}\n{OPEN}gave up connecting{CLOSE}"


def test_why_the_graphical_console_cannot_open_is_translated(open_window, make_node, qtbot):
    uri = make_node(1)  # vm00000: running, no <graphics>
    window = open_window(uri)
    key = (uri, window.session.bridge.connection(uri).lookup_by_name("vm00000").uuid)
    window.session.spawn(vnc.open_graphical_console(window.session, key), "opening the display")
    qtbot.waitUntil(lambda: bool(window.session.messages.messages()), timeout=10000)
    [msg] = window.session.messages.messages()
    assert msg.text == "vm00000 has no VNC graphics (add <graphics type='vnc'/> to its definition)."
    [row] = [label for label in window.message_area.findChildren(OneLineLabel) if label.isVisibleTo(window)]
    assert row.text() == (f"{OPEN}{OPEN}Cannot open the graphical console of vm00000{CLOSE} \u2014 "
                          f"{OPEN}{OPEN}vm00000 has no VNC graphics (add <graphics type='vnc'/> to its "
                          f"definition){CLOSE}.{CLOSE}{CLOSE}")
