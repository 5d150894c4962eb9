"""Input checks the dialogs run before anything reaches a driver, with the core's own rules."""
from __future__ import annotations

from drivers import MigrateFlags
from drivers.domxml import validate_name
from drivers.errors import DriverError

from ..textmark import N_

#: what to do with an empty name field, by what the name is for
TYPE_A_NAME = {"domain": N_("Type a name for the domain."), "snapshot": N_("Type a name for the snapshot.")}


def name_problem(name: str, what: str) -> str | None:
    """Why ``name`` is not a valid domain/snapshot name (the driver's sentence), or None.

    An empty field is a name not typed yet, not an invalid one: say what to do.
    """
    if not name.strip():
        return TYPE_A_NAME.get(what) or N_("Type a name for the {what}.", what=what)
    try:
        validate_name(name, what)
    except DriverError as exc:
        return exc.message[0].upper() + exc.message[1:] + "."
    return None


def migrate_flags(persist: bool, undefine_source: bool, live: bool = True, offline: bool = False) -> int:
    """Driver flags for the migration dialog's options.

    Unticking *live* leaves the guest paused while its memory is copied (it
    converges sooner). An offline migration moves a shut-off domain's definition
    only, and libvirt requires the result to be persistent there.
    """
    if offline:
        flags = MigrateFlags.OFFLINE | MigrateFlags.PERSIST_DEST
    else:
        flags = MigrateFlags.LIVE if live else MigrateFlags(0)
        if persist:
            flags |= MigrateFlags.PERSIST_DEST
    if undefine_source:
        flags |= MigrateFlags.UNDEFINE_SOURCE
    return int(flags)
