"""The console window on a real Linux guest: a terminal on the guest's root shell on ttyS0.

What is typed into the terminal widget runs in busybox's shell; the widget's screen (pyte's
cells) is checked where a person would look: echoed text, the shell's history on arrow-up,
text placed by cursor addressing and by ``vi``, colours, Ctrl+C, 10,000 lines of scrollback,
the VM paused, and the console opening again by itself after the VM stopped and started or rebooted.
"""
from __future__ import annotations

import pytest
from borrowed_fixtures import borrow
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from pytestqt.exceptions import TimeoutError as WaitTimedOut

from vmgui.views.terminal import TerminalView

_gui = borrow("vmgui")
aloop, settings, open_window = _gui.aloop, _gui.settings, _gui.open_window
private_settings, collect_qt_objects_here = _gui.private_settings, _gui.collect_qt_objects_here

pytestmark = [pytest.mark.qemu, pytest.mark.slow, pytest.mark.qt_log_ignore(_gui.OFFSCREEN_NOISE)]
K = Qt.Key
WAIT_MS = 60_000  # TCG on a shared machine: generous for waiting, strict for what is checked


def open_console(env, open_window, qtbot, name: str):
    conn = env.open()
    dom = conn.define_xml(env.linux_xml(name))
    dom.create()
    env.guest(name).wait_for(b"VMGUI READY", timeout=120)
    window = open_window(env.uri())
    dialog = window.commands.open_console((env.uri(), dom.uuid))
    term = dialog.findChild(TerminalView, "consoleTerminal")
    qtbot.waitUntil(lambda: dialog.model.open, timeout=WAIT_MS)
    qtbot.waitUntil(term.hasFocus, timeout=WAIT_MS)
    return dom, dialog, term


def run(qtbot, term, line: str) -> None:
    qtbot.keyClicks(term, line)
    qtbot.keyClick(term, K.Key_Return)


def wait_line(qtbot, dialog, text: str, count: int = 1) -> None:
    """Until ``count`` lines of the scrollback and screen read exactly ``text``."""
    def seen() -> bool:
        return dialog.model.text().splitlines().count(text) >= count
    try:
        qtbot.waitUntil(seen, timeout=WAIT_MS)
    except WaitTimedOut:
        raise AssertionError(f"{text!r} (x{count}) never showed; the screen:\n"
                             + "\n".join(dialog.model.terminal.display())) from None


def wait_prompt(qtbot, dialog, after: str) -> None:
    """Until a bare prompt follows a line ending in ``after``: the shell waits for the next command,
    and its cursor position query (sent with every prompt) has been answered, ahead of what is typed next."""
    def ready() -> bool:
        lines = dialog.model.text().splitlines()
        return len(lines) >= 2 and lines[-2].endswith(after) and lines[-1].endswith("#") and len(lines[-1]) < 8
    try:
        qtbot.waitUntil(ready, timeout=WAIT_MS)
    except WaitTimedOut:
        raise AssertionError(f"no prompt after {after!r}; the screen:\n"
                             + "\n".join(dialog.model.terminal.display())) from None


