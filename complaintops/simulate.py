"""``complaintops simulate``: produce a simulated complaint centre's case events into Kafka.

First the backfill (the history of the last days) goes out as fast as the
broker takes it; then live mode keeps producing, paced so that simulated time
runs ``speed`` times faster than real time and about ``rate`` records leave
per real second. The simulated centre receives
``rate × 3600 / speed / MEAN_EVENTS_PER_CASE`` new complaints per simulated
hour, so the flags choose both the look of the dashboard and the load of the
centre (the defaults keep a centre of about twenty handlers near capacity).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import random
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Final
from zoneinfo import ZoneInfo

from kafka import KafkaProducer
from kafka.errors import KafkaError

from config.rules import load_rules
from config.settings import Settings
from events.simulator import (
    DUPLICATE,
    INVALID,
    MEAN_EVENTS_PER_CASE,
    VALID,
    SimEvent,
    SimulationConfig,
    Simulator,
)
from events.timeutil import format_rfc3339

logger = logging.getLogger(__name__)

DEFAULT_RATE: Final = 2.0
"""Average records per real second in live mode."""
DEFAULT_SPEED: Final = 600.0
"""Simulated seconds per real second in live mode (600: a simulated day in 2.4 minutes)."""
DEFAULT_BACKFILL_DAYS: Final = 14
"""Days of history produced before live mode."""
DEFAULT_INVALID_SHARE: Final = 0.005
"""Share of invalid records (each kind the contract names)."""
DEFAULT_DUPLICATE_SHARE: Final = 0.01
"""Share of duplicate records (an event produced again, as a retrying producer does)."""
DEFAULT_TIME_ZONE: Final = "Asia/Shanghai"

FLUSH_TIMEOUT_S: Final = 60.0
"""Longest wait for the broker to acknowledge the records sent so far."""
CLOSE_TIMEOUT_S: Final = 10.0
PROGRESS_INTERVAL_S: Final = 60.0
"""Real seconds between two progress lines in the log."""

Teams = Sequence[tuple[str, Sequence[str]]]
Clock = Callable[[], float]
Wait = Callable[[float], bool]
"""Waits up to the given seconds; True when a stop was requested (like ``Event.wait``)."""


# -- configuration -----------------------------------------------------------------


def arrivals_per_hour(
    rate: float, speed: float, invalid_share: float, duplicate_share: float
) -> float:
    """New complaints per simulated hour that give ``rate`` records per real second."""
    valid_per_second = rate * (1.0 - invalid_share - duplicate_share)
    return valid_per_second * 3600.0 / speed / MEAN_EVENTS_PER_CASE


def simulation_config(
    teams: Teams,
    *,
    rate: float,
    speed: float,
    seed: int,
    invalid_share: float,
    duplicate_share: float,
    tz: ZoneInfo,
    first_case_number: int = 1,
) -> SimulationConfig:
    """The simulator's configuration for these command-line choices."""
    if rate <= 0:
        raise ValueError(f"rate must be > 0, got {rate}")
    if speed <= 0:
        raise ValueError(f"speed must be > 0, got {speed}")
    return SimulationConfig(
        teams=teams,
        seed=seed,
        arrivals_per_hour=arrivals_per_hour(rate, speed, invalid_share, duplicate_share),
        invalid_share=invalid_share,
        duplicate_share=duplicate_share,
        tz=tz,
        first_case_number=first_case_number,
    )


def load_teams(settings: Settings) -> list[tuple[str, list[str]]]:
    """The (team id, handler ids) pairs of the teams configuration."""
    return [(team.id, team.handler_ids()) for team in load_rules(settings).teams.teams]


# -- the report ----------------------------------------------------------------------


@dataclass
class SimulationReport:
    """What a run produced."""

    seed: int
    backfill_records: int = 0
    live_records: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    failed: int = 0
    first_failure: str | None = None
    cases_opened: int = 0
    simulated_until: float | None = None
    stopped_by: str = "end"  # "end" | "duration" | "signal"
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def produced(self) -> int:
        return self.backfill_records + self.live_records

    def record_failure(self, error: BaseException) -> None:
        """Called from the producer's thread when a record could not be delivered."""
        with self._lock:
            self.failed += 1
            if self.first_failure is None:
                self.first_failure = f"{type(error).__name__}: {error}"

    def summary(self, tz: ZoneInfo) -> str:
        until = (
            format_rfc3339(self.simulated_until, tz) if self.simulated_until is not None else "-"
        )
        text = (
            f"simulate: {self.produced} records ({self.backfill_records} backfill, "
            f"{self.live_records} live; {self.kinds[VALID]} valid, "
            f"{self.kinds[DUPLICATE]} duplicates, {self.kinds[INVALID]} invalid), "
            f"{self.cases_opened} cases opened, simulated until {until}, "
            f"stopped by {self.stopped_by}, seed {self.seed}"
        )
        if self.failed:
            text += f"; {self.failed} records NOT delivered (first: {self.first_failure})"
        return text


