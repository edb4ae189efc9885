"""The differential harness: two batch kernels, the same inputs, the same answers.

``check_equivalent(scenario, make_compiled)`` runs a scenario (a zone, a rule
source, a ``now``, states already stored, and batches of records) through the
reference kernel and through the kernel ``make_compiled`` builds, batch after
batch, and raises ``Mismatch`` at the first batch where they differ, naming the
first differing record, count, key or field.

Each batch is run on two routes, each kernel keeping its own cases' states:

* ``carried``: the states the kernel's previous run gave (``out.states``);
* ``stored``: the states decoded (the kernel's ``decode_state``) from the JSON
  that the kernel's previous payloads stored, as the sink reads them from Redis.

Both routes must give the same output; so must a second run of the same
inputs (a sink recomputes a batch whose offsets moved), and the kernels must
not change the states they are given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from events.batch import RawRecord
from events.scoring import RuleSource
from metrics import keys
from metrics.codec import encode_state
from metrics.kernel.api import BatchKernel, Decoded, KernelOutput, State, case_ids
from metrics.kernel.reference import ReferenceKernel

KernelFactory = Callable[[ZoneInfo, RuleSource], BatchKernel]

CASE_KEY_PREFIX = keys.case("")
# metrics.codec's layout, to name the field of an encoded state that differs.
STATE_FIELDS = (
    "version",
    "last_seq",
    "status",
    "stage",
    "stage_entered_at",
    "team_id",
    "handler_id",
    "opened_at",
    "channel",
    "category",
    "product_line",
    "priority",
    "group_size",
    "clock.start",
    "clock.limit_days",
    "clock.paused_total",
    "clock.paused_since",
    "clock.decided_at",
    "follow_up_due",
    "follow_up_done",
    "satisfaction_given",
    "escalated_to_regulator",
    "closed_at",
    "reopen_count",
    "rework_count",
)
PAYLOAD_SECTIONS = frozenset(
    {"zrem", "zadd", "hdel", "hset", "hincr", "zincr", "expireat", "teams", "rpush"}
)
SHOWN_DIFFERENCES = 6


class Mismatch(AssertionError):
    """The compiled kernel gave something else than the reference."""


@dataclass(frozen=True)
class Scenario:
    """Inputs of a differential run.

    ``stored``: case id -> encoded state (metrics.codec) held before the first
    batch; ``rpush``: the list writes handed to ``payload``/``written_keys``
    (besides the empty mapping, always tried too).
    """

    tz: ZoneInfo
    rules: RuleSource
    batches: Sequence[Sequence[RawRecord]]
    now: float
    stored: Mapping[str, bytes] = field(default_factory=dict)
    rpush: Mapping[str, Sequence[bytes]] = field(default_factory=dict)

    def describe(self) -> str:
        sizes = [len(b) for b in self.batches]
        return (
            f"zone {self.tz.key}, now {self.now!r}, rules {self.rules!r}, "
            f"batch sizes {sizes}, {len(self.stored)} stored state(s)"
        )


@dataclass
class Totals:
    """What a scenario did (the reference's counts, summed over its batches)."""

    records: int = 0
    applied: int = 0
    duplicates: int = 0
    gaps: int = 0
    invalid: int = 0
    form_invalid: int = 0
    payload_bytes: int = 0

    def add(self, other: Totals) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


# -- normalising a payload ------------------------------------------------------------


def _pairs(flat: list[Any], where: str, problems: list[str]) -> dict[Any, Any]:
    """[a, b, c, d] -> {a: b, c: d}, noting odd lengths and repeated keys."""
    if len(flat) % 2:
        problems.append(f"{where}: odd number of items ({len(flat)})")
    out: dict[Any, Any] = {}
    for first, second in zip(flat[::2], flat[1::2], strict=False):
        if first in out:
            problems.append(f"{where}: {first!r} given twice")
        out[first] = second
    return out


def _keyed(rows: list[list[Any]], width: int, where: str, problems: list[str]) -> dict[Any, Any]:
    """[[k, f, v], ...] -> {(k, f): v} (or [[k, v]] -> {k: v}), noting repeats."""
    out: dict[Any, Any] = {}
    for row in rows:
        if not isinstance(row, list) or len(row) != width:
            problems.append(f"{where}: malformed entry {row!r}")
            continue
        key = tuple(row[:-1]) if width > 2 else row[0]
        if key in out:
            problems.append(f"{where}: {key!r} given twice")
        out[key] = row[-1]
    return out


def normalise(payload: bytes) -> dict[str, Any]:
    """The apply script's payload as comparable data: the order of commands
    that the script applies as a set (increments per key and field, members,
    hash fields, states) is dropped; the order it keeps (sorted removals, list
    appends) is kept. Repeated or malformed entries are listed under
    ``problems`` (the reference never sends any)."""
    if not isinstance(payload, bytes):
        raise Mismatch(f"payload is {type(payload).__name__}, not bytes")
    doc = orjson.loads(payload)
    problems: list[str] = []
    if not isinstance(doc, dict):
        raise Mismatch(f"payload is not a JSON object: {payload[:200]!r}")
    if set(doc) != PAYLOAD_SECTIONS:
        problems.append(
            f"sections {sorted(doc)} (missing {sorted(PAYLOAD_SECTIONS - set(doc))}, "
            f"extra {sorted(set(doc) - PAYLOAD_SECTIONS)})"
        )
    zadd: dict[str, dict[Any, Any]] = {}
    for key, flat in doc.get("zadd", {}).items():
        # [score, member, ...]: scores may repeat, members may not.
        zadd[key] = dict(zip(flat[1::2], flat[::2], strict=False))
        if len(flat) % 2:
            problems.append(f"zadd[{key!r}]: odd number of items ({len(flat)})")
        if len(zadd[key]) != len(flat) // 2:
            problems.append(f"zadd[{key!r}]: a member given twice")
    out: dict[str, Any] = {
        "zrem": doc.get("zrem"),
        "hdel": doc.get("hdel"),
        "rpush": doc.get("rpush"),
        "zadd": zadd,
        "hset": {
            key: _pairs(flat, f"hset[{key!r}]", problems)
            for key, flat in doc.get("hset", {}).items()
        },
        "hincr": _keyed(doc.get("hincr", []), 3, "hincr", problems),
        "zincr": _keyed(doc.get("zincr", []), 3, "zincr", problems),
        "expireat": _keyed(doc.get("expireat", []), 2, "expireat", problems),
        "teams": {},
    }
    for item in doc.get("teams", []):
        if len(item) < 2 or (len(item) - 2) % 3:
            problems.append(f"teams: malformed entry {item!r}")
            continue
        handlers: dict[str, tuple[Any, Any]] = {}
        rest = item[2:]
        for handler, stamp, team in zip(rest[::3], rest[1::3], rest[2::3], strict=True):
            if handler in handlers:
                problems.append(f"teams[{item[0]!r}]: handler {handler!r} given twice")
            handlers[handler] = (stamp, team)
        pair = (item[0], item[1])
        if pair in out["teams"]:
            problems.append(f"teams: {pair!r} given twice")
        out["teams"][pair] = handlers
    out["problems"] = problems
    return out


# -- finding the first differences ------------------------------------------------------


Names = tuple[str, str]
KERNELS: Names = ("reference", "compiled")


def differences(
    path: str, ours: Any, theirs: Any, found: list[str], names: Names = KERNELS
) -> None:
    """Append to ``found`` each place where ``theirs`` differs from ``ours``
    (dicts by key, everything else exactly, types included)."""
    if len(found) >= SHOWN_DIFFERENCES:
        return
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key in sorted(set(ours) | set(theirs), key=repr):
            where = f"{path}[{key!r}]"
            if key not in theirs:
                found.append(f"{where}: only the {names[0]} has it: {_short(ours[key])}")
            elif key not in ours:
                found.append(f"{where}: only the {names[1]} has it: {_short(theirs[key])}")
            else:
                differences(where, ours[key], theirs[key], found, names)
            if len(found) >= SHOWN_DIFFERENCES:
                return
        return
    if type(ours) is type(theirs) and ours == theirs:
        return
    if isinstance(ours, list) and isinstance(theirs, list):
        found.append(f"{path}: {list_difference(ours, theirs, names)}")
    elif isinstance(ours, str | bytes) and (
        "['states']" in path or path.startswith("out.states") or "out.states" in names
    ):
        found.append(f"{path}: {state_difference(ours, theirs, names)}")
    else:
        found.append(f"{path}: {names[0]} {_short(ours)} != {names[1]} {_short(theirs)}")


def list_difference(ours: list[Any], theirs: list[Any], names: Names = KERNELS) -> str:
    for i, (a, b) in enumerate(zip(ours, theirs, strict=False)):
        if type(a) is not type(b) or a != b:
            return f"item {i}: {names[0]} {_short(a)} != {names[1]} {_short(b)}"
    return (
        f"{names[0]} has {len(ours)} items, {names[1]} {len(theirs)}: "
        f"{_short(ours)} / {_short(theirs)}"
    )


def state_difference(ours: Any, theirs: Any, names: Names = KERNELS) -> str:
    """Which fields of two encoded states differ (by metrics.codec's layout)."""
    plain = f"{names[0]} {_short(ours)} != {names[1]} {_short(theirs)}"
    try:
        a, b = orjson.loads(ours), orjson.loads(theirs)
    except (orjson.JSONDecodeError, TypeError):
        return plain
    if not isinstance(a, list) or not isinstance(b, list) or len(a) != len(b):
        return plain
    fields = [
        f"{STATE_FIELDS[i] if i < len(STATE_FIELDS) else i}: {x!r} != {y!r}"
        for i, (x, y) in enumerate(zip(a, b, strict=True))
        if type(x) is not type(y) or x != y
    ]
    if not fields:  # the same values in other JSON text (number format, spacing)
        return f"the same values in other JSON text: {plain}"
    return f"state fields differ ({names[0]} != {names[1]}): " + "; ".join(fields)


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def show_record(record: RawRecord) -> str:
    value = record.value
    shown = _short(value, 140) if value is None or len(value) <= 140 else _short(value[:120])
    return f"record p{record.partition}@{record.offset} (key {record.key!r}) value {shown}"


# -- running one kernel ------------------------------------------------------------------


def encoded(kernel: BatchKernel, state: State) -> bytes:
    """A kernel's (opaque) state in its stored form: by the kernel's
    ``encode_state(state)`` or the state's ``encode()`` if either exists, else
    by metrics.codec's ``encode_state``."""
    by_kernel = getattr(kernel, "encode_state", None)
    if by_kernel is not None:
        return bytes(by_kernel(state))
    by_state = getattr(state, "encode", None)
    if by_state is not None:
        return bytes(by_state())
    return encode_state(state)


@dataclass
class RunResult:
    """One kernel's run of one batch on one route, in comparable form."""

    error: str | None = None
    applied: int = 0
    duplicates: int = 0
    gaps: int = 0
    invalid: list[tuple[RawRecord, str]] = field(default_factory=list)
    states: dict[str, bytes] = field(default_factory=dict)
    payloads: dict[str, dict[str, Any]] = field(default_factory=dict)
    raw_states: dict[str, bytes] = field(default_factory=dict)  # from the payload, per case id
    written: dict[str, list[str]] = field(default_factory=dict)
    size: int = 0


def _attempt(call: Callable[[], Any]) -> tuple[Any, str | None]:
    try:
        return call(), None
    except Exception as exc:  # compared between the kernels, never hidden
        return None, f"{type(exc).__name__}: {exc}"


def observe(
    kernel: BatchKernel,
    decoded: Sequence[Decoded],
    states: Mapping[str, State | None],
    now: float,
    rpush: Mapping[str, Sequence[bytes]],
) -> tuple[RunResult, KernelOutput | None]:
    out, error = _attempt(lambda: kernel.run(decoded, states, now))
    if error is not None:
        return RunResult(error=error), None
    result = RunResult(
        applied=out.applied,
        duplicates=out.duplicates,
        gaps=out.gaps,
        invalid=list(out.invalid),
        states={case_id: encoded(kernel, state) for case_id, state in out.states.items()},
    )
    for label, lists in (("no rpush", {}), ("rpush", rpush), ("no rpush again", {})):
        raw, error = _attempt(partial(out.payload, lists))
        if error is not None:
            result.error = f"payload({label}): {error}"
            return result, None
        result.payloads[label] = normalise(raw)
        # The states travel beside the payload (states_written): compared with it.
        pairs, error = _attempt(out.states_written)
        if error is not None:
            result.error = f"states_written: {error}"
            return result, None
        state_keys, values = pairs
        if len(state_keys) != len(values) or len(set(state_keys)) != len(state_keys):
            result.payloads[label]["problems"].append(
                f"states_written: {len(state_keys)} keys (distinct: {len(set(state_keys))}) "
                f"for {len(values)} values"
            )
        result.payloads[label]["states"] = {
            key: value.decode() if isinstance(value, bytes) else value
            for key, value in zip(state_keys, values, strict=False)
        }
        written, error = _attempt(partial(out.written_keys, lists))
        if error is not None:
            result.error = f"written_keys({label}): {error}"
            return result, None
        result.written[label] = list(written)
        if label == "no rpush":
            result.size = len(raw)
    for key, text in result.payloads["no rpush"]["states"].items():
        if isinstance(key, str) and key.startswith(CASE_KEY_PREFIX) and isinstance(text, str):
            result.raw_states[key[len(CASE_KEY_PREFIX) :]] = text.encode()
    return result, out


def keys_of(payload: Mapping[str, Any]) -> list[str]:
    """The keys a normalised payload writes (what written_keys must list)."""
    touched: set[str] = set()
    for section in ("zrem", "zadd", "hdel", "hset", "expireat", "rpush"):
        touched.update(payload[section] or ())
    for section in ("hincr", "zincr"):
        touched.update(key for key, _ in payload[section])
    for pair in payload["teams"]:
        touched.update(pair)
    return sorted(touched)


def self_consistency(name: str, result: RunResult) -> list[str]:
    """What one kernel's output must agree with by itself."""
    found: list[str] = []
    payload = result.payloads["no rpush"]
    if payload["problems"]:
        found.append(f"{name}: payload problems: {payload['problems'][:3]}")
    if result.payloads["no rpush again"] != payload:
        found.append(f"{name}: payload({{}}) changed after payload(rpush) was asked for")
    if result.raw_states != result.states:
        found.append(f"{name}: the payload's states are not those of out.states:")
        differences("", result.raw_states, result.states, found, ("payload", "out.states"))
    for label, written in result.written.items():
        if written != keys_of(result.payloads[label]):
            expected = keys_of(result.payloads[label])
            extra = sorted(set(written) - set(expected))[:3]
            missing = sorted(set(expected) - set(written))[:3]
            found.append(
                f"{name}: written_keys({label}) is not the payload's keys, sorted "
                f"(extra {extra}, missing {missing}, sorted: {written == sorted(written)})"
            )
    return found


def compare_outcomes(ours: RunResult, theirs: RunResult, names: Names = KERNELS) -> list[str]:
    """Every difference between two runs (up to SHOWN_DIFFERENCES)."""
    if ours.error != theirs.error:
        return [f"error: {names[0]} {ours.error!r} != {names[1]} {theirs.error!r}"]
    if ours.error is not None:
        return []
    found: list[str] = []
    for name in ("applied", "duplicates", "gaps"):
        a, b = getattr(ours, name), getattr(theirs, name)
        if a != b:
            found.append(f"{name}: {names[0]} {a} != {names[1]} {b}")
    if ours.invalid != theirs.invalid:
        found.append(invalid_difference(ours.invalid, theirs.invalid, names))
    differences("out.states", ours.states, theirs.states, found, names)
    for label in ("no rpush", "rpush"):
        differences(f"payload({label})", ours.payloads[label], theirs.payloads[label], found, names)
        if ours.written[label] != theirs.written[label]:
            found.append(
                f"written_keys({label}): "
                + list_difference(ours.written[label], theirs.written[label], names)
            )
    return found


def invalid_difference(
    ours: list[tuple[RawRecord, str]], theirs: list[tuple[RawRecord, str]], names: Names
) -> str:
    for i, (a, b) in enumerate(zip(ours, theirs, strict=False)):
        if a != b:
            return (
                f"invalid[{i}]: {names[0]}: {show_record(a[0])}: {a[1]!r}\n"
                f"    {names[1]}: {show_record(b[0])}: {b[1]!r}"
            )
    extra, who = (ours, names[0]) if len(ours) > len(theirs) else (theirs, names[1])
    record, reason = extra[min(len(ours), len(theirs))]
    return (
        f"invalid: {names[0]} lists {len(ours)}, {names[1]} {len(theirs)}; "
        f"the first extra ({who}): {show_record(record)}: {reason!r}"
    )


# -- the harness ----------------------------------------------------------------------------


@dataclass
class _Side:
    """One kernel and the states it keeps between batches, per route."""

    kernel: BatchKernel
    carried: dict[str, State] = field(default_factory=dict)
    stored: dict[str, bytes] = field(default_factory=dict)

    def states(self, route: str, cases: Sequence[str]) -> dict[str, State | None]:
        if route == "carried":
            return {case_id: self.carried.get(case_id) for case_id in cases}
        return {
            case_id: (
                self.kernel.decode_state(case_id, self.stored[case_id])
                if case_id in self.stored
                else None
            )
            for case_id in cases
        }

    def keep(self, route: str, output: KernelOutput, result: RunResult) -> None:
        if route == "carried":
            self.carried.update(output.states)
        else:
            self.stored.update(result.raw_states)


def compare_decoded(
    batch: Sequence[RawRecord], ours: Sequence[Decoded], theirs: Sequence[Decoded]
) -> list[str]:
    if len(ours) != len(batch) or len(theirs) != len(batch):
        return [f"decode_all gave {len(ours)} / {len(theirs)} items for {len(batch)} records"]
    found: list[str] = []
    for record, (rec_a, event_a, reason_a), (rec_b, event_b, reason_b) in zip(
        batch, ours, theirs, strict=True
    ):
        if rec_a != record or rec_b != record:
            found.append(f"decode_all did not hand back {show_record(record)}")
        elif (event_a is None) != (event_b is None) or reason_a != reason_b:
            found.append(
                f"decoding {show_record(record)}:\n"
                f"    reference {'an event' if event_a is not None else 'no event'}, "
                f"reason {reason_a!r}\n"
                f"    compiled  {'an event' if event_b is not None else 'no event'}, "
                f"reason {reason_b!r}"
            )
        elif event_a is not None and reason_a is not None:
            found.append(f"decoding {show_record(record)}: an event and a reason {reason_a!r}")
        if len(found) >= SHOWN_DIFFERENCES:
            break
    return found


def _fail(scenario: Scenario, where: str, found: list[str]) -> None:
    lines = "\n  ".join(found[:SHOWN_DIFFERENCES])
    raise Mismatch(f"{where} ({scenario.describe()}):\n  {lines}")


ROUTES = ("carried", "stored")


def _run_side(
    side: _Side,
    route: str,
    decoded: Sequence[Decoded],
    cases: Sequence[str],
    scenario: Scenario,
    rerun: bool,
) -> tuple[RunResult, KernelOutput | None, list[str]]:
    """One kernel's run of a batch on a route, and what is wrong with it by
    itself; with ``rerun``, the run is repeated and must give the same."""
    kernel = side.kernel
    states = side.states(route, cases)
    before = {c: encoded(kernel, s) for c, s in states.items() if s is not None}
    result, output = observe(kernel, decoded, states, scenario.now, scenario.rpush)
    problems = self_consistency(kernel.name, result) if output is not None else []
    after = {c: encoded(kernel, s) for c, s in states.items() if s is not None}
    if before != after:
        changed = sorted(c for c in before if before[c] != after.get(c))
        problems.append(f"{kernel.name} changed the states it was given: {changed[:5]}")
    if rerun:
        again, _ = observe(kernel, decoded, states, scenario.now, scenario.rpush)
        differs = compare_outcomes(result, again, ("first run", "second run"))
        if differs:
            problems.append(f"{kernel.name}: a second run of the same inputs differs")
            problems += differs
    return result, output, problems


def check_equivalent(scenario: Scenario, make_compiled: KernelFactory) -> Totals:
    """Run ``scenario`` through both kernels; raise Mismatch at the first difference."""
    sides = (
        _Side(ReferenceKernel(scenario.tz, scenario.rules)),
        _Side(make_compiled(scenario.tz, scenario.rules)),
    )
    for side in sides:
        side.stored.update(scenario.stored)
        side.carried.update(
            {cid: side.kernel.decode_state(cid, raw) for cid, raw in scenario.stored.items()}
        )
    totals = Totals()
    for number, batch in enumerate(scenario.batches, 1):
        where = f"batch {number} of {len(scenario.batches)}"
        decoded = [side.kernel.decode_all(batch) for side in sides]
        found = compare_decoded(batch, decoded[0], decoded[1])
        cases = case_ids(decoded[0])
        if not found and cases != case_ids(decoded[1]):
            found.append(f"case_ids: reference {cases} != compiled {case_ids(decoded[1])}")
        if found:
            _fail(scenario, f"{where}, decode_all", found)
        by_route: dict[str, list[RunResult]] = {}
        for route in ROUTES:
            runs = [
                _run_side(
                    side, route, decoded[i], cases, scenario, rerun=i == 1 and route == "carried"
                )
                for i, side in enumerate(sides)
            ]
            for _, _, problems in runs:
                if problems:
                    _fail(scenario, f"{where}, route {route!r}", problems)
            found = compare_outcomes(runs[0][0], runs[1][0])
            if found:
                _fail(scenario, f"{where}, route {route!r}", found)
            by_route[route] = [result for result, _, _ in runs]
            for side, (result, output, _) in zip(sides, runs, strict=True):
                if output is not None:
                    side.keep(route, output, result)
        for i, side in enumerate(sides):
            found = compare_outcomes(
                by_route["carried"][i], by_route["stored"][i], ("carried", "stored")
            )
            if found:
                _fail(
                    scenario,
                    f"{where}: {side.kernel.name}: stored and carried states differ",
                    found,
                )
        ours = by_route["carried"][0]
        if ours.error is not None:
            return totals  # both kernels failed alike: no state to go on from
        totals.add(
            Totals(
                records=len(batch),
                applied=ours.applied,
                duplicates=ours.duplicates,
                gaps=ours.gaps,
                invalid=len(ours.invalid),
                form_invalid=sum(1 for _, event, _ in decoded[0] if event is None),
                payload_bytes=ours.size,
            )
        )
    return totals
