"""The migration phases are a protocol of their own, not part of the public Connection class."""
from __future__ import annotations

import pytest

import drivers
from drivers import ErrorCode, Feature, MigrateFlags
from drivers.base import Connection, Domain
from drivers.libvirt.connection import LibvirtConnection
from drivers.migration import MigrationPeer, MigrationPhases, peers_compatible
from drivers.qemu.connection import QemuConnection
from drivers.test.connection import TestConnection

PHASES = ("migration_job", "migrate_begin", "migrate_prepare", "migrate_perform", "migrate_finish",
          "migrate_confirm")
OFFLINE = MigrateFlags.OFFLINE | MigrateFlags.PERSIST_DEST


class Bare(Connection):
    """A driver that implements nothing."""


class PeerOnly(Connection):
    """Says it migrates with its own kind and speaks V3, yet has none of the phases."""

    FEATURES = frozenset({Feature.MIGRATION_V3, Feature.MIGRATION_OFFLINE})

    def migration_peer_ok(self, other: Connection) -> bool:
        return isinstance(other, PeerOnly)


def test_the_phases_are_no_part_of_the_public_connection():
    assert [name for name in PHASES + ("migration_peer_ok",) if hasattr(Connection, name)] == []
    assert issubclass(TestConnection, MigrationPhases) and issubclass(QemuConnection, MigrationPhases)
    assert issubclass(LibvirtConnection, MigrationPeer) and not issubclass(LibvirtConnection, MigrationPhases)


def test_a_connection_without_the_phases_is_no_support_before_anything_starts():
    src, dest = PeerOnly("peer:///a"), PeerOnly("peer:///b")
    assert peers_compatible(src, dest)
    with pytest.raises(drivers.DriverError) as info:
        Domain(src, "vm", "u").migrate(dest, OFFLINE)
    assert info.value.code is ErrorCode.NO_SUPPORT and info.value.message.startswith("migration is not supported")


def test_a_connection_that_names_no_peers_cannot_migrate(conn):
    bare = Bare("bare:///")
    assert not peers_compatible(conn, bare) and not peers_compatible(bare, conn)
    with pytest.raises(drivers.DriverError) as info:
        conn.lookup_by_name("test").migrate(bare, MigrateFlags.LIVE)
    assert info.value.code is ErrorCode.NO_SUPPORT and "bare:/// cannot migrate domains" in info.value.message
    assert conn.list_all_jobs() == []


def test_different_kinds_of_hypervisor_are_refused(conn):
    other = PeerOnly("peer:///a")
    assert not peers_compatible(conn, other)
    with pytest.raises(drivers.DriverError) as info:
        conn.lookup_by_name("test").migrate(other, MigrateFlags.LIVE)
    assert info.value.code is ErrorCode.NO_SUPPORT and "different kinds of hypervisor" in info.value.message
