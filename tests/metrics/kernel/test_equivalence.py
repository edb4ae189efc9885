"""The compiled batch kernel gives exactly what the reference kernel gives.

For the same records, states, zone, rules and ``now``: each record's decoding
(event or not, and the reason word for word), the counts, the invalid list,
the states after the run, the apply script's payload (normalised: see
``compare.normalise``) and the written keys, batch after batch with the states
carried over and read back from the payload (``compare.check_equivalent``).

Inputs: Hypothesis streams of case life cycles (followed and broken), events
with fields of every kind, states as Redis may hold them, the malformed
records of bench/faults; and fixed corpora (simulated streams per zone, every
value of every field). While the compiled kernel is not built the reference
is compared with itself and ``test_the_compiled_kernel_is_built`` fails.

``COMPLAINTOPS_KERNEL_EXAMPLES`` (a factor, default 1) scales the number of
Hypothesis examples, e.g. 10 for a long run.
"""

from __future__ import annotations

import importlib
import os
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bench.faults.malformed import MalformedRecords
from events.batch import RawRecord
from events.scoring import DEFAULT_RULES, RuleSource
from metrics.delta import THROUGHPUT_RETENTION_DAYS
from metrics.kernel import COMPILED_MODULE, compiled_available
from metrics.kernel.api import BatchKernel, Decoded, KernelOutput, State
from metrics.kernel.reference import ReferenceKernel
from tests.metrics.kernel import corpora
from tests.metrics.kernel.compare import (
    KernelFactory,
    Mismatch,
    Scenario,
    Totals,
    check_equivalent,
)
from tests.metrics.kernel.strategies import (
    ZONES,
    Drawn,
    form_batches,
    life_cycles,
    records_of,
)

SCALE = float(os.environ.get("COMPLAINTOPS_KERNEL_EXAMPLES", "1"))


def examples(n: int) -> settings:
    return settings(
        max_examples=max(1, round(n * SCALE)),
        derandomize=False,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def check(drawn: Drawn, make_compiled: KernelFactory) -> Totals:
    scenario = Scenario(drawn.tz, drawn.rules, drawn.batches, drawn.now, drawn.stored, drawn.rpush)
    totals = check_equivalent(scenario, make_compiled)
    for name in ("applied", "duplicates", "gaps", "invalid", "form_invalid"):
        if getattr(totals, name):
            event(f"has {name}")
    return totals


def test_the_compiled_kernel_is_built() -> None:
    """Fails (never skips) while the other tests compare the reference with itself."""
    if compiled_available():
        return
    error = "no ImportError the second time"
    try:
        importlib.import_module(COMPILED_MODULE)
    except ImportError as exc:
        error = f"{type(exc).__name__}: {exc}"
    pytest.fail(
        f"{COMPILED_MODULE} cannot be imported ({error}): the other tests of this file "
        "compared the reference kernel with itself. Build the extension (`make venv`) "
        "and run them again.",
        pytrace=False,
    )


# -- Hypothesis ---------------------------------------------------------------------------


@examples(400)
@given(drawn=life_cycles())
def test_case_life_cycles(make_compiled: KernelFactory, drawn: Drawn) -> None:
    check(drawn, make_compiled)


@examples(150)
@given(drawn=life_cycles(max_steps=25, stored=True))
def test_cases_going_on_from_stored_states(make_compiled: KernelFactory, drawn: Drawn) -> None:
    check(drawn, make_compiled)


@examples(300)
@given(drawn=form_batches())
def test_fields_of_every_kind(make_compiled: KernelFactory, drawn: Drawn) -> None:
    check(drawn, make_compiled)


LONG_LIVED: dict[str, BatchKernel] = {}


@examples(100)
@given(drawn=life_cycles())
def test_one_kernel_for_many_scenarios(make_compiled: KernelFactory, drawn: Drawn) -> None:
    """A sink keeps one kernel for its life: whatever the compiled kernel keeps
    between runs (caches of keys, hours, days) must not change a later run."""

    def long_lived(tz: ZoneInfo, rules: RuleSource) -> BatchKernel:
        if tz.key not in LONG_LIVED:
            LONG_LIVED[tz.key] = make_compiled(tz, rules)
        return LONG_LIVED[tz.key]

    scenario = Scenario(
        drawn.tz, DEFAULT_RULES, drawn.batches, drawn.now, drawn.stored, drawn.rpush
    )
    check_equivalent(scenario, long_lived)


@pytest.fixture(scope="module")
def after_stream() -> corpora.AfterStream:
    return corpora.after_stream()


MALFORMED_KINDS = tuple(MalformedRecords(random.Random(0), [{}], {}, 0.0).kinds)


@examples(100)
@given(
    kinds=st.lists(st.sampled_from(MALFORMED_KINDS), min_size=1, max_size=15),
    rng=st.randoms(use_true_random=False),
    cut=st.integers(0, 25),
)
def test_malformed_records_drawn_by_hypothesis(
    make_compiled: KernelFactory,
    after_stream: corpora.AfterStream,
    kinds: list[str],
    rng: random.Random,
    cut: int,
) -> None:
    """bench/faults' generator (its kinds drawn here) after a simulated stream,
    on the stream's final states as stored."""
    base = after_stream
    generator = MalformedRecords(rng, base.templates, base.cases, base.last_event_at)
    drawn = [generator.kinds[kind][1]() for kind in kinds]
    records = records_of([(m.key, m.value) for m in drawn])
    tz = corpora.MALFORMED_STREAM.tz
    scenario = Scenario(
        tz, DEFAULT_RULES, [records[:cut], records[cut:]], base.last_event_at, base.stored
    )
    totals = check_equivalent(scenario, make_compiled)
    assert totals.applied == 0, "a malformed record was applied"


# -- fixed corpora ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stream", "rules_name"),
    [(s, name) for s in corpora.STREAMS for name, _ in corpora.rules_for(s)],
    ids=lambda v: v.zone + "@" + v.end[:10] if isinstance(v, corpora.Stream) else str(v),
)
def test_simulated_streams(
    make_compiled: KernelFactory, stream: corpora.Stream, rules_name: str
) -> None:
    rules = dict(corpora.rules_for(stream))[rules_name]
    records = corpora.stream_records(corpora.simulated(stream))
    # The throughput retention drops the flows of the stream's first half.
    now = stream.end_at + (THROUGHPUT_RETENTION_DAYS - stream.days / 2) * 86400
    totals = check_equivalent(
        Scenario(stream.tz, rules, corpora.batches_of(records), now), make_compiled
    )
    assert totals.applied > 1000 and totals.duplicates and totals.gaps == 0
    assert totals.invalid > totals.form_invalid > 0


