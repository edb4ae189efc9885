"""Signed acknowledge links: valid until they expire, refused when altered or foreign."""

from __future__ import annotations

import pytest

from alerts.tokens import InvalidToken, sign, verify

NOW = 1_800_000_000.0


def test_a_token_grants_its_alerts_to_its_recipient_until_it_expires() -> None:
    token = sign("secret", [3, 1, 2], "a@example.com", NOW + 60)
    grant = verify("secret", token, NOW)
    assert grant.alert_ids == (1, 2, 3)
    assert grant.recipient == "a@example.com"
    with pytest.raises(InvalidToken, match="expired"):
        verify("secret", token, NOW + 60)


def test_another_key_or_an_altered_payload_is_refused() -> None:
    token = sign("secret", [1], "a@example.com", NOW + 60)
    with pytest.raises(InvalidToken, match="signature"):
        verify("other secret", token, NOW)
    _, _, signature = token.partition(".")
    forged = sign("secret", [1, 2, 3], "a@example.com", NOW + 60).partition(".")[0]
    with pytest.raises(InvalidToken, match="signature"):
        verify("secret", f"{forged}.{signature}", NOW)


@pytest.mark.parametrize("token", ["", "abc", ".", "abc.", "a.b.c", "!!!.???"])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidToken):
        verify("secret", token, NOW)
