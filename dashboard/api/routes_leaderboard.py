"""GET /api/v1/leaderboard (api-v1.md) and the view the wall and the page share."""

from __future__ import annotations

import time
from datetime import date
from typing import Any, Final

from flask import Blueprint, current_app, jsonify

from complaintops.runtime import Runtime
from dashboard.api.params import choice_param, date_param, optional_id_param
from events.periods import PERIODS
from events.timeutil import local_date
from metrics.leaderboard import SCOPES, leaderboard

DEFAULT_PERIOD: Final = "week"
DEFAULT_SCOPE: Final = "handler"


def today(runtime: Runtime, now: float | None = None) -> date:
    """Today's date in the business time zone."""
    return local_date(time.time() if now is None else now, runtime.tz)


def leaderboard_view(
    runtime: Runtime,
    period: str = DEFAULT_PERIOD,
    scope: str = DEFAULT_SCOPE,
    at: date | None = None,
    team: str | None = None,
    *,
    limit: int | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The API's leaderboard answer for the period of kind ``period`` containing ``at``
    (default: today). ``team`` and ``limit`` are extensions (see metrics.leaderboard)."""
    day = at if at is not None else today(runtime, now)
    result = leaderboard(runtime.redis, period, day, scope, runtime.tz, team=team, limit=limit)
    return {
        "period": result.period.kind,
        "start": result.period.start.isoformat(),
        "end": result.period.end.isoformat(),
        "scope": result.scope,
        "rows": [row.as_dict() for row in result.rows],
        # Beyond the required fields:
        "key": result.period.key,
        "previous": {
            "start": result.previous.start.isoformat(),
            "end": result.previous.end.isoformat(),
            "key": result.previous.key,
        },
    }


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["complaintops"]
    return runtime


def register(bp: Blueprint) -> None:
    @bp.get("/leaderboard")
    def leaderboard_route() -> Any:
        runtime = _runtime()
        period = choice_param("period", DEFAULT_PERIOD, PERIODS)
        scope = choice_param("scope", DEFAULT_SCOPE, SCOPES)
        at = date_param("at", today(runtime))
        team = optional_id_param("team")
        return jsonify(leaderboard_view(runtime, period, scope, at, team))
