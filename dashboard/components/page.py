"""Building blocks of a desk page: header, panel, and the no-access notice."""

from __future__ import annotations

from typing import Any

from dash import html

from dashboard.i18n import current_language, t


def page_header(title: str, subtitle: str | None = None, actions: Any = None) -> html.Header:
    children: list[Any] = [html.H1(title, className="co-page__title")]
    if subtitle:
        children.append(html.P(subtitle, className="co-page__subtitle"))
    if actions is not None:
        children.append(html.Div(actions, className="co-page__actions"))
    return html.Header(children, className="co-page__header")


def panel(
    title: str | None, body: Any, *, panel_id: Any = None, class_name: str = ""
) -> html.Section:
    children: list[Any] = []
    if title:
        children.append(html.H2(title, className="co-panel__title"))
    children.append(html.Div(body, className="co-panel__body"))
    props: dict[str, Any] = {"className": f"co-panel {class_name}".strip()}
    if panel_id is not None:
        props["id"] = panel_id
    return html.Section(children, **props)


def forbidden(kiosk: bool = False) -> html.Div:
    """What a page shows to a session that may not open it."""
    lang = current_language()
    message = t("auth.kiosk_only", lang) if kiosk else t("auth.forbidden", lang)
    return html.Div(
        [
            html.H1(t("auth.forbidden_title", lang), className="co-page__title"),
            html.P(message, className="co-page__subtitle"),
            html.A(t("auth.back_home", lang), href="/", className="co-link"),
        ],
        className="co-page co-forbidden",
        id="shell-forbidden",
    )
