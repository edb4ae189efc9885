"""Publishing scoring rule sets: who, when, and from which date they apply.

A published rule set takes effect at 00:00 (business time zone) of its
effective-from date, which must be after today (and at least
``RELOAD_MARGIN`` away): events already scored keep their points, so past
periods are never rewritten, and running consumers reload the rule book
before it applies. Published sets are
never edited; a correction is a new publication (at equal dates the last
published wins).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.orm import Session

from config.scoring import rules_from_document, rules_to_document
from events.scoring import ScoringRules
from events.timeutil import local_date
from incentives.models import RULESET_TABLE, ScoringRuleSet
from incentives.rulebook import BASE_RULESET, PublishedRules, RuleBook

MAX_NAME_LENGTH: Final = 64
NAME_PREFIX: Final = "rules-"
RELOAD_MARGIN: Final = timedelta(minutes=15)
"""How long before it takes effect a rule set must be published at the latest.
Consumers check ``rulebook_version`` more often than this."""


class PublishError(ValueError):
    """A rule set that cannot be published (the message says why)."""


class RuleSetsUnavailable(RuntimeError):
    """The database has no scoring_rulesets table (not migrated)."""


@dataclass(frozen=True, slots=True)
class PublishedRuleSet:
    id: int
    name: str
    effective_from: date
    rules: ScoringRules
    published_by: str
    published_at: datetime
    note: str | None
    source_yaml: str

    def as_published_rules(self) -> PublishedRules:
        return PublishedRules(self.name, self.effective_from, self.rules)


def first_allowed_date(now: datetime, tz: ZoneInfo) -> date:
    """The earliest effective-from date a rule set published at ``now`` may have:
    tomorrow, or the day after when fewer than ``RELOAD_MARGIN`` remain until
    midnight (running consumers need that long to load the new rule book)."""
    return local_date(now.timestamp() + RELOAD_MARGIN.total_seconds(), tz) + timedelta(days=1)


def _valid_name(name: str) -> bool:
    return 1 <= len(name) <= MAX_NAME_LENGTH and all(
        ch.isascii() and (ch.isalnum() or ch in "_-.") for ch in name
    )


def _free_name(session: Session, wanted: str) -> str:
    taken = set(
        session.scalars(select(ScoringRuleSet.name).where(ScoringRuleSet.name.startswith(wanted)))
    )
    if wanted not in taken:
        return wanted
    number = 2
    while f"{wanted}-{number}" in taken:
        number += 1
    return f"{wanted}-{number}"


def publish(
    engine: Engine,
    rules: ScoringRules,
    source_yaml: str,
    effective_from: date,
    published_by: str,
    tz: ZoneInfo,
    *,
    now: datetime | None = None,
    name: str | None = None,
    note: str | None = None,
) -> PublishedRuleSet:
    """Record a rule set in force from ``effective_from``; PublishError when not allowed."""
    now = now or datetime.now(UTC)
    earliest = first_allowed_date(now, tz)
    if effective_from < earliest:
        raise PublishError(
            f"the effective-from date must be {earliest.isoformat()} or later: "
            f"points already given are never rescored, got {effective_from.isoformat()}"
        )
    who = published_by.strip()
    if not who or len(who) > MAX_NAME_LENGTH:
        raise PublishError(
            f"the publisher must be a user name of 1 to {MAX_NAME_LENGTH} characters"
        )
    if name is not None and (not _valid_name(name) or name == BASE_RULESET):
        raise PublishError(
            f"a rule set name is 1 to {MAX_NAME_LENGTH} characters of A-Z a-z 0-9 _ - . "
            f"and not '{BASE_RULESET}', got {name!r}"
        )
    _require_table(engine)
    document = rules_to_document(rules)
    with Session(engine) as session, session.begin():
        if name is not None:
            exists = session.scalar(select(ScoringRuleSet.id).where(ScoringRuleSet.name == name))
            if exists is not None:
                raise PublishError(f"a rule set named '{name}' is already published")
            chosen = name
        else:
            chosen = _free_name(session, f"{NAME_PREFIX}{effective_from.isoformat()}")
        row = ScoringRuleSet(
            name=chosen,
            effective_from=effective_from,
            rules_json=orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS).decode(),
            source_yaml=source_yaml,
            published_by=who,
            published_at=now,
            note=note,
        )
        session.add(row)
        session.flush()
        return _published(row)


def _published(row: ScoringRuleSet) -> PublishedRuleSet:
    document = orjson.loads(row.rules_json)
    return PublishedRuleSet(
        id=row.id,
        name=row.name,
        effective_from=row.effective_from,
        rules=rules_from_document(document, file=f"scoring_rulesets[{row.name}]"),
        published_by=row.published_by,
        published_at=row.published_at,
        note=row.note,
        source_yaml=row.source_yaml,
    )


def _require_table(engine: Engine) -> None:
    if not inspect(engine).has_table(RULESET_TABLE):
        raise RuleSetsUnavailable(
            f"the database has no {RULESET_TABLE} table: run 'complaintops db upgrade'"
        )


def list_published(engine: Engine) -> list[PublishedRuleSet]:
    """Every published rule set, in the order they take effect (then publication order)."""
    _require_table(engine)
    query = select(ScoringRuleSet).order_by(ScoringRuleSet.effective_from, ScoringRuleSet.id)
    with Session(engine) as session:
        return [_published(row) for row in session.scalars(query)]


def rulebook_version(engine: Engine) -> int:
    """A number that changes whenever a rule set is published (0: none yet).

    A running consumer can poll it cheaply and reload its rule book when it moves.
    """
    _require_table(engine)
    with Session(engine) as session:
        return int(session.scalar(select(func.coalesce(func.max(ScoringRuleSet.id), 0))) or 0)


def load_rulebook(
    engine: Engine, base: ScoringRules, tz: ZoneInfo, *, missing_ok: bool = False
) -> RuleBook:
    """The base rules (scoring.yaml) followed by every published rule set.

    ``missing_ok``: a database without the table gives the base rules alone
    instead of raising RuleSetsUnavailable.
    """
    try:
        published = list_published(engine)
    except RuleSetsUnavailable:
        if not missing_ok:
            raise
        published = []
    return RuleBook(base, [item.as_published_rules() for item in published], tz)
