"""scoring.yaml: the shipped file is scoring-v1.md; bad files give exact messages."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from config import DEFAULTS_DIR, ConfigError, load_settings
from config.scoring import (
    load_scoring_file,
    load_scoring_rules,
    parse_scoring_text,
    rules_from_document,
    rules_to_document,
)
from events.scoring import DEFAULT_RULES, ScoringRules

SHIPPED = DEFAULTS_DIR / "scoring.yaml"
RULES = (
    "decision_on_time, decision_late, follow_up_on_time, follow_up_late, "
    "escalated_to_regulator, reopened, rework"
)


@pytest.fixture(autouse=True)
def _no_complaintops_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.upper().startswith("COMPLAINTOPS_"):
            monkeypatch.delenv(name)
    yield


def shipped_text() -> str:
    return SHIPPED.read_text(encoding="utf-8")


def test_the_shipped_file_is_exactly_the_default_rules() -> None:
    assert load_scoring_file(SHIPPED) == DEFAULT_RULES
    assert load_scoring_rules(load_settings()) == DEFAULT_RULES


def test_the_shipped_points_are_scoring_v1() -> None:
    document = rules_to_document(load_scoring_file(SHIPPED))
    assert document["points"] == {
        "decision_on_time": 10,
        "decision_late": -10,
        "follow_up_on_time": 3,
        "follow_up_late": -3,
        "escalated_to_regulator": -20,
        "reopened": -10,
        "rework": -2,
    }
    assert document["satisfaction"] == {5: 5, 4: 3, 3: 0, 2: -3, 1: -5}
    assert set(document["category_weights"].values()) == {1.0}


def test_an_override_in_rules_dir_wins(tmp_path: Path) -> None:
    (tmp_path / "scoring.yaml").write_text(
        shipped_text().replace("rework: -2", "rework: -4").replace("sales: 1.0", "sales: 1.2"),
        encoding="utf-8",
    )
    rules = load_scoring_rules(load_settings(rules_dir=tmp_path))
    assert rules == ScoringRules(rework=-4, category_weights={"sales": 1.2})


def test_missing_categories_weigh_one(tmp_path: Path) -> None:
    path = tmp_path / "scoring.yaml"
    text = shipped_text()
    path.write_text(text[: text.index("category_weights:")], encoding="utf-8")
    assert load_scoring_file(path) == DEFAULT_RULES


BAD_EDITS: list[tuple[str, str, str, str]] = [
    (
        "unknown rule",
        "rework: -2",
        "rework: -2\n  early_bird: 5",
        f"points.early_bird: unknown rule; the rules are {RULES}",
    ),
    (
        "satisfaction under points",
        "rework: -2",
        "rework: -2\n  satisfaction: 5",
        "points.satisfaction: satisfaction has points per level: set them under 'satisfaction'",
    ),
    ("missing rule", "  reopened: -10", "", "points.reopened: missing required key"),
    (
        "points not a number",
        "rework: -2",
        "rework: minus two",
        "points.rework: must be a number from -1000 to 1000, got 'minus two'",
    ),
    (
        "points too large",
        "rework: -2",
        "rework: -2000",
        "points.rework: must be a number from -1000 to 1000, got -2000",
    ),
    (
        "satisfaction level outside 1..5",
        "  1: -5",
        "  1: -5\n  6: 8",
        "satisfaction.6: unknown satisfaction level; the levels are the integers 1 to 5",
    ),
    (
        "satisfaction level 0",
        "  1: -5",
        "  1: -5\n  0: -8",
        "satisfaction.0: unknown satisfaction level; the levels are the integers 1 to 5",
    ),
    (
        "satisfaction level as text",
        "  5: 5",
        "  'five': 5",
        "satisfaction.five: unknown satisfaction level; the levels are the integers 1 to 5",
    ),
    ("missing satisfaction level", "  2: -3\n", "", "satisfaction.2: missing satisfaction level"),
    (
        "negative weight",
        "sales: 1.0",
        "sales: -0.5",
        "category_weights.sales: must be a number from 0 to 10, got -0.5",
    ),
    (
        "unknown category",
        "sales: 1.0",
        "motor: 1.0",
        "category_weights.motor: unknown category; the categories are "
        "claims, other, policy_service, premium, sales, surrender",
    ),
    ("unknown top-level key", "points:", "bonus: 3\npoints:", "bonus: unknown key"),
]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [edit[1:] for edit in BAD_EDITS],
    ids=[edit[0] for edit in BAD_EDITS],
)
def test_bad_files_give_exact_messages(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = shipped_text()
    assert old in text
    path = tmp_path / "scoring.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_scoring_file(path)
    assert str(caught.value) == f"{path}: {message}"


def test_a_yaml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "scoring.yaml"
    path.write_text("points:\n  rework: [-2\nsatisfaction: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_scoring_file(path)
    assert str(caught.value) == (
        f"{path}: (file): invalid YAML at line 3, column 13: expected ',' or ']', but got ':'"
    )


def test_pasted_text_reports_the_given_name() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_scoring_text(shipped_text().replace("rework: -2", "rework: x"), "upload.yaml")
    assert str(caught.value) == (
        "upload.yaml: points.rework: must be a number from -1000 to 1000, got 'x'"
    )


def test_a_document_round_trips_through_json_keys() -> None:
    rules = ScoringRules(satisfaction={5: 8, 4: 4, 3: 0, 2: -4, 1: -8}, rework=-1)
    document = rules_to_document(rules)
    as_json = {**document, "satisfaction": {str(k): v for k, v in document["satisfaction"].items()}}
    assert rules_from_document(as_json) == rules
