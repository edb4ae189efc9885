"""The YAML rule files: teams, clocks and the wall display, validated on load.

Each file is read from ``settings.rules_dir/<name>.yaml`` when that file exists,
else from the shipped ``config/defaults/<name>.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from config.errors import ENVIRONMENT, ConfigError, FieldProblem
from config.settings import Settings, env_var
from config.yaml_loader import load_yaml_model
from events.contract import STAGES

DEFAULTS_DIR: Final = Path(__file__).with_name("defaults")
"""Folder of the shipped default rule files."""

STAGE_IDS: Final = STAGES
"""The six stages of the handling process, in process order."""

PANEL_NAMES: Final = ("tiles", "flow", "throughput", "workload", "leaderboard", "alerts")
"""Panels a wall screen can show."""

OVERVIEW_FIELDS: Final = (
    "open_cases",
    *(f"wip.{stage}" for stage in STAGE_IDS),
    "follow_ups_overdue",
    "decision_at_risk",
    "decision_breached",
    "events.duplicates",
    "events.invalid",
    "events.gaps",
)
"""Overview figures (``GET /api/v1/overview``) a wall threshold can colour."""

Stage = Literal["intake", "investigation", "resolution", "feedback", "follow_up", "review"]
PanelName = Literal["tiles", "flow", "throughput", "workload", "leaderboard", "alerts"]


def _identifier(value: str) -> str:
    if not 1 <= len(value) <= 64 or not all(
        ch.isascii() and (ch.isalnum() or ch in "_-") for ch in value
    ):
        raise ValueError(f"must be 1 to 64 characters of A-Z a-z 0-9 _ -, got {value!r}")
    return value


def is_email_address(value: str) -> bool:
    """Whether ``value`` looks like a plain address: local@domain.tld, no spaces."""
    local, at, domain = value.partition("@")
    return bool(at and local and "." in domain and not any(ch.isspace() for ch in value))


NON_ASCII_ADDRESS: Final = "must be an email address of ASCII characters only, got {!r}"
"""Alert email goes out without SMTPUTF8: a non-ASCII address could never be delivered."""


def _email(value: str) -> str:
    if not is_email_address(value):
        raise ValueError(f"must be an email address, got {value!r}")
    if not value.isascii():
        raise ValueError(NON_ASCII_ADDRESS.format(value))
    return value


Identifier = Annotated[str, Field(strict=True), AfterValidator(_identifier)]
NonEmptyText = Annotated[str, Field(strict=True, min_length=1)]
EmailAddress = Annotated[str, Field(strict=True), AfterValidator(_email)]
WholeNumber = Annotated[int, Field(strict=True, ge=0)]
PositiveCount = Annotated[int, Field(strict=True, ge=1)]
PositiveNumber = Annotated[float, Field(strict=True, gt=0)]
NonNegativeNumber = Annotated[float, Field(strict=True, ge=0)]


class RuleModel(BaseModel):
    """Base of every rule-file model: frozen, and an unknown key is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalizedText(RuleModel):
    """A label in Chinese and English."""

    zh: NonEmptyText
    en: NonEmptyText

    def in_language(self, language: str) -> str:
        """The label in ``language`` ('zh…' gives Chinese, anything else English)."""
        return self.zh if language.lower().startswith("zh") else self.en


# --- teams.yaml -------------------------------------------------------------------------


class Handler(RuleModel):
    """A complaint handler (处理人) and how many open cases they can carry."""

    id: Identifier
    name: NonEmptyText | None = Field(default=None, description="Display name, e.g. 张伟.")
    capacity: PositiveCount = Field(description="Open cases the handler can carry at once.")


class Team(RuleModel):
    """A complaint-handling team."""

    id: Identifier
    name: LocalizedText
    manager_email: EmailAddress | None = None
    handlers: tuple[Handler, ...] = Field(min_length=1)

    def handler_ids(self) -> list[str]:
        return [handler.id for handler in self.handlers]


