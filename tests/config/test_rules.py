"""Rule files (teams, clocks, wall): good files load, bad files give exact messages."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

from config import (
    DEFAULTS_DIR,
    STAGE_IDS,
    ClocksConfig,
    ConfigError,
    RuleModel,
    TeamsConfig,
    WallConfig,
    check_config,
    dotted_key,
    load_rules,
    load_settings,
    load_yaml_model,
    resolve_rule_file,
)
from config.yaml_loader import show_value

FILES = Path(__file__).with_name("files")


@pytest.fixture(autouse=True)
def _no_complaintops_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import os

    for name in list(os.environ):
        if name.upper().startswith("COMPLAINTOPS_"):
            monkeypatch.delenv(name)
    yield


BAD_FILES: list[tuple[str, type[RuleModel], str]] = [
    (
        "teams_yaml_syntax.yaml",
        TeamsConfig,
        "(file): invalid YAML at line 4, column 13: expected ',' or '}', but got ':'",
    ),
    (
        "teams_duplicate_yaml_key.yaml",
        TeamsConfig,
        "(file): duplicate key 'id' at line 6, column 5",
    ),
    ("teams_not_a_mapping.yaml", TeamsConfig, "(file): must be a mapping, got a list"),
    ("teams_unknown_key.yaml", TeamsConfig, "teams[0].captain: unknown key"),
    (
        "teams_wrong_type.yaml",
        TeamsConfig,
        "teams[1].handlers[0].capacity: must be an integer >= 1, got 'ten'",
    ),
    (
        "teams_zero_capacity.yaml",
        TeamsConfig,
        "teams[0].handlers[0].capacity: must be an integer >= 1, got 0",
    ),
    (
        "teams_missing_key.yaml",
        TeamsConfig,
        "teams[0].handlers[0].capacity: missing required key",
    ),
    ("teams_missing_translation.yaml", TeamsConfig, "teams[0].name.en: missing required key"),
    (
        "teams_bad_id.yaml",
        TeamsConfig,
        "teams[0].id: must be 1 to 64 characters of A-Z a-z 0-9 _ -, got 'claims east'",
    ),
    (
        "teams_bad_email.yaml",
        TeamsConfig,
        "teams[0].manager_email: must be an email address, got 'manager-at-example'",
    ),
    (
        "teams_non_ascii_email.yaml",
        TeamsConfig,
        "teams[0].manager_email: must be an email address of ASCII characters only, "
        "got '经理@example.com'",
    ),
    (
        "teams_no_handlers.yaml",
        TeamsConfig,
        "teams[0].handlers: must be a non-empty list, got an empty list",
    ),
    ("teams_duplicate_team.yaml", TeamsConfig, "teams[3].id: duplicate team id 'claims-east'"),
    (
        "teams_handler_in_two_teams.yaml",
        TeamsConfig,
        "teams[1].handlers[1].id: handler 'h-002' is already in team 'claims-east'",
    ),
    (
        "clocks_unknown_stage.yaml",
        ClocksConfig,
        "stage_targets_hours.assessment: unknown stage; the stages are "
        "intake, investigation, resolution, feedback, follow_up, review",
    ),
    ("clocks_missing_stage.yaml", ClocksConfig, "stage_targets_hours.review: missing required key"),
    (
        "clocks_zero_target.yaml",
        ClocksConfig,
        "stage_targets_hours.investigation: must be a number > 0, got 0",
    ),
    (
        "clocks_negative_warning.yaml",
        ClocksConfig,
        "decision.warning_days: must be an integer >= 0, got -1",
    ),
    (
        "wall_red_below_amber.yaml",
        WallConfig,
        'thresholds["wip.investigation"].red: must be >= amber (200), got 150',
    ),
    (
        "wall_stale_red_below_amber.yaml",
        WallConfig,
        "stale.red_seconds: must be >= amber_seconds (30), got 10",
    ),
    (
        "wall_unknown_panel.yaml",
        WallConfig,
        "screens[0].panels[1]: must be one of 'tiles', 'flow', 'throughput', 'workload', "
        "'leaderboard', 'alerts', got 'heatmap'",
    ),
    (
        "wall_panel_twice.yaml",
        WallConfig,
        "screens[0].panels[2]: panel 'tiles' is already on this screen",
    ),
    ("wall_duplicate_screen.yaml", WallConfig, "screens[1].id: duplicate screen id 'overview'"),
    ("wall_short_screen.yaml", WallConfig, "screens[0].seconds: must be an integer >= 5, got 3"),
    (
        "wall_unknown_threshold_field.yaml",
        WallConfig,
        'thresholds["wip.assessment"]: unknown overview field; expected one of open_cases, '
        "wip.intake, wip.investigation, wip.resolution, wip.feedback, wip.follow_up, wip.review, "
        "follow_ups_overdue, decision_at_risk, decision_breached, events.duplicates, "
        "events.invalid, events.gaps",
    ),
]


@pytest.mark.parametrize(
    ("file_name", "model", "expected"), BAD_FILES, ids=[row[0] for row in BAD_FILES]
)
def test_bad_file_gives_exact_message(
    file_name: str, model: type[RuleModel], expected: str
) -> None:
    path = FILES / file_name
    with pytest.raises(ConfigError) as caught:
        load_yaml_model(path, model)
    assert str(caught.value) == f"{path}: {expected}"
    assert caught.value.file == str(path)
    assert f"{caught.value.key}: {caught.value.message}" == expected


def test_every_bad_fixture_is_in_the_table() -> None:
    good = {"teams_good.yaml", "clocks_good.yaml", "wall_good.yaml"}
    on_disk = {path.name for path in FILES.glob("*.yaml")} - good
    assert on_disk == {row[0] for row in BAD_FILES}


def test_good_teams_file_loads() -> None:
    teams = load_yaml_model(FILES / "teams_good.yaml", TeamsConfig)
    assert teams.team_ids() == ["claims-east", "sales-service"]
    assert teams.capacity_of("h-002") == 20
    assert teams.capacity_of("h-999") is None
    assert teams.team_of("h-003") == "sales-service"
    assert teams.team_of("h-999") is None
    handler = teams.handler("h-001")
    assert handler is not None and handler.name == "张伟"
    assert teams.handler("h-999") is None
    east = teams.team("claims-east")
    assert east is not None and east.manager_email == "claims-east.manager@example.com"
    assert east.name.in_language("zh-CN") == "理赔投诉一组"
    assert east.name.in_language("en") == "Claims complaints team 1"
    assert east.handler_ids() == ["h-001", "h-002"]
    sales = teams.team("sales-service")
    assert sales is not None and sales.manager_email is None


def test_good_clocks_file_loads() -> None:
    clocks = load_yaml_model(FILES / "clocks_good.yaml", ClocksConfig)
    assert clocks.decision.warning_days == 0
    assert clocks.follow_up.default_due_days == 3
    targets = clocks.stage_targets_hours.as_dict()
    assert list(targets) == list(STAGE_IDS)
    assert targets["investigation"] == 72.5
    assert clocks.stage_targets_hours.hours("review") == 24
    with pytest.raises(KeyError):
        clocks.stage_targets_hours.hours("assessment")


def test_good_wall_file_loads_and_colours_figures() -> None:
    wall = load_yaml_model(FILES / "wall_good.yaml", WallConfig)
    assert [screen.id for screen in wall.screens] == ["overview"]
    assert wall.screens[0].panels == (
        "tiles",
        "flow",
        "throughput",
        "workload",
        "leaderboard",
        "alerts",
    )
    assert wall.refresh_seconds == 1
    assert (wall.stale.amber_seconds, wall.stale.red_seconds) == (10, 10)
    assert wall.level("decision_breached", 0) == "ok"
    assert wall.level("decision_breached", 1) == "red"
    assert wall.level("wip.review", 2) == "ok"
    assert wall.level("wip.review", 2.5) == "amber"
    assert wall.level("wip.review", 9) == "amber"
    assert wall.level("wip.review", 10) == "red"
    assert wall.level("open_cases", 10_000) == "ok"


def test_loaded_rules_are_frozen() -> None:
    teams = load_yaml_model(FILES / "teams_good.yaml", TeamsConfig)
    with pytest.raises(ValueError, match="frozen"):
        teams.teams[0].handlers[0].capacity = 99


def test_shipped_defaults_load() -> None:
    rules = load_rules(load_settings(rules_dir=None))
    assert rules.teams.team_ids() == ["claims-east", "claims-north", "sales-service", "health-life"]
    for team in rules.teams.teams:
        assert 5 <= len(team.handlers) <= 7
        assert all(15 <= handler.capacity <= 30 for handler in team.handlers)
        assert all(handler.id.startswith("h-") for handler in team.handlers)
    assert rules.teams.team("claims-east") is not None
    assert rules.clocks.decision.warning_days == 3
    assert rules.clocks.stage_targets_hours.as_dict() == {
        "intake": 24,
        "investigation": 120,
        "resolution": 96,
        "feedback": 48,
        "follow_up": 168,
        "review": 48,
    }
    assert rules.clocks.follow_up.default_due_days == 7
    assert len(rules.wall.screens) == 2
    assert rules.wall.refresh_seconds == 2
    assert (rules.wall.stale.amber_seconds, rules.wall.stale.red_seconds) == (10, 30)
    assert rules.sources == {
        name: DEFAULTS_DIR / f"{name}.yaml" for name in ("teams", "clocks", "wall")
    }


def test_override_folder_replaces_only_the_files_it_holds() -> None:
    settings = load_settings(rules_dir=FILES / "override")
    rules = load_rules(settings)
    assert rules.teams.team_ids() == ["complaints-pilot"]
    assert rules.teams.capacity_of("p-02") == 8
    assert rules.teams.capacity_of("h-001") is None
    assert rules.sources["teams"] == FILES / "override" / "teams.yaml"
    assert rules.sources["clocks"] == DEFAULTS_DIR / "clocks.yaml"
    assert rules.sources["wall"] == DEFAULTS_DIR / "wall.yaml"
    assert rules.clocks.decision.warning_days == 3


def test_bad_override_is_reported_with_its_own_path(tmp_path: Path) -> None:
    (tmp_path / "clocks.yaml").write_text("decision: {warning_days: many}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_rules(load_settings(rules_dir=tmp_path))
    assert str(caught.value) == (
        f"{tmp_path / 'clocks.yaml'}: decision.warning_days: must be an integer >= 0, got 'many'"
    )


def test_rules_dir_that_is_not_a_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(ConfigError) as caught:
        resolve_rule_file(load_settings(rules_dir=missing), "teams")
    assert str(caught.value) == f"environment: COMPLAINTOPS_RULES_DIR: not a folder: {missing}"


def test_empty_file_reports_the_missing_keys(tmp_path: Path) -> None:
    path = tmp_path / "teams.yaml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_yaml_model(path, TeamsConfig)
    assert str(caught.value) == f"{path}: teams: missing required key"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError) as caught:
        load_yaml_model(path, TeamsConfig)
    assert str(caught.value) == f"{path}: (file): file not found"


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "teams.yaml"
    path.write_bytes("teams: 理赔".encode("gb18030"))
    with pytest.raises(ConfigError) as caught:
        load_yaml_model(path, TeamsConfig)
    assert str(caught.value) == f"{path}: (file): not valid UTF-8 text"


def test_null_where_a_string_is_expected(tmp_path: Path) -> None:
    path = tmp_path / "teams.yaml"
    path.write_text(
        "teams:\n  - id: t1\n    name: {zh: 一组, en: One}\n    manager_email: 12\n"
        "    handlers: [{id: h-1, capacity: 3}]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_yaml_model(path, TeamsConfig)
    assert str(caught.value) == f"{path}: teams[0].manager_email: must be a string, got 12"


def test_check_config_describes_what_was_loaded_from_where() -> None:
    lines = check_config(load_settings(rules_dir=FILES / "override"))
    assert lines == [
        "settings: mode demo, time zone Asia/Shanghai, data dir .complaintops",
        f"teams: 1 team, 2 handlers (override: {FILES / 'override' / 'teams.yaml'})",
        "clocks: decision warning 3 days, follow-ups due after 7 days "
        f"(shipped default: {DEFAULTS_DIR / 'clocks.yaml'})",
        f"wall: 2 screens, 7 thresholds (shipped default: {DEFAULTS_DIR / 'wall.yaml'})",
    ]


def test_check_config_refuses_production_without_secret() -> None:
    with pytest.raises(ConfigError) as caught:
        check_config(load_settings(mode="production"))
    assert str(caught.value) == (
        "environment: COMPLAINTOPS_SECRET_KEY: required when COMPLAINTOPS_MODE=production"
    )


def test_config_error_keeps_its_parts_through_pickling() -> None:
    error = ConfigError("teams.yaml", "teams[0].id", "duplicate team id 'x'")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.file, copy.key, copy.message) == (
        "teams.yaml",
        "teams[0].id",
        "duplicate team id 'x'",
    )
    assert str(copy) == "teams.yaml: teams[0].id: duplicate team id 'x'"
    assert isinstance(copy, ValueError)


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ((), "(file)"),
        (("teams",), "teams"),
        (("teams", 1, "handlers", 0, "capacity"), "teams[1].handlers[0].capacity"),
        (("thresholds", "wip.intake", "red"), 'thresholds["wip.intake"].red'),
        (("stage_targets_hours", "follow_up"), "stage_targets_hours.follow_up"),
        ((0, "id"), "[0].id"),
    ],
)
def test_dotted_key(location: tuple[str | int, ...], expected: str) -> None:
    assert dotted_key(location) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (3, "3"),
        (2.5, "2.5"),
        ("ten", "'ten'"),
        ("张伟", "'张伟'"),
        ([1], "a list"),
        ([], "an empty list"),
        ({"a": 1}, "a mapping"),
        ({}, "an empty mapping"),
    ],
)
def test_show_value(value: object, expected: str) -> None:
    assert show_value(value) == expected
