"""What this machine's file system says about a few paths, looked at off the UI thread.

A path under a hung NFS or SSHFS mount makes ``stat()`` block for minutes, so
dialogs never look at files themselves: :func:`probe` (blocking) runs in a
worker, :func:`look_up` runs one probe per path with a timeout, and the plans
turn the resulting :class:`PathFacts` into sentences without touching the
disk. A path whose facts are not in yet reads "Checking …" (a wait, not a
mistake: see :class:`Checking`); one that did not answer in time reads
"… does not answer (a hung network mount?)". A readable regular file is also
read as a CD/DVD image (its volume descriptors, a few kB), so an ISO source can
be named and a file that is none refused; a folder's free space is noted. No
Qt here.
"""
from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from drivers import DriverError, ErrorCode
from drivers.hostfacts import free_bytes
from drivers.isoinfo import IsoInfo, read_iso_info

from ..textmark import N_, Text

#: how long a look at one path may take before it counts as unanswered (a hung mount)
TIMEOUT_S = 3.0
#: bytes read from the start of each regular, readable file (enough for qcow2's magic)
MAGIC_BYTES = 4


@dataclass(frozen=True)
class PathFacts:
    """One path as this machine sees it; all False for a missing path."""

    lexists: bool = False  # something is there, even a dangling symlink
    exists: bool = False  # it resolves to something
    is_file: bool = False
    is_dir: bool = False
    readable: bool = False
    #: a file can be written; a folder can receive new files (write and enter)
    writable: bool = False
    magic: bytes = b""  # the first MAGIC_BYTES of a readable regular file
    #: the look did not finish in time: nothing above is known
    unanswered: bool = False
    #: a readable regular file read as a CD/DVD image: its names, else why it is none
    medium: IsoInfo | None = None
    medium_problem: str = ""
    #: a folder's free bytes (None: not a folder, or not told); it changes all the time, so two looks
    #: that differ only here are the same facts
    free_bytes: int | None = field(default=None, compare=False)


UNANSWERED = PathFacts(unanswered=True)
Facts = Mapping[str, PathFacts]
#: run(work, what, timeout) -> awaitable result of work() in a worker (Bridge.local_files)
Runner = Callable[[Callable[[], Any], str, float], Awaitable[Any]]


class Checking(Text):
    """A sentence that only says the facts are not in yet: blocks OK, but is not shown as an error.

    Made from marked text it stays marked (a view translates it when it shows it); made from a sentence a
    view already translated it is shown as it is.
    """

    def __new__(cls, text: str) -> Checking:
        if isinstance(text, Text):
            return cast(Checking, super().__new__(cls, text.source, text.args, text.number, text.singular))
        return cast(Checking, super().__new__(cls, text, {}))


def look(path: str) -> PathFacts:
    """Blocking: stat ``path`` (and read its magic when it is a readable regular file)."""
    try:
        os.lstat(path)
    except (OSError, ValueError):
        return PathFacts()
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return PathFacts(lexists=True)  # a dangling symlink, or a loop
    is_dir, is_file = stat.S_ISDIR(mode), stat.S_ISREG(mode)
    readable = os.access(path, os.R_OK)
    writable = os.access(path, os.W_OK | os.X_OK) if is_dir else os.access(path, os.W_OK)
    magic = _magic(path) if is_file and readable else b""
    medium, medium_problem = _medium(path) if is_file and readable else (None, "")
    return PathFacts(True, True, is_file, is_dir, readable, writable, magic, medium=medium,
                     medium_problem=medium_problem, free_bytes=free_bytes(path) if is_dir else None)


def _medium(path: str) -> tuple[IsoInfo | None, str]:
    try:
        return read_iso_info(path), ""
    except DriverError as exc:
        return None, exc.message


def _magic(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:  # a regular file: opening never waits for a writer (unlike a FIFO)
            return fh.read(MAGIC_BYTES)
    except OSError:
        return b""


def probe(paths: Iterable[str]) -> dict[str, PathFacts]:
    """Blocking: the facts of every path (run it in a worker, never on the UI thread)."""
    return {path: look(path) for path in paths}


async def look_up(run: Runner, paths: Iterable[str], timeout: float | None = None) -> dict[str, PathFacts]:
    """Every path probed in its own worker call, so one hung mount does not hide the others' answers.

    A path that does not answer within ``timeout`` (default :data:`TIMEOUT_S`) gets :data:`UNANSWERED`.
    """
    wanted = list(dict.fromkeys(paths))
    limit = TIMEOUT_S if timeout is None else timeout

    async def one(path: str) -> PathFacts:
        try:
            facts = await run(lambda: probe([path]), N_("looking at {path}", path=path), limit)
        except DriverError as exc:
            if exc.code is not ErrorCode.OPERATION_TIMEOUT:
                raise
            return UNANSWERED
        return facts[path]  # type: ignore[no-any-return]
    return dict(zip(wanted, await asyncio.gather(*(one(p) for p in wanted)), strict=False))


def unsettled(facts: Facts, path: str, what: str) -> str | None:
    """A "Checking …" wait while ``path``'s facts are not in, the no-answer sentence after a timeout, else None.

    ``what`` names the path in a sentence, e.g. "The folder" or "The ISO image" (marked text, or words shown
    as they are).
    """
    known = facts.get(path)
    if known is None:
        return Checking(N_("Checking {path}…", path=path))
    if known.unanswered:
        return N_("{what} {path} does not answer (a hung network mount?)", what=what, path=path)
    return None


def is_checking(text: str) -> bool:
    return isinstance(text, Checking)


class FactBook:
    """The facts a dialog holds, and which answer is the newest for each path (no Qt, no I/O).

    A dialog asks for the paths it shows; an answer is taken only for a path
    still shown and only from the newest question about it, so a late answer
    (a slow mount, a path the user typed over) never overwrites a newer one.
    A path already being looked at is not asked again until its answer is in,
    so a hung mount ties up one worker, not one per keystroke.
    """

    def __init__(self) -> None:
        self.facts: dict[str, PathFacts] = {}
        self._round = 0
        self._asked: dict[str, int] = {}  # path -> the round whose answer is awaited
        self._shown: set[str] = set()

    def ask(self, paths: Iterable[str]) -> tuple[int, list[str]]:
        """The round number and the paths to look at now, for the paths the dialog now shows."""
        self._shown = set(paths)
        self.facts = {p: f for p, f in self.facts.items() if p in self._shown}
        self._round += 1
        fresh = [p for p in self._shown if p not in self._asked]
        for path in fresh:
            self._asked[path] = self._round
        return self._round, sorted(fresh)

    def answer(self, round_: int, facts: Facts) -> bool:
        """Take what round ``round_`` found; True when a shown path's facts changed."""
        changed = False
        for path, found in facts.items():
            if self._asked.get(path) != round_:
                continue
            del self._asked[path]
            if path in self._shown and self.facts.get(path) != found:
                self.facts[path] = found
                changed = True
        return changed

    def waiting(self) -> bool:
        """Some shown path is still being looked at."""
        return any(p in self._shown for p in self._asked)
