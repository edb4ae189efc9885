"""Paused clocks as range queries: the limits agree with the deadline formula."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.clock import paused_breach_limit, paused_deadline_before_limit
from events.timeutil import DAY_SECONDS, end_of_local_day
from tests.events.factory import LONDON, SHANGHAI, instant

MIDNIGHT = instant("2026-11-25T00:00:00+08:00")


def breached(d: float, now: float, tz) -> bool:  # type: ignore[no-untyped-def]
    return end_of_local_day(now + d, tz) < now


def due_before(d: float, now: float, horizon: float, tz) -> bool:  # type: ignore[no-untyped-def]
    return end_of_local_day(now + d, tz) < horizon


@pytest.mark.parametrize("tz", [SHANGHAI, LONDON], ids=["shanghai", "london"])
@settings(max_examples=400, deadline=None)
@given(
    # Millisecond resolution, like the times in events (a sub-ulp d would be
    # absorbed by now + d in floating point).
    now=st.integers(
        min_value=int(MIDNIGHT - 400 * DAY_SECONDS) * 1000,
        max_value=int(MIDNIGHT + 400 * DAY_SECONDS) * 1000,
    ).map(lambda v: v / 1000),
    d=st.integers(min_value=-40 * DAY_SECONDS * 1000, max_value=40 * DAY_SECONDS * 1000).map(
        lambda v: v / 1000
    ),
    window_days=st.sampled_from([0, 1, 3, 7]),
)
def test_limits_match_the_formula(tz, now: float, d: float, window_days: int) -> None:  # type: ignore[no-untyped-def]
    assert (d < paused_breach_limit(now, tz)) == breached(d, now, tz)
    horizon = now + window_days * DAY_SECONDS
    assert (d < paused_deadline_before_limit(now, horizon, tz)) == due_before(d, now, horizon, tz)


@pytest.mark.parametrize("tz", [SHANGHAI, LONDON], ids=["shanghai", "london"])
def test_exact_midnights_and_day_edges(tz) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(5)
    midnights = [end_of_local_day(MIDNIGHT + k * DAY_SECONDS, tz) for k in range(-200, 200, 7)]
    for now in midnights + [m - 1 for m in midnights] + [m + 1 for m in midnights]:
        for d in [
            -2 * DAY_SECONDS,
            -DAY_SECONDS - 1,
            -DAY_SECONDS,
            -1,
            0,
            1,
            rng.uniform(-3, 3) * DAY_SECONDS,
        ]:
            assert (d < paused_breach_limit(now, tz)) == breached(d, now, tz), (now, d)
            for days in (1, 3):
                horizon = now + days * DAY_SECONDS
                assert (d < paused_deadline_before_limit(now, horizon, tz)) == due_before(
                    d, now, horizon, tz
                )
