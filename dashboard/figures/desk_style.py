"""Shared look of the desk pages' charts (flow, workload, cases, analytics).

Figure builders are pure: they take data and ``tr``, a function giving the
label of a catalog key in the page's language, and return a Plotly figure
in the dashboard's dark theme (``dashboard.components.theme``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

import plotly.graph_objects as go

from dashboard.components import theme

Translate = Callable[[str], str]
"""Label of a catalog key in the page's language."""

STAGE_COLOURS: Final[dict[str, str]] = dict(theme.STAGE_COLORS)
BAND_COLOURS: Final[dict[str, str]] = dict(theme.LEVEL_COLORS)
HIGHLIGHT: Final = theme.RED
MUTED: Final = theme.MUTED
TARGET: Final = theme.TEXT
SEQUENTIAL: Final = [[0.0, "#18212f"], [0.5, "#2f6aa8"], [1.0, theme.ACCENT]]
"""Heat-map colours from an empty cell (near the panel colour) to the accent."""
PALETTE: Final = (
    "#4da3ff",
    "#ffb020",
    "#3ecf8e",
    "#ff7ab6",
    "#b46cff",
    "#5ad8e6",
    "#ff8a4c",
    "#c9d46a",
)
"""Colours of categorical values (channels, categories, ...), in order."""


def stage_label(stage: str, tr: Translate) -> str:
    return tr(f"stage.{stage}")


def local_naive(epoch: float, tz: ZoneInfo) -> datetime:
    """The local wall-clock time of an instant, without its zone: Plotly shows it as is,
    whatever the browser's own time zone."""
    return datetime.fromtimestamp(epoch, tz).replace(tzinfo=None)


def base_layout(figure: go.Figure, height: int = 360, legend: bool = True) -> go.Figure:
    """The theme's transparent dark layout, desk-sized fonts."""
    layout = theme.figure_layout(scale=0.8)
    layout.pop("xaxis", None)
    layout.pop("yaxis", None)
    figure.update_layout(**layout, height=height, showlegend=legend)
    figure.update_xaxes(gridcolor=theme.GRID, zerolinecolor=theme.GRID, linecolor=theme.GRID)
    figure.update_yaxes(gridcolor=theme.GRID, zerolinecolor=theme.GRID, linecolor=theme.GRID)
    return figure


def empty_figure(message: str, height: int = 240) -> go.Figure:
    """A blank chart saying why it is blank (e.g. no data in the range)."""
    figure = go.Figure()
    figure.add_annotation(
        text=message,
        showarrow=False,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        font={"size": 15, "color": MUTED},
    )
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return base_layout(figure, height=height, legend=False)
