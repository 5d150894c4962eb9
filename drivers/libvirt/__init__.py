"""``libvirt:<uri>`` (and qemu:///system, qemu+ssh://..., ...) — the bridge to libvirt.

vmgui's driver contract mapped onto libvirt-python, so remote hosts and
existing libvirt setups appear in the same table, filters and job panel:

* ``list_all_domains`` is ``virConnectListAllDomains`` with the same flag bits;
  ``get_all_domain_stats`` is one ``virConnectGetAllDomainStats`` round trip
  (plus a constant four listings for the flags libvirt's stats lack).
* Lifecycle, snapshots, managed save, save/restore, backup, job info and abort,
  migration (``virDomainMigrate3``) go to libvirt; its error codes become
  :class:`~drivers.errors.ErrorCode` with libvirt's message kept
  (:mod:`.errors`). libvirt's one-job-per-domain, id-less jobs get stable
  vmgui ids as documented in :mod:`.jobs`.
* Events come from libvirt's event loop on a driver thread
  (:mod:`.runtime`); running jobs are polled at 3 Hz on a per-connection
  thread and reported as JOB events.
* ``Domain.rename`` is ``virDomainRename`` (Feature.RENAME for libvirt's qemu
  and test drivers); ``storage_visible`` asks ``virStorageVolLookupByPath``
  (a pool volume is True, any other path None: libvirt cannot tell);
  ``create_disk`` stays NO_SUPPORT (create the file on the host). Records
  carry ``memory_used_kib`` from the ``balloon.rss`` stat where libvirt has
  it; ``started_at`` is None (the uptime is not known, the details pane
  shows a dash): libvirt reports neither when the guest booted nor how long
  it was paused, and a time counted from when this connection first saw the
  domain run would be wrong for every domain started before it.
* Opening has a timeout, keepalive is on, a lost connection emits
  ``EventType.DISCONNECTED`` and the next call reconnects.
* :mod:`.discover` names this machine's running libvirt QEMU daemons
  (session, system) that this user may use and that answer, without
  starting one: the GUI opens them at start.

libvirt-python is the optional extra ``vmgui[libvirt]``.
"""
from __future__ import annotations

from ..errors import DriverError, ErrorCode
from .connection import KEEPALIVE_COUNT, KEEPALIVE_INTERVAL, OPEN_TIMEOUT, LibvirtConnection
from .domain import LibvirtDomain, LibvirtSnapshot

__all__ = ["open_connection", "libvirt_uri_of", "LibvirtConnection", "LibvirtDomain", "LibvirtSnapshot",
           "OPEN_TIMEOUT"]

PREFIX = "libvirt:"


def libvirt_uri_of(uri: str) -> str:
    """The URI handed to libvirt: ``libvirt:<uri>`` loses its prefix, others pass as they are."""
    if uri.startswith(PREFIX):
        inner = uri[len(PREFIX):]
        if not inner.strip():
            raise DriverError(ErrorCode.INVALID_ARG,
                              "libvirt: needs a libvirt URI after it, e.g. libvirt:qemu:///system")
        return inner
    return uri


def open_connection(uri: str, *, timeout: float = OPEN_TIMEOUT,
                    keepalive: tuple[int, int] = (KEEPALIVE_INTERVAL, KEEPALIVE_COUNT),
                    readonly: bool = False) -> LibvirtConnection:
    """Open ``uri`` through libvirt; OPERATION_TIMEOUT after ``timeout`` seconds of silence."""
    return LibvirtConnection(uri, libvirt_uri_of(uri), timeout=timeout, keepalive=keepalive,
                             readonly=readonly)
