"""The sign-in page and the plain notice pages (no access, errors).

Served by the Flask routes in ``dashboard.auth.views`` as server-rendered
HTML, not as a Dash page: the form works without JavaScript and answers
with the right status codes (401 wrong password, 429 too many attempts).
"""

from __future__ import annotations

from html import escape
from typing import Final
from urllib.parse import urlencode

from dashboard.auth.csrf import FORM_FIELD
from dashboard.i18n import LANGUAGES, html_lang, t

STYLESHEET: Final = "/assets/complaintops.css"
LANGUAGE_LABELS: Final = {"zh": "中文", "en": "English"}


def _language_links(lang: str, path: str, next_path: str | None) -> str:
    links = []
    for code in LANGUAGES:
        params = {"lang": code}
        if next_path:
            params["next"] = next_path
        css = "shell-lang__link shell-lang__link--active" if code == lang else "shell-lang__link"
        links.append(
            f'<a class="{css}" href="{escape(path)}?{escape(urlencode(params))}" '
            f'lang="{html_lang(code)}">{LANGUAGE_LABELS[code]}</a>'
        )
    return f'<nav class="shell-lang" aria-label="{escape(t("nav.language", lang))}">{"".join(links)}</nav>'


def _document(lang: str, title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>"
        f'<html lang="{html_lang(lang)}" class="co-dark">'
        "<head>"
        '<meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        f'<link rel="stylesheet" href="{STYLESHEET}">'
        "</head>"
        f'<body class="co-body">{body}</body>'
        "</html>"
    )


def render_login_page(
    lang: str,
    csrf_token: str,
    *,
    next_path: str = "/",
    username: str = "",
    error: str | None = None,
) -> str:
    """The sign-in form; ``error`` is shown above it (already translated)."""
    error_html = (
        f'<p class="login-card__error" role="alert" id="login-error">{escape(error)}</p>'
        if error
        else ""
    )
    form = (
        f'<form class="login-card__form" method="post" action="/login" id="login-form">'
        f'<input type="hidden" name="{FORM_FIELD}" value="{escape(csrf_token)}">'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        f'<label class="login-card__label" for="login-username">{escape(t("auth.username", lang))}</label>'
        f'<input class="login-card__input" id="login-username" name="username" autocomplete="username" '
        f'required maxlength="64" autofocus value="{escape(username)}">'
        f'<label class="login-card__label" for="login-password">{escape(t("auth.password", lang))}</label>'
        f'<input class="login-card__input" id="login-password" name="password" type="password" '
        f'autocomplete="current-password" required maxlength="256">'
        f'<button class="login-card__submit" type="submit" id="login-submit">'
        f"{escape(t('auth.sign_in', lang))}</button>"
        "</form>"
    )
    body = (
        '<main class="login-page">'
        '<section class="login-card">'
        f'<div class="login-card__brand">{escape(t("app.title", lang))}</div>'
        f'<h1 class="login-card__title">{escape(t("auth.sign_in_title", lang))}</h1>'
        f"{error_html}{form}"
        f"{_language_links(lang, '/login', next_path)}"
        "</section>"
        "</main>"
    )
    return _document(lang, f"{t('auth.sign_in', lang)} · {t('app.title', lang)}", body)


def render_notice_page(lang: str, title: str, message: str, *, link_home: bool = True) -> str:
    """A short page with a title and a message (e.g. no access)."""
    home = (
        f'<a class="login-card__link" href="/">{escape(t("auth.back_home", lang))}</a>'
        if link_home
        else ""
    )
    body = (
        '<main class="login-page">'
        '<section class="login-card" id="notice">'
        f'<div class="login-card__brand">{escape(t("app.title", lang))}</div>'
        f'<h1 class="login-card__title">{escape(title)}</h1>'
        f'<p class="login-card__message">{escape(message)}</p>'
        f"{home}"
        "</section>"
        "</main>"
    )
    return _document(lang, f"{title} · {t('app.title', lang)}", body)
