"""Data for the desk pages' tests (flow, workload, cases, analytics).

Contract-valid events go through the real sinks (``RedisSink.apply`` and
``SqlSink.apply``) into a real Valkey and a real SQLite database, and a
``Runtime`` reads them back.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dash
import redis

from complaintops.runtime import Runtime
from config import load_rules, load_settings
from events import contract as c
from events.batch import RawRecord
from events.timeutil import format_rfc3339
from metrics.query import MetricsQuery
from metrics.sink import RedisSink
from store.migrate import upgrade
from store.sink import SqlSink
from tests.events.factory import encode, make_event

SHANGHAI = ZoneInfo("Asia/Shanghai")
TOPIC = "complaints.case-events"
HOUR = 3600.0
DAY = 86400.0
# Monday 30 November 2026, 14:20 in Shanghai.
NOW = datetime(2026, 11, 30, 14, 20, tzinfo=SHANGHAI).timestamp()


def at(hours_ago: float) -> str:
    """RFC 3339 of ``hours_ago`` hours before NOW, in Shanghai time."""
    return format_rfc3339(NOW - hours_ago * HOUR, SHANGHAI)


class Script:
    """The events of one case, numbered in the order written; times in hours before NOW."""

    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        self.seq = 0
        self.events: list[dict[str, Any]] = []

    def add(self, event_type: str, hours_ago: float, **fields: Any) -> Script:
        self.seq += 1
        self.events.append(
            make_event(
                event_type,
                case_id=self.case_id,
                seq=self.seq,
                occurred_at=at(hours_ago),
                **fields,
            )
        )
        return self

    def opened(
        self,
        hours_ago: float,
        team: str = "claims-east",
        handler: str = "h-001",
        **fields: Any,
    ) -> Script:
        values: dict[str, Any] = {
            "team_id": team,
            "handler_id": handler,
            "channel": "phone",
            "category": "claims",
            "product_line": "auto",
            "priority": "normal",
        }
        values.update(fields)
        return self.add(c.OPENED, hours_ago, **values)

    def stage(self, to_stage: str, hours_ago: float) -> Script:
        return self.add(c.STAGE_CHANGED, hours_ago, to_stage=to_stage)


class Feed:
    """Applies records to both sinks, as the two consumer groups would."""

    def __init__(self, runtime: Runtime, now: float = NOW) -> None:
        self.redis_sink = RedisSink(
            runtime.redis, "complaintops-metrics", runtime.tz, clock=lambda: now
        )
        self.redis_sink.prepare(group_has_committed=False)
        self.sql_sink = SqlSink(runtime.engine, "complaintops-store", runtime.tz)
        self.offset = 0

    def send(self, events: Iterable[dict[str, Any]]) -> None:
        records = []
        for event in events:
            records.append(
                RawRecord(TOPIC, 0, self.offset, encode(event), event["case_id"].encode())
            )
            self.offset += 1
        self.redis_sink.apply(records)
        self.sql_sink.apply(records)

    def send_scripts(self, scripts: Iterable[Script]) -> None:
        events = [e for s in scripts for e in s.events]
        events.sort(key=lambda e: e["occurred_at"])
        self.send(events)


def make_runtime(valkey_url: str, database_url: str, tmp_path: Path) -> Runtime:
    """A runtime on the test Valkey and a migrated database, 'now' fixed at NOW."""
    upgrade(database_url, "heads")
    settings = load_settings(
        redis_url=valkey_url,
        database_url=database_url,
        data_dir=tmp_path,
        timezone="Asia/Shanghai",
    )
    runtime = Runtime(settings=settings, rules=load_rules(settings))
    client = redis.Redis.from_url(valkey_url)
    runtime.__dict__["redis"] = client
    runtime.__dict__["query"] = MetricsQuery(
        client,
        runtime.tz,
        warning_days=runtime.rules.clocks.decision.warning_days,
        clock=lambda: NOW,
    )
    return runtime


def make_app(runtime: Runtime) -> dash.Dash:
    """The whole dashboard on ``runtime`` (pages are imported by Dash here)."""
    from dashboard.app import create_app

    return create_app(runtime)


def find_ids(component: Any) -> set[str]:
    """Every string id in a Dash component tree."""
    found: set[str] = set()
    stack = [component]
    while stack:
        item = stack.pop()
        if isinstance(item, list | tuple):
            stack.extend(item)
            continue
        if not hasattr(item, "to_plotly_json"):
            continue
        props = item.to_plotly_json().get("props", {})
        if isinstance(props.get("id"), str):
            found.add(props["id"])
        for value in props.values():
            if isinstance(value, list | tuple) or hasattr(value, "to_plotly_json"):
                stack.append(value)
    return found


def find_text(component: Any) -> str:
    """All text of a Dash component tree, joined by spaces."""
    parts: list[str] = []
    stack = [component]
    while stack:
        item = stack.pop(0)
        if isinstance(item, str | int | float):
            parts.append(str(item))
        elif isinstance(item, list | tuple):
            stack[0:0] = list(item)
        elif hasattr(item, "to_plotly_json"):
            children = item.to_plotly_json().get("props", {}).get("children")
            if children is not None:
                stack.insert(0, children)
    return " ".join(parts)


def find_component(tree: Any, component_id: str) -> Any:
    """The component with this id in a Dash component tree (AssertionError if absent)."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, list | tuple):
            stack.extend(item)
        elif hasattr(item, "to_plotly_json"):
            if getattr(item, "id", None) == component_id:
                return item
            children = getattr(item, "children", None)
            if children is not None:
                stack.append(children)
    raise AssertionError(f"no component with id {component_id!r}")
