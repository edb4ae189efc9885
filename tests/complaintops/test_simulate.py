"""``complaintops simulate``: pacing, flags, and producing into the embedded broker."""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from kafka import KafkaConsumer, TopicPartition

from complaintops.simulate import (
    DEFAULT_BACKFILL_DAYS,
    DEFAULT_DUPLICATE_SHARE,
    DEFAULT_INVALID_SHARE,
    DEFAULT_RATE,
    DEFAULT_SPEED,
    Pacer,
    SimulationReport,
    add_arguments,
    arrivals_per_hour,
    load_teams,
    main,
    run_simulation,
    simulation_config,
    stop_on_signals,
)
from config.settings import load_settings
from events.simulator import INVALID, VALID, SimEvent, Simulator, simulate_to_list
from events.timeutil import DAY_SECONDS

SHANGHAI = ZoneInfo("Asia/Shanghai")
TEAMS = (
    ("claims-east", ("h-001", "h-002", "h-003", "h-004", "h-005", "h-006")),
    ("sales-service", ("h-020", "h-021", "h-022", "h-023")),
)
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=SHANGHAI).timestamp()
READ_LIMIT_S = 60.0


class FakeTime:
    """Real time for the code under test, moved only by its own waits."""

    def __init__(self, start: float) -> None:
        self.now = start
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.now += seconds
        return False


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="complaintops simulate")
    add_arguments(parser)
    return parser.parse_args(argv)


def read_topic(bootstrap: str, topic: str, expected: int) -> list[tuple[bytes, bytes, int]]:
    """The topic's records as (key, value, partition), in partition order.

    Reads until ``expected`` records came, then polls once more to catch any extra
    (the embedded broker's end offsets cannot be relied on for a count).
    """
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        found: list[tuple[bytes, bytes, int]] = []
        deadline = time.monotonic() + READ_LIMIT_S
        while len(found) < expected and time.monotonic() < deadline:
            for messages in consumer.poll(timeout_ms=500).values():
                found.extend((m.key, m.value, m.partition) for m in messages)
        for messages in consumer.poll(timeout_ms=1000).values():
            found.extend((m.key, m.value, m.partition) for m in messages)
        return found
    finally:
        consumer.close()


def by_key(records: list[tuple[bytes, bytes]]) -> dict[bytes, list[bytes]]:
    grouped: dict[bytes, list[bytes]] = defaultdict(list)
    for key, value in records:
        grouped[key].append(value)
    return dict(grouped)


# -- the rate and the arrival rate --------------------------------------------------


def test_arrivals_follow_from_rate_and_speed() -> None:
    assert arrivals_per_hour(2.0, 600.0, 0.0, 0.0) == pytest.approx(2 * 6 / 10.7)
    assert arrivals_per_hour(4.0, 600.0, 0.0, 0.0) == 2 * arrivals_per_hour(2.0, 600.0, 0, 0)
    assert arrivals_per_hour(2.0, 1200.0, 0.0, 0.0) == arrivals_per_hour(1.0, 600.0, 0, 0)


def test_the_centre_produces_about_rate_records_per_real_second() -> None:
    rate, speed = 2.0, 600.0
    config = simulation_config(
        TEAMS,
        rate=rate,
        speed=speed,
        seed=3,
        invalid_share=DEFAULT_INVALID_SHARE,
        duplicate_share=DEFAULT_DUPLICATE_SHARE,
        tz=SHANGHAI,
    )
    records = simulate_to_list(config, 150, NOW)
    # The centre starts empty: measure the last 100 days, once it is in its stride.
    steady = [r for r in records if r.occurred_at > NOW - 100 * DAY_SECONDS]
    per_real_second = len(steady) / (100 * DAY_SECONDS / speed)
    assert 0.85 * rate <= per_real_second <= 1.15 * rate


