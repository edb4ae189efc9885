"""The checks in front of every request of the web server.

- Everything under ``/api/`` has the API's own bearer tokens and JSON
  errors (``dashboard.api``), unknown paths included; static files are
  public; ``/login`` is public.
- Dash's own endpoints (layout, dependencies, callbacks) need a session;
  callbacks also need the CSRF header and a session allowed to run them
  (``dashboard.auth.callbacks``).
- A page needs a signed-in user whose role may open it; without one the
  browser is sent to ``/login?next=...``. ``/wall?token=<kiosk token>``
  opens a kiosk session that can only view the wall.
- Every answer carries the security headers; a ``?lang=`` choice is kept in
  a cookie; the CSRF token is mirrored into the cookie the Dash renderer reads.
"""

from __future__ import annotations

import logging
from typing import Any, Final
from urllib.parse import quote

from flask import Flask, Response, jsonify, redirect, request, session
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from dashboard.api.auth import token_is_valid
from dashboard.auth import callbacks, csrf, sessions
from dashboard.auth.context import AuthContext, auth_context, set_request_identity
from dashboard.auth.headers import security_headers
from dashboard.auth.models import User
from dashboard.auth.roles import KIOSK_PATHS, may_open, normalise_path
from dashboard.i18n import LANG_COOKIE, LANG_PARAM, current_language, normalise_language, t
from dashboard.pages.login import render_notice_page

log = logging.getLogger(__name__)

PUBLIC_PREFIXES: Final = ("/assets/", "/_dash-component-suites/", "/api/")
# /alerts/ack: the signed, expiring token in an alert email is the permission.
PUBLIC_PATHS: Final = frozenset(
    {"/login", "/logout", "/_favicon.ico", "/favicon.ico", "/alerts/ack"}
)
CALLBACK_PATH: Final = "/_dash-update-component"
LANG_COOKIE_SECONDS: Final = 365 * 86400


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def safe_next(target: str | None) -> str:
    """A local path to go to after signing in; anything else becomes ``/``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(ch) < 32 for ch in target):
        return "/"
    return target


def _json_error(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


def _notice(status: int, title_key: str, message_key: str) -> Response:
    lang = current_language()
    page = render_notice_page(lang, t(title_key, lang), t(message_key, lang))
    return Response(page, status=status, mimetype="text/html")


def _recheck_user(context: AuthContext, who: sessions.Identity) -> sessions.Identity | None:
    """Reload a user's role and active flag (a disabled user is signed out)."""
    try:
        with Session(context.runtime.engine) as db:
            user = db.get(User, who.user_id) if who.user_id is not None else None
    except SQLAlchemyError as exc:
        log.warning("user %r not re-checked (database: %s)", who.username, exc)
        return who
    if user is None or not user.active:
        return None
    session[sessions.K_ROLE] = user.role
    session[sessions.K_TEAM] = user.team_id
    return sessions.Identity(
        kind="user", username=user.username, role=user.role, team_id=user.team_id, user_id=user.id
    )


def load_identity(context: AuthContext, now: float) -> sessions.Identity | None:
    """The session's identity after expiry, revocation and re-check rules."""
    state = sessions.status(session, now, context.policy)
    if state in ("idle", "expired"):
        sessions.end_session(session)
        return None
    who = sessions.identity(session, now, context.policy)
    if who is None:
        return None
    if who.is_kiosk:
        if not sessions.kiosk_token_still_valid(
            session, list(context.runtime.settings.kiosk_tokens)
        ):
            sessions.end_session(session)
            return None
        sessions.touch(session, now, context.policy)
        return who
    if sessions.touch(session, now, context.policy):
        checked = _recheck_user(context, who)
        if checked is None:
            sessions.end_session(session)
        return checked
    return who


def _guard_callback(context: AuthContext, who: sessions.Identity | None) -> Any:
    if who is None:
        return _json_error(401, "sign in required")
    if not csrf.token_matches(session, request.headers.get(csrf.HEADER)):
        return _json_error(403, "missing or wrong CSRF token")
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return _json_error(400, "malformed callback request")
    if not callbacks.callback_allowed(who, payload, context.page_prefixes, context.page_roles):
        return _json_error(403, "not allowed for this session")
    return None


def _kiosk_token_offered(context: AuthContext, path: str) -> str | None:
    token = request.args.get("token", "")
    if path not in KIOSK_PATHS or not token:
        return None
    return token if token_is_valid(token, list(context.runtime.settings.kiosk_tokens)) else None


def guard() -> Any:
    context = auth_context()
    path = request.path
    if is_public(path):
        return None
    now = context.clock()
    who = load_identity(context, now)
    if path == CALLBACK_PATH:
        set_request_identity(who)
        return _guard_callback(context, who)
    if path.startswith("/_"):
        set_request_identity(who)
        return None if who is not None else _json_error(401, "sign in required")
    page = normalise_path(path)
    token = _kiosk_token_offered(context, page)
    if token is not None and (who is None or who.is_kiosk):
        sessions.start_kiosk_session(session, token, now)
        session.permanent = True
        who = sessions.identity(session, now, context.policy)
    set_request_identity(who)
    csrf.ensure_token(session)
    if who is None:
        target = request.full_path if request.query_string else request.path
        return redirect(f"/login?next={quote(safe_next(target), safe='/')}", code=302)
    if who.is_kiosk and page not in KIOSK_PATHS:
        return _notice(403, "auth.forbidden_title", "auth.kiosk_only")
    if not may_open(who.role, page, kiosk=who.is_kiosk, registered=context.page_roles):
        return _notice(403, "auth.forbidden_title", "auth.forbidden")
    return None


def finish(response: Response) -> Response:
    context = auth_context()
    hashes: list[str] = []
    if context.dash_app is not None and response.mimetype == "text/html":
        hashes = list(context.dash_app.csp_hashes())
    for name, value in security_headers(hashes, https=context.https).items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/api/") or request.path.startswith(PUBLIC_PREFIXES):
        return response
    chosen = normalise_language(request.args.get(LANG_PARAM))
    if chosen and request.cookies.get(LANG_COOKIE) != chosen:
        response.set_cookie(
            LANG_COOKIE,
            chosen,
            max_age=LANG_COOKIE_SECONDS,
            samesite="Lax",
            secure=context.https,
            httponly=True,
        )
    token = session.get(sessions.K_CSRF)
    if isinstance(token, str) and request.cookies.get(csrf.COOKIE) != token:
        # Readable by the Dash renderer, which copies it into X-CSRFToken.
        response.set_cookie(
            csrf.COOKIE, token, samesite="Strict", secure=context.https, httponly=False
        )
    if session.get(sessions.K_KIND):
        response.headers["Cache-Control"] = "no-store"
    return response


def install_guard(server: Flask) -> None:
    server.before_request(guard)
    server.after_request(finish)
