"""libvirt error codes -> ErrorCode, libvirt's message kept."""
from __future__ import annotations

import pytest

from drivers import ErrorCode
from drivers.libvirt.errors import is_connection_error, translate

pytestmark = pytest.mark.libvirt


class FakeLibvirtError(Exception):
    def __init__(self, code: int, message: str, domain: int = 10) -> None:
        super().__init__(message)
        self.code, self.message, self.domain = code, message, domain

    def get_error_code(self) -> int:
        return self.code

    def get_error_message(self) -> str:
        return self.message

    def get_error_domain(self) -> int:
        return self.domain


@pytest.mark.parametrize("code, expected", [
    (1, ErrorCode.INTERNAL_ERROR), (3, ErrorCode.NO_SUPPORT), (8, ErrorCode.INVALID_ARG),
    (9, ErrorCode.OPERATION_FAILED), (27, ErrorCode.INVALID_XML), (42, ErrorCode.NO_DOMAIN),
    (55, ErrorCode.OPERATION_INVALID), (68, ErrorCode.OPERATION_TIMEOUT), (72, ErrorCode.NO_SNAPSHOT),
    (74, ErrorCode.NO_SUPPORT), (78, ErrorCode.OPERATION_ABORTED), (84, ErrorCode.NO_SUPPORT),
    (87, ErrorCode.RESOURCE_BUSY), (92, ErrorCode.INVALID_XML), (104, ErrorCode.NO_JOB),
    (38, ErrorCode.OPERATION_FAILED), (9999, ErrorCode.OPERATION_FAILED),
    (29, ErrorCode.ACCESS_DENIED), (45, ErrorCode.ACCESS_DENIED), (88, ErrorCode.ACCESS_DENIED),
])
def test_codes_map_and_keep_the_message(code, expected):
    err = translate(FakeLibvirtError(code, "the words libvirt used"), "start of 'vm1'")
    assert err.code is expected
    assert err.message == "start of 'vm1': the words libvirt used"
    assert err.libvirt_code == code


def test_same_host_migration_is_an_invalid_argument():
    err = translate(FakeLibvirtError(1, "internal error: Attempt to migrate guest to the same host 5c0c"))
    assert err.code is ErrorCode.INVALID_ARG


def test_connection_errors_are_recognised():
    assert is_connection_error(FakeLibvirtError(38, "Cannot recv data: Connection reset by peer", 7))
    assert is_connection_error(FakeLibvirtError(1, "client socket is closed", 7))  # RPC domain
    assert is_connection_error(FakeLibvirtError(5, "no connection"))
    assert not is_connection_error(FakeLibvirtError(55, "domain is not running", 10))
    assert not is_connection_error(FakeLibvirtError(3, "not supported", 7))


def test_real_libvirt_error_round_trip(lvconn):
    import libvirt
    vconn = lvconn.vconn()
    with pytest.raises(libvirt.libvirtError) as raw:
        vconn.lookupByName("nope")
    err = translate(raw.value)
    assert err.code is ErrorCode.NO_DOMAIN and "Domain not found" in err.message
