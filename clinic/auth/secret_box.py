"""Keys derived from the app's secret key, for second-factor data at rest.

TOTP secrets are sealed with AES-256-GCM so that a copy of the database (a backup, a
dump) does not hand over every staff member's authenticator. Each sealed value is bound
to what it belongs to (`context`, such as "totp:42"), so it cannot be moved to another
account's row. Recovery codes are only ever compared, so they get a keyed hash instead.

Both keys come from CLINIC_SECRET_KEY through HKDF with their own labels. Changing that key
makes every sealed secret and every recovery code unreadable: staff then set up their
second factor again (SECURITY.md, key rotation).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = "v1"
_NONCE_BYTES = 12


class SealBroken(Exception):
    """A sealed value that does not open with this key (wrong key, or altered)."""


def derive_key(secret_key: str, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"clinic:{purpose}".encode()
    ).derive(secret_key.encode())


class SecretBox:
    """Seals and opens short secrets, and hashes recovery codes, with keys derived from
    one secret key."""

    def __init__(self, secret_key: str) -> None:
        self._aead = AESGCM(derive_key(secret_key, "totp-secret"))
        self._code_key = derive_key(secret_key, "recovery-code")

    def __repr__(self) -> str:
        return "SecretBox(<keys hidden>)"

    def seal(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return f"{_VERSION}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, sealed: str, *, context: str) -> str:
        version, _, body = sealed.partition(":")
        if version != _VERSION:
            raise SealBroken("unknown seal version")
        try:
            raw = base64.urlsafe_b64decode(body.encode())
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
        except (InvalidTag, ValueError) as broken:
            raise SealBroken("the sealed value does not open with this key") from broken
        return plain.decode()

    def code_digest(self, user_id: int, code: str) -> str:
        """HMAC-SHA256 of a normalised recovery code, bound to its account."""
        message = f"{user_id}:{code}".encode()
        return hmac.new(self._code_key, message, hashlib.sha256).hexdigest()
