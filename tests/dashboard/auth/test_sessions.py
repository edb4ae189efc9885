from __future__ import annotations

from typing import Any

import pytest

from dashboard.auth import csrf, sessions
from dashboard.auth.sessions import (
    ABSOLUTE_SECONDS,
    IDLE_SECONDS,
    SessionPolicy,
    end_session,
    identity,
    kiosk_token_still_valid,
    start_kiosk_session,
    start_user_session,
    status,
    touch,
)

T0 = 1_795_000_000.0


def signed_in(now: float = T0) -> dict[str, Any]:
    store: dict[str, Any] = {"csrf": "old-token", "kind": "kiosk"}
    start_user_session(
        store, user_id=7, username="zhang", role="leader", team_id="claims-east", now=now
    )
    return store


def test_anonymous_session_has_no_identity() -> None:
    store: dict[str, Any] = {}
    assert status(store, T0) == "anonymous"
    assert identity(store, T0) is None


def test_signing_in_replaces_the_session_and_its_csrf_token() -> None:
    store = signed_in()
    who = identity(store, T0)
    assert who is not None
    assert (who.kind, who.username, who.role, who.team_id, who.user_id) == (
        "user",
        "zhang",
        "leader",
        "claims-east",
        7,
    )
    assert not who.is_kiosk
    assert store["csrf"] != "old-token"


def test_idle_session_expires_after_eight_hours_without_a_request() -> None:
    store = signed_in()
    assert status(store, T0 + IDLE_SECONDS - 1) == "active"
    assert status(store, T0 + IDLE_SECONDS) == "idle"
    assert identity(store, T0 + IDLE_SECONDS) is None


def test_activity_keeps_a_session_alive_until_the_absolute_limit() -> None:
    store = signed_in()
    now = T0
    while now < T0 + ABSOLUTE_SECONDS - 3600:
        now += 3600
        touch(store, now)
        assert status(store, now) == "active"
    assert status(store, T0 + ABSOLUTE_SECONDS - 1) == "active"
    assert status(store, T0 + ABSOLUTE_SECONDS) == "expired"


def test_touch_writes_at_most_once_a_minute() -> None:
    store = signed_in()
    assert not touch(store, T0 + 30)
    assert store["seen"] == T0
    assert touch(store, T0 + 61)
    assert store["seen"] == T0 + 61


def test_a_policy_changes_the_limits() -> None:
    policy = SessionPolicy(idle_seconds=60, absolute_seconds=120, touch_seconds=1)
    store = signed_in()
    assert status(store, T0 + 59, policy) == "active"
    assert status(store, T0 + 60, policy) == "idle"
    touch(store, T0 + 59, policy)
    assert status(store, T0 + 118, policy) == "active"
    assert status(store, T0 + 120, policy) == "expired"


@pytest.mark.parametrize(
    "broken",
    [{"iat": "yesterday"}, {"seen": None}, {"iat": T0 + 10_000}],
    ids=["text-time", "no-seen", "issued-in-the-future"],
)
def test_a_tampered_or_strange_session_counts_as_expired(broken: dict[str, Any]) -> None:
    store = signed_in()
    store.update(broken)
    assert status(store, T0) == "expired"


def test_signing_out_leaves_only_a_new_csrf_token() -> None:
    store = signed_in()
    token = store["csrf"]
    end_session(store)
    assert set(store) == {"csrf"}
    assert store["csrf"] != token
    assert identity(store, T0) is None


def test_kiosk_session_is_tied_to_its_token() -> None:
    store: dict[str, Any] = {}
    start_kiosk_session(store, "kiosk-abc", T0)
    who = identity(store, T0)
    assert who is not None and who.is_kiosk and who.role is None
    assert "kiosk-abc" not in str(store)  # only a fingerprint is kept
    assert kiosk_token_still_valid(store, ["other", "kiosk-abc"])
    assert not kiosk_token_still_valid(store, ["other"])
    assert not kiosk_token_still_valid({}, ["kiosk-abc"])


def test_csrf_token_is_created_once_and_compared_exactly() -> None:
    store: dict[str, Any] = {}
    token = csrf.ensure_token(store)
    assert csrf.ensure_token(store) == token
    assert csrf.token_matches(store, token)
    assert not csrf.token_matches(store, token + "x")
    assert not csrf.token_matches(store, "")
    assert not csrf.token_matches(store, None)
    assert not csrf.token_matches({}, token)


def test_session_keys_are_short() -> None:
    # The cookie carries them on every request.
    assert all(len(key) <= 5 for key in (sessions.K_ISSUED, sessions.K_SEEN, sessions.K_KIOSK))
