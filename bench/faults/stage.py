"""What every fault scenario stands on.

* :class:`Stage`: the embedded broker and Valkey (a scenario may pause, kill
  or restart them) and a working folder;
* :class:`Stream`: a simulated stream produced into a fresh topic, in parts,
  with the oracle of everything produced;
* :class:`Findings`: the figures a scenario measured and the checks it made;
  the scenario passes when every check holds.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import redis

from complaintops.embedded import (
    EmbeddedService,
    find_free_port,
    start_broker,
    start_valkey,
)
from complaintops.simulate import load_teams
from config import load_settings
from events.simulator import SimEvent
from store.migrate import upgrade
from tests.oracle import LabelledRecord, Oracle
from tests.pipeline.helpers import (
    Comparison,
    ConsumerProcess,
    Offsets,
    Pipeline,
    case_comparison,
    last_offsets,
    metrics_comparisons,
    new_topics,
    produce,
    read_dead_letters,
    recent_monday_morning,
    run_reconcile,
    sql_table_counts,
    wait_for,
)
from tests.pipeline.helpers import simulate as simulate_days

RECORDS_PER_CASE_DAY: Final = 7.0
"""About this many records per new case of the simulator (to size a stream)."""
SHOWN_CHARS: Final = 1500
"""A mismatch is shown up to this many characters in the report."""


# -- the embedded services -------------------------------------------------------------


@dataclass
class Stage:
    broker: EmbeddedService
    valkey: EmbeddedService
    workdir: Path
    quick: bool

    @property
    def bootstrap(self) -> str:
        return self.broker.address

    @property
    def redis_url(self) -> str:
        return self.valkey.address

    def folder(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def empty_redis(self) -> None:
        """FLUSHALL: every scenario starts from an empty read model."""
        client = redis.Redis.from_url(self.redis_url)
        try:
            client.flushall()
        finally:
            client.close()

    def restart_valkey_empty(self) -> None:
        """SIGKILL Valkey, then start a new one on the same port with no data."""
        port = self.valkey.port
        self.valkey.kill()
        self.valkey = start_valkey(port, self.workdir, log_dir=self.folder("logs"))

    def sqlite_url(self, name: str) -> str:
        """A fresh SQLite database brought to every migration head."""
        path = self.folder(name) / "store.db"
        path.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
        upgrade(url)
        return url

    def pipeline(self, stream: Stream, database_url: str, batch_size: int = 500) -> Pipeline:
        return Pipeline(
            bootstrap=self.bootstrap,
            redis_url=self.redis_url,
            database_url=database_url,
            topic=stream.topic,
            dlq_topic=stream.dlq_topic,
            metrics_group=f"{stream.topic}.metrics",
            store_group=f"{stream.topic}.store",
            batch_size=batch_size,
        )

    def stop(self) -> None:
        self.broker.stop()
        self.valkey.stop()


@contextlib.contextmanager
def open_stage(quick: bool, workdir: Path | None = None) -> Iterator[Stage]:
    """Start the embedded broker and Valkey in ``workdir`` (a temporary folder if None)."""
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="faults-")))
        logs = workdir / "logs"
        broker = start_broker(find_free_port(), logs)
        try:
            valkey = start_valkey(find_free_port(), workdir, log_dir=logs)
        except BaseException:
            broker.stop()
            raise
        stage = Stage(broker, valkey, workdir, quick)
        try:
            yield stage
        finally:
            stage.stop()


# -- streams ---------------------------------------------------------------------------


@dataclass
class Stream:
    """A simulated stream ending at ``end``, produced part by part into ``topic``."""

    bootstrap: str
    topic: str
    dlq_topic: str
    simulated: list[SimEvent]
    end: float
    produced: list[LabelledRecord] = field(default_factory=list)

    @property
    def now(self) -> float:
        """The moment the figures are compared at: just after the last event."""
        return self.end + 1

    @property
    def size(self) -> int:
        return len(self.simulated)

    def produce_until(self, share: float) -> Offsets:
        """Produce the records up to ``share`` of the stream (in order); the last offsets."""
        stop = round(self.size * share)
        start = len(self.produced)
        if stop > start:
            self.produced.extend(produce(self.bootstrap, self.topic, self.simulated[start:stop]))
        return self.last

    @property
    def last(self) -> Offsets:
        return last_offsets(self.produced)

    def oracle(self) -> Oracle:
        return Oracle.of(self.produced)


def new_stream(stage: Stage, name: str, records: int, seed: int) -> Stream:
    """Exactly ``records`` simulated records (valid, duplicates, invalid) in a fresh topic."""
    end = recent_monday_morning(time.time())
    teams = load_teams(load_settings())
    days = 22.0 if records <= 50_000 else 30.0
    arrivals = records / (days * 24 * RECORDS_PER_CASE_DAY)
    simulated = simulate_days(teams, seed=seed, days=days, end=end, arrivals_per_hour=arrivals)
    while len(simulated) < records:
        arrivals *= 1.15 * records / max(1, len(simulated))
        simulated = simulate_days(teams, seed=seed, days=days, end=end, arrivals_per_hour=arrivals)
    topic, dlq_topic = new_topics(stage.bootstrap, name)
    return Stream(stage.bootstrap, topic, dlq_topic, simulated[:records], end)


# -- progress --------------------------------------------------------------------------


def stored_count(pipeline: Pipeline, which: str) -> int:
    """Records the sink of ``which`` has stored (offsets are dense from 0)."""
    return sum(offset + 1 for offset in pipeline.stored_offsets(which).values())


def wait_until_count(
    pipeline: Pipeline, process: ConsumerProcess, at_least: int, timeout: float = 150.0
) -> int:
    """Wait until the sink of ``process`` stored ``at_least`` records; the count then."""
    wait_for(
        lambda: stored_count(pipeline, process.which) >= at_least or not process.alive,
        f"the {process.which} consumer storing {at_least} records",
        timeout,
    )
    if not process.alive:
        raise AssertionError(f"the {process.which} consumer exited:\n{process.log_tail()}")
    return stored_count(pipeline, process.which)


def wait_until_committed(
    pipeline: Pipeline, which: str, last: Offsets, timeout: float = 60.0
) -> bool:
    """True once the group committed every partition up to ``last`` (+1: the next offset)."""
    target = {p: o + 1 for p, o in last.items()}
    try:
        wait_for(
            lambda: pipeline.committed_offsets(which) == target,
            f"the {which} group committing {target}",
            timeout,
        )
    except AssertionError:
        return False
    return True


def log_lines(process: ConsumerProcess, containing: str) -> int:
    """How many lines of the consumer's log contain ``containing``."""
    text = process.log_path.read_text(errors="replace")
    return sum(1 for line in text.splitlines() if containing in line)


