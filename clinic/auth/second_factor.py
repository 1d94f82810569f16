"""The staff second factor's rules, without a database: TOTP codes (RFC 6238, through
pyotp) and recovery codes.

TOTP: 6 digits, 30-second steps, SHA-1 (what every authenticator app reads from an
otpauth:// URI). A code is accepted for the current step or one either side (clock drift
and the time it takes to type), and only for a step later than the last one accepted, so
a code seen over a shoulder or replayed from a form cannot be used again.

Recovery codes: 12 characters from a 32-letter alphabet (60 random bits), shown as
xxxx-xxxx-xxxx. They are stored as HMAC-SHA256 under a key derived from the app's secret
key, not with argon2: argon2 exists to slow down guessing low-entropy passwords from a
stolen hash, and 60 random bits are out of reach of guessing anyway; the key also keeps a
copy of the database alone from being tested offline. A fast hash lets a code be found by
lookup (one indexed query) instead of verifying ten slow hashes per attempt.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr

import pyotp
import segno
from markupsafe import Markup

from clinic.auth.models import Role

STEP_SECONDS = 30
DIGITS = 6
# Steps either side of now that still count.
WINDOW = 1
# How long a set-up may wait for its confirming code, and a signed-in password for its code.
ENROLMENT_LIFETIME = timedelta(minutes=10)
CHALLENGE_LIFETIME = timedelta(minutes=5)

RECOVERY_CODE_COUNT = 10
# Crockford's base 32: no I, L, O or U, so nothing reads as another letter or a digit.
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_CODE_LENGTH = 12
_READ_AS = str.maketrans({"i": "1", "l": "1", "o": "0"})
_TOTP_CODE = re.compile(rf"\d{{{DIGITS}}}", re.ASCII)
_SEPARATORS = re.compile(r"[\s\-]+")


def new_secret() -> str:
    """160 random bits in base 32, as RFC 4226 recommends for HMAC-SHA1."""
    return pyotp.random_base32(length=32)


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)


def step_at(instant: datetime) -> int:
    return int(instant.timestamp()) // STEP_SECONDS


def code_at(secret: str, instant: datetime) -> str:
    """The code an authenticator shows at `instant` (tests and the set-up page's checks)."""
    return _totp(secret).generate_otp(step_at(instant))


def clean_code(text: str) -> str:
    """What was typed, without the spaces and dashes people add."""
    return _SEPARATORS.sub("", text).lower()


def looks_like_totp(code: str) -> bool:
    return bool(_TOTP_CODE.fullmatch(code))


def matching_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step `code` belongs to, if it is within the window and newer than the last
    step accepted; otherwise None."""
    if not looks_like_totp(code):
        return None
    totp = _totp(secret)
    current = step_at(now)
    for step in range(current - WINDOW, current + WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def issuer_from(mail_from: str) -> str:
    """The name authenticator apps list the account under: the clinic's name as its
    e-mail is signed ("Willow & Oak Massage Therapy")."""
    name, _ = parseaddr(mail_from)
    return name.strip() or "Clinic"


def provisioning_uri(secret: str, *, email: str, issuer: str) -> str:
    return _totp(secret).provisioning_uri(name=email, issuer_name=issuer)


def qr_svg(uri: str) -> Markup:
    """The URI as a QR code in inline SVG: paths with presentation attributes only, no
    style attribute or script, so it passes the CSP."""
    qr = segno.make(uri, error="m")
    svg = qr.svg_inline(
        scale=4,
        border=4,
        light="#fff",
        dark="#000",
        svgclass="qr-code",
        lineclass=None,
        title="QR code for your authenticator app",
    )
    return Markup(svg)  # noqa: S704 - segno's own markup around a fixed title.


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def new_recovery_codes() -> list[str]:
    return [
        "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_LENGTH))
        for _ in range(RECOVERY_CODE_COUNT)
    ]


def shown_recovery_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalise_recovery_code(text: str) -> str | None:
    """A typed recovery code in its stored form, or None if it cannot be one."""
    code = clean_code(text).translate(_READ_AS)
    if len(code) != _CODE_LENGTH or any(c not in _ALPHABET for c in code):
        return None
    return code


@dataclass(frozen=True)
class Enrolment:
    """A set-up in progress as the page shows it."""

    secret: str
    uri: str
    until: datetime

    @property
    def grouped_secret(self) -> str:
        return grouped(self.secret)

    @property
    def qr(self) -> Markup:
        return qr_svg(self.uri)


# Which roles must use a second factor: a clinic option an admin sets, {"roles": [...]}.
REQUIRED_ROLES_OPTION = "security.second_factor_roles"


def required_roles_from(value: object) -> frozenset[Role]:
    """The stored option as roles; anything unreadable counts as no requirement, and
    roles that no longer exist are ignored."""
    if not isinstance(value, dict):
        return frozenset()
    listed = value.get("roles")
    if not isinstance(listed, list):
        return frozenset()
    known = {r.value: r for r in Role}
    return frozenset(known[name] for name in listed if isinstance(name, str) and name in known)


def must_set_up(roles: frozenset[Role], required: frozenset[Role], has_factor: bool) -> bool:
    return not has_factor and bool(roles & required)
