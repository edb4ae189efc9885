"""The clients a process needs, built once from the settings.

Commands and the web server receive a Runtime instead of building clients
themselves, so tests can hand in their own (an embedded Valkey, a test
database) and nothing reads globals.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from zoneinfo import ZoneInfo

import redis
from sqlalchemy.engine import Engine

from complaintops.redis_client import connect as connect_redis
from config import Rules, Settings, load_rules
from events.scoring import RuleSource
from metrics.query import MetricsQuery
from store.db import make_engine

DEFAULT_REDIS_URL = "redis://127.0.0.1:6390/0"
DEFAULT_KAFKA_BOOTSTRAP = "127.0.0.1:9092"


@dataclass
class Runtime:
    settings: Settings
    rules: Rules

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        return cls(settings=settings, rules=load_rules(settings))

    @property
    def tz(self) -> ZoneInfo:
        return self.settings.tz

    @property
    def kafka_bootstrap(self) -> str:
        return self.settings.kafka_bootstrap or DEFAULT_KAFKA_BOOTSTRAP

    @cached_property
    def redis(self) -> redis.Redis:
        return connect_redis(
            self.settings.redis_url or DEFAULT_REDIS_URL,
            cluster=self.settings.redis_cluster,
            socket_timeout=5,
            socket_connect_timeout=2,
            health_check_interval=30,
        )

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.resolved_database_url)

    @cached_property
    def query(self) -> MetricsQuery:
        return MetricsQuery(
            self.redis, self.tz, warning_days=self.rules.clocks.decision.warning_days
        )

    def rule_source(self) -> RuleSource:
        """The scoring rules in force: scoring.yaml, then every published rule set."""
        from config.scoring import load_scoring_rules
        from incentives.live import LiveRuleBook

        return LiveRuleBook(self.engine, load_scoring_rules(self.settings), self.tz)

    def configured_handlers(self) -> dict[str, list[tuple[str, int | None]]]:
        """Team -> [(handler, capacity)] from teams.yaml."""
        return {
            team.id: [(handler.id, handler.capacity) for handler in team.handlers]
            for team in self.rules.teams.teams
        }
