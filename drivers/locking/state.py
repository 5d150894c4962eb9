"""Lease state strings: what a VM holds, in a form another supervisor can re-acquire.

Used to hand leases over in migration (source ``release`` -> destination
``acquire_state``) and to resume after a pause. Paths travel, lease names do
not: inode identities are host-local, so the receiver recomputes them.
"""
from __future__ import annotations

import json
from collections.abc import Sequence

from drivers.errors import DriverError, ErrorCode
from drivers.locking.leases import Resource

_VERSION = 1


def encode(uuid: str, resources: Sequence[Resource], *, held: bool) -> str:
    """The state of a VM's leases as one line of text."""
    return json.dumps({"v": _VERSION, "uuid": uuid, "held": held,
                       "leases": [{"path": r.path, "mode": r.mode.value, "kind": r.kind} for r in resources]},
                      separators=(",", ":"))


def decode(state: object, uuid: str) -> list[Resource]:
    """Resources of a state string made for VM ``uuid``; INVALID_ARG if malformed or foreign."""
    if not isinstance(state, str):
        raise DriverError(ErrorCode.INVALID_ARG, f"lease state must be a string, not {type(state).__name__}")
    try:
        data = json.loads(state)
        if not isinstance(data, dict) or data.get("v") != _VERSION:
            raise ValueError("unknown version")
        leases = data["leases"]
        owner = str(data["uuid"])
        if not isinstance(leases, list):
            raise ValueError("leases is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        raise DriverError(ErrorCode.INVALID_ARG, f"malformed lease state: {exc}") from None
    if owner != uuid:
        raise DriverError(ErrorCode.INVALID_ARG, f"lease state belongs to VM {owner}, not {uuid}")
    out = []
    for item in leases:
        if not isinstance(item, dict):
            raise DriverError(ErrorCode.INVALID_ARG, "malformed lease state: a lease is not an object")
        out.append(Resource.make(item.get("path"), item.get("mode", "exclusive"), item.get("kind", "disk")))
    return out
