"""Password hashing with argon2id at the OWASP minimum (19 MiB, t=2, p=1).

Hashing is CPU- and memory-bound, so it runs in a worker thread behind a small
semaphore: a flood of sign-ins must not starve every other request.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
from importlib import resources

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)
_HASHING_SLOTS = asyncio.Semaphore(2)


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return HASHER.check_needs_rehash(stored_hash)


async def hash_password_async(password: str) -> str:
    async with _HASHING_SLOTS:
        return await asyncio.to_thread(hash_password, password)


async def verify_password_async(stored_hash: str, password: str) -> bool:
    async with _HASHING_SLOTS:
        return await asyncio.to_thread(verify_password, stored_hash, password)


MIN_LENGTH = 12
MAX_LENGTH = 128


@functools.cache
def common_passwords() -> frozenset[str]:
    """Django's list of 20,000 common passwords (see clinic/auth/data/README.md)."""
    data = resources.files("clinic.auth").joinpath("data/common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode().split())


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None (ASVS 6.2: length and a common-password
    list; no composition rules)."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters. A short phrase of several words works well."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    if password.strip().lower() in common_passwords():
        return "That password is too common. Choose one that is harder to guess."
    return None
