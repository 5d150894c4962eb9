"""Qt key presses -> the bytes an xterm sends for them on a serial line.

Cursor keys follow the program's choice of normal (``ESC [ A``) or
application (``ESC O A``) mode; Alt sends ESC before the key; Ctrl+letter
sends the control character (Ctrl+C is 0x03: it interrupts in the guest).
Keys with no terminal meaning give ``None``.
"""
from __future__ import annotations

from PySide6.QtCore import Qt

K = Qt.Key
M = Qt.KeyboardModifier
#: cursor keys: Qt key -> final byte (after ESC [ or, in application mode, ESC O)
CURSOR: dict[int, bytes] = {K.Key_Up: b"A", K.Key_Down: b"B", K.Key_Right: b"C", K.Key_Left: b"D",
          K.Key_Home: b"H", K.Key_End: b"F"}
#: keys whose sequence does not change with the mode
FIXED: dict[int, bytes] = {
    K.Key_Return: b"\r", K.Key_Enter: b"\r", K.Key_Backspace: b"\x7f", K.Key_Tab: b"\t",
    K.Key_Backtab: b"\x1b[Z", K.Key_Escape: b"\x1b",
    K.Key_Insert: b"\x1b[2~", K.Key_Delete: b"\x1b[3~", K.Key_PageUp: b"\x1b[5~", K.Key_PageDown: b"\x1b[6~",
    K.Key_F1: b"\x1bOP", K.Key_F2: b"\x1bOQ", K.Key_F3: b"\x1bOR", K.Key_F4: b"\x1bOS",
    K.Key_F5: b"\x1b[15~", K.Key_F6: b"\x1b[17~", K.Key_F7: b"\x1b[18~", K.Key_F8: b"\x1b[19~",
    K.Key_F9: b"\x1b[20~", K.Key_F10: b"\x1b[21~", K.Key_F11: b"\x1b[23~", K.Key_F12: b"\x1b[24~",
}
#: Ctrl + these keys -> the control characters a terminal sends for them
CTRL_PUNCT: dict[int, bytes] = {
    K.Key_Space: b"\x00", K.Key_At: b"\x00", K.Key_BracketLeft: b"\x1b", K.Key_Backslash: b"\x1c",
    K.Key_BracketRight: b"\x1d", K.Key_AsciiCircum: b"\x1e", K.Key_Underscore: b"\x1f", K.Key_Question: b"\x7f",
}


def key_bytes(key: int, modifiers: Qt.KeyboardModifier, text: str, app_cursor: bool = False) -> bytes | None:
    """What the terminal sends for one key press (``None``: nothing, e.g. a lone Shift)."""
    alt = bool(modifiers & M.AltModifier)
    ctrl = bool(modifiers & M.ControlModifier)
    prefix = b"\x1b" if alt else b""
    if key in CURSOR:
        return prefix + (b"\x1bO" if app_cursor else b"\x1b[") + CURSOR[key]
    if key in FIXED:
        return prefix + FIXED[key]
    if ctrl:
        if K.Key_A <= key <= K.Key_Z:
            return prefix + bytes([key - K.Key_A + 1])
        if key in CTRL_PUNCT:
            return prefix + CTRL_PUNCT[key]
    if text and all(c >= " " or c == "\t" for c in text):
        return prefix + text.encode()
    if text and ctrl and len(text) == 1 and ord(text) < 0x20:
        return prefix + text.encode()  # a control character the platform already made
    return None
