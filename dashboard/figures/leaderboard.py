"""Charts of the leaderboard page (pure builders).

Each takes data and ``tr`` (catalog key → label in the page's language) and
returns a Plotly figure in the desk pages' dark theme.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import plotly.graph_objects as go

from dashboard.figures.desk_style import (
    BAND_COLOURS,
    MUTED,
    PALETTE,
    Translate,
    base_layout,
)
from events.periods import Period
from events.scoring import RULE_NAMES
from incentives.ledger import FairRow
from incentives.ranking import Number
from incentives.whatif import WhatIfRow

ROW_HEIGHT: Final = 26
MIN_HEIGHT: Final = 240
RULE_COLOURS: Final[dict[str, str]] = {
    rule: PALETTE[i % len(PALETTE)] for i, rule in enumerate(RULE_NAMES)
}
UP: Final = BAND_COLOURS["ok"]
DOWN: Final = BAND_COLOURS["red"]


def _height(rows: int) -> int:
    return max(MIN_HEIGHT, 90 + ROW_HEIGHT * rows)


def _label(names: Mapping[str, str] | None, member: str) -> str:
    return (names or {}).get(member, member)


def trend_figure(
    periods: Sequence[Period],
    series: Mapping[str, Sequence[float | None]],
    tr: Translate,
    names: Mapping[str, str] | None = None,
) -> go.Figure:
    """Points per period, one line per handler or team; gaps where absent."""
    keys = [period.key for period in periods]
    figure = go.Figure()
    for number, (member, values) in enumerate(series.items()):
        figure.add_trace(
            go.Scatter(
                x=keys,
                y=list(values),
                name=_label(names, member),
                mode="lines+markers",
                connectgaps=False,
                line={"color": PALETTE[number % len(PALETTE)], "width": 2},
                hovertemplate=f"%{{x}} · %{{fullData.name}}<br>{tr('leaderboard.points')}: "
                "%{y:,.2~f}<extra></extra>",
            )
        )
    figure.update_xaxes(type="category")
    return base_layout(figure, height=320)


def breakdown_figure(
    breakdown: Mapping[str, Mapping[str, Number]],
    tr: Translate,
    names: Mapping[str, str] | None = None,
) -> go.Figure:
    """Points by rule per handler or team: stacked horizontal bars (losses to the left),
    best total on top."""
    members = sorted(breakdown, key=lambda m: (-sum(breakdown[m].values()), m))
    labels = [_label(names, member) for member in members]
    figure = go.Figure()
    for rule in RULE_NAMES:
        values = [breakdown[member].get(rule, 0) for member in members]
        if not any(values):
            continue
        figure.add_trace(
            go.Bar(
                x=values,
                y=labels,
                name=tr(f"leaderboard.rule.{rule}"),
                orientation="h",
                marker={"color": RULE_COLOURS[rule]},
                hovertemplate=f"%{{y}} · {tr(f'leaderboard.rule.{rule}')}: %{{x:,.2~f}}"
                "<extra></extra>",
            )
        )
    figure.update_layout(barmode="relative")
    figure.update_yaxes(autorange="reversed", type="category")
    return base_layout(figure, height=_height(len(members)))


def fair_figure(
    rows: Sequence[FairRow], tr: Translate, names: Mapping[str, str] | None = None
) -> go.Figure:
    """Points above (green) or below (red) what each handler's case mix predicts."""
    labels = [_label(names, row.handler_id) for row in rows]
    values = [row.above_expected for row in rows]
    figure = go.Figure(
        go.Bar(
            x=values,
            y=labels,
            orientation="h",
            marker={"color": [UP if value >= 0 else DOWN for value in values]},
            customdata=[[row.points, row.expected, row.cases] for row in rows],
            hovertemplate=(
                f"%{{y}}<br>{tr('leaderboard.points')}: %{{customdata[0]:,.2~f}}"
                f"<br>{tr('leaderboard.expected')}: %{{customdata[1]:,.2~f}}"
                f"<br>{tr('leaderboard.cases')}: %{{customdata[2]:,d}}<extra></extra>"
            ),
        )
    )
    figure.update_yaxes(autorange="reversed", type="category")
    return base_layout(figure, height=_height(len(rows)), legend=False)


def whatif_figure(
    rows: Sequence[WhatIfRow], tr: Translate, names: Mapping[str, str] | None = None
) -> go.Figure:
    """Points now (grey) and under the candidate rules (coloured by direction),
    joined per handler or team."""
    labels = [_label(names, row.id) for row in rows]
    figure = go.Figure()
    for row, label in zip(rows, labels, strict=True):
        figure.add_trace(
            go.Scatter(
                x=[row.old_points, row.new_points],
                y=[label, label],
                mode="lines",
                line={"color": MUTED, "width": 2},
                showlegend=False,
                hoverinfo="skip",
            )
        )
    figure.add_trace(
        go.Scatter(
            x=[row.old_points for row in rows],
            y=labels,
            mode="markers",
            name=tr("leaderboard.whatif_now"),
            marker={"color": MUTED, "size": 10},
        )
    )
    figure.add_trace(
        go.Scatter(
            x=[row.new_points for row in rows],
            y=labels,
            mode="markers",
            name=tr("leaderboard.whatif_new"),
            marker={
                "color": [UP if row.new_points >= row.old_points else DOWN for row in rows],
                "size": 12,
            },
        )
    )
    figure.update_yaxes(autorange="reversed", type="category")
    return base_layout(figure, height=_height(len(rows)))
