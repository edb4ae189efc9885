"""Signed, expiring acknowledge links for alert emails (HMAC-SHA256 with the secret key).

A token is ``<payload>.<signature>``, both base64url without padding. The
payload names the alerts, who the email went to, and when the link expires.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Final

DEFAULT_LIFETIME_SECONDS: Final = 7 * 24 * 3600
_PURPOSE: Final = b"complaintops.alerts.ack.v1"


class InvalidToken(ValueError):
    """The link was altered, signed with another key, or has expired."""


@dataclass(frozen=True, slots=True)
class AckGrant:
    alert_ids: tuple[int, ...]
    recipient: str
    expires_at: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, payload: str) -> bytes:
    key = hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()
    return hmac.new(key, payload.encode(), hashlib.sha256).digest()


def sign(secret: str, alert_ids: list[int], recipient: str, expires_at: float) -> str:
    body = json.dumps(
        {"a": sorted(alert_ids), "r": recipient, "e": int(expires_at)}, separators=(",", ":")
    )
    payload = _b64(body.encode())
    return f"{payload}.{_b64(_signature(secret, payload))}"


def verify(secret: str, token: str, now: float) -> AckGrant:
    """The grant of a valid token; InvalidToken when it is forged, malformed or expired."""
    payload, dot, signature = token.partition(".")
    if not dot or not payload or not signature:
        raise InvalidToken("malformed link")
    try:
        presented = _unb64(signature)
    except (binascii.Error, ValueError):
        raise InvalidToken("malformed link") from None
    if not hmac.compare_digest(presented, _signature(secret, payload)):
        raise InvalidToken("the link's signature is not valid")
    try:
        data = json.loads(_unb64(payload))
        grant = AckGrant(tuple(int(i) for i in data["a"]), str(data["r"]), float(data["e"]))
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidToken("malformed link") from None
    if now >= grant.expires_at:
        raise InvalidToken("the link has expired")
    return grant
