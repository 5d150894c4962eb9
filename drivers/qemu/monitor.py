"""QMP sessions through ``qemu.qmp``, bridged to synchronous callers.

Every root state owns one :class:`LoopThread`: an asyncio loop on a daemon
thread that runs the ``QMPClient`` objects of its VMs. Driver code (any
thread) calls :meth:`Monitor.execute`, which submits the coroutine with
``run_coroutine_threadsafe`` and waits with a timeout. QMP events and the
end of a session are handed to a callback *off* the loop thread (through
the owner's dispatcher), so a handler may itself issue QMP commands.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from qemu.qmp import ConnectError, EventListener, ExecInterruptedError, ExecuteError, QMPClient, Runstate
from qemu.qmp.error import QMPError

from ..errors import DriverError, ErrorCode

log = logging.getLogger(__name__)

#: Default wait for one QMP command.
COMMAND_TIMEOUT = 30.0


class LoopThread:
    """An asyncio event loop on its own daemon thread."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(_quiet_handler)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coro: Any, timeout: float | None = COMMAND_TIMEOUT) -> Any:
        if threading.current_thread() is self._thread:
            raise RuntimeError("blocking QMP call from the event-loop thread")
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout)
        except TimeoutError:
            fut.cancel()
            raise

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


def _quiet_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """qemu.qmp leaves the EOF of a session that QEMU closed unretrieved: that is no error."""
    exc = context.get("exception")
    if isinstance(exc, (EOFError, ConnectionError, QMPError)):
        log.debug("QMP session ended: %r", exc)
        return
    loop.default_exception_handler(context)


EventHandler = Callable[[str, dict[str, Any]], None]


