"""The message area never pushes the table down by more than four lines, however many or long the messages."""
from __future__ import annotations

from PySide6.QtWidgets import QLabel

LONG = "the disk image could not be opened because " * 60


def area_height(window, qtbot) -> int:
    qtbot.wait(20)  # layouts settle on the next turn
    window.centralWidget().layout().activate()
    return window.message_area.height()


def test_long_and_many_messages_keep_the_area_at_most_four_lines(open_window, node_uri, qtbot):
    window = open_window(node_uri)
    messages = window.session.messages
    for i in range(3):
        messages.add("error", f"Starting web0{i} failed", "no such file.")
    short = area_height(window, qtbot)
    messages.clear()
    for i in range(3):
        messages.add("error", f"Starting web0{i} failed", LONG, "Check the path in the Hardware tab.")
    assert area_height(window, qtbot) == short
    texts = window.message_area.findChildren(QLabel, "messageText")
    assert len(texts) == 3
    assert all(LONG in t.text() and LONG in t.toolTip() and LONG in t.accessibleName() for t in texts)
    messages.add("error", "Starting db01 failed", LONG)
    four = area_height(window, qtbot)
    for i in range(6):
        messages.add("warning", f"Host {i} sends no events", LONG)
    assert area_height(window, qtbot) == four
    assert len(window.message_area.findChildren(QLabel, "messageText")) == 3
    folded = [label.text() for label in window.message_area.findChildren(QLabel) if label.text().endswith("more")]
    assert folded == ["7 more"]
    assert four - short < short  # the fold is one line, not another message's worth