class TeamsConfig(RuleModel):
    """teams.yaml: the teams and their handlers."""

    teams: tuple[Team, ...] = Field(min_length=1)

    _teams_by_id: dict[str, Team] = PrivateAttr(default_factory=dict)
    _handlers_by_id: dict[str, tuple[Handler, Team]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _unique_ids(self) -> TeamsConfig:
        team_index: dict[str, int] = {}
        handler_team: dict[str, str] = {}
        for team_number, team in enumerate(self.teams):
            if team.id in team_index:
                raise FieldProblem(("teams", team_number, "id"), f"duplicate team id '{team.id}'")
            team_index[team.id] = team_number
            for handler_number, handler in enumerate(team.handlers):
                if handler.id in handler_team:
                    raise FieldProblem(
                        ("teams", team_number, "handlers", handler_number, "id"),
                        f"handler '{handler.id}' is already in team '{handler_team[handler.id]}'",
                    )
                handler_team[handler.id] = team.id
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._teams_by_id = {team.id: team for team in self.teams}
        self._handlers_by_id = {
            handler.id: (handler, team) for team in self.teams for handler in team.handlers
        }

    def team_ids(self) -> list[str]:
        """Team ids in file order."""
        return [team.id for team in self.teams]

    def team(self, team_id: str) -> Team | None:
        """The team with this id, or None."""
        return self._teams_by_id.get(team_id)

    def handler(self, handler_id: str) -> Handler | None:
        """The handler with this id, or None."""
        found = self._handlers_by_id.get(handler_id)
        return found[0] if found else None

    def capacity_of(self, handler_id: str) -> int | None:
        """The handler's capacity, or None for a handler the configuration does not list."""
        found = self._handlers_by_id.get(handler_id)
        return found[0].capacity if found else None

    def team_of(self, handler_id: str) -> str | None:
        """The id of the handler's team, or None for a handler the configuration does not list."""
        found = self._handlers_by_id.get(handler_id)
        return found[1].id if found else None


# --- clocks.yaml ------------------------------------------------------------------------


class DecisionClock(RuleModel):
    """The regulatory decision clock."""

    warning_days: WholeNumber = Field(
        description="A case is at risk when fewer than this many days are left before its deadline."
    )


class StageTargets(RuleModel):
    """Target hours a case should spend in each stage; all six stages are required."""

    intake: PositiveNumber
    investigation: PositiveNumber
    resolution: PositiveNumber
    feedback: PositiveNumber
    follow_up: PositiveNumber
    review: PositiveNumber

    @model_validator(mode="before")
    @classmethod
    def _known_stages(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if key not in STAGE_IDS:
                    raise FieldProblem(
                        (str(key),), f"unknown stage; the stages are {', '.join(STAGE_IDS)}"
                    )
        return data

    def hours(self, stage: str) -> float:
        """Target hours for ``stage``; KeyError for an unknown stage."""
        if stage not in STAGE_IDS:
            raise KeyError(stage)
        value: float = getattr(self, stage)
        return value

    def as_dict(self) -> dict[str, float]:
        """Target hours by stage id, in process order."""
        return {stage: self.hours(stage) for stage in STAGE_IDS}


class FollowUpClock(RuleModel):
    """Return visits (回访) after the decision."""

    default_due_days: PositiveCount = Field(
        description="Days after scheduling when a return visit without its own due time is due."
    )


class ClocksConfig(RuleModel):
    """clocks.yaml: the decision clock's warning window, stage targets and follow-up defaults."""

    decision: DecisionClock
    stage_targets_hours: StageTargets
    follow_up: FollowUpClock


# --- wall.yaml --------------------------------------------------------------------------


class Screen(RuleModel):
    """One screen of the rotating wall display."""

    id: Identifier
    title: LocalizedText
    seconds: Annotated[int, Field(strict=True, ge=5)] = Field(
        description="How long the screen stays up before the next one."
    )
    panels: tuple[PanelName, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _panels_once(self) -> Screen:
        seen: set[str] = set()
        for number, panel in enumerate(self.panels):
            if panel in seen:
                raise FieldProblem(("panels", number), f"panel '{panel}' is already on this screen")
            seen.add(panel)
        return self


class Staleness(RuleModel):
    """When the wall shows its data as stale: seconds since the metrics last moved."""

    amber_seconds: PositiveCount
    red_seconds: PositiveCount

    @model_validator(mode="after")
    def _red_after_amber(self) -> Staleness:
        if self.red_seconds < self.amber_seconds:
            raise FieldProblem(
                ("red_seconds",),
                f"must be >= amber_seconds ({self.amber_seconds}), got {self.red_seconds}",
            )
        return self


ThresholdLevel = Literal["ok", "amber", "red"]


class Threshold(RuleModel):
    """Colour levels for one overview figure: amber from ``amber``, red from ``red``."""

    amber: NonNegativeNumber
    red: NonNegativeNumber

    @model_validator(mode="after")
    def _red_above_amber(self) -> Threshold:
        if self.red < self.amber:
            raise FieldProblem(
                ("red",), f"must be >= amber ({_number(self.amber)}), got {_number(self.red)}"
            )
        return self

    def level(self, value: float) -> ThresholdLevel:
        """The colour of ``value``: 'red' at or above red, 'amber' at or above amber, else 'ok'."""
        if value >= self.red:
            return "red"
        if value >= self.amber:
            return "amber"
        return "ok"


class WallConfig(RuleModel):
    """wall.yaml: the screens of the wall display, refresh, staleness and colour thresholds."""

    screens: tuple[Screen, ...] = Field(min_length=1)
    refresh_seconds: PositiveCount
    stale: Staleness
    thresholds: dict[str, Threshold] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_names(self) -> WallConfig:
        seen: set[str] = set()
        for number, screen in enumerate(self.screens):
            if screen.id in seen:
                raise FieldProblem(("screens", number, "id"), f"duplicate screen id '{screen.id}'")
            seen.add(screen.id)
        for field in self.thresholds:
            if field not in OVERVIEW_FIELDS:
                raise FieldProblem(
                    ("thresholds", field),
                    f"unknown overview field; expected one of {', '.join(OVERVIEW_FIELDS)}",
                )
        return self

    def level(self, field: str, value: float) -> ThresholdLevel:
        """The colour of an overview figure; 'ok' when it has no threshold."""
        threshold = self.thresholds.get(field)
        return threshold.level(value) if threshold else "ok"


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


# --- loading ----------------------------------------------------------------------------

RULE_FILES: Final[Mapping[str, type[RuleModel]]] = {
    "teams": TeamsConfig,
    "clocks": ClocksConfig,
    "wall": WallConfig,
}
"""The rule files this module loads, by name (``<name>.yaml``)."""


@dataclass(frozen=True)
class Rules:
    """All loaded rule files, and where each one came from."""

    teams: TeamsConfig
    clocks: ClocksConfig
    wall: WallConfig
    sources: Mapping[str, Path]


def resolve_rule_file(settings: Settings, name: str) -> Path:
    """The file to read for rule file ``name``: the override in rules_dir, else the default."""
    file_name = f"{name}.yaml"
    if settings.rules_dir is not None:
        if not settings.rules_dir.is_dir():
            raise ConfigError(
                ENVIRONMENT, env_var("rules_dir"), f"not a folder: {settings.rules_dir}"
            )
        override = settings.rules_dir / file_name
        if override.is_file():
            return override
    return DEFAULTS_DIR / file_name


def is_shipped_default(path: Path) -> bool:
    """Whether ``path`` is one of the shipped default rule files."""
    return path.parent == DEFAULTS_DIR


def load_rules(settings: Settings) -> Rules:
    """Load and validate teams.yaml, clocks.yaml and wall.yaml; raise ConfigError on a problem."""
    sources = {name: resolve_rule_file(settings, name) for name in RULE_FILES}
    return Rules(
        teams=load_yaml_model(sources["teams"], TeamsConfig),
        clocks=load_yaml_model(sources["clocks"], ClocksConfig),
        wall=load_yaml_model(sources["wall"], WallConfig),
        sources=sources,
    )


def check_config(settings: Settings) -> list[str]:
    """Load everything and describe what was loaded from where; raise ConfigError on a problem."""
    settings.require_production_secrets()
    rules = load_rules(settings)
    teams, clocks, wall = rules.teams, rules.clocks, rules.wall
    handler_count = sum(len(team.handlers) for team in teams.teams)
    summaries = {
        "teams": f"{_count(len(teams.teams), 'team')}, {_count(handler_count, 'handler')}",
        "clocks": (
            f"decision warning {_count(clocks.decision.warning_days, 'day')}, "
            f"follow-ups due after {_count(clocks.follow_up.default_due_days, 'day')}"
        ),
        "wall": (
            f"{_count(len(wall.screens), 'screen')}, {_count(len(wall.thresholds), 'threshold')}"
        ),
    }
    lines = [
        f"settings: mode {settings.mode}, time zone {settings.timezone}, "
        f"data dir {settings.data_dir}"
    ]
    for name, path in rules.sources.items():
        origin = "shipped default" if is_shipped_default(path) else "override"
        lines.append(f"{name}: {summaries[name]} ({origin}: {path})")
    return lines


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
