"""Qt key events -> (keysym, evdev code) for the embedded display.

The evdev code says which key was pressed. On X11 and Wayland it comes from
the event's native scancode (an XKB keycode: evdev + 8), so it is right for
any host layout. Where the platform gives none (offscreen, some others) it is
found from the Qt key, and for printable characters from the US layout; a
character that needs Shift on that layout says so, so the display can hold
Shift for it when the user did not.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QKeyEvent

from ..rfb.keys import US_LAYOUT, char_keysym

K = Qt.Key
#: keys without text: Qt key -> (keysym, evdev code)
SPECIAL: dict[int, tuple[int, int]] = {
    K.Key_Escape: (0xFF1B, 1), K.Key_Backspace: (0xFF08, 14), K.Key_Tab: (0xFF09, 15),
    K.Key_Backtab: (0xFF09, 15), K.Key_Return: (0xFF0D, 28), K.Key_Enter: (0xFF8D, 96),
    K.Key_Control: (0xFFE3, 29), K.Key_Shift: (0xFFE1, 42), K.Key_Alt: (0xFFE9, 56),
    K.Key_AltGr: (0xFE03, 100), K.Key_Meta: (0xFFEB, 125), K.Key_Super_L: (0xFFEB, 125),
    K.Key_Super_R: (0xFFEC, 126), K.Key_Menu: (0xFF67, 127), K.Key_CapsLock: (0xFFE5, 58),
    K.Key_NumLock: (0xFF7F, 69), K.Key_ScrollLock: (0xFF14, 70), K.Key_Space: (0x20, 57),
    K.Key_Home: (0xFF50, 102), K.Key_Up: (0xFF52, 103), K.Key_PageUp: (0xFF55, 104),
    K.Key_Left: (0xFF51, 105), K.Key_Right: (0xFF53, 106), K.Key_End: (0xFF57, 107),
    K.Key_Down: (0xFF54, 108), K.Key_PageDown: (0xFF56, 109), K.Key_Insert: (0xFF63, 110),
    K.Key_Delete: (0xFFFF, 111), K.Key_Pause: (0xFF13, 119), K.Key_Print: (0xFF61, 99),
    K.Key_SysReq: (0xFF15, 99),
    **{K.Key_F1 + i: (0xFFBE + i, 59 + i) for i in range(10)},
    K.Key_F11: (0xFFC8, 87), K.Key_F12: (0xFFC9, 88),
}
SHIFT = SPECIAL[K.Key_Shift]


@dataclass(frozen=True)
class KeyCode:
    keysym: int
    evdev: int  # 0: unknown, the key goes by keysym only
    needs_shift: bool = False  # on the US layout this character needs Shift (fallback only)


def native_evdev(event: QKeyEvent, platform: str) -> int:
    """The evdev code from the platform, 0 where it gives none."""
    if platform in ("xcb", "wayland") and event.nativeScanCode() > 8:
        return event.nativeScanCode() - 8
    return 0


def key_code(event: QKeyEvent, platform: str | None = None) -> KeyCode | None:
    """What to send for ``event`` (``platform``: Qt's platform plugin, the running one by default);
    None for a key vmgui does not know how to send."""
    native = native_evdev(event, QGuiApplication.platformName() if platform is None else platform)
    special = SPECIAL.get(event.key())
    text = event.text()
    if special is not None:
        return KeyCode(special[0], native or special[1])
    if len(text) == 1 and char_keysym(text):
        keysym = char_keysym(text)
        if native:
            return KeyCode(keysym, native)
        evdev, shift = US_LAYOUT.get(text, (0, False))
        return KeyCode(keysym, evdev, shift)
    if native:
        return KeyCode(0, native)  # e.g. a dead key: its position is all the guest needs
    return None
