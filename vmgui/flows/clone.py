"""Clone from a selection to a job: the name offered, why a name cannot be used, and the request that runs.

The job (progress, rate, time left, cancel) is the job panel's, like every
other; a refusal from the driver becomes a message through the session.
"""
from __future__ import annotations

from ..actions.requests import Clone
from ..models.domains import Key
from ..models.session import Session
from ..models.validation import name_problem
from ..textmark import N_


class CloneController:
    """Names and the clone request for one shut-off domain."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def name_of(self, key: Key) -> str:
        return self._session.domains.name_of(key)

    def running(self, key: Key) -> bool:
        row = self._session.domains.get(key)
        return row is not None and row.rec.id is not None

    def suggested_name(self, key: Key) -> str:
        """``<name>-clone``, numbered when that is taken on the domain's connection."""
        taken = self._session.domains.names(key[0])
        base = f"{self.name_of(key)}-clone"
        name, n = base, 2
        while name in taken:
            name, n = f"{base}{n}", n + 1
        return name

    def problem(self, key: Key, name: str) -> str | None:
        """Why ``name`` cannot be the clone's, or None."""
        why = name_problem(name, "domain")
        if why:
            return why
        if name in self._session.domains.names(key[0]):
            return N_("A domain on {uri} is already called {name}.", uri=key[0], name=name)
        return None

    def start(self, key: Key, name: str, linked: bool) -> None:
        self._session.run(Clone(name, linked), [key])
