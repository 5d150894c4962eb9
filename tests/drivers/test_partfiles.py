"""Job outputs under a temporary name: published whole, never over a file that appeared meanwhile."""
from __future__ import annotations

import pytest

from drivers import DriverError, ErrorCode
from drivers.qemu import partfiles


def test_a_part_file_is_hidden_beside_its_target_and_fresh_each_time(tmp_path):
    final = tmp_path / "backup.qcow2"
    first, second = partfiles.part_name(str(final)), partfiles.part_name(str(final))
    assert first != second
    for part in (first, second):
        assert part.startswith(str(tmp_path / ".backup.qcow2.")) and part.endswith(".part")


def test_publishing_gives_the_data_its_final_name(tmp_path):
    final = tmp_path / "backup.qcow2"
    part = partfiles.part_name(str(final))
    with open(part, "wb") as fh:
        fh.write(b"whole copy")
    partfiles.publish(part, str(final), replace=False)
    assert final.read_bytes() == b"whole copy"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup.qcow2"]


def test_a_backup_never_overwrites_a_file_that_appeared_under_its_name(tmp_path):
    final = tmp_path / "backup.qcow2"
    part = partfiles.part_name(str(final))
    with open(part, "wb") as fh:
        fh.write(b"new copy")
    final.write_bytes(b"the user's file")
    with pytest.raises(DriverError) as err:
        partfiles.publish(part, str(final), replace=False)
    assert err.value.code is ErrorCode.OPERATION_INVALID and str(final) in err.value.message
    assert final.read_bytes() == b"the user's file"


def test_a_managed_save_replaces_its_older_image(tmp_path):
    final = tmp_path / "guest.img"
    final.write_bytes(b"older image")
    part = partfiles.part_name(str(final))
    with open(part, "wb") as fh:
        fh.write(b"new image")
    partfiles.publish(part, str(final), replace=True)
    assert final.read_bytes() == b"new image"
    assert not partfiles.discard(part), "nothing is left under the temporary name"
