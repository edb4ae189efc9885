"""Charts of the workload page (pure builders)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from dashboard.figures.desk_style import (
    BAND_COLOURS,
    MUTED,
    SEQUENTIAL,
    TARGET,
    Translate,
    base_layout,
    stage_label,
)
from dashboard.queries.workload import AGE_BANDS, CapacityUse, Matrix, Pressure, pressure_band

ROW_HEIGHT = 26
MIN_HEIGHT = 220


def _height(rows: int) -> int:
    return max(MIN_HEIGHT, 90 + ROW_HEIGHT * rows)


def stage_heatmap(
    matrix: Matrix, tr: Translate, row_labels: Mapping[str, str] | None = None
) -> go.Figure:
    """Open cases per row (team or handler) and stage, the count written in each cell."""
    labels = [(row_labels or {}).get(row, row) for row in matrix.rows]
    columns = [stage_label(stage, tr) for stage in matrix.columns]
    figure = go.Figure(
        go.Heatmap(
            z=matrix.values,
            x=columns,
            y=labels,
            text=[[f"{v:,d}" if v else "" for v in row] for row in matrix.values],
            texttemplate="%{text}",
            colorscale=SEQUENTIAL,
            textfont={"color": TARGET},
            zmin=0,
            showscale=False,
            xgap=2,
            ygap=2,
            hovertemplate=f"%{{y}} · %{{x}}<br>{tr('workload.open_cases')}: %{{z:,d}}<extra></extra>",
        )
    )
    figure.update_yaxes(autorange="reversed", type="category")
    figure.update_xaxes(side="top")
    return base_layout(figure, height=_height(len(matrix.rows)), legend=False)


def capacity_figure(
    uses: Sequence[CapacityUse], tr: Translate, row_labels: Mapping[str, str] | None = None
) -> go.Figure:
    """Capacity use (open / capacity) per row as horizontal bars, 100 % marked.

    Rows without a capacity show no bar. Colours: green below 80 %, amber up
    to 100 %, red above.
    """
    labels = [(row_labels or {}).get(u.id, u.id) for u in uses]
    values = [u.use * 100 if u.use is not None else None for u in uses]
    colours = [_use_colour(u.use) for u in uses]
    figure = go.Figure()
    figure.add_bar(
        x=values,
        y=labels,
        orientation="h",
        marker_color=colours,
        customdata=[[u.open_cases, u.capacity if u.capacity is not None else "—"] for u in uses],
        text=[f"{v:.0f}%" if v is not None else "—" for v in values],
        textposition="outside",
        cliponaxis=False,
        hovertemplate=(
            f"%{{y}}<br>{tr('workload.open_cases')}: %{{customdata[0]:,d}}"
            f"<br>{tr('workload.capacity')}: %{{customdata[1]}}<extra></extra>"
        ),
    )
    figure.add_vline(x=100, line={"color": TARGET, "width": 1, "dash": "dot"})
    top = max([v for v in values if v is not None] + [100])
    figure.update_xaxes(
        title_text=tr("workload.capacity_use"), ticksuffix="%", range=[0, top * 1.15]
    )
    figure.update_yaxes(autorange="reversed", type="category")
    return base_layout(figure, height=_height(len(uses)), legend=False)


def _use_colour(use: float | None) -> str:
    if use is None:
        return MUTED
    if use > 1:
        return BAND_COLOURS["red"]
    if use >= 0.8:
        return BAND_COLOURS["amber"]
    return BAND_COLOURS["ok"]


def aging_figure(aging: Mapping[str, int], tr: Translate) -> go.Figure:
    """Open cases per age band (days since opening); older bands darker."""
    labels = [tr(f"workload.age.{band}") for band in AGE_BANDS]
    shades = ["#9ECAE1", "#6BAED6", "#F58518", "#D64545"]
    figure = go.Figure()
    figure.add_bar(
        x=labels,
        y=[aging.get(band, 0) for band in AGE_BANDS],
        marker_color=shades,
        text=[f"{aging.get(band, 0):,d}" for band in AGE_BANDS],
        textposition="outside",
        cliponaxis=False,
        hovertemplate=f"%{{x}}: %{{y:,d}} {tr('workload.cases')}<extra></extra>",
    )
    figure.update_yaxes(title_text=tr("workload.open_cases"), rangemode="tozero")
    return base_layout(figure, height=280, legend=False)


def pressure_figure(
    pressures: Sequence[Pressure], tr: Translate, row_labels: Mapping[str, str] | None = None
) -> go.Figure:
    """The pressure index per handler (highest first), coloured by band, with the
    band limits marked."""
    labels = [(row_labels or {}).get(p.handler_id, p.handler_id) for p in pressures]
    figure = go.Figure()
    figure.add_bar(
        x=[p.index for p in pressures],
        y=labels,
        orientation="h",
        marker_color=[BAND_COLOURS[pressure_band(p.index)] for p in pressures],
        text=[f"{p.index:.0f}" for p in pressures],
        textposition="outside",
        cliponaxis=False,
        customdata=[[p.open_cases, p.urgent, p.serious, p.overdue] for p in pressures],
        hovertemplate=(
            f"%{{y}}: %{{x:.1f}}<br>{tr('workload.open_cases')}: %{{customdata[0]:,d}}"
            f"<br>{tr('workload.urgent')}: %{{customdata[1]:,d}}"
            f"<br>{tr('workload.serious')}: %{{customdata[2]:,d}}"
            f"<br>{tr('workload.overdue')}: %{{customdata[3]:,d}}<extra></extra>"
        ),
    )
    for limit in (40, 70):
        figure.add_vline(x=limit, line={"color": MUTED, "width": 1, "dash": "dot"})
    figure.update_xaxes(title_text=tr("workload.pressure_index"), range=[0, 105])
    figure.update_yaxes(autorange="reversed", type="category")
    return base_layout(figure, height=_height(len(pressures)), legend=False)