@pytest.mark.parametrize("rate", [0.0, -1.0])
def test_simulation_config_refuses_a_rate_that_is_not_positive(rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        simulation_config(
            TEAMS, rate=rate, speed=1, seed=1, invalid_share=0, duplicate_share=0, tz=SHANGHAI
        )


# -- pacing -----------------------------------------------------------------------------


def test_pacer_maps_simulated_time_to_real_time() -> None:
    fake = FakeTime(1000.0)
    pacer = Pacer(60.0, sim_anchor=NOW, real_anchor=1000.0, clock=fake.clock, wait=fake.wait)
    assert pacer.real_time(NOW + 3600) == 1060.0
    assert pacer.sim_time(1060.0) == NOW + 3600
    assert pacer.sim_time(pacer.real_time(NOW + 123.0)) == pytest.approx(NOW + 123.0)


def test_pacer_waits_only_for_what_is_left() -> None:
    fake = FakeTime(1000.0)
    pacer = Pacer(10.0, sim_anchor=NOW, real_anchor=1000.0, clock=fake.clock, wait=fake.wait)
    assert pacer.wait_until(pacer.real_time(NOW + 50)) is True
    assert fake.now == 1005.0
    assert pacer.wait_until(pacer.real_time(NOW + 20)) is True  # already past: no wait
    assert fake.waits == [5.0]


def test_pacer_reports_a_stop_during_a_wait() -> None:
    stop = threading.Event()
    stop.set()
    pacer = Pacer(1.0, sim_anchor=0.0, real_anchor=time.time(), clock=time.time, wait=stop.wait)
    assert pacer.wait_until(time.time() + 3600) is False


def test_pacer_needs_a_positive_speed() -> None:
    with pytest.raises(ValueError, match="speed"):
        Pacer(0.0, 0.0, 0.0, time.time, threading.Event().wait)


def test_sigterm_and_sigint_request_a_stop_and_handlers_come_back() -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    for sig in (signal.SIGTERM, signal.SIGINT):
        stop = threading.Event()
        with stop_on_signals(stop):
            os.kill(os.getpid(), sig)
            assert stop.wait(5)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


# -- flags ---------------------------------------------------------------------------------


def test_flag_defaults() -> None:
    args = parse([])
    assert args.rate == DEFAULT_RATE
    assert args.speed == DEFAULT_SPEED
    assert args.backfill_days == DEFAULT_BACKFILL_DAYS
    assert args.seed is None
    assert args.duration is None
    assert args.invalid_share == DEFAULT_INVALID_SHARE
    assert args.duplicate_share == DEFAULT_DUPLICATE_SHARE


def test_flags_are_read() -> None:
    args = parse(
        [
            "--rate",
            "5",
            "--speed",
            "1",
            "--backfill-days",
            "0",
            "--seed",
            "42",
            "--duration",
            "30",
            "--invalid-share",
            "0",
            "--duplicate-share",
            "0.2",
        ]
    )
    assert (args.rate, args.speed, args.backfill_days, args.seed) == (5.0, 1.0, 0, 42)
    assert (args.duration, args.invalid_share, args.duplicate_share) == (30.0, 0.0, 0.2)


@pytest.mark.parametrize(
    "argv",
    [
        ["--rate", "0"],
        ["--rate", "-2"],
        ["--speed", "0"],
        ["--speed", "inf"],
        ["--backfill-days", "-1"],
        ["--duration", "-5"],
        ["--invalid-share", "0.7"],
        ["--duplicate-share", "-0.1"],
        ["--seed", "abc"],
    ],
)
def test_bad_flags_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse(argv)


def test_report_summary_names_the_counts() -> None:
    report = SimulationReport(seed=9, backfill_records=10, live_records=5, cases_opened=2)
    report.kinds.update({VALID: 13, INVALID: 2})
    report.simulated_until = NOW
    text = report.summary(SHANGHAI)
    assert "15 records (10 backfill, 5 live; 13 valid, 0 duplicates, 2 invalid)" in text
    assert "2026-11-24T12:00:00+08:00" in text and "seed 9" in text
    report.record_failure(TimeoutError("no answer"))
    assert "1 records NOT delivered (first: TimeoutError: no answer)" in report.summary(SHANGHAI)


def test_teams_come_from_the_teams_configuration() -> None:
    teams = load_teams(load_settings())
    assert teams and all(team and handlers for team, handlers in teams)


def test_main_without_a_broker_address_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(parse([]), load_settings(kafka_bootstrap=None)) == 2
    assert "COMPLAINTOPS_KAFKA_BOOTSTRAP" in capsys.readouterr().err


# -- producing into the embedded broker -------------------------------------------------------


def test_backfill_is_produced_keyed_by_case_id(kafka_bootstrap: str, new_topic: str) -> None:
    choices = {"rate": 10.0, "speed": 600.0, "seed": 11}
    report = run_simulation(
        kafka_bootstrap,
        new_topic,
        TEAMS,
        backfill_days=2,
        duration=0,
        tz=SHANGHAI,
        clock=lambda: NOW,
        **choices,  # type: ignore[arg-type]
    )
    expected: list[SimEvent] = simulate_to_list(
        simulation_config(
            TEAMS,
            invalid_share=DEFAULT_INVALID_SHARE,
            duplicate_share=DEFAULT_DUPLICATE_SHARE,
            tz=SHANGHAI,
            **choices,  # type: ignore[arg-type]
        ),
        2,
        NOW,
    )
    assert len(expected) > 500
    assert report.failed == 0
    assert (report.backfill_records, report.live_records) == (len(expected), 0)
    assert report.stopped_by == "duration"
    assert report.kinds[VALID] == sum(1 for r in expected if r.kind == VALID)

    found = read_topic(kafka_bootstrap, new_topic, len(expected))
    assert len(found) == len(expected)
    # Per key, the records arrive in the order they were produced.
    assert by_key([(k, v) for k, v, _ in found]) == by_key(
        [(r.case_id.encode(), r.value) for r in expected]
    )
    partitions_of_key: dict[bytes, set[int]] = defaultdict(set)
    for key, _, partition in found:
        partitions_of_key[key].add(partition)
    assert all(len(p) == 1 for p in partitions_of_key.values())


def test_live_mode_is_paced_by_speed_and_stops_after_the_duration(
    kafka_bootstrap: str, new_topic: str
) -> None:
    fake = FakeTime(NOW)
    report = run_simulation(
        kafka_bootstrap,
        new_topic,
        TEAMS,
        rate=20.0,
        speed=3600.0,
        backfill_days=0,
        seed=5,
        duration=1800.0,
        tz=SHANGHAI,
        clock=fake.clock,
        wait=fake.wait,
    )
    # 1800 real seconds at 3600 simulated seconds each: 75 simulated days.
    config = simulation_config(
        TEAMS,
        rate=20.0,
        speed=3600.0,
        seed=5,
        invalid_share=DEFAULT_INVALID_SHARE,
        duplicate_share=DEFAULT_DUPLICATE_SHARE,
        tz=SHANGHAI,
    )
    expected = list(Simulator(config).live(NOW, NOW + 1800 * 3600))
    assert report.failed == 0
    assert report.stopped_by == "duration"
    assert (report.backfill_records, report.live_records) == (0, len(expected))
    assert fake.now == NOW + 1800.0
    assert report.simulated_until == NOW + 1800 * 3600
    assert sum(fake.waits) == pytest.approx(1800.0)
    assert len(read_topic(kafka_bootstrap, new_topic, len(expected))) == len(expected)


def test_a_stop_request_ends_the_run_early(kafka_bootstrap: str, new_topic: str) -> None:
    stop = threading.Event()
    stop.set()
    report = run_simulation(
        kafka_bootstrap, new_topic, TEAMS, backfill_days=3, seed=1, stop=stop, clock=lambda: NOW
    )
    assert report.stopped_by == "signal"
    assert report.produced == 0


def test_main_produces_for_the_configured_teams(
    kafka_bootstrap: str, new_topic: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(kafka_bootstrap=kafka_bootstrap, topic=new_topic)
    argv = ["--backfill-days", "1", "--duration", "0", "--seed", "3", "--rate", "40"]
    assert main(parse(argv), settings) == 0
    output = capsys.readouterr().out
    assert output.startswith("simulate: ") and "seed 3" in output
    produced = int(output.split()[1])
    found = read_topic(kafka_bootstrap, new_topic, produced)
    assert len(found) == produced > 0
    handlers = {h for _, team in load_teams(settings) for h in team}
    opened = [v for _, v, _ in found if b'"type":"case.opened"' in v]
    assert opened and all(any(h.encode() in v for h in handlers) for v in opened)
