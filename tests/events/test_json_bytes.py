"""Bytes that are kept are held in an allocation of their own size."""

from __future__ import annotations

import tracemalloc

import orjson

from events.json_bytes import dumps_lasting, lasting

DOCUMENT = {"case_id": "C2026-000001", "stage": "调查", "seq": 7, "points": [1.5, None, True]}
# A bytes object's header is 33 bytes (CPython 3.11, 64-bit); pymalloc rounds to 16.
HEADER_AND_ROUNDING = 48


def traced_size(make: object) -> int:
    """The traced memory held by what ``make()`` returns."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = make()  # type: ignore[operator]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept
    return held


def test_lasting_bytes_are_equal_and_their_own_size() -> None:
    text = orjson.dumps(DOCUMENT)
    copy = lasting(text)
    assert copy == text and type(copy) is bytes
    assert traced_size(lambda: dumps_lasting(DOCUMENT)) <= len(text) + HEADER_AND_ROUNDING


def test_a_list_of_lasting_documents_holds_their_length() -> None:
    documents = 500
    length = len(orjson.dumps(DOCUMENT))
    held = traced_size(lambda: [dumps_lasting(DOCUMENT) for _ in range(documents)])
    list_itself = 8 * documents + 64
    assert held <= documents * (length + HEADER_AND_ROUNDING) + list_itself
