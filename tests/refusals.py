"""``with refused(ErrorCode.X, "words"): call()`` — the call must fail with a DriverError of that
code whose message names ``words``: the one check every driver test uses for a typed refusal."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from drivers import DriverError, ErrorCode


@contextlib.contextmanager
def refused(code: ErrorCode, words: str = "") -> Iterator[pytest.ExceptionInfo[DriverError]]:
    with pytest.raises(DriverError) as err:
        yield err
    assert err.value.code is code and words in err.value.message, f"expected {code.name} naming {words!r}, " \
                                                                  f"got {err.value!r}"
