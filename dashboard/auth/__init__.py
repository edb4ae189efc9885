"""Access to the dashboard: users, passwords, sessions, kiosk tokens, CSRF, roles.

For pages and callbacks:

- ``current_identity()`` → ``Identity(kind, username, role, team_id, user_id)``
  or None; ``identity.is_kiosk`` for a wall display opened with a kiosk token.
- ``has_role("manager")`` → bool; ``require_role("manager")`` raises
  ``Forbidden`` (HTTP 403) inside a callback that performs an action.
- ``csrf_token()``: the session's CSRF token, for a plain HTML form field
  named ``csrf_token`` (Dash callbacks are covered automatically).
- Pages declare who may open them in ``dash.register_page(...,
  min_role="manager")`` (default from ``roles.PAGE_ROLES``, else leader) and
  prefix their component ids with their module name (``alerts-...``) or the
  ``id_prefix`` they register: callbacks are then allowed exactly for the
  sessions that may open the page.

Wiring (``dashboard.app``): ``install(server, runtime)`` before the Dash app
is created, ``attach_dash(app)`` after.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask, session
from werkzeug.exceptions import Forbidden

from complaintops.runtime import Runtime
from dashboard.auth import csrf
from dashboard.auth.callbacks import page_prefixes
from dashboard.auth.context import AuthContext, auth_context, current_identity, install_context
from dashboard.auth.guard import install_guard
from dashboard.auth.ratelimit import LoginRateLimiter
from dashboard.auth.roles import ROLES, Role, may_open, registered_roles
from dashboard.auth.roles import has_role as role_has_role
from dashboard.auth.sessions import DEFAULT_POLICY, Identity, SessionPolicy
from dashboard.auth.views import install_views

__all__ = [
    "ROLES",
    "Identity",
    "Role",
    "attach_dash",
    "csrf_token",
    "current_identity",
    "has_role",
    "install",
    "require_role",
]

log = logging.getLogger(__name__)

SESSION_COOKIE = "complaintops_session"


def install(
    server: Flask,
    runtime: Runtime,
    *,
    clock: Callable[[], float] = time.time,
    policy: SessionPolicy = DEFAULT_POLICY,
    limiter: LoginRateLimiter | None = None,
) -> AuthContext:
    """Session cookie settings, the request guard, security headers, /login and /logout."""
    settings = runtime.settings
    secret = settings.secret_key
    if not secret:
        secret = secrets.token_urlsafe(32)
        log.warning(
            "COMPLAINTOPS_SECRET_KEY is not set: sessions are signed with a random key "
            "and end when the server restarts"
        )
    https = settings.dashboard_url.startswith("https://")
    server.config.update(
        SECRET_KEY=secret,
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=policy.absolute_seconds),
        SESSION_REFRESH_EACH_REQUEST=False,
    )
    context = AuthContext(
        runtime=runtime,
        clock=clock,
        policy=policy,
        limiter=limiter if limiter is not None else LoginRateLimiter(runtime.redis, clock=clock),
    )
    install_context(server, context)
    install_guard(server)
    install_views(server)
    return context


def attach_dash(app: Any) -> None:
    """Learn the pages (prefixes, roles), wrap their layouts with the role
    check and hash Dash's inline scripts into the CSP (``app``: the dash.Dash)."""
    import dash

    server: Flask = app.server
    context: AuthContext = server.extensions["complaintops_auth"]
    pages = list(dash.page_registry.values())
    context.dash_app = app
    context.page_prefixes = page_prefixes(pages)
    context.page_roles = registered_roles(pages)
    for page in pages:
        page["layout"] = _guarded_layout(str(page.get("path", "/")), page.get("layout"))


def _guarded_layout(path: str, layout: Any) -> Any:
    if getattr(layout, "_complaintops_guarded", False):
        return layout

    def guarded(**kwargs: Any) -> Any:
        from dashboard.components.page import forbidden

        who = current_identity()
        context = auth_context()
        allowed = who is not None and may_open(
            who.role, path, kiosk=who.is_kiosk, registered=context.page_roles
        )
        if not allowed:
            return forbidden(kiosk=who is not None and who.is_kiosk)
        return layout(**kwargs) if callable(layout) else layout

    guarded._complaintops_guarded = True  # type: ignore[attr-defined]
    return guarded


def has_role(minimum: str) -> bool:
    """Whether the current request comes from a user with ``minimum`` role or above."""
    who = current_identity()
    return who is not None and not who.is_kiosk and role_has_role(who.role, minimum)


def require_role(minimum: str) -> Identity:
    """The current user when their role is ``minimum`` or above; else raise Forbidden (403)."""
    who = current_identity()
    if who is None or who.is_kiosk or not role_has_role(who.role, minimum):
        raise Forbidden(f"needs the {minimum} role")
    return who


def csrf_token() -> str:
    """The current session's CSRF token (for a ``csrf_token`` form field)."""
    return csrf.ensure_token(session)
