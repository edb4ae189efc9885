"""The sign-in machinery of one web server, kept in ``server.extensions``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from flask import Flask, current_app, g

from complaintops.runtime import Runtime
from dashboard.auth.ratelimit import LoginRateLimiter
from dashboard.auth.sessions import DEFAULT_POLICY, Identity, SessionPolicy

EXTENSION: Final = "complaintops_auth"
_IDENTITY: Final = "complaintops_identity"


@dataclass
class AuthContext:
    runtime: Runtime
    clock: Callable[[], float] = time.time
    policy: SessionPolicy = DEFAULT_POLICY
    limiter: LoginRateLimiter | None = None
    # Set by attach_dash: the Dash app (CSP hashes), page prefixes and roles.
    dash_app: Any = None
    page_prefixes: dict[str, str] = field(default_factory=dict)
    page_roles: dict[str, str] = field(default_factory=dict)

    @property
    def https(self) -> bool:
        return self.runtime.settings.dashboard_url.startswith("https://")


def install_context(server: Flask, context: AuthContext) -> None:
    server.extensions[EXTENSION] = context


def auth_context() -> AuthContext:
    context: AuthContext = current_app.extensions[EXTENSION]
    return context


def set_request_identity(who: Identity | None) -> None:
    setattr(g, _IDENTITY, who)


def current_identity() -> Identity | None:
    """Who made the current request (None: anonymous or outside a request)."""
    from flask import has_request_context

    if not has_request_context():
        return None
    who: Identity | None = g.get(_IDENTITY)
    return who
