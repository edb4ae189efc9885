"""alerts.yaml and oncall.yaml: the alert rules, routing and on-call rotations, validated on load.

Both files follow the other rule files: read from ``settings.rules_dir`` when an
override exists there, else the shipped default in ``config/defaults/``; every
problem is one ``ConfigError`` naming the file, the dotted key and what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from config.errors import ConfigError, FieldProblem, dotted_key
from config.rules import (
    NON_ASCII_ADDRESS,
    EmailAddress,
    Identifier,
    NonEmptyText,
    PositiveCount,
    PositiveNumber,
    RuleModel,
    TeamsConfig,
    is_email_address,
    resolve_rule_file,
)
from config.settings import Settings
from config.yaml_loader import load_yaml_model, show_value

Severity = Literal["warning", "critical"]
SEVERITIES: Final = ("warning", "critical")

FOLLOW_UP_OVERDUE: Final = "follow_up_overdue"
DECISION_AT_RISK: Final = "decision_at_risk"
DECISION_BREACHED: Final = "decision_breached"
STAGE_SLA_BREACHED: Final = "stage_sla_breached"
HANDLER_OVERLOADED: Final = "handler_overloaded"
CONSUMER_LAG: Final = "consumer_lag"
MAJOR_COMPLAINT_OPENED: Final = "major_complaint_opened"

RULE_NAMES: Final = (
    FOLLOW_UP_OVERDUE,
    DECISION_AT_RISK,
    DECISION_BREACHED,
    STAGE_SLA_BREACHED,
    HANDLER_OVERLOADED,
    CONSUMER_LAG,
    MAJOR_COMPLAINT_OPENED,
)
"""Every alert rule, in the order emails and pages list them."""

LABELS: Final = ("case", "team", "handler", "subject")
"""Labels an alert can carry (``subject``: a stage, a consumer group)."""

ONCALL: Final = "oncall"
MANAGER: Final = "manager"
RECEIVER_KEYWORDS: Final = (ONCALL, MANAGER)

_CLOCK_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _clock_time(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 22:00 as the base-60 number 1320.
        raise ValueError(f'must be a time "HH:MM" in quotes, got {value} (write "HH:MM")')
    if isinstance(value, str) and not _CLOCK_TIME.match(value):
        raise ValueError(f'must be a time "HH:MM", got {value!r}')
    return value


def _receiver(value: str) -> str:
    if value in RECEIVER_KEYWORDS:
        return value
    if not is_email_address(value):
        raise ValueError(f"must be 'oncall', 'manager' or an email address, got {value!r}")
    if not value.isascii():
        raise ValueError(NON_ASCII_ADDRESS.format(value))
    return value


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}, expected an IANA name such as 'Asia/Shanghai'"
        ) from None
    return value


def _calendar_date(value: Any) -> Any:
    if isinstance(value, datetime):
        raise ValueError(f"must be a date YYYY-MM-DD, got {value.isoformat()}")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            if len(value) == 10:
                return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"must be a date YYYY-MM-DD, got {show_value(value)}")


def _moment(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"must be a date-time like 2026-12-01T09:00:00+08:00, got {show_value(value)}")


ClockTime = Annotated[str, BeforeValidator(_clock_time), Field(strict=True)]
CalendarDate = Annotated[date, BeforeValidator(_calendar_date)]
Moment = Annotated[datetime, BeforeValidator(_moment)]
Receiver = Annotated[str, Field(strict=True), AfterValidator(_receiver)]
TimeZoneName = Annotated[str, Field(strict=True), AfterValidator(_time_zone)]
Seconds = Annotated[int, Field(strict=True, ge=0)]


def parse_clock_time(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


# --- alerts.yaml: rules ------------------------------------------------------------------


class RuleBase(RuleModel):
    """What every alert rule has: on/off, severity, and an optional own group wait."""

    enabled: bool = True
    severity: Severity = "warning"
    group_wait_seconds: Seconds | None = Field(
        default=None, description="Replaces routing.group_wait_seconds for this rule's groups."
    )


class FollowUpOverdueRule(RuleBase):
    """An open case whose latest return visit (回访) is past due and not done."""


class DecisionAtRiskRule(RuleBase):
    """An open case without a decision whose deadline is within the warning window."""

    warning_days: PositiveCount | None = Field(
        default=None, description="Window in days; default clocks.yaml decision.warning_days."
    )


class DecisionBreachedRule(RuleBase):
    """An open case whose decision deadline passed without a decision."""

    severity: Severity = "critical"


class StageSlaBreachedRule(RuleBase):
    """An open case in a stage longer than clocks.yaml stage_targets_hours allows."""


class HandlerOverloadedRule(RuleBase):
    """A handler carrying more open cases than their capacity (teams.yaml) allows."""

    capacity_ratio: PositiveNumber = Field(
        default=1.0, description="Fires when open cases > capacity × this ratio."
    )


class ConsumerLagRule(RuleBase):
    """The metrics consumer is behind the topic or has stopped reporting."""

    severity: Severity = "critical"
    group: Identifier | None = Field(
        default=None, description="Consumer group; default COMPLAINTOPS_METRICS_GROUP."
    )
    max_events: PositiveCount = Field(default=5000, description="Records behind the topic.")
    max_seconds: PositiveCount = Field(
        default=300, description="Seconds without a heartbeat, or with records waiting."
    )


class MajorComplaintOpenedRule(RuleBase):
    """A major complaint (重大投诉, rule R8): priority major or a group complaint."""

    severity: Severity = "critical"
    group_wait_seconds: Seconds | None = 0
    group_size: PositiveCount = Field(default=20, description="A group of this size is major.")
    lookback_hours: PositiveCount = Field(
        default=72, description="Cases opened this recently and still open keep the alert."
    )


class AlertRules(RuleModel):
    """The seven alert rules; a rule left out keeps its defaults."""

    follow_up_overdue: FollowUpOverdueRule = FollowUpOverdueRule()
    decision_at_risk: DecisionAtRiskRule = DecisionAtRiskRule()
    decision_breached: DecisionBreachedRule = DecisionBreachedRule()
    stage_sla_breached: StageSlaBreachedRule = StageSlaBreachedRule()
    handler_overloaded: HandlerOverloadedRule = HandlerOverloadedRule()
    consumer_lag: ConsumerLagRule = ConsumerLagRule()
    major_complaint_opened: MajorComplaintOpenedRule = MajorComplaintOpenedRule()

    def get(self, name: str) -> RuleBase:
        """The rule called ``name``; KeyError for an unknown one."""
        if name not in RULE_NAMES:
            raise KeyError(name)
        rule: RuleBase = getattr(self, name)
        return rule

    def enabled_names(self) -> list[str]:
        return [name for name in RULE_NAMES if self.get(name).enabled]


# --- alerts.yaml: routing ------------------------------------------------------------------


class EscalationLevel(RuleModel):
    """A critical alert unacknowledged this long is sent to ``to``."""

    after_minutes: PositiveCount
    to: tuple[Receiver, ...] = Field(min_length=1)


class QuietHours(RuleModel):
    """Hours in which warnings wait (critical alerts are always sent)."""

    enabled: bool = False
    start: ClockTime = Field(default="22:00", alias="from")
    until: ClockTime = "08:00"

    def contains(self, moment: datetime) -> bool:
        """Whether the local time ``moment`` lies in the quiet hours (``from`` ≤ t < ``until``)."""
        if not self.enabled:
            return False
        begin, end, now = parse_clock_time(self.start), parse_clock_time(self.until), moment.time()
        if begin <= end:
            return begin <= now < end
        return now >= begin or now < end


class TeamRoute(RuleModel):
    """Who gets one team's alerts."""

    receivers: tuple[Receiver, ...] = Field(min_length=1)


