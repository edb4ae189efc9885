"""scoring.yaml: the incentive points table (scoring-v1.md), validated on load.

The file holds the points of each rule, the points of each satisfaction
level (all five required) and a difficulty weight per complaint category
(missing categories weigh 1). ``load_scoring_rules(settings)`` reads the
override in ``rules_dir`` or the shipped default and returns the
``events.scoring.ScoringRules`` the pure core scores with.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final

from pydantic import Field, ValidationError, model_validator

from config.errors import ConfigError, FieldProblem
from config.rules import RuleModel, resolve_rule_file
from config.settings import Settings
from config.yaml_loader import config_error_from_validation, load_yaml_model
from events import contract as c
from events import scoring as s
from events.scoring import ScoringRules

SCORING_FILE: Final = "scoring"
"""The rule file's name (``scoring.yaml``)."""

POINT_RULES: Final[tuple[str, ...]] = tuple(name for name in s.RULE_NAMES if name != s.SATISFACTION)
"""Rules with one points value; satisfaction has one per level."""

SATISFACTION_LEVELS: Final[tuple[int, ...]] = (5, 4, 3, 2, 1)
CATEGORIES: Final[tuple[str, ...]] = tuple(sorted(c.CATEGORIES))
MAX_POINTS: Final = 1000
MAX_WEIGHT: Final = 10

Points = Annotated[float, Field(strict=True, ge=-MAX_POINTS, le=MAX_POINTS)]
Weight = Annotated[float, Field(strict=True, ge=0, le=MAX_WEIGHT)]


class RulePoints(RuleModel):
    """Points of each rule but satisfaction (negative numbers take points away)."""

    decision_on_time: Points
    decision_late: Points
    follow_up_on_time: Points
    follow_up_late: Points
    escalated_to_regulator: Points
    reopened: Points
    rework: Points

    @model_validator(mode="before")
    @classmethod
    def _known_rules(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if key == s.SATISFACTION:
                    raise FieldProblem(
                        (str(key),),
                        "satisfaction has points per level: set them under 'satisfaction'",
                    )
                if key not in POINT_RULES:
                    raise FieldProblem(
                        (str(key),), f"unknown rule; the rules are {', '.join(POINT_RULES)}"
                    )
        return data


class ScoringConfig(RuleModel):
    """scoring.yaml: points per rule, per satisfaction level, and category weights."""

    points: RulePoints
    satisfaction: dict[int, Points]
    category_weights: dict[str, Weight] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _check_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        levels = data.get("satisfaction")
        if isinstance(levels, dict):
            for key in levels:
                if type(key) is not int or key not in SATISFACTION_LEVELS:
                    raise FieldProblem(
                        ("satisfaction", str(key)),
                        "unknown satisfaction level; the levels are the integers 1 to 5",
                    )
            for level in SATISFACTION_LEVELS:
                if level not in levels:
                    raise FieldProblem(("satisfaction", str(level)), "missing satisfaction level")
        weights = data.get("category_weights")
        if isinstance(weights, dict):
            for key in weights:
                if key not in CATEGORIES:
                    raise FieldProblem(
                        ("category_weights", str(key)),
                        f"unknown category; the categories are {', '.join(CATEGORIES)}",
                    )
        return data

    def to_rules(self) -> ScoringRules:
        """The rules the pure core scores with; a weight of 1 is the same as none."""
        return ScoringRules(
            **{name: getattr(self.points, name) for name in POINT_RULES},
            satisfaction={level: self.satisfaction[level] for level in SATISFACTION_LEVELS},
            category_weights={
                category: weight
                for category, weight in sorted(self.category_weights.items())
                if weight != 1
            },
        )


def rules_to_document(rules: ScoringRules) -> dict[str, Any]:
    """The scoring.yaml document of ``rules`` (every category weight listed)."""
    return {
        "points": {name: s.normalise_points(getattr(rules, name)) for name in POINT_RULES},
        "satisfaction": {
            level: s.normalise_points(rules.satisfaction.get(level, 0))
            for level in SATISFACTION_LEVELS
        },
        "category_weights": {category: rules.weight(category) for category in CATEGORIES},
    }


def rules_from_document(document: Mapping[str, Any], file: str = "scoring.yaml") -> ScoringRules:
    """Validate a scoring.yaml document (for example one stored as JSON)."""
    data = dict(document)
    satisfaction = data.get("satisfaction")
    if isinstance(satisfaction, Mapping):
        # JSON turns integer keys into text: take them back.
        data["satisfaction"] = {
            int(key) if isinstance(key, str) and key.isdigit() else key: value
            for key, value in satisfaction.items()
        }
    try:
        return ScoringConfig.model_validate(data).to_rules()
    except ValidationError as error:
        raise config_error_from_validation(file, ScoringConfig, error) from None


def load_scoring_file(path: Path) -> ScoringRules:
    """Read and validate one scoring.yaml; ConfigError on the first problem."""
    return load_yaml_model(path, ScoringConfig).to_rules()


def parse_scoring_text(text: str, file: str = "scoring.yaml") -> ScoringRules:
    """Validate scoring rules given as YAML text (an upload or a paste).

    Errors name ``file`` as if the text had been read from it.
    """
    with tempfile.TemporaryDirectory(prefix="complaintops-scoring-") as folder:
        path = Path(folder) / "scoring.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            return load_scoring_file(path)
        except ConfigError as error:
            raise ConfigError(file, error.key, error.message) from None


def load_scoring_rules(settings: Settings) -> ScoringRules:
    """The scoring rules of the installation: ``rules_dir/scoring.yaml`` or the shipped default."""
    return load_scoring_file(resolve_rule_file(settings, SCORING_FILE))


__all__ = [
    "CATEGORIES",
    "POINT_RULES",
    "SATISFACTION_LEVELS",
    "SCORING_FILE",
    "RulePoints",
    "ScoringConfig",
    "load_scoring_file",
    "load_scoring_rules",
    "parse_scoring_text",
    "rules_from_document",
    "rules_to_document",
]
