"""``/login`` (GET: the form, POST: sign in) and ``/logout`` (POST)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, redirect, request, session
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse

from dashboard.auth import csrf, sessions
from dashboard.auth.context import auth_context
from dashboard.auth.guard import load_identity, safe_next
from dashboard.auth.passwords import MAX_PASSWORD_LENGTH
from dashboard.auth.users import authenticate
from dashboard.i18n import current_language, t
from dashboard.pages.login import render_login_page

log = logging.getLogger(__name__)

# A new sign-in and a sign-out start the browser afresh on this site (every tab): the
# page filters that Dash keeps in session storage belong to the person who set them.
# Browsers ignore the header on plain-HTTP origins other than localhost (and Firefox on
# redirects); the pages' own check covers those (assets/complaintops.js).
CLEAR_BROWSER_STORAGE = '"storage"'


def _fresh_start(response: BaseResponse) -> BaseResponse:
    response.headers["Clear-Site-Data"] = CLEAR_BROWSER_STORAGE
    return response


def _login_form(status: int, error: str | None = None, username: str = "") -> Response:
    lang = current_language()
    next_path = safe_next(request.values.get("next"))
    page = render_login_page(
        lang, csrf.ensure_token(session), next_path=next_path, username=username, error=error
    )
    return Response(page, status=status, mimetype="text/html")


def login_form() -> Any:
    context = auth_context()
    who = load_identity(context, context.clock())
    if who is not None and not who.is_kiosk:
        return redirect(safe_next(request.args.get("next")), code=302)
    return _login_form(200)


def login_submit() -> Any:
    context = auth_context()
    lang = current_language()
    username = request.form.get("username", "").strip()[:64]
    password = request.form.get("password", "")
    if not csrf.token_matches(session, request.form.get(csrf.FORM_FIELD)):
        return _login_form(400, t("auth.form_expired", lang), username)
    address = request.remote_addr or "unknown"
    limiter = context.limiter
    # Counted before the password is checked, so concurrent guesses share the limit.
    attempt = limiter.begin(username, address) if limiter is not None else None
    if limiter is not None and attempt is None:
        minutes = max(1, round(limiter.window_seconds / 60))
        response = _login_form(429, t("auth.too_many", lang, minutes=minutes), username)
        response.headers["Retry-After"] = str(int(limiter.window_seconds))
        return response
    now = context.clock()
    try:
        with Session(context.runtime.engine) as db, db.begin():
            user = None
            if username and 0 < len(password) <= MAX_PASSWORD_LENGTH:
                user = authenticate(db, username, password, now=now)
            signed_in = None if user is None else (user.id, user.username, user.role, user.team_id)
    except SQLAlchemyError as exc:
        log.error("sign-in failed: database unavailable (%s)", exc.__class__.__name__)
        if limiter is not None and attempt is not None:
            limiter.release(username, address, attempt)
        return _login_form(503, t("auth.unavailable", lang), username)
    if signed_in is None:
        log.info("failed sign-in for %r from %s", username, address)
        return _login_form(401, t("auth.wrong_password", lang), username)
    user_id, name, role, team_id = signed_in
    if limiter is not None:
        limiter.reset(username, address)
    sessions.start_user_session(
        session, user_id=user_id, username=name, role=role, team_id=team_id, now=now
    )
    session.permanent = True
    log.info("user %r signed in from %s", name, address)
    return _fresh_start(redirect(safe_next(request.form.get("next")), code=303))


def logout() -> Any:
    if not csrf.token_matches(session, request.form.get(csrf.FORM_FIELD)):
        return _login_form(400, t("auth.form_expired", current_language()))
    sessions.end_session(session)
    return _fresh_start(redirect("/login", code=303))


def install_views(server: Flask) -> None:
    server.add_url_rule("/login", "complaintops_login_form", login_form, methods=["GET"])
    server.add_url_rule("/login", "complaintops_login", login_submit, methods=["POST"])
    server.add_url_rule("/logout", "complaintops_logout", logout, methods=["POST"])
