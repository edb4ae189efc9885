"""The compiled kernel's cache of the states it wrote: bounded, and keeping the latest.

``decode_state`` gives back the very state a run wrote when the stored form
is the one that run wrote (no decoding); the cache of such states is bounded.
When full, the states written longest ago go first, so that the cases
written last are still at hand.
"""

from __future__ import annotations

import gc
from zoneinfo import ZoneInfo

import pytest

from events.batch import RawRecord
from events.json_bytes import dumps_lasting
from metrics import keys
from metrics.kernel import compiled_available, compiled_kernel
from metrics.kernel.api import BatchKernel
from tests.events.factory import make_event
from tests.traced import traced

TZ = ZoneInfo("Asia/Shanghai")
CASE_PREFIX = keys.template_prefix(keys.CASE)

pytestmark = pytest.mark.skipif(
    not compiled_available(), reason="the compiled kernel is not built (make venv)"
)


def _open(kernel: BatchKernel, case_ids: list[str], first_offset: int) -> dict[str, bytes]:
    """Open ``case_ids`` in one run; their stored forms by case id."""
    records = [
        RawRecord("t", 0, first_offset + i, dumps_lasting(make_event(case_id=case_id)))
        for i, case_id in enumerate(case_ids)
    ]
    decoded = kernel.decode_all(records)
    out = kernel.run(decoded, dict.fromkeys(case_ids), 1.9e9)
    state_keys, values = out.states_written()
    return {key[len(CASE_PREFIX) :]: value for key, value in zip(state_keys, values, strict=True)}


def _kept(kernel: BatchKernel, case_id: str, stored: bytes) -> bool:
    """Whether the kernel gives back the state it wrote rather than a decoded copy."""
    return kernel.decode_state(case_id, stored) is kernel.decode_state(case_id, stored)


def test_a_full_cache_keeps_the_states_written_last() -> None:
    from metrics.kernel._compiled import WRITTEN_STATES_LIMIT

    kernel = compiled_kernel(TZ)
    first = [f"C-{i:06d}" for i in range(WRITTEN_STATES_LIMIT)]
    stored = _open(kernel, first, 0)
    assert _kept(kernel, first[0], stored[first[0]])
    # One more case: the cache is full, the oldest states go, the latest stay.
    stored.update(_open(kernel, ["C-extra"], len(first)))
    assert _kept(kernel, "C-extra", stored["C-extra"])
    assert _kept(kernel, first[-1], stored[first[-1]])
    assert _kept(kernel, first[WRITTEN_STATES_LIMIT // 2], stored[first[WRITTEN_STATES_LIMIT // 2]])
    # The oldest state is decoded again from its stored form.
    assert not _kept(kernel, first[0], stored[first[0]])


def test_a_case_written_again_counts_as_written_last() -> None:
    from metrics.kernel._compiled import WRITTEN_STATES_LIMIT

    kernel = compiled_kernel(TZ)
    cases = [f"C-{i:06d}" for i in range(WRITTEN_STATES_LIMIT)]
    _open(kernel, cases, 0)
    # The first case is written again (opened anew: the run is given no state for it).
    rewritten = _open(kernel, [cases[0]], len(cases))
    stored = _open(kernel, ["C-extra"], len(cases) + 1)
    assert _kept(kernel, cases[0], rewritten[cases[0]])
    assert _kept(kernel, "C-extra", stored["C-extra"])


# A kept state with its footprint, strings and stored form: about 0.9 KiB. orjson
# 3.12 and later return every stored form in a 4 KiB buffer, which a kept copy
# must not hold on to (events.json_bytes).
KEPT_STATE_BYTES = 1536


def test_a_full_cache_holds_about_a_kibibyte_a_state() -> None:
    from metrics.kernel._compiled import WRITTEN_STATES_LIMIT

    kernel = compiled_kernel(TZ)
    cases = [f"C-{i:06d}" for i in range(WRITTEN_STATES_LIMIT)]
    gc.collect()
    with traced() as growth:
        stored = _open(kernel, cases, 0)
        assert _kept(kernel, cases[0], stored[cases[0]])
        del stored
        gc.collect()
        held = growth()
    assert held / WRITTEN_STATES_LIMIT < KEPT_STATE_BYTES


def test_forgetting_the_written_states_decodes_them_again() -> None:
    kernel = compiled_kernel(TZ)
    stored = _open(kernel, ["C-1", "C-2"], 0)
    assert kernel.cache_fill()["written_states"] == 2
    kernel.forget_written()
    assert kernel.cache_fill()["written_states"] == 0
    assert not _kept(kernel, "C-1", stored["C-1"])
    decoded = kernel.decode_state("C-1", stored["C-1"])
    assert decoded.encode() == stored["C-1"]
