"""Charts of the analytics page (pure builders)."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from dashboard.figures.desk_style import MUTED, PALETTE, TARGET, Translate, base_layout
from dashboard.queries.analytics import UNKNOWN, BreakdownRow, WeeklyTrend

NOT_YET_KNOWN = frozenset({"outcome", "resolution", "satisfaction"})
"""Attributes that a case gets later (a case without one has none yet)."""


def value_label(dimension: str, value: str, tr: Translate) -> str:
    """The label of one value of a dimension, e.g. channel 'phone' -> 电话."""
    if value == UNKNOWN:
        return tr("analytics.none_yet" if dimension in NOT_YET_KNOWN else "analytics.unknown")
    if dimension == "satisfaction":
        return f"{value} ★"
    return tr(f"{dimension}.{value}")


def breakdown_figure(rows: Sequence[BreakdownRow], dimension: str, tr: Translate) -> go.Figure:
    """Cases per value as horizontal bars (largest categories in the contract's order),
    each labelled with its share."""
    labels = [value_label(dimension, r.value, tr) for r in rows]
    colours = [
        MUTED if r.value == UNKNOWN else PALETTE[i % len(PALETTE)] for i, r in enumerate(rows)
    ]
    figure = go.Figure()
    figure.add_bar(
        x=[r.cases for r in rows],
        y=labels,
        orientation="h",
        marker_color=colours,
        text=[f"{r.cases:,d} · {r.share:.0%}" for r in rows],
        textposition="outside",
        cliponaxis=False,
        customdata=[[r.satisfaction if r.satisfaction is not None else "—"] for r in rows],
        hovertemplate=(
            f"%{{y}}: %{{x:,d}}<br>{tr('analytics.satisfaction')}: %{{customdata[0]}}<extra></extra>"
        ),
    )
    top = max([r.cases for r in rows] + [1])
    figure.update_xaxes(title_text=tr("analytics.cases"), range=[0, top * 1.3])
    figure.update_yaxes(autorange="reversed", type="category")
    height = max(200, 70 + 30 * len(rows))
    base_layout(figure, height=height, legend=False)
    figure.update_layout(margin={"l": 110})
    return figure


def weekly_trend_figure(trend: WeeklyTrend, tr: Translate) -> go.Figure:
    """Cases opened per ISO week, stacked by the dimension's values, and the mean
    satisfaction of the week's rated cases as a line on the right axis."""
    figure = go.Figure()
    for i, value in enumerate(trend.values):
        figure.add_bar(
            x=trend.weeks,
            y=[trend.counts[value][w] for w in trend.weeks],
            name=value_label(trend.dimension, value, tr),
            marker_color=MUTED if value == UNKNOWN else PALETTE[i % len(PALETTE)],
            hovertemplate="%{fullData.name}: %{y:,d}<extra></extra>",
        )
    figure.add_scatter(
        x=trend.weeks,
        y=[trend.satisfaction[w] for w in trend.weeks],
        name=tr("analytics.satisfaction"),
        yaxis="y2",
        mode="lines+markers",
        connectgaps=False,
        line={"color": TARGET, "width": 2},
        hovertemplate=f"{tr('analytics.satisfaction')}: %{{y:.2f}}<extra></extra>",
    )
    figure.update_layout(
        barmode="stack",
        hovermode="x unified",
        yaxis={"title": {"text": tr("analytics.cases")}, "rangemode": "tozero"},
        yaxis2={
            "title": {"text": tr("analytics.satisfaction")},
            "overlaying": "y",
            "side": "right",
            "range": [0, 5.5],
            "dtick": 1,
            "showgrid": False,
        },
    )
    figure.update_xaxes(type="category", title_text=tr("analytics.iso_week"))
    base_layout(figure, height=380)
    figure.update_layout(legend={"traceorder": "normal"})
    return figure
