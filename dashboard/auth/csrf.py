"""CSRF protection.

- Forms (``/login``, ``/logout``): a hidden field ``csrf_token`` must equal
  the token in the signed session cookie.
- Dash callbacks (JSON POSTs to ``/_dash-update-component``): the Dash
  renderer copies the cookie ``_csrf_token`` into the ``X-CSRFToken`` header
  of every request; the header must equal the token in the signed session.
  Another site can neither read that cookie nor set the header on a
  cross-site request without a CORS preflight, which is never granted.
  The session cookie itself is SameSite=Lax as a second line.
"""

from __future__ import annotations

import hmac
from collections.abc import MutableMapping
from typing import Any, Final

from dashboard.auth.sessions import K_CSRF, new_csrf_token

FORM_FIELD: Final = "csrf_token"
HEADER: Final = "X-CSRFToken"
COOKIE: Final = "_csrf_token"
"""Read by the Dash renderer (its default ``csrf_token_name``)."""


def ensure_token(store: MutableMapping[str, Any]) -> str:
    """The session's CSRF token, created when the session has none."""
    token = store.get(K_CSRF)
    if not isinstance(token, str) or not token:
        token = new_csrf_token()
        store[K_CSRF] = token
    return token


def token_matches(store: MutableMapping[str, Any], presented: str | None) -> bool:
    """Whether ``presented`` is the session's token (constant-time)."""
    expected = store.get(K_CSRF)
    if not isinstance(expected, str) or not expected or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())
