"""Keys for RFB: X11 keysyms and the XT (set 1) scancodes of QEMU's extended key event.

A key travels as its position on the keyboard (an evdev code, turned into the
XT scancode QEMU wants), so the guest's own layout decides what it means; the
keysym goes along for servers without the extension. XT codes of E0-prefixed
keys are sent as one byte with bit 7 set (E0 48 -> 0xC8), as QEMU expects.
"""
from __future__ import annotations

from ..textmark import N_

#: evdev codes 1 (Esc) to 88 (F12) are their XT set 1 codes; the rest, where the PC keyboard has them
_EVDEV_TO_XT_EXTRA = {
    89: 0x73,  # RO
    92: 0x79,  # HENKAN
    93: 0x70,  # KATAKANAHIRAGANA
    94: 0x7B,  # MUHENKAN
    95: 0x5C,  # KPJPCOMMA
    96: 0x9C,  # KPENTER (E0 1C)
    97: 0x9D,  # RIGHTCTRL
    98: 0xB5,  # KPSLASH
    99: 0xB7,  # SYSRQ / Print Screen
    100: 0xB8,  # RIGHTALT (AltGr)
    102: 0xC7,  # HOME
    103: 0xC8,  # UP
    104: 0xC9,  # PAGEUP
    105: 0xCB,  # LEFT
    106: 0xCD,  # RIGHT
    107: 0xCF,  # END
    108: 0xD0,  # DOWN
    109: 0xD1,  # PAGEDOWN
    110: 0xD2,  # INSERT
    111: 0xD3,  # DELETE
    113: 0xA0,  # MUTE
    114: 0xAE,  # VOLUMEDOWN
    115: 0xB0,  # VOLUMEUP
    116: 0xDE,  # POWER
    117: 0x59,  # KPEQUAL
    119: 0xC6,  # PAUSE
    124: 0x7D,  # YEN
    125: 0xDB,  # LEFTMETA
    126: 0xDC,  # RIGHTMETA
    127: 0xDD,  # COMPOSE (Menu)
}


def evdev_to_xt(code: int) -> int:
    """The XT scancode QEMU wants for evdev key ``code``; 0 when a PC keyboard has no such key."""
    if 1 <= code <= 88:
        return code
    return _EVDEV_TO_XT_EXTRA.get(code, 0)


def char_keysym(char: str) -> int:
    """The keysym of one printable character: Latin-1 as is, the rest as Unicode keysyms."""
    cp = ord(char)
    if 0x20 <= cp <= 0x7E or 0xA0 <= cp <= 0xFF:
        return cp
    return 0x01000000 | cp if cp > 0xFF else 0


#: evdev codes of the US keyboard's printable keys, for platforms that give no native scancode
#: (the offscreen and Wayland platforms): the character typed -> (evdev code, needs Shift)
US_LAYOUT: dict[str, tuple[int, bool]] = {}
for _row, _codes in (("1234567890-=", range(2, 14)), ("qwertyuiop[]", range(16, 28)),
                     ("asdfghjkl;'`", range(30, 42)), ("\\zxcvbnm,./", range(43, 54))):
    US_LAYOUT.update({c: (code, False) for c, code in zip(_row, _codes, strict=True)})
for _plain, _shifted in zip("1234567890-=[];'`\\,./", "!@#$%^&*()_+{}:\"~|<>?", strict=True):
    US_LAYOUT[_shifted] = (US_LAYOUT[_plain][0], True)
for _c in "abcdefghijklmnopqrstuvwxyz":
    US_LAYOUT[_c.upper()] = (US_LAYOUT[_c][0], True)
US_LAYOUT[" "] = (57, False)

#: (keysym, evdev code) of the keys the Send Key menu presses
_CTRL, _ALT = (0xFFE3, 29), (0xFFE9, 56)
_F_KEYS = [(0xFFBE + i, 59 + i) for i in range(10)] + [(0xFFC8, 87), (0xFFC9, 88)]

#: What the Send Key menu offers: (label, marked for translation: key names are written differently in some
#: languages; keys pressed in order and released in reverse).
KEY_COMBOS: tuple[tuple[str, tuple[tuple[int, int], ...]], ...] = (
    (N_("Ctrl+Alt+Del"), (_CTRL, _ALT, (0xFFFF, 111))),
    (N_("Ctrl+Alt+Backspace"), (_CTRL, _ALT, (0xFF08, 14))),
    *((N_("Ctrl+Alt+F{number}", number=i + 1), (_CTRL, _ALT, key)) for i, key in enumerate(_F_KEYS)),
    (N_("PrintScreen"), ((0xFF61, 99),)),
)
