"""``complaintops consume metrics|store``: run one consumer of a group until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
from typing import Any

from kafka import KafkaProducer

from complaintops.observability import PrometheusSensor, start_metrics_server
from complaintops.runtime import Runtime
from config import load_settings
from consumers.dead_letter import DeadLetterPublisher
from consumers.heartbeat import RedisHeartbeat
from consumers.loop import ConsumerLoop, LoopConfig
from consumers.process import tune_for_throughput
from consumers.sensor import LoggingSensor, Sensors
from consumers.sink import Sink


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "consume", help="run a consumer: 'metrics' feeds Redis, 'store' feeds the database"
    )
    parser.add_argument("sink", choices=["metrics", "store"])
    parser.add_argument(
        "--dead-letter",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="publish invalid events to the dead-letter topic (default: on for metrics, off for store, "
        "which keeps them in the rejected_events table)",
    )
    parser.set_defaults(func=run)


def build_sink(runtime: Runtime, which: str, dead_letter: bool = False) -> tuple[Sink, str]:
    settings = runtime.settings
    if which == "metrics":
        from metrics.sink import RedisSink

        sink = RedisSink(
            runtime.redis,
            settings.metrics_group,
            runtime.tz,
            runtime.rule_source(),
            dead_letter_outbox=dead_letter,
        )
        return sink, settings.metrics_group
    from store.sink import SqlSink

    return SqlSink(
        runtime.engine, settings.store_group, runtime.tz, runtime.rule_source()
    ), settings.store_group


def build_loop(runtime: Runtime, which: str, dead_letter: bool | None = None) -> ConsumerLoop:
    settings = runtime.settings
    publish = dead_letter if dead_letter is not None else which == "metrics"
    sink, group = build_sink(runtime, which, publish)
    config = LoopConfig(
        bootstrap=runtime.kafka_bootstrap,
        topic=settings.topic,
        group=group,
        batch_size=settings.batch_size,
        poll_timeout_ms=settings.poll_timeout_ms,
        embedded=settings.embedded,
    )
    dead_letters = None
    if publish:
        producer = KafkaProducer(
            bootstrap_servers=config.bootstrap.split(","), acks="all", retries=5
        )
        dead_letters = DeadLetterPublisher(producer, settings.dlq_topic, group)
    sensors = Sensors(LoggingSensor(), RedisHeartbeat(runtime.redis), PrometheusSensor())
    return ConsumerLoop(config, sink, dead_letters, sensors)


def run(args: argparse.Namespace) -> int:
    runtime = Runtime.from_settings(load_settings())
    loop = build_loop(runtime, args.sink, args.dead_letter)
    if runtime.settings.metrics_port is not None:
        start_metrics_server(runtime.settings.metrics_port)

    def _stop(signum: int, frame: object) -> None:
        loop.stop()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    tune_for_throughput()
    loop.run()
    return 0
