"""A serial console's reader thread: the bridge side of a console view.

``Console.read`` blocks, possibly for ever, so the reader gets a daemon thread
of its own rather than a pool worker (it would hold one of the connection's
few slots for as long as the view is open). Output and the end of the stream
are handed to the UI thread through ``post``; writes go through the bridge's
call queue like any other call. No Qt here.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from drivers import DriverError
from drivers.base import Console

log = logging.getLogger(__name__)
Post = Callable[[Callable[[], None]], None]
READ_TIMEOUT_S = 0.2  # how soon a closed stream's thread notices and ends


class ConsoleStream:
    """Reads ``console`` on a daemon thread; ``on_data``/``on_end`` run on the UI thread."""

    def __init__(self, uri: str, console: Console, post: Post, name: str = "console",
                 history: bytes = b"") -> None:
        self.uri = uri
        self.console = console
        self._post = post
        self._history = history  # what the port printed before we opened it
        self._stop = threading.Event()
        self.on_data: Callable[[bytes], None] = lambda _data: None
        #: the reason: "" when closed by us, else why the guest side went away
        self.on_end: Callable[[str], None] = lambda _why: None
        self._thread = threading.Thread(target=self._run, name=f"vmgui-{name}", daemon=True)

    @property
    def closed(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        """Deliver the history, then stream; call once the callbacks are set."""
        if self._history:
            self._post(lambda: self.on_data(self._history))
        self._thread.start()

    def close(self) -> None:
        """Stop reading (the thread ends within READ_TIMEOUT_S unless the driver hangs).

        The console itself is closed on the reader thread (a driver's close may
        block too); a stream closed before it started gets its thread just for that.
        """
        self._stop.set()
        if not self._thread.is_alive() and self._thread.ident is None:
            self._thread.start()

    def _run(self) -> None:
        why = ""
        try:
            while not self._stop.is_set():
                data = self.console.read(READ_TIMEOUT_S)
                if data and not self._stop.is_set():
                    self._post(lambda d=data: self.on_data(d))  # type: ignore[misc]
        except DriverError as exc:
            why = exc.message or str(exc)
        except Exception as exc:
            log.warning("console reader of %s failed", self.uri, exc_info=True)
            why = f"the console failed: {exc}"
        finally:
            try:
                self.console.close()
            except Exception:
                log.debug("closing a console failed", exc_info=True)
        if not self._stop.is_set():
            self._stop.set()
            self._post(lambda: self.on_end(why or "the console closed"))
