"""JSON bytes sized to their content, for bytes that are kept.

orjson 3.12 and later hand back ``bytes`` in a buffer of at least 4 KiB: the
length is set, the allocation is not shrunk. Bytes used once and dropped cost
nothing more, but a 200-byte document kept in a cache or a list holds 4 KiB.
Bytes that are kept are copied into an allocation of their own size first.
"""

from __future__ import annotations

from typing import Any

import orjson


def lasting(data: bytes) -> bytes:
    """A copy of ``data`` in an allocation of its own size."""
    return bytes(memoryview(data))


def dumps_lasting(value: Any) -> bytes:
    """``orjson.dumps(value)`` in an allocation of its own size."""
    return lasting(orjson.dumps(value))
