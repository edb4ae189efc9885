"""The dark theme's colours and Plotly defaults (CSS lives in assets/complaintops.css)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from events.contract import STAGES

BACKGROUND: Final = "#0b0f17"
PANEL: Final = "#131a27"
GRID: Final = "#243044"
TEXT: Final = "#e8edf4"
MUTED: Final = "#93a1b5"
ACCENT: Final = "#4da3ff"
OK: Final = "#3ecf8e"
AMBER: Final = "#ffb020"
RED: Final = "#ff5a5f"

ENTERED: Final = "#4da3ff"
EXITED: Final = "#3ecf8e"

LEVEL_COLORS: Final = {"ok": OK, "amber": AMBER, "red": RED}

STAGE_COLORS: Final = dict(
    zip(STAGES, ("#4da3ff", "#7c83ff", "#b46cff", "#ff7ab6", "#ffb020", "#3ecf8e"), strict=True)
)

FONT_FAMILY: Final = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", '
    '"Helvetica Neue", Arial, sans-serif'
)


def level_class(level: str, base: str = "co-level") -> str:
    """CSS modifier for a level: ``co-level--ok|amber|red``."""
    if level not in LEVEL_COLORS:
        level = "ok"
    return f"{base}--{level}"


def figure_layout(scale: float = 1.0, **overrides: Any) -> dict[str, Any]:
    """A dark, transparent Plotly layout; ``scale`` multiplies font sizes (1.0 at 1920 px wide)."""
    size = round(16 * scale)
    layout: dict[str, Any] = {
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": FONT_FAMILY, "color": TEXT, "size": size},
        "margin": {
            "l": round(56 * scale),
            "r": round(16 * scale),
            "t": round(8 * scale),
            "b": round(40 * scale),
        },
        "xaxis": {"gridcolor": GRID, "zerolinecolor": GRID, "tickfont": {"size": size}},
        "yaxis": {"gridcolor": GRID, "zerolinecolor": GRID, "tickfont": {"size": size}},
        "legend": {
            "orientation": "h",
            "x": 0,
            "y": 1.02,
            "yanchor": "bottom",
            "font": {"size": size},
        },
        "hoverlabel": {"font": {"family": FONT_FAMILY}},
    }
    layout.update(overrides)
    return layout


def html_attributes(values: Mapping[str, Any]) -> dict[str, Any]:
    """Extra attributes with dashes (``data-*``, ``aria-*``) for ``**`` into a Dash component."""
    return dict(values)
