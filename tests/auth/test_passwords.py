"""Password storage and rules (ASVS 6.2, OWASP password storage)."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, Type

from clinic.auth.passwords import hash_password, needs_rehash, password_problem, verify_password


def test_hashes_are_argon2id_at_the_owasp_minimum() -> None:
    stored = hash_password("a long staff passphrase")
    assert stored.startswith("$argon2id$")
    assert "m=19456,t=2,p=1" in stored
    assert verify_password(stored, "a long staff passphrase")
    assert not verify_password(stored, "a long staff passphrasE")


def test_a_hash_made_with_other_parameters_needs_rehashing() -> None:
    weaker = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1, type=Type.ID)
    assert needs_rehash(weaker.hash("a long staff passphrase"))
    assert not needs_rehash(hash_password("a long staff passphrase"))


def test_a_garbage_hash_never_verifies() -> None:
    assert not verify_password("not-a-hash", "anything at all here")


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("elevenchars", "at least 12"),
        ("x" * 129, "at most 128"),
        ("password1234", "too common"),
        ("PASSWORD1234", "too common"),
        ("iloveyou1234", None),
        ("correct horse battery staple", None),
        ("x" * 128, None),
        ("日本語のパスフレーズです十二", None),
    ],
)
def test_password_rules_are_length_and_a_common_list_only(
    password: str, problem: str | None
) -> None:
    found = password_problem(password)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found
