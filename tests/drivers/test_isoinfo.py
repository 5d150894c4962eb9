"""Reading an installer image's volume id without mounting it, and refusing files that are no CD/DVD image."""
from __future__ import annotations

import pytest
from isoimages import DEBIAN_11, MICROSOFT, WINDOWS_11, make_iso, make_udf

from drivers import DriverError, ErrorCode
from drivers.isoinfo import MediumFormat, read_iso_info


def test_an_iso9660_image_gives_its_volume_id_and_publisher(tmp_path):
    info = read_iso_info(str(make_iso(tmp_path / "win.iso", WINDOWS_11, MICROSOFT)))
    assert info.volume_id == WINDOWS_11
    assert info.publisher_id == MICROSOFT
    assert info.format is MediumFormat.ISO9660


def test_a_udf_only_dvd_is_named_by_its_udf_volume(tmp_path):
    for block in (2048, 512):
        info = read_iso_info(str(make_udf(tmp_path / f"dvd{block}.udf", "Backup DVD 2024", block)))
        assert (info.volume_id, info.format) == ("Backup DVD 2024", MediumFormat.UDF)


@pytest.mark.parametrize("content", [b"root:x:0:0:root:/root:/bin/bash\n", b"QFI\xfb" + bytes(70000), b""])
def test_a_file_that_is_not_a_cd_image_is_refused_with_a_sentence(tmp_path, content):
    path = tmp_path / "passwd"
    path.write_bytes(content)
    with pytest.raises(DriverError) as err:
        read_iso_info(str(path))
    assert err.value.code is ErrorCode.INVALID_ARG
    assert err.value.message == f"{path} is not a CD/DVD image (no ISO 9660 or UDF volume descriptor): " \
                                "choose an installer .iso file."


def test_an_unreadable_file_says_why(tmp_path):
    with pytest.raises(DriverError) as err:
        read_iso_info(str(tmp_path / "missing.iso"))
    assert err.value.code is ErrorCode.OPERATION_FAILED
    assert "No such file or directory" in err.value.message


def test_an_iso_whose_volume_id_fills_all_32_bytes_keeps_every_character(tmp_path):
    name = "A" * 16 + "B" * 16
    assert read_iso_info(str(make_iso(tmp_path / "full.iso", name))).volume_id == name
    assert read_iso_info(str(make_iso(tmp_path / "debian.iso", DEBIAN_11))).volume_id == DEBIAN_11
