"""Input checks the dialogs run before anything reaches a driver, with the core's own rules."""
from __future__ import annotations

from drivers import MigrateFlags
from drivers.domxml import validate_name
from drivers.errors import DriverError


def name_problem(name: str, what: str) -> str | None:
    """Why ``name`` is not a valid domain/snapshot name (the driver's sentence), or None."""
    try:
        validate_name(name, what)
    except DriverError as exc:
        return exc.message[0].upper() + exc.message[1:] + "."
    return None


def migrate_flags(persist: bool, undefine_source: bool) -> int:
    """A live migration, optionally persistent on the destination and undefined at the source."""
    flags = MigrateFlags.LIVE
    if persist:
        flags |= MigrateFlags.PERSIST_DEST
    if undefine_source:
        flags |= MigrateFlags.UNDEFINE_SOURCE
    return int(flags)
