"""Desktop notifications: ``org.freedesktop.Notifications`` on the session bus.

A job that ends while the window is in the background is announced the way every desktop
program does it (GNOME Shell, KDE Plasma, dunst, xfce4-notifyd all serve this interface).
No Qt here: QtDBus in PySide6 cannot send the interface's unsigned and string-array
arguments with their D-Bus types, so the call is made with jeepney, in a worker thread,
with a timeout, so a missing or hung notification server never holds up the window.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

from jeepney import DBusAddress, DBusErrorResponse, MessageType, new_method_call
from jeepney.io.blocking import open_dbus_connection

from .appid import APP_ID, EXECUTABLE

SERVICE = DBusAddress("/org/freedesktop/Notifications", bus_name="org.freedesktop.Notifications",
                      interface="org.freedesktop.Notifications")
#: How long the server may take to answer before vmgui falls back to its own notice
TIMEOUT_S = 2.0


class NotificationsUnavailable(Exception):
    """No notification server took the notice (none runs, no session bus, or it failed)."""


@dataclass(frozen=True)
class Notice:
    summary: str
    body: str
    #: the spec's urgency: 0 low, 1 normal, 2 critical (a failed job)
    urgency: int = 1


def send(notice: Notice, bus: str = "SESSION", timeout: float = TIMEOUT_S) -> int:
    """Show ``notice``; answers the server's notification id. ``bus`` is "SESSION" or a D-Bus address."""
    hints = {"desktop-entry": ("s", APP_ID), "urgency": ("y", notice.urgency)}
    message = new_method_call(SERVICE, "Notify", "susssasa{sv}i",
                              (EXECUTABLE, 0, EXECUTABLE, notice.summary, notice.body, [], hints, -1))
    try:
        with open_dbus_connection(bus=bus, auth_timeout=timeout) as connection:
            reply = connection.send_and_get_reply(message, timeout=timeout)
    except (OSError, KeyError, ValueError, TimeoutError) as exc:  # no bus, no address, refused, too slow
        raise NotificationsUnavailable(f"no session bus to send notifications on: {exc}") from None
    if reply.header.message_type is MessageType.error:
        raise NotificationsUnavailable(str(DBusErrorResponse(reply)))
    return int(reply.body[0])


async def announce(notice: Notice, bus: str = "SESSION") -> int:
    """:func:`send` off the event loop's thread."""
    return await asyncio.to_thread(send, notice, bus)