class Routing(RuleModel):
    """Grouping, repeats, escalation and receivers (Alertmanager's vocabulary)."""

    group_wait_seconds: Seconds = Field(
        default=30, description="Wait this long after a group's first change before sending."
    )
    group_interval_seconds: PositiveCount = Field(
        default=300, description="At most one email per group in this interval."
    )
    repeat_interval_minutes: PositiveCount = Field(
        default=240, description="Remind of unacknowledged alerts after this long."
    )
    repeat_backoff: Annotated[float, Field(strict=True, ge=1)] = Field(
        default=2.0, description="Each reminder waits this many times longer than the one before."
    )
    repeat_interval_max_minutes: PositiveCount = Field(
        default=1440, description="Reminders never wait longer than this."
    )
    send_resolved: bool = True
    receivers: tuple[Receiver, ...] = Field(default=(ONCALL,), min_length=1)
    fallback_receivers: tuple[EmailAddress, ...] = Field(
        min_length=1,
        description="Alerts without a team, and teams whose receivers resolve to nobody.",
    )
    teams: dict[Identifier, TeamRoute] = Field(default_factory=dict)
    escalation: tuple[EscalationLevel, ...] = ()
    quiet_hours: QuietHours = QuietHours()

    @model_validator(mode="after")
    def _consistent(self) -> Routing:
        if self.repeat_interval_max_minutes < self.repeat_interval_minutes:
            raise FieldProblem(
                ("repeat_interval_max_minutes",),
                f"must be >= repeat_interval_minutes ({self.repeat_interval_minutes}), "
                f"got {self.repeat_interval_max_minutes}",
            )
        previous = 0
        for number, level in enumerate(self.escalation):
            if level.after_minutes <= previous:
                raise FieldProblem(
                    ("escalation", number, "after_minutes"),
                    f"must be greater than the level before ({previous}), got {level.after_minutes}",
                )
            previous = level.after_minutes
        return self

    def receivers_of(self, team_id: str | None) -> tuple[str, ...]:
        if team_id is None:
            return tuple(self.fallback_receivers)
        route = self.teams.get(team_id)
        return route.receivers if route else self.receivers

    def repeat_after(self, reminders_sent: int) -> float:
        """Seconds to the next reminder after ``reminders_sent`` reminders (back-off, capped)."""
        minutes = self.repeat_interval_minutes * self.repeat_backoff**reminders_sent
        return min(minutes, self.repeat_interval_max_minutes) * 60.0


