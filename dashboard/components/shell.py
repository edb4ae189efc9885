"""The frame around every page: brand, page links, language switch, user menu.

The layout is built per request (``app.layout = shell_layout``), so it shows
only the pages the signed-in role may open, in the chosen language. Pages
appear in the navigation when they register ``nav_label={"zh": ..., "en": ...}``
(or a ``name``) and not ``nav=False``; ``order`` sorts them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import dash
from dash import ClientsideFunction, Input, Output, dcc, html

from dashboard.auth import csrf_token, current_identity
from dashboard.auth.context import auth_context
from dashboard.auth.roles import may_open
from dashboard.auth.sessions import Identity
from dashboard.components.theme import html_attributes
from dashboard.i18n import LANGUAGES, current_language, html_lang, t

LANGUAGE_LABELS: Final = {"zh": "中文", "en": "English"}
NAV_TYPE: Final = "shell-nav"


def nav_entries(
    pages: Iterable[Mapping[str, Any]],
    who: Identity | None,
    lang: str,
    page_roles: Mapping[str, str] | None = None,
) -> list[tuple[str, str]]:
    """``(path, label)`` of the pages ``who`` may open, in navigation order."""
    if who is None or who.is_kiosk:
        return []
    entries: list[tuple[int, str, str]] = []
    for page in pages:
        path = str(page.get("path", ""))
        if not path or page.get("nav") is False or page.get("path_template"):
            continue
        label_source = page.get("nav_label")
        if isinstance(label_source, Mapping):
            label = str(label_source.get(lang) or label_source.get("zh") or path)
        elif page.get("name"):
            label = str(page["name"])
        else:
            continue
        if not may_open(who.role, path, registered=page_roles):
            continue
        order = page.get("order")
        entries.append((order if isinstance(order, int) else 99, path, label))
    return [(path, label) for _, path, label in sorted(entries)]


def _language_switch(lang: str) -> html.Nav:
    links = [
        html.A(
            LANGUAGE_LABELS[code],
            id=f"shell-lang-{code}",
            href=f"?lang={code}",
            lang=html_lang(code),
            className="shell-lang__link" + (" shell-lang__link--active" if code == lang else ""),
        )
        for code in LANGUAGES
    ]
    return html.Nav(
        links, className="shell-lang", **html_attributes({"aria-label": t("nav.language", lang)})
    )


def _user_menu(who: Identity, lang: str) -> html.Div:
    role = t(f"role.{who.role}", lang) if who.role else ""
    return html.Div(
        [
            html.Span(who.username, className="shell-user__name", id="shell-user-name"),
            html.Span(role, className="shell-user__role"),
            html.Form(
                [
                    dcc.Input(type="hidden", name="csrf_token", value=csrf_token()),
                    html.Button(
                        t("auth.sign_out", lang),
                        type="submit",
                        className="shell-user__signout",
                        id="shell-signout",
                    ),
                ],
                method="POST",
                action="/logout",
                className="shell-user__form",
            ),
        ],
        className="shell-user",
    )


def shell_layout() -> html.Div:
    lang = current_language()
    who = current_identity()
    bar: list[Any] = [html.A(t("app.title", lang), href="/", className="shell-brand")]
    if who is not None and not who.is_kiosk:
        entries = nav_entries(dash.page_registry.values(), who, lang, auth_context().page_roles)
        bar.append(
            html.Nav(
                [
                    dcc.Link(
                        label,
                        href=path,
                        className="shell-nav__link",
                        id={"type": NAV_TYPE, "path": path},
                    )
                    for path, label in entries
                ],
                className="shell-nav",
            )
        )
    bar.append(_language_switch(lang))
    if who is not None and not who.is_kiosk:
        bar.append(_user_menu(who, lang))
    return html.Div(
        [
            html.Header(bar, className="shell-bar", id="shell-bar"),
            html.Main(dash.page_container, className="shell-main"),
        ],
        className="shell",
        id="shell",
        lang=html_lang(lang),
    )


def register_shell_callbacks(app: dash.Dash) -> None:
    """Clientside only: language links keep the current page and its query;
    the current page's link is highlighted."""
    app.clientside_callback(
        ClientsideFunction(namespace="complaintops", function_name="languageLinks"),
        Output("shell-lang-zh", "href"),
        Output("shell-lang-en", "href"),
        Input("_pages_location", "pathname"),
        Input("_pages_location", "search"),
    )
    app.clientside_callback(
        ClientsideFunction(namespace="complaintops", function_name="activeNav"),
        Output({"type": NAV_TYPE, "path": dash.ALL}, "className"),
        Input("_pages_location", "pathname"),
    )