def test_the_console_is_a_terminal_on_the_guest_shell(env, linux_guest, open_window, qtbot):
    _dom, dialog, term = open_console(env, open_window, qtbot, "tty")
    screen = dialog.model.terminal
    run(qtbot, term, "")  # a fresh prompt
    run(qtbot, term, "echo TYPED-$((6*7))")
    wait_line(qtbot, dialog, "TYPED-42")
    assert any(ln.endswith("echo TYPED-$((6*7))") for ln in dialog.model.text().splitlines()), "typed text echoes"

    qtbot.keyClick(term, K.Key_Up)  # busybox ash's line editing recalls the last command
    qtbot.keyClick(term, K.Key_Return)
    wait_line(qtbot, dialog, "TYPED-42", count=2)

    run(qtbot, term, r"clear; printf '\033[5;10HHERE\033[31mRED\033[0m\033[12;1H'; echo; echo DRAWN")
    wait_line(qtbot, dialog, "DRAWN")
    row = screen.display()[4]
    assert row[:9] == " " * 9 and row[9:16] == "HERERED", screen.display()
    cells = screen.screen.buffer[4]
    assert [cells[x].fg for x in range(9, 16)] == ["default"] * 4 + ["red"] * 3, "colours are kept per cell"

    # a serial line carries no terminal size: without one vi asks the terminal (a cursor position
    # report) and gives up after 100 ms, which a loaded machine misses, and then reads the late
    # answer as keys. The size is set as on any serial console, and vi starts only once the prompt
    # is on screen, when the answer to the shell's own cursor query has gone out ahead of the keys.
    setup = f"stty rows {screen.rows} cols {screen.columns}; printf 'alpha\\nbeta\\ngamma\\n' > /tmp/f"
    run(qtbot, term, setup)
    wait_prompt(qtbot, dialog, setup)
    run(qtbot, term, "vi /tmp/f")
    qtbot.waitUntil(lambda: [ln.rstrip() for ln in screen.display()[:3]] == ["alpha", "beta", "gamma"],
                    timeout=WAIT_MS)
    assert screen.display()[3].startswith("~"), "vi marks the lines past the end"
    qtbot.waitUntil(lambda: "/tmp/f" in screen.display()[-1], timeout=WAIT_MS)  # vi fills the whole view
    # vi draws the file, then its status line, and only then puts the cursor home: a loaded
    # machine shows the text before the last of that has arrived
    try:
        qtbot.waitUntil(lambda: screen.cursor[:2] == (0, 0), timeout=WAIT_MS)
    except WaitTimedOut:
        raise AssertionError(f"vi's cursor never came to the first character: {screen.cursor[:2]}") from None
    qtbot.keyClick(term, K.Key_Down)  # arrow keys move in vi (in its cursor-key mode)
    qtbot.keyClick(term, K.Key_Right)
    qtbot.waitUntil(lambda: screen.cursor[:2] == (1, 1), timeout=WAIT_MS)
    qtbot.keyClick(term, K.Key_Escape)
    qtbot.wait(500)  # vi reads a key that follows ESC at once as part of an escape sequence, as any vi does
    run(qtbot, term, ":q!")
    run(qtbot, term, "echo VI-$((1+1))-DONE")
    wait_line(qtbot, dialog, "VI-2-DONE")

    run(qtbot, term, "sleep 100")
    qtbot.wait(1500)
    qtbot.keyClick(term, K.Key_C, Qt.KeyboardModifier.ControlModifier)  # to the guest, not the window
    assert dialog.isVisible()
    run(qtbot, term, "echo AFTER-$((2+2))")
    qtbot.waitUntil(lambda: "AFTER-4" in dialog.model.text().splitlines(), timeout=20_000)  # not 100 s later
    wait_prompt(qtbot, dialog, "AFTER-4")  # an answer that came after the next command would be echoed into its output

    run(qtbot, term, "seq 12000; echo SEQ-$((1*1))-DONE")
    qtbot.waitUntil(lambda: "SEQ-1-DONE" in dialog.model.text().splitlines(), timeout=180_000)
    lines = dialog.model.text().splitlines()
    end = lines.index("12000")
    assert screen.history_lines >= 10_000
    assert lines[end - 10_000:end + 1] == [str(n) for n in range(2000, 12001)], "10,000 lines of scrollback"
    term.scroll_to(screen.history_lines)
    qtbot.wait(50)
    assert term.scrolled == screen.history_lines
    dialog.close()


def test_the_console_opens_again_by_itself_when_the_vm_runs_again(env, linux_guest, open_window, qtbot):
    dom, dialog, term = open_console(env, open_window, qtbot, "again")
    status = dialog.findChild(QLabel, "consoleStatus")
    run(qtbot, term, "echo FIRST-$((3*3))")
    wait_line(qtbot, dialog, "FIRST-9")

    dom.suspend()  # paused: the screen stays, typing says so and reaches the guest once it runs
    qtbot.waitUntil(lambda: "is paused" in status.text(), timeout=WAIT_MS)
    qtbot.keyClicks(term, "echo PAUSED-$((2*5))")
    assert "what you type reaches the guest when it runs again" in status.text() and dialog.model.open
    assert "FIRST-9" in dialog.model.text().splitlines()
    dom.resume()
    qtbot.waitUntil(lambda: "Connected" in status.text(), timeout=WAIT_MS)
    qtbot.keyClick(term, K.Key_Return)
    wait_line(qtbot, dialog, "PAUSED-10")
    boots = dialog.model.text().count("VMGUI BOOT")

    dom.destroy()
    qtbot.waitUntil(lambda: status.text().startswith("VM stopped"), timeout=WAIT_MS)
    assert not dialog.model.open and "FIRST-9" in dialog.model.text().splitlines(), "the screen stays"
    dom.create()
    qtbot.waitUntil(lambda: dialog.model.open, timeout=WAIT_MS)
    try:
        qtbot.waitUntil(lambda: dialog.model.text().count("VMGUI BOOT") == boots + 1, timeout=WAIT_MS)
    except WaitTimedOut:
        raise AssertionError(f"the second boot never showed after {boots} boot(s); the console:\n"
                             + dialog.model.text()[-3000:]) from None
    wait_line(qtbot, dialog, "VMGUI READY", count=2)
    lines = dialog.model.text().splitlines()
    assert lines.count("FIRST-9") == 1, "what was on screen is not printed a second time from the log"
    run(qtbot, term, "echo SECOND-$((4*4))")
    wait_line(qtbot, dialog, "SECOND-16")

    dom.reboot()  # the guest restarts inside the same QEMU: the console stays open
    wait_line(qtbot, dialog, "VMGUI READY", count=3)
    run(qtbot, term, "echo THIRD-$((5*5))")
    wait_line(qtbot, dialog, "THIRD-25")
    assert dialog.model.open and "Connected" in status.text()
    dialog.close()
