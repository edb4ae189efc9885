"""Memory held by what a test makes, as ``tracemalloc`` sees it."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager


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