class Monitor:
    """One VM's QMP session: synchronous ``execute`` plus event delivery.

    ``on_event(name, data)`` gets every QMP event; ``on_event('__EOF__', {})``
    is delivered once when the session ends (QEMU exited or the socket died).
    Both are called through ``dispatch`` (a callable that runs a function on
    a non-loop thread, in order).
    """

    def __init__(self, loop: LoopThread, name: str, on_event: EventHandler,
                 dispatch: Callable[[Callable[[], None]], None]) -> None:
        self._loop = loop
        self.name = name
        self._on_event = on_event
        self._dispatch = dispatch
        self._client: QMPClient | None = None
        self._listener: EventListener | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._closed = False
        self._eof_sent = False

    # -- connection -----------------------------------------------------------------
    def connect(self, path: str, timeout: float = 10.0, alive: Callable[[], bool] | None = None) -> None:
        """Connect to QEMU's QMP socket, waiting for it to appear (QEMU is starting)."""
        deadline = time.monotonic() + timeout
        delay = 0.002
        last: Exception | None = None
        while True:
            if os.path.exists(path):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.connect(path)  # quietly: qemu.qmp logs failed attempts as errors
                except OSError as exc:
                    sock.close()
                    last = exc
                else:
                    try:
                        self._loop.call(self._connect(sock), timeout=max(1.0, deadline - time.monotonic()))
                        return
                    except (ConnectError, OSError, QMPError, TimeoutError, EOFError) as exc:
                        sock.close()
                        last = exc
            if alive is not None and not alive():
                raise DriverError(ErrorCode.OPERATION_FAILED, f"QEMU of '{self.name}' exited during start-up")
            if time.monotonic() >= deadline:
                raise DriverError(ErrorCode.OPERATION_TIMEOUT,
                                  f"cannot connect to the QMP socket of '{self.name}' ({path}): {last or 'absent'}")
            time.sleep(delay)
            delay = min(delay * 2, 0.005)

    async def _connect(self, sock: socket.socket) -> None:
        client = QMPClient(self.name)
        listener = EventListener()
        client.register_listener(listener)
        await client.connect(sock)
        self._client, self._listener = client, listener
        self._tasks = [asyncio.create_task(self._pump_events(listener)),
                       asyncio.create_task(self._watch(client))]

    async def _pump_events(self, listener: EventListener) -> None:
        try:
            while True:
                event = await listener.get()
                name = str(event.get("event", ""))
                self._deliver(name, _event_data(event))
        except asyncio.CancelledError:
            pass

    async def _watch(self, client: QMPClient) -> None:
        try:
            while client.runstate == Runstate.RUNNING:
                await client.runstate_changed()
        except asyncio.CancelledError:
            return
        # drain events that arrived before the end
        if self._listener is not None:
            while not self._listener.empty():
                event = self._listener.clear()
                for ev in event:
                    self._deliver(str(ev.get("event", "")), _event_data(ev))
        try:
            await client.disconnect()
        except Exception:  # noqa: BLE001 - the peer is gone; nothing to report
            pass
        if not self._closed:
            self._send_eof()

    def _deliver(self, name: str, data: dict[str, Any]) -> None:
        handler = self._on_event
        self._dispatch(lambda: handler(name, data))

    def _send_eof(self) -> None:
        if not self._eof_sent:
            self._eof_sent = True
            self._deliver("__EOF__", {})

    @property
    def connected(self) -> bool:
        c = self._client
        return c is not None and c.runstate == Runstate.RUNNING

    def close(self) -> None:
        """Drop the session; QEMU keeps running. No EOF is delivered."""
        if self._closed:
            return
        self._closed = True
        client = self._client
        if client is None:
            return

        async def _close() -> None:
            for task in self._tasks:
                task.cancel()
            try:
                await client.disconnect()
            except Exception:  # noqa: BLE001
                pass
        try:
            self._loop.call(_close(), timeout=5)
        except Exception:
            log.debug("closing the QMP session of %s failed", self.name, exc_info=True)

    # -- commands -----------------------------------------------------------------
    def execute(self, cmd: str, args: dict[str, Any] | None = None, timeout: float = COMMAND_TIMEOUT) -> Any:
        """Run one QMP command; DriverError with QEMU's message on failure."""
        client = self._client
        if client is None or self._closed:
            raise DriverError(ErrorCode.OPERATION_INVALID, f"no monitor connection to '{self.name}'")
        try:
            return self._loop.call(client.execute(cmd, args), timeout=timeout)
        except ExecuteError as exc:
            raise DriverError(ErrorCode.OPERATION_FAILED, f"QEMU refused {cmd} for '{self.name}': {exc}") \
                from None
        except (ExecInterruptedError, EOFError, ConnectionError):
            raise DriverError(ErrorCode.OPERATION_FAILED,
                              f"QEMU of '{self.name}' went away during {cmd}; its outcome is unknown") from None
        except TimeoutError:
            raise DriverError(ErrorCode.OPERATION_TIMEOUT,
                              f"QEMU of '{self.name}' did not answer {cmd} within {timeout:.0f} s") from None
        except QMPError as exc:
            raise DriverError(ErrorCode.OPERATION_FAILED, f"QMP error on {cmd} for '{self.name}': {exc}") from None

    def send_fd(self, fd: int, fdname: str) -> None:
        """Hand ``fd`` to QEMU under ``fdname`` (SCM_RIGHTS + getfd)."""
        client = self._client
        if client is None:
            raise DriverError(ErrorCode.OPERATION_INVALID, f"no monitor connection to '{self.name}'")

        async def _send() -> None:
            client.send_fd_scm(fd)
            await client.execute("getfd", {"fdname": fdname})
        try:
            self._loop.call(_send())
        except ExecuteError as exc:
            raise DriverError(ErrorCode.OPERATION_FAILED, f"QEMU refused a file for '{self.name}': {exc}") \
                from None
        except (QMPError, OSError, EOFError) as exc:
            raise DriverError(ErrorCode.OPERATION_FAILED, f"cannot pass a file to QEMU of '{self.name}': {exc}") \
                from None


def _event_data(event: Any) -> dict[str, Any]:
    """The ``data`` member of a QMP event as a dict (empty when absent or not an object)."""
    data = event.get("data")
    return dict(data) if isinstance(data, dict) else {}
