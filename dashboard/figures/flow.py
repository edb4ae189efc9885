"""Charts of the flow page (pure builders)."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

import plotly.graph_objects as go

from dashboard.figures.desk_style import (
    HIGHLIGHT,
    MUTED,
    SEQUENTIAL,
    STAGE_COLOURS,
    TARGET,
    Translate,
    base_layout,
    local_naive,
    stage_label,
)
from dashboard.queries.cases import StageVisit
from dashboard.queries.flow import BIN_KEYS, Bottleneck, DailyFlow, FlowBucket, StageTime, WipPoint
from events.contract import STAGES


def flow_figure(
    buckets: Sequence[FlowBucket | DailyFlow], tr: Translate, tz: ZoneInfo
) -> go.Figure:
    """Entries per stage above the axis, exits below it (negative), per hour or day.

    One colour per stage; the exits are the same colour, lighter.
    """
    x = [
        local_naive(b.start, tz) if isinstance(b, FlowBucket) else b.day.isoformat()
        for b in buckets
    ]
    daily = bool(buckets) and isinstance(buckets[0], DailyFlow)
    figure = go.Figure()
    for stage in STAGES:
        name = stage_label(stage, tr)
        colour = STAGE_COLOURS[stage]
        figure.add_bar(
            x=x,
            y=[b.entered[stage] for b in buckets],
            name=name,
            legendgroup=stage,
            marker_color=colour,
            hovertemplate=f"{name} {tr('flow.entered')}: %{{y:,d}}<extra></extra>",
        )
        figure.add_bar(
            x=x,
            y=[-b.exited[stage] for b in buckets],
            name=name,
            legendgroup=stage,
            showlegend=False,
            marker={"color": colour, "opacity": 0.45},
            customdata=[b.exited[stage] for b in buckets],
            hovertemplate=f"{name} {tr('flow.exited')}: %{{customdata:,d}}<extra></extra>",
        )
    figure.update_layout(barmode="relative", bargap=0.15, hovermode="x unified")
    figure.update_yaxes(title_text=f"↑ {tr('flow.entered')}   ↓ {tr('flow.exited')}", zeroline=True)
    figure.update_xaxes(tickformat=tr("flow.tick_day") if daily else tr("flow.tick_hour"))
    return base_layout(figure)


def cumulative_flow_figure(points: Sequence[WipPoint], tr: Translate, tz: ZoneInfo) -> go.Figure:
    """Stacked areas of open cases per stage over time (the cumulative flow diagram).

    The last stage is at the bottom, the first on top, as work flows downwards.
    """
    x = [local_naive(p.at, tz) for p in points]
    figure = go.Figure()
    for stage in reversed(STAGES):
        name = stage_label(stage, tr)
        figure.add_scatter(
            x=x,
            y=[p.wip[stage] for p in points],
            name=name,
            mode="lines",
            stackgroup="wip",
            line={"width": 0.5, "color": STAGE_COLOURS[stage]},
            fillcolor=STAGE_COLOURS[stage],
            hovertemplate=f"{name}: %{{y:,d}}<extra></extra>",
        )
    figure.update_layout(hovermode="x unified", legend={"traceorder": "reversed"})
    figure.update_yaxes(title_text=tr("flow.open_cases"), rangemode="tozero")
    figure.update_xaxes(tickformat=tr("flow.tick_hour"))
    return base_layout(figure)


def stage_time_figure(
    times: Sequence[StageTime], bottleneck: Bottleneck | None, tr: Translate
) -> go.Figure:
    """Mean hours in each stage as bars, the stage's target as a marker; the
    bottleneck's bar in red."""
    names = [stage_label(t.stage, tr) for t in times]
    colours = [
        HIGHLIGHT
        if bottleneck is not None and t.stage == bottleneck.stage
        else STAGE_COLOURS[t.stage]
        for t in times
    ]
    figure = go.Figure()
    figure.add_bar(
        x=names,
        y=[t.mean_hours if t.mean_hours is not None else 0 for t in times],
        name=tr("flow.mean_hours"),
        marker_color=colours,
        customdata=[[t.exits, t.target_hours] for t in times],
        text=[f"{t.mean_hours:,.1f}" if t.mean_hours is not None else "—" for t in times],
        textposition="outside",
        hovertemplate=(
            f"%{{x}}<br>{tr('flow.mean_hours')}: %{{y:,.1f}}"
            f"<br>{tr('flow.target_hours')}: %{{customdata[1]:,.0f}}"
            f"<br>{tr('flow.exits')}: %{{customdata[0]:,d}}<extra></extra>"
        ),
    )
    figure.add_scatter(
        x=names,
        y=[t.target_hours for t in times],
        name=tr("flow.target_hours"),
        mode="markers",
        marker={
            "symbol": "line-ew-open",
            "size": 34,
            "color": TARGET,
            "line": {"width": 3, "color": TARGET},
        },
        hovertemplate=f"{tr('flow.target_hours')}: %{{y:,.0f}}<extra></extra>",
    )
    figure.update_yaxes(title_text=tr("flow.hours"), rangemode="tozero")
    return base_layout(figure, height=320)


