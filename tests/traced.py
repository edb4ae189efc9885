"""Memory held by what a test makes, as ``tracemalloc`` sees it."""

from __future__ import annotations

import sys
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# A bytes object's header is 33 bytes (CPython 3.11, 64-bit); some slack on top.
HEADER_AND_SLACK = 48
COPIES = 500


@contextmanager
def traced() -> Iterator[Callable[[], int]]:
    """Trace allocations inside the block; the callable gives the traced memory
    held now beyond what was held when the block began. Tracing that was on
    before the block is left on."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    start = [0]

    def growth() -> int:
        return tracemalloc.get_traced_memory()[0] - start[0]

    try:
        start[0] = tracemalloc.get_traced_memory()[0]  # the last allocation before the block
        yield growth
    finally:
        if started:
            tracemalloc.stop()


def held_per_result(make: Callable[[], object]) -> tuple[int, object]:
    """The traced memory one result of ``make()`` holds, averaged over many kept
    results, and the first result. What a process makes once (an interned
    name, a cache entry, a grown free list) is spread thin instead of
    deciding a test; a first call before tracing makes what is made once."""
    make()
    with traced() as growth:
        kept = [make() for _ in range(COPIES)]
        held = growth() - sys.getsizeof(kept)
    return held // COPIES, kept[0]