class InhibitRule(RuleModel):
    """While a ``source`` alert fires, ``target`` alerts with equal labels are not sent."""

    source: Literal[
        "follow_up_overdue",
        "decision_at_risk",
        "decision_breached",
        "stage_sla_breached",
        "handler_overloaded",
        "consumer_lag",
        "major_complaint_opened",
    ]
    target: Literal[
        "follow_up_overdue",
        "decision_at_risk",
        "decision_breached",
        "stage_sla_breached",
        "handler_overloaded",
        "consumer_lag",
        "major_complaint_opened",
    ]
    equal: tuple[Literal["case", "team", "handler", "subject"], ...] = ()

    @model_validator(mode="after")
    def _different(self) -> InhibitRule:
        if self.source == self.target:
            raise FieldProblem(("target",), f"must differ from source, got '{self.target}'")
        return self


class Evaluation(RuleModel):
    """How often the scheduler evaluates the rules and delivers queued email."""

    interval_seconds: Annotated[int, Field(strict=True, ge=5)] = 30
    delivery_interval_seconds: PositiveCount = 5


class AlertsConfig(RuleModel):
    """alerts.yaml: rules, routing and inhibitions."""

    evaluation: Evaluation = Evaluation()
    rules: AlertRules = AlertRules()
    routing: Routing
    inhibit: tuple[InhibitRule, ...] = ()


# --- oncall.yaml ---------------------------------------------------------------------------


class Person(RuleModel):
    """Someone who can be on call."""

    name: NonEmptyText
    email: EmailAddress


class Rotation(RuleModel):
    """A rotation through ``members``, handing over every ``every_days`` days at ``handover``."""

    id: Identifier
    teams: tuple[Identifier, ...] = Field(min_length=1)
    start: CalendarDate = Field(description="The day the first member's first shift begins.")
    handover: ClockTime = "09:00"
    every_days: PositiveCount = 7
    members: tuple[Person, ...] = Field(min_length=1)


