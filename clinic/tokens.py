"""Secrets handed to people in links (a hold, a manage link, a health form, a pay link, a
checkout return, a calendar feed): stored only as SHA-256, so a copy of the database opens
nothing. The tokens are at least 256 random bits, so a plain hash is enough."""

from __future__ import annotations

import hashlib


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
