"""The look of the desk pages (flow, workload, cases, analytics): inline styles
in the dark theme's CSS variables (``--co-*`` of assets/complaintops.css) for
controls, grids, notes and tables, and ``table(...)`` for a plain HTML table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from dash import dcc, html

GRAPH_CONFIG: Final[Any] = {"displaylogo": False, "displayModeBar": False}
"""Charts without the mode bar (it covers legends); drag zooms, a double click resets."""

PAGE_STYLE: Final = {
    "--Dash-Fill-Inverse-Strong": "#1a2333",
    "--Dash-Text-Strong": "#e8edf4",
    "--Dash-Text-Primary": "rgba(232, 237, 244, 0.87)",
    "--Dash-Text-Weak": "#93a1b5",
    "--Dash-Text-Disabled": "rgba(147, 161, 181, 0.6)",
    "--Dash-Stroke-Strong": "#3a4a63",
    "--Dash-Stroke-Weak": "#243044",
    "--Dash-Fill-Interactive-Strong": "#4da3ff",
    "--Dash-Fill-Interactive-Weak": "rgba(77, 163, 255, 0.08)",
    "--Dash-Fill-Primary-Hover": "rgba(255, 255, 255, 0.06)",
    "--Dash-Fill-Primary-Active": "rgba(255, 255, 255, 0.1)",
    "--Dash-Fill-Disabled": "rgba(255, 255, 255, 0.06)",
    "--Dash-Shading-Strong": "rgba(0, 0, 0, 0.6)",
    "--Dash-Shading-Weak": "rgba(0, 0, 0, 0.4)",
}
"""The root style of a desk page: Dash 4's component colours (dropdowns, date
pickers, radio items) switched to the dark theme through its CSS variables."""

CONTROLS_STYLE: Final = {
    "display": "flex",
    "gap": "12px",
    "alignItems": "center",
    "flexWrap": "wrap",
}
TILES_STYLE: Final = {
    "display": "grid",
    "gridTemplateColumns": "repeat(auto-fit, minmax(200px, 1fr))",
    "gap": "12px",
    "margin": "12px 0",
}
GRID_STYLE: Final = {
    "display": "grid",
    "gridTemplateColumns": "repeat(auto-fit, minmax(640px, 1fr))",
    "gap": "12px",
    "marginTop": "12px",
}
NOTE_STYLE: Final = {"color": "var(--co-muted)", "fontSize": "13px", "margin": "8px 0 0"}
ERROR_STYLE: Final = {
    "color": "var(--co-red)",
    "background": "rgba(255, 90, 95, 0.12)",
    "borderRadius": "8px",
    "padding": "10px 12px",
}
LABEL_STYLE: Final = {"color": "var(--co-muted)", "fontSize": "14px"}
BUTTON_STYLE: Final = {
    "background": "var(--co-panel-2)",
    "color": "var(--co-text)",
    "border": "1px solid var(--co-line)",
    "borderRadius": "6px",
    "padding": "6px 14px",
    "cursor": "pointer",
    "font": "inherit",
    "fontSize": "14px",
}
INPUT_STYLE: Final = {
    "background": "var(--co-panel-2)",
    "color": "var(--co-text)",
    "border": "1px solid var(--co-line)",
    "borderRadius": "6px",
    "padding": "7px 10px",
    "font": "inherit",
    "width": "100%",
}
TABLE_STYLE: Final = {"width": "100%", "borderCollapse": "collapse", "fontSize": "14px"}
HEAD_STYLE: Final = {
    "textAlign": "left",
    "color": "var(--co-muted)",
    "fontWeight": 600,
    "padding": "8px 10px",
    "borderBottom": "1px solid var(--co-line)",
    "whiteSpace": "nowrap",
}
CELL_STYLE: Final = {"padding": "6px 10px", "borderBottom": "1px solid var(--co-line)"}
NUMBER_STYLE: Final = {**CELL_STYLE, "textAlign": "right", "fontVariantNumeric": "tabular-nums"}


def note(text: str, **props: Any) -> html.P:
    return html.P(text, className="desk-note", style=NOTE_STYLE, **props)


def error(text: str) -> html.P:
    return html.P(text, className="desk-error", style=ERROR_STYLE)


def cell(content: Any, numeric: bool = False) -> html.Td:
    return html.Td(content, style=NUMBER_STYLE if numeric else CELL_STYLE)


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    table_id: str,
    numeric: Sequence[bool] | None = None,
) -> html.Table:
    """A plain table; ``rows`` hold cell contents (text or components), or ready
    ``html.Td`` cells; ``numeric[i]`` right-aligns column i."""
    flags = list(numeric or [False] * len(headers))

    def as_cell(index: int, value: Any) -> html.Td:
        if isinstance(value, html.Td):
            return value
        return cell(value, flags[index] if index < len(flags) else False)

    head_cells = [
        html.Th(
            h,
            style={**HEAD_STYLE, "textAlign": "right"}
            if i < len(flags) and flags[i]
            else HEAD_STYLE,
        )
        for i, h in enumerate(headers)
    ]
    return html.Table(
        [
            html.Thead(html.Tr(head_cells)),
            html.Tbody([html.Tr([as_cell(i, v) for i, v in enumerate(row)]) for row in rows]),
        ],
        className="desk-table",
        id=table_id,
        style=TABLE_STYLE,
    )


def team_filter(
    prefix: str, options: list[dict[str, str]], value: str | None, label: str, all_teams: str
) -> list[Any]:
    """The team filter of a desk page: a label and a dropdown ``<prefix>-team``
    whose choice the browser tab remembers."""
    return [
        html.Label(label, htmlFor=f"{prefix}-team", className="desk-label", style=LABEL_STYLE),
        dcc.Dropdown(
            id=f"{prefix}-team",
            options=options,
            value=value or None,
            placeholder=all_teams,
            clearable=True,
            className="desk-dropdown",
            style={"minWidth": "240px"},
            persistence=True,
            persistence_type="session",
        ),
    ]
