"""Under a pseudo-translation, what the session says of a domain request comes out translated: the failure's
heading in the message area ("Starting web01 failed") with its verb, and the status bar's "… done"."""
from __future__ import annotations

import pytest
from pseudo_translation import CLOSE, OPEN, untranslated
from test_translated import data_of, pseudo  # noqa: F401 - pseudo: the fixture every test here uses
from test_window import select

from drivers import DomainState, UndefineFlags
from vmgui.actions import requests as rq
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
