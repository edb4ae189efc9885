"""alerts.yaml and oncall.yaml: the shipped files load; bad files give exact messages."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from alerts.rules import (
    RULE_NAMES,
    AlertsConfig,
    QuietHours,
    Routing,
    load_alerting,
    load_alerts_file,
    load_oncall_file,
)
from config import DEFAULTS_DIR, ConfigError, TeamsConfig, load_rules, load_settings

FILES = Path(__file__).with_name("files")
SHANGHAI = ZoneInfo("Asia/Shanghai")
TEAMS_LIST = "claims-east, claims-north, sales-service, health-life"


@pytest.fixture(scope="module")
def teams() -> TeamsConfig:
    return load_rules(load_settings()).teams


def test_the_shipped_files_load_and_cover_every_rule(teams: TeamsConfig) -> None:
    alerting = load_alerting(load_settings(), teams)
    config = alerting.alerts
    assert alerting.sources == {
        "alerts": DEFAULTS_DIR / "alerts.yaml",
        "oncall": DEFAULTS_DIR / "oncall.yaml",
    }
    assert config.evaluation.interval_seconds == 30
    assert config.rules.enabled_names() == list(RULE_NAMES)
    assert config.rules.decision_breached.severity == "critical"
    assert config.rules.follow_up_overdue.severity == "warning"
    assert config.rules.decision_at_risk.warning_days is None  # clocks.yaml decides
    assert config.routing.quiet_hours.enabled is False
    assert config.routing.escalation[0].to == ("manager",)
    covered = {team for rotation in alerting.oncall.rotations for team in rotation.teams}
    assert covered == set(teams.team_ids())


def test_an_override_in_the_rules_dir_replaces_the_default(
    tmp_path: Path, teams: TeamsConfig
) -> None:
    (tmp_path / "alerts.yaml").write_text((FILES / "alerts_good_minimal.yaml").read_text())
    alerting = load_alerting(load_settings(rules_dir=tmp_path), teams)
    assert alerting.sources["alerts"] == tmp_path / "alerts.yaml"
    assert alerting.sources["oncall"] == DEFAULTS_DIR / "oncall.yaml"
    # Rules left out keep their defaults.
    assert alerting.alerts.rules.consumer_lag.max_events == 5000
    assert alerting.alerts.routing.receivers == ("oncall",)


BAD_ALERTS = [
    ("alerts_unknown_rule.yaml", "rules.follow_up_overdu: unknown key"),
    (
        "alerts_bad_severity.yaml",
        "rules.decision_breached.severity: must be one of 'warning', 'critical', got 'fatal'",
    ),
    ("alerts_no_routing.yaml", "routing: missing required key"),
    ("alerts_no_fallback.yaml", "routing.fallback_receivers: missing required key"),
    (
        "alerts_bad_receiver.yaml",
        "routing.receivers[1]: must be 'oncall', 'manager' or an email address, got 'boss'",
    ),
    (
        "alerts_non_ascii_receiver.yaml",
        "routing.receivers[2]: must be an email address of ASCII characters only, "
        "got '张伟@example.com'",
    ),
    (
        "alerts_non_ascii_fallback.yaml",
        "routing.fallback_receivers[0]: must be an email address of ASCII characters only, "
        "got 'ops@例子.cn'",
    ),
    (
        "alerts_unquoted_quiet_hours.yaml",
        'routing.quiet_hours.from: must be a time "HH:MM" in quotes, got 1320 (write "HH:MM")',
    ),
    (
        "alerts_bad_clock_time.yaml",
        "routing.quiet_hours.until: must be a time \"HH:MM\", got '8 am'",
    ),
    (
        "alerts_escalation_order.yaml",
        "routing.escalation[1].after_minutes: must be greater than the level before (30), got 20",
    ),
    (
        "alerts_repeat_cap.yaml",
        "routing.repeat_interval_max_minutes: must be >= repeat_interval_minutes (240), got 60",
    ),
    (
        "alerts_unknown_team.yaml",
        f"routing.teams.claims-west: unknown team 'claims-west'; teams.yaml has {TEAMS_LIST}",
    ),
    (
        "alerts_inhibit_self.yaml",
        "inhibit[0].target: must differ from source, got 'decision_breached'",
    ),
    (
        "alerts_interval_too_short.yaml",
        "evaluation.interval_seconds: must be an integer >= 5, got 1",
    ),
    (
        "alerts_zero_ratio.yaml",
        "rules.handler_overloaded.capacity_ratio: must be a number > 0, got 0",
    ),
    (
        "alerts_yaml_syntax.yaml",
        "(file): invalid YAML at line 3, column 12: expected ',' or ']', but got ':'",
    ),
]

BAD_ONCALL = [
    ("oncall_duplicate_rotation.yaml", "rotations[1].id: duplicate rotation id 'claims'"),
    (
        "oncall_team_twice.yaml",
        "rotations[1].teams[0]: team 'claims-east' is already in rotation 'claims'",
    ),
    (
        "oncall_unknown_rotation.yaml",
        "overrides[0].rotation: unknown rotation 'night'; the rotations are claims",
    ),
    (
        "oncall_override_backwards.yaml",
        "overrides[0].until: must be after from (2026-12-02T09:00:00+08:00), "
        "got 2026-12-01T09:00:00+08:00",
    ),
    (
        "oncall_bad_timezone.yaml",
        "timezone: unknown time zone 'Mars/Olympus', expected an IANA name such as 'Asia/Shanghai'",
    ),
    ("oncall_no_members.yaml", "rotations[0].members: must be a non-empty list, got an empty list"),
    (
        "oncall_unknown_team.yaml",
        f"rotations[0].teams[1]: unknown team 'claims-west'; teams.yaml has {TEAMS_LIST}",
    ),
    (
        "oncall_bad_email.yaml",
        "rotations[0].members[0].email: must be an email address, got 'zhang.wei'",
    ),
    (
        "oncall_non_ascii_email.yaml",
        "rotations[0].members[0].email: must be an email address of ASCII characters only, "
        "got '张伟@example.com'",
    ),
    ("oncall_bad_handover.yaml", "rotations[0].handover: must be a time \"HH:MM\", got '25:00'"),
    ("oncall_bad_start.yaml", "rotations[0].start: must be a date YYYY-MM-DD, got 'next monday'"),
    (
        "oncall_bad_from.yaml",
        "overrides[0].from: must be a date-time like 2026-12-01T09:00:00+08:00, got 'tomorrow'",
    ),
]


@pytest.mark.parametrize(("name", "expected"), BAD_ALERTS, ids=[n for n, _ in BAD_ALERTS])
def test_a_bad_alerts_file_names_file_key_and_problem(
    name: str, expected: str, teams: TeamsConfig
) -> None:
    path = FILES / name
    with pytest.raises(ConfigError) as caught:
        load_alerts_file(path, teams)
    assert str(caught.value) == f"{path}: {expected}"


@pytest.mark.parametrize(("name", "expected"), BAD_ONCALL, ids=[n for n, _ in BAD_ONCALL])
def test_a_bad_oncall_file_names_file_key_and_problem(
    name: str, expected: str, teams: TeamsConfig
) -> None:
    path = FILES / name
    with pytest.raises(ConfigError) as caught:
        load_oncall_file(path, teams)
    assert str(caught.value) == f"{path}: {expected}"


def test_a_good_oncall_file_keeps_local_override_times(teams: TeamsConfig) -> None:
    oncall = load_oncall_file(FILES / "oncall_good.yaml", teams)
    assert oncall.timezone == "Europe/London"
    assert oncall.overrides[0].start == datetime(2026, 11, 25, 12, 0)  # local, zone applied later
    assert oncall.rotation_of("claims-east") is oncall.rotations[0]
    assert oncall.rotation_of("claims-north") is None


def test_repeat_interval_backs_off_and_is_capped() -> None:
    routing = Routing(
        fallback_receivers=("ops@example.com",),
        repeat_interval_minutes=60,
        repeat_backoff=2,
        repeat_interval_max_minutes=300,
    )
    assert [routing.repeat_after(n) / 60 for n in range(5)] == [60, 120, 240, 300, 300]


@pytest.mark.parametrize(
    ("start", "until", "clock", "quiet"),
    [
        ("22:00", "08:00", "23:30", True),
        ("22:00", "08:00", "07:59", True),
        ("22:00", "08:00", "08:00", False),
        ("22:00", "08:00", "21:59", False),
        ("12:00", "13:30", "12:45", True),
        ("12:00", "13:30", "13:30", False),
    ],
)
def test_quiet_hours_span_midnight(start: str, until: str, clock: str, quiet: bool) -> None:
    hours = QuietHours.model_validate({"enabled": True, "from": start, "until": until})
    hour, minute = map(int, clock.split(":"))
    assert hours.contains(datetime(2026, 12, 1, hour, minute, tzinfo=SHANGHAI)) is quiet


def test_quiet_hours_off_by_default() -> None:
    assert not QuietHours().contains(datetime(2026, 12, 1, 23, 0, tzinfo=SHANGHAI))


def test_rule_lookup_refuses_unknown_names() -> None:
    config = AlertsConfig(routing=Routing(fallback_receivers=("ops@example.com",)))
    with pytest.raises(KeyError):
        config.rules.get("nonsense")