class Override(RuleModel):
    """Someone standing in for a rotation from ``from`` until ``until``."""

    rotation: Identifier
    start: Moment = Field(alias="from")
    until: Moment
    member: Person

    @model_validator(mode="after")
    def _ordered(self) -> Override:
        start, until = self.start, self.until
        if (start.tzinfo is None) != (until.tzinfo is None):
            raise FieldProblem(
                ("until",), "give both from and until with, or both without, a UTC offset"
            )
        if until <= start:
            raise FieldProblem(
                ("until",), f"must be after from ({start.isoformat()}), got {until.isoformat()}"
            )
        return self


class OncallConfig(RuleModel):
    """oncall.yaml: on-call rotations per team and their overrides."""

    timezone: TimeZoneName | None = Field(
        default=None,
        description="Zone of start, handover and offset-less times; default the business zone.",
    )
    rotations: tuple[Rotation, ...] = ()
    overrides: tuple[Override, ...] = ()

    @model_validator(mode="after")
    def _references(self) -> OncallConfig:
        ids: dict[str, int] = {}
        team_rotation: dict[str, str] = {}
        for number, rotation in enumerate(self.rotations):
            if rotation.id in ids:
                raise FieldProblem(
                    ("rotations", number, "id"), f"duplicate rotation id '{rotation.id}'"
                )
            ids[rotation.id] = number
            for team_number, team in enumerate(rotation.teams):
                if team in team_rotation:
                    raise FieldProblem(
                        ("rotations", number, "teams", team_number),
                        f"team '{team}' is already in rotation '{team_rotation[team]}'",
                    )
                team_rotation[team] = rotation.id
        for number, override in enumerate(self.overrides):
            if override.rotation not in ids:
                raise FieldProblem(
                    ("overrides", number, "rotation"),
                    f"unknown rotation '{override.rotation}'; the rotations are "
                    f"{', '.join(ids) or '(none)'}",
                )
        return self

    def rotation_of(self, team_id: str) -> Rotation | None:
        for rotation in self.rotations:
            if team_id in rotation.teams:
                return rotation
        return None


# --- loading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertingConfig:
    """alerts.yaml and oncall.yaml, checked against teams.yaml, and where they came from."""

    alerts: AlertsConfig
    oncall: OncallConfig
    sources: dict[str, Path]


def load_alerts_file(path: Path, teams: TeamsConfig) -> AlertsConfig:
    """Load alerts.yaml and check its team names against teams.yaml."""
    config = load_yaml_model(path, AlertsConfig)
    for team_id in config.routing.teams:
        _known_team(path, ("routing", "teams", team_id), team_id, teams)
    return config


def load_oncall_file(path: Path, teams: TeamsConfig) -> OncallConfig:
    """Load oncall.yaml and check its team names against teams.yaml."""
    config = load_yaml_model(path, OncallConfig)
    for number, rotation in enumerate(config.rotations):
        for team_number, team_id in enumerate(rotation.teams):
            _known_team(path, ("rotations", number, "teams", team_number), team_id, teams)
    return config


def load_alerting(settings: Settings, teams: TeamsConfig) -> AlertingConfig:
    """Load and validate alerts.yaml and oncall.yaml; raise ConfigError on the first problem."""
    sources = {name: resolve_rule_file(settings, name) for name in ("alerts", "oncall")}
    return AlertingConfig(
        alerts=load_alerts_file(sources["alerts"], teams),
        oncall=load_oncall_file(sources["oncall"], teams),
        sources=sources,
    )


def _known_team(path: Path, at: tuple[str | int, ...], team_id: str, teams: TeamsConfig) -> None:
    if teams.team(team_id) is None:
        raise ConfigError(
            str(path),
            dotted_key(at),
            f"unknown team '{team_id}'; teams.yaml has {', '.join(teams.team_ids())}",
        )


def zone_of(oncall: OncallConfig, default: ZoneInfo) -> ZoneInfo:
    return ZoneInfo(oncall.timezone) if oncall.timezone else default
