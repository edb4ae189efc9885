from __future__ import annotations

import pytest

from dashboard.auth.passwords import (
    MIN_PASSWORD_LENGTH,
    WeakPassword,
    check_strength,
    hash_password,
    needs_rehash,
    verify_password,
)


def test_hash_is_argon2id_salted_and_verifies() -> None:
    first = hash_password("correct horse battery")
    second = hash_password("correct horse battery")
    assert first.startswith("$argon2id$")
    assert first != second
    assert verify_password(first, "correct horse battery")
    assert not verify_password(first, "correct horse batterY")
    assert not needs_rehash(first)


@pytest.mark.parametrize("stored", [None, "", "plain-text", "$argon2id$broken"])
def test_missing_or_malformed_hash_never_matches(stored: str | None) -> None:
    assert not verify_password(stored, "anything at all")


def test_strength_rules() -> None:
    check_strength("x" * MIN_PASSWORD_LENGTH)
    with pytest.raises(WeakPassword, match="at least"):
        check_strength("x" * (MIN_PASSWORD_LENGTH - 1))
    with pytest.raises(WeakPassword, match="at most"):
        check_strength("x" * 257)
