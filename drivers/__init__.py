"""vmgui's embedded driver core: a libvirt-style, synchronous, thread-safe API.

``drivers.open(uri)`` returns a :class:`~drivers.base.Connection`. See
the module docstrings for the contract; no Qt here, ever.
"""
from __future__ import annotations

from .base import Connection, Domain, Snapshot
from .errors import DriverError, ErrorCode
from .flags import (
    BackupFlags,
    CloneFlags,
    CreateFlags,
    DeviceModifyFlags,
    DiskCreateFlags,
    DomainState,
    DomainXMLFlags,
    EventType,
    Feature,
    JobFlags,
    JobOperation,
    JobState,
    JobType,
    JobUnit,
    ListFlags,
    MigrateFlags,
    SaveFlags,
    UndefineFlags,
)
from .records import DomainEvent, DomainInfo, DomainRecord, JobInfo
from .registry import driver_for
from .registry import open_uri as open

__all__ = [
    "open", "driver_for", "Connection", "Domain", "Snapshot", "DriverError", "ErrorCode", "ListFlags",
    "DomainState", "JobType", "JobUnit", "JobState", "JobOperation", "JobFlags", "MigrateFlags", "Feature",
    "EventType", "DomainEvent", "DomainRecord", "DomainInfo", "JobInfo", "CreateFlags",
    "SaveFlags", "UndefineFlags", "DiskCreateFlags", "BackupFlags", "DomainXMLFlags",
    "DeviceModifyFlags", "CloneFlags",
]