# -- pacing ----------------------------------------------------------------------------


class Pacer:
    """Live-mode pacing: simulated moment ``t`` is due at real moment
    ``real_anchor + (t - sim_anchor) / speed``."""

    def __init__(
        self, speed: float, sim_anchor: float, real_anchor: float, clock: Clock, wait: Wait
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self.speed = speed
        self.sim_anchor = sim_anchor
        self.real_anchor = real_anchor
        self._clock = clock
        self._wait = wait

    def real_time(self, sim_time: float) -> float:
        return self.real_anchor + (sim_time - self.sim_anchor) / self.speed

    def sim_time(self, real_time: float) -> float:
        return self.sim_anchor + (real_time - self.real_anchor) * self.speed

    def wait_until(self, real_time: float) -> bool:
        """Wait for the real moment; False when a stop was requested first."""
        while True:
            delay = real_time - self._clock()
            if delay <= 0:
                return True
            if self._wait(delay):
                return False


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM set ``stop`` (only the main thread can do this)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(signum: int, frame: FrameType | None) -> None:
        logger.info("simulate: %s received, stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# -- producing -----------------------------------------------------------------------


def _send(producer: KafkaProducer, topic: str, record: SimEvent, report: SimulationReport) -> None:
    future = producer.send(topic, key=record.case_id.encode("utf-8"), value=record.value)
    future.add_errback(report.record_failure)
    report.kinds[record.kind] += 1


def _produce_backfill(
    producer: KafkaProducer,
    topic: str,
    records: Iterable[SimEvent],
    report: SimulationReport,
    stop: threading.Event,
) -> None:
    for record in records:
        if stop.is_set():
            report.stopped_by = "signal"
            return
        _send(producer, topic, record, report)
        report.backfill_records += 1


def _produce_live(
    producer: KafkaProducer,
    topic: str,
    simulator: Simulator,
    pacer: Pacer,
    report: SimulationReport,
    stop: threading.Event,
    duration: float | None,
    clock: Clock,
) -> None:
    started = clock()
    end = started + duration if duration is not None else math.inf
    next_progress = started + PROGRESS_INTERVAL_S
    for record in simulator.live(pacer.sim_anchor, pacer.sim_time(end)):
        if stop.is_set() or not pacer.wait_until(pacer.real_time(record.occurred_at)):
            report.stopped_by = "signal"
            return
        _send(producer, topic, record, report)
        report.live_records += 1
        if clock() >= next_progress:
            next_progress += PROGRESS_INTERVAL_S
            logger.info(
                "simulate: live, %d records so far, simulated time %s",
                report.live_records,
                format_rfc3339(record.occurred_at, simulator.config.tz),
            )
    # Nothing more is due before the end: wait for it unless stopped first.
    report.stopped_by = "duration" if pacer.wait_until(end) else "signal"


def run_simulation(
    bootstrap: str,
    topic: str,
    teams: Teams,
    *,
    rate: float = DEFAULT_RATE,
    speed: float = DEFAULT_SPEED,
    backfill_days: int = DEFAULT_BACKFILL_DAYS,
    seed: int | None = None,
    duration: float | None = None,
    invalid_share: float = DEFAULT_INVALID_SHARE,
    duplicate_share: float = DEFAULT_DUPLICATE_SHARE,
    tz: ZoneInfo | None = None,
    clock: Clock = time.time,
    stop: threading.Event | None = None,
    wait: Wait | None = None,
) -> SimulationReport:
    """Produce the backfill, then live records until ``duration`` real seconds of
    live mode have passed (None: until SIGINT or SIGTERM, or until ``stop`` is set).

    Records are keyed by case id. ``clock`` and ``wait`` stand for real time.
    Without a ``seed`` a random one is drawn (it is in the report) and case
    numbers start at a random ten-thousand, so runs rarely reuse case ids.
    """
    if backfill_days < 0:
        raise ValueError(f"backfill_days must be >= 0, got {backfill_days}")
    if duration is not None and duration < 0:
        raise ValueError(f"duration must be >= 0, got {duration}")
    zone = tz if tz is not None else ZoneInfo(DEFAULT_TIME_ZONE)
    first_case_number = 1
    if seed is None:
        chooser = random.SystemRandom()
        seed = chooser.randrange(2**31)
        first_case_number = 1 + chooser.randrange(90) * 10_000
    config = simulation_config(
        teams,
        rate=rate,
        speed=speed,
        seed=seed,
        invalid_share=invalid_share,
        duplicate_share=duplicate_share,
        tz=zone,
        first_case_number=first_case_number,
    )
    stop_event = stop if stop is not None else threading.Event()
    simulator = Simulator(config)
    report = SimulationReport(seed=seed)
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=5,
        client_id="complaintops-simulator",
    )
    try:
        with stop_on_signals(stop_event):
            now = clock()
            logger.info(
                "simulate: backfill of %d days into '%s' (%.2f new cases per hour, seed %d)",
                backfill_days,
                topic,
                config.arrivals_per_hour,
                seed,
            )
            _produce_backfill(
                producer, topic, simulator.backfill(backfill_days, now), report, stop_event
            )
            producer.flush(timeout=FLUSH_TIMEOUT_S)
            logger.info("simulate: backfill done, %d records", report.backfill_records)
            if not stop_event.is_set():
                pacer = Pacer(speed, now, now, clock, wait or stop_event.wait)
                _produce_live(
                    producer, topic, simulator, pacer, report, stop_event, duration, clock
                )
            producer.flush(timeout=FLUSH_TIMEOUT_S)
    finally:
        producer.close(timeout=CLOSE_TIMEOUT_S)
    report.cases_opened = simulator.cases_opened
    report.simulated_until = simulator.clock
    return report


# -- command line ---------------------------------------------------------------------


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text}")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value < 0.5:
        raise argparse.ArgumentTypeError(f"must be from 0 to 0.5, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``complaintops simulate``."""
    parser.add_argument(
        "--rate",
        type=_positive_float,
        default=DEFAULT_RATE,
        help=f"average records per second in live mode (default {DEFAULT_RATE:g})",
    )
    parser.add_argument(
        "--speed",
        type=_positive_float,
        default=DEFAULT_SPEED,
        help=(
            "simulated seconds per real second in live mode; 1 is real time "
            f"(default {DEFAULT_SPEED:g})"
        ),
    )
    parser.add_argument(
        "--backfill-days",
        type=_non_negative_int,
        default=DEFAULT_BACKFILL_DAYS,
        help=f"days of history produced first, as fast as possible (default {DEFAULT_BACKFILL_DAYS})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed for a reproducible stream (default: random, shown at the end)",
    )
    parser.add_argument(
        "--duration",
        type=_non_negative_float,
        default=None,
        help="seconds of live mode after the backfill (default: until Ctrl-C or SIGTERM)",
    )
    parser.add_argument(
        "--invalid-share",
        type=_share,
        default=DEFAULT_INVALID_SHARE,
        help=f"share of invalid records (default {DEFAULT_INVALID_SHARE:g})",
    )
    parser.add_argument(
        "--duplicate-share",
        type=_share,
        default=DEFAULT_DUPLICATE_SHARE,
        help=f"share of duplicate records (default {DEFAULT_DUPLICATE_SHARE:g})",
    )


def main(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``complaintops simulate``; the exit code."""
    if not settings.kafka_bootstrap:
        print(
            "simulate: no Kafka to produce to; set COMPLAINTOPS_KAFKA_BOOTSTRAP "
            "(the demo sets it for its embedded broker)",
            file=sys.stderr,
        )
        return 2
    teams = load_teams(settings)
    try:
        report = run_simulation(
            settings.kafka_bootstrap,
            settings.topic,
            teams,
            rate=args.rate,
            speed=args.speed,
            backfill_days=args.backfill_days,
            seed=args.seed,
            duration=args.duration,
            invalid_share=args.invalid_share,
            duplicate_share=args.duplicate_share,
            tz=settings.tz,
        )
    except KafkaError as error:
        print(
            f"simulate: cannot produce to Kafka at {settings.kafka_bootstrap}: {error}",
            file=sys.stderr,
        )
        return 1
    print(report.summary(settings.tz))
    return 0 if report.failed == 0 else 1
