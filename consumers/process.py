"""Process-wide tuning of a consumer process (not of the library loop)."""

from __future__ import annotations

import gc

# A consumer allocates many short-lived objects per batch (decoded events,
# states, transitions); the default generation-0 threshold of 700 makes the
# collector run hundreds of times per batch. Measured on the metrics sink:
# about 23% more events per second with these settings.
GC_THRESHOLDS = (50_000, 50, 100)


def tune_for_throughput() -> None:
    """Move what start-up allocated out of the collector's way and collect less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
