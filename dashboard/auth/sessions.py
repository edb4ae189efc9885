"""Sign-in sessions kept in the signed session cookie (pure: the cookie's
dict and the time are passed in, so expiry is tested with any clock).

A session is either a user's (after signing in) or a kiosk's (a wall display
opened with a kiosk token). It ends after ``IDLE_SECONDS`` without a request
or ``ABSOLUTE_SECONDS`` after sign-in, whichever comes first. Every session,
signed in or not, carries a CSRF token (see ``dashboard.auth.csrf``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any, Final, Literal

IDLE_SECONDS: Final = 8 * 3600
"""A session ends after this long without a request."""
ABSOLUTE_SECONDS: Final = 24 * 3600
"""A session ends this long after sign-in, however active."""
TOUCH_SECONDS: Final = 60
"""The last-seen time is written back at most this often (fewer cookie updates)."""

KIND_USER: Final = "user"
KIND_KIOSK: Final = "kiosk"

# Keys in the session cookie.
K_KIND: Final = "kind"
K_USER_ID: Final = "uid"
K_USERNAME: Final = "usr"
K_ROLE: Final = "role"
K_TEAM: Final = "team"
K_ISSUED: Final = "iat"
K_SEEN: Final = "seen"
K_CSRF: Final = "csrf"
K_KIOSK: Final = "kfp"

SessionStatus = Literal["anonymous", "active", "idle", "expired"]


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle_seconds: float = IDLE_SECONDS
    absolute_seconds: float = ABSOLUTE_SECONDS
    touch_seconds: float = TOUCH_SECONDS


DEFAULT_POLICY: Final = SessionPolicy()


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is asking: a signed-in user, or a kiosk wall display (no role)."""

    kind: Literal["user", "kiosk"]
    username: str
    role: str | None = None
    team_id: str | None = None
    user_id: int | None = None

    @property
    def is_kiosk(self) -> bool:
        return self.kind == KIND_KIOSK


def token_fingerprint(token: str) -> str:
    """A short digest naming a kiosk token without storing it."""
    return hashlib.sha256(token.encode()).hexdigest()[:24]


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def _fresh(store: MutableMapping[str, Any]) -> None:
    store.clear()
    store[K_CSRF] = new_csrf_token()


def start_user_session(
    store: MutableMapping[str, Any],
    *,
    user_id: int,
    username: str,
    role: str,
    team_id: str | None,
    now: float,
) -> None:
    """Replace whatever the session held (no fixation) with a signed-in user."""
    _fresh(store)
    store.update(
        {
            K_KIND: KIND_USER,
            K_USER_ID: user_id,
            K_USERNAME: username,
            K_ROLE: role,
            K_TEAM: team_id,
            K_ISSUED: now,
            K_SEEN: now,
        }
    )


def start_kiosk_session(store: MutableMapping[str, Any], token: str, now: float) -> None:
    """Replace the session with a kiosk session for the wall display."""
    _fresh(store)
    store.update(
        {
            K_KIND: KIND_KIOSK,
            K_USERNAME: "kiosk",
            K_KIOSK: token_fingerprint(token),
            K_ISSUED: now,
            K_SEEN: now,
        }
    )


def end_session(store: MutableMapping[str, Any]) -> None:
    """Sign out: nothing is left but a new CSRF token."""
    _fresh(store)


def status(
    store: MutableMapping[str, Any], now: float, policy: SessionPolicy = DEFAULT_POLICY
) -> SessionStatus:
    kind = store.get(K_KIND)
    if kind not in (KIND_USER, KIND_KIOSK):
        return "anonymous"
    issued, seen = store.get(K_ISSUED), store.get(K_SEEN)
    if not isinstance(issued, int | float) or not isinstance(seen, int | float):
        return "expired"
    if now - issued >= policy.absolute_seconds or now < issued - 300:
        return "expired"
    if now - seen >= policy.idle_seconds:
        return "idle"
    return "active"


def identity(
    store: MutableMapping[str, Any], now: float, policy: SessionPolicy = DEFAULT_POLICY
) -> Identity | None:
    """The session's identity, or None when anonymous or expired."""
    if status(store, now, policy) != "active":
        return None
    if store[K_KIND] == KIND_KIOSK:
        return Identity(kind=KIND_KIOSK, username="kiosk")
    return Identity(
        kind=KIND_USER,
        username=str(store.get(K_USERNAME, "")),
        role=store.get(K_ROLE),
        team_id=store.get(K_TEAM),
        user_id=store.get(K_USER_ID),
    )


def touch(
    store: MutableMapping[str, Any], now: float, policy: SessionPolicy = DEFAULT_POLICY
) -> bool:
    """Record activity (at most every ``touch_seconds``); True when the session changed."""
    seen = store.get(K_SEEN)
    if isinstance(seen, int | float) and now - seen < policy.touch_seconds:
        return False
    store[K_SEEN] = now
    return True


def kiosk_token_still_valid(store: MutableMapping[str, Any], tokens: list[str]) -> bool:
    """Whether the kiosk session's token is still configured (tokens can be revoked)."""
    fingerprint = str(store.get(K_KIOSK, ""))
    valid = False
    for token in tokens:
        valid |= hmac.compare_digest(fingerprint, token_fingerprint(token))
    return valid and bool(fingerprint)
