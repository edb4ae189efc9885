"""A small coloured label (levels ok / amber / red / muted)."""

from __future__ import annotations

from typing import Any

from dash import html


def badge(text: str, level: str = "ok", badge_id: Any = None, **attributes: Any) -> html.Span:
    props: dict[str, Any] = {"className": f"co-badge co-badge--{level}", **attributes}
    if badge_id is not None:
        props["id"] = badge_id
    return html.Span(text, **props)
