"""Deleting a domain with the disk files the user chose, through any driver's public API.

The disk files go last and only where the driver would delete them: it is
asked first (``check_delete_disks``), so a refusal (a disk in use elsewhere, a
file that is no image) leaves the domain defined and nothing is half done.
"""
from __future__ import annotations

from collections.abc import Sequence

from .base import Domain
from .errors import DriverError
from .flags import UndefineFlags

#: What deleting a domain also removes by default: its saved state, its snapshots' metadata, its UEFI variables.
DEFAULT_UNDEFINE = UndefineFlags.MANAGED_SAVE | UndefineFlags.SNAPSHOTS_METADATA | UndefineFlags.NVRAM


def delete_domain(dom: Domain, flags: int = DEFAULT_UNDEFINE, force_off: bool = False,
                  files: Sequence[str] = ()) -> list[str]:
    """Force ``dom`` off (if asked and it runs), undefine it, then delete ``files``; returns the files deleted.

    Raises the driver's refusal before anything changed when it would not
    delete one of ``files``; a failure after the undefine says the definition
    went and the files stayed.
    """
    conn = dom.connection
    paths = list(files)
    if paths:
        refused = conn.check_delete_disks(paths, dom)
        if refused:
            first = next(iter(refused.values()))
            raise DriverError(first.code, f"'{dom.name}' was not deleted: "
                              + "; ".join(e.message for e in refused.values()))
    if force_off and dom.is_active():
        dom.destroy()
    dom.undefine(int(flags))
    if not paths:
        return []
    try:
        return conn.delete_disks(paths)
    except DriverError as exc:
        raise DriverError(exc.code, f"the definition of '{dom.name}' was deleted, but its disk files were "
                          f"kept: {exc.message}") from None