def test_malformed_records_of_bench_faults(
    make_compiled: KernelFactory, after_stream: corpora.AfterStream
) -> None:
    """The stream, then bench/faults' seeded malformed records (as malformed_events runs them)."""
    malformed = corpora.malformed_corpus(600)
    records = [*after_stream.records, *malformed]
    scenario = Scenario(
        corpora.MALFORMED_STREAM.tz,
        corpora.ODD_RULES,
        corpora.batches_of(records, (400, 1, 99)),
        after_stream.last_event_at,
    )
    totals = check_equivalent(scenario, make_compiled)
    assert totals.records == len(records)


@pytest.mark.parametrize("tz", [ZONES[0], ZONES[2]], ids=lambda z: z.key)
def test_every_value_of_every_field(make_compiled: KernelFactory, tz: ZoneInfo) -> None:
    records = records_of(corpora.form_corpus())
    scenario = Scenario(
        tz, corpora.WEIGHTED_RULES, corpora.batches_of(records, (len(records),)), 1_795_000_000.0
    )
    totals = check_equivalent(scenario, make_compiled)
    assert totals.applied > 1000 and totals.form_invalid > 1000


# -- the comparison itself catches differences ------------------------------------------------


@dataclass
class TamperedOutput:
    """A reference output with a change made to it."""

    inner: KernelOutput
    payload_edit: Callable[[dict[str, Any]], None] | None = None
    states_edit: Callable[[dict[str, State]], None] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def states(self) -> dict[str, State]:
        states = dict(self.inner.states)
        if self.states_edit is not None:
            self.states_edit(states)
        return states

    def payload(self, rpush: Mapping[str, Sequence[bytes]]) -> bytes:
        raw = self.inner.payload(rpush)
        if self.payload_edit is None:
            return raw
        doc = orjson.loads(raw)
        self.payload_edit(doc)
        return orjson.dumps(doc)

    def written_keys(self, rpush: Mapping[str, Sequence[bytes]]) -> list[str]:
        return self.inner.written_keys(rpush)


class Tampered(ReferenceKernel):
    """The reference kernel with one change, standing in for a wrong compiled kernel."""

    name = "tampered"
    reason_edit: Callable[[str], str] | None = None
    output_edit: Callable[[KernelOutput], KernelOutput] | None = None

    def decode_all(self, records: Sequence[RawRecord]) -> list[Decoded]:
        decoded = super().decode_all(records)
        edit = type(self).reason_edit
        if edit is None:
            return decoded
        return [(r, e, edit(reason) if reason else reason) for r, e, reason in decoded]

    def run(
        self, decoded: Sequence[Decoded], states: Mapping[str, State | None], now: float
    ) -> Any:
        out = super().run(decoded, states, now)
        edit = type(self).output_edit
        return edit(out) if edit is not None else out


def _bump_first_zincr(doc: dict[str, Any]) -> None:
    if doc["zincr"]:
        score = float(doc["zincr"][0][2])
        doc["zincr"][0][2] = repr(score + abs(score) * 2**-52 + 5e-324)


def _extra_hincr(doc: dict[str, Any]) -> None:
    doc["hincr"].append(["co:{m}:events", "surprise", "1"])


def _later_state(states: dict[str, State]) -> None:
    for case_id, state in states.items():
        states[case_id] = state.copy()
        states[case_id].rework_count += 1


def _swap_invalid(out: Any) -> Any:
    out.invalid.reverse()
    return out


TAMPERINGS: dict[str, dict[str, Any]] = {
    "a reason's wording": {"reason_edit": lambda r: r.replace("must", "should")},
    "a score's last bit": {
        "output_edit": lambda out: TamperedOutput(out, payload_edit=_bump_first_zincr)
    },
    "an extra counter": {"output_edit": lambda out: TamperedOutput(out, payload_edit=_extra_hincr)},
    "a state's field": {"output_edit": lambda out: TamperedOutput(out, states_edit=_later_state)},
    "the order of invalid records": {"output_edit": _swap_invalid},
}


@pytest.mark.parametrize("change", sorted(TAMPERINGS))
def test_the_comparison_catches(change: str) -> None:
    kernel_class = type("TamperedKernel", (Tampered,), dict(TAMPERINGS[change]))

    def make(tz: ZoneInfo, rules: RuleSource) -> BatchKernel:
        kernel: BatchKernel = kernel_class(tz, rules)
        return kernel

    stream = corpora.STREAMS[1]
    records = corpora.stream_records(corpora.simulated(stream)[:1500])
    scenario = Scenario(stream.tz, corpora.ODD_RULES, [records], stream.end_at)
    with pytest.raises(Mismatch):
        check_equivalent(scenario, make)