def bin_label(key: str, tr: Translate) -> str:
    index = BIN_KEYS.index(key)
    if key == "hmax":
        return f"≥{BIN_KEYS[index - 1][1:]}{tr('desk.unit_h')}"
    low = "0" if index == 0 else BIN_KEYS[index - 1][1:]
    return f"{low}–{key[1:]}{tr('desk.unit_h')}"


def stage_time_distribution_figure(times: Sequence[StageTime], tr: Translate) -> go.Figure:
    """Heat map: for each stage, the share of its exits in each time bin (text: the count)."""
    rows = [stage_label(t.stage, tr) for t in times]
    columns = [bin_label(key, tr) for key in BIN_KEYS]
    shares = []
    text = []
    for t in times:
        total = sum(t.bins.values())
        shares.append([t.bins[k] / total if total else 0 for k in BIN_KEYS])
        text.append([f"{t.bins[k]:,d}" if t.bins[k] else "" for k in BIN_KEYS])
    figure = go.Figure(
        go.Heatmap(
            z=shares,
            x=columns,
            y=rows,
            text=text,
            texttemplate="%{text}",
            colorscale=SEQUENTIAL,
            textfont={"color": TARGET},
            zmin=0,
            zmax=1,
            showscale=False,
            xgap=2,
            ygap=2,
            hovertemplate=f"%{{y}} %{{x}}<br>{tr('flow.share_of_exits')}: %{{z:.0%}}<extra></extra>",
        )
    )
    figure.update_yaxes(autorange="reversed")
    figure.update_xaxes(title_text=tr("flow.time_in_stage"), color=MUTED)
    return base_layout(figure, height=300, legend=False)


def case_timeline_figure(
    visits: Sequence[StageVisit], now: float, tr: Translate, tz: ZoneInfo
) -> go.Figure:
    """One case's stays in the six stages as a Gantt chart: a bar per visit on
    its stage's row (process order, top to bottom); a visit still going on
    ends at ``now`` and is drawn lighter."""
    starts = [local_naive(v.start, tz) for v in visits]
    durations_ms = [((v.end if v.end is not None else now) - v.start) * 1000 for v in visits]
    figure = go.Figure()
    figure.add_bar(
        base=starts,
        x=durations_ms,
        y=[stage_label(v.stage, tr) for v in visits],
        orientation="h",
        marker={
            "color": [STAGE_COLOURS[v.stage] for v in visits],
            "opacity": [1.0 if v.end is not None else 0.55 for v in visits],
        },
        customdata=[[(d / 3_600_000)] for d in durations_ms],
        hovertemplate=f"%{{y}}: %{{customdata[0]:,.1f}} {tr('desk.unit_h')}<extra></extra>",
    )
    figure.update_xaxes(type="date", tickformat=tr("flow.tick_hour"))
    figure.update_yaxes(
        type="category",
        categoryorder="array",
        categoryarray=[stage_label(s, tr) for s in STAGES],
        autorange="reversed",
    )
    return base_layout(figure, height=280, legend=False)
