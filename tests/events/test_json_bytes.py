"""Bytes that are kept are held in an allocation of their own size."""

from __future__ import annotations

from collections.abc import Callable

import orjson

from events.json_bytes import dumps_lasting, lasting
from tests.traced import HEADER_AND_SLACK, held_per_result, traced

DOCUMENT = {"case_id": "C2026-000001", "stage": "调查", "seq": 7, "points": [1.5, None, True]}
# Past orjson's first buffer (4 KiB from 3.12 on), which it grows in powers of two.
LARGE = {"notes": [f"第 {i} 次回访：客户表示满意" for i in range(200)]}


def traced_size(make: Callable[[], object]) -> int:
    """The traced memory held by what ``make()`` returns."""
    with traced() as growth:
        kept = make()
        held = growth()
    assert kept
    return held


def test_lasting_bytes_are_equal_and_their_own_size() -> None:
    text = orjson.dumps(DOCUMENT)
    copy = lasting(text)
    assert copy == text and type(copy) is bytes
    held, _ = held_per_result(lambda: dumps_lasting(DOCUMENT))
    assert held <= len(text) + HEADER_AND_SLACK


def test_a_large_document_is_its_own_size_too() -> None:
    text = orjson.dumps(LARGE)
    assert len(text) > 4096
    assert lasting(text) == text
    held, _ = held_per_result(lambda: dumps_lasting(LARGE))
    assert held <= len(text) + HEADER_AND_SLACK


def test_a_list_of_lasting_documents_holds_their_length() -> None:
    documents = 500
    length = len(orjson.dumps(DOCUMENT))
    held = traced_size(lambda: [dumps_lasting(DOCUMENT) for _ in range(documents)])
    list_itself = 8 * documents + 64
    assert held <= documents * (length + HEADER_AND_SLACK) + list_itself