# -- findings --------------------------------------------------------------------------


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + " …"


@dataclass
class Findings:
    """Figures measured and checks made by one scenario."""

    figures: dict[str, Any] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)
    skipped: str | None = None

    def figure(self, name: str, value: Any) -> None:
        self.figures[name] = value

    def check(self, what: str, ok: bool, **evidence: Any) -> bool:
        entry: dict[str, Any] = {"check": what, "ok": bool(ok)}
        entry.update(evidence)
        self.checks.append(entry)
        return ok

    def compare(self, comparison: Comparison) -> bool:
        """A check that what the pipeline shows equals what the oracle says."""
        ok = comparison.found == comparison.expected
        if ok:
            return self.check(f"{comparison.what} equals the oracle", True)
        return self.check(
            f"{comparison.what} equals the oracle",
            False,
            found=shown(comparison.found),
            expected=shown(comparison.expected),
        )

    @property
    def passed(self) -> bool | None:
        """None when skipped; otherwise every check held (and there was one)."""
        if self.skipped is not None:
            return None
        return bool(self.checks) and all(entry["ok"] for entry in self.checks)

    def failed_checks(self) -> list[dict[str, Any]]:
        return [entry for entry in self.checks if not entry["ok"]]

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.figures)
        if self.skipped is not None:
            out["skipped"] = self.skipped
        out["checks"] = self.checks
        return out

    def summary(self) -> str:
        """The failed checks (or the skip reason), for a test's failure message."""
        if self.skipped is not None:
            return f"skipped: {self.skipped}"
        failed = self.failed_checks()
        if not self.checks:
            return "no check was made"
        return "\n".join(str(entry) for entry in failed) or "every check held"


def compare_metrics(findings: Findings, pipeline: Pipeline, oracle: Oracle, now: float) -> None:
    """The API's figures (and the clock figures at later moments) against the oracle."""
    for comparison in metrics_comparisons(pipeline, oracle, now):
        findings.compare(comparison)


def compare_store(findings: Findings, database_url: str, oracle: Oracle) -> None:
    """The SQL ``cases`` rows and the event log's size against the oracle."""
    findings.compare(case_comparison(database_url, oracle))
    counts = sql_table_counts(database_url)
    findings.figure("sql_rows", counts)
    findings.check(
        "case_events holds every applied event once",
        counts["case_events"] == oracle.counters["applied"],
        found=counts["case_events"],
        expected=oracle.counters["applied"],
    )


def check_reconcile(findings: Findings, pipeline: Pipeline) -> None:
    """``complaintops reconcile``: exit 0 is no drift between Redis and SQL."""
    started = time.perf_counter()
    result = run_reconcile(pipeline)
    lines = (result.stdout + result.stderr).strip().splitlines()
    findings.figure("reconcile_seconds", round(time.perf_counter() - started, 1))
    findings.check(
        "complaintops reconcile finds zero drift (exit 0)",
        result.returncode == 0,
        exit_code=result.returncode,
        output=lines[:12],
    )


def check_dead_letters(findings: Findings, stream: Stream, oracle: Oracle) -> None:
    """Every invalid record of the stream is in the dead-letter topic, nothing else is."""
    letters = read_dead_letters(
        stream.bootstrap, stream.dlq_topic, expected=len(oracle.invalid_positions), timeout=30.0
    )
    positions = {(letter.partition, letter.offset) for letter in letters}
    findings.figure("dead_letters", {"records": len(letters), "distinct": len(positions)})
    findings.check(
        "every invalid record is in the dead-letter topic, and nothing else",
        positions == oracle.invalid_positions,
        missing=sorted(oracle.invalid_positions - positions)[:20],
        unexpected=sorted(positions - oracle.invalid_positions)[:20],
    )
