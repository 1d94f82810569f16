"""Second-factor steps inside the caller's transaction: starting a set-up, checking a code
(TOTP or recovery), issuing recovery codes, and the halfway sign-in (a challenge).

Nothing here commits or writes audit entries: the use cases in service.py and account.py
own the transaction and say what happened.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.auth import second_factor
from clinic.auth.models import RecoveryCode, SecondFactorChallenge, User
from clinic.auth.secret_box import SealBroken, SecretBox

CodeKind = Literal["totp", "recovery_code"]


def totp_context(user_id: int) -> str:
    """What a sealed TOTP secret is bound to: its own account."""
    return f"totp:{user_id}"


def begin_enrolment(user: User, box: SecretBox, now: datetime) -> None:
    """A new secret waiting for its confirming code; any earlier set-up is replaced. The
    secret in effect (if any) stays in effect until the new one is confirmed."""
    user.totp_pending_secret = box.seal(second_factor.new_secret(), context=totp_context(user.id))
    user.totp_pending_until = now + second_factor.ENROLMENT_LIFETIME


def pending_secret(user: User, box: SecretBox, now: datetime) -> str | None:
    """The secret of a set-up still within its time, or None."""
    if user.totp_pending_secret is None or user.totp_pending_until is None:
        return None
    if now >= user.totp_pending_until:
        return None
    try:
        return box.open(user.totp_pending_secret, context=totp_context(user.id))
    except SealBroken:
        return None


def active_secret(user: User, box: SecretBox) -> str | None:
    """The secret in effect. One that no longer opens (the secret key changed) is none:
    the member cannot pass the code step and uses a recovery code or asks an admin."""
    if not user.has_second_factor or user.totp_secret is None:
        return None
    try:
        return box.open(user.totp_secret, context=totp_context(user.id))
    except SealBroken:
        return None


async def take_step(session: AsyncSession, user_id: int, step: int) -> bool:
    """Record `step` as the last one used, unless it (or a later one) already was: the
    condition in the UPDATE makes a code good once even under two submissions at once."""
    result = await session.execute(
        update(User)
        .where(
            User.id == user_id,
            or_(User.totp_last_step.is_(None), User.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def use_recovery_code(
    session: AsyncSession, user_id: int, box: SecretBox, typed: str, now: datetime
) -> bool:
    code = second_factor.normalise_recovery_code(typed)
    if code is None:
        return False
    result = await session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == box.code_digest(user_id, code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


@dataclass(frozen=True)
class CodeCheck:
    """The outcome of a code typed for an account's second factor."""

    accepted: CodeKind | None
    # Why it was refused, for the audit entry: "wrong_code", "reused_code",
    # "wrong_recovery_code", "no_second_factor".
    reason: str = ""


async def check_code(
    session: AsyncSession, user: User, box: SecretBox, typed: str, now: datetime
) -> CodeCheck:
    """Accept a current TOTP code (once) or an unused recovery code (once)."""
    secret = active_secret(user, box)
    if secret is None and not user.has_second_factor:
        return CodeCheck(None, "no_second_factor")
    code = second_factor.clean_code(typed)
    if second_factor.looks_like_totp(code):
        if secret is None:
            return CodeCheck(None, "wrong_code")
        step = second_factor.matching_step(secret, code, now, last_step=None)
        if step is None:
            return CodeCheck(None, "wrong_code")
        if not await take_step(session, user.id, step):
            return CodeCheck(None, "reused_code")
        return CodeCheck("totp")
    if await use_recovery_code(session, user.id, box, code, now):
        return CodeCheck("recovery_code")
    return CodeCheck(None, "wrong_recovery_code")


async def issue_recovery_codes(
    session: AsyncSession, user_id: int, box: SecretBox, now: datetime
) -> list[str]:
    """Ten new codes in place of any earlier ones, used or not; returns them as shown."""
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = second_factor.new_recovery_codes()
    session.add_all(
        RecoveryCode(user_id=user_id, code_hash=box.code_digest(user_id, c), created_at=now)
        for c in codes
    )
    return [second_factor.shown_recovery_code(c) for c in codes]


async def recovery_codes_left(session: AsyncSession, user_id: int) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
    )
    return int(count or 0)


def challenge_id_for(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_challenge(session: AsyncSession, user_id: int, now: datetime) -> str:
    """A halfway sign-in for `user_id`; returns its cookie token. Challenges that ran out
    are cleared on the way (they are few: one per sign-in of a member with a factor)."""
    await session.execute(
        delete(SecondFactorChallenge).where(SecondFactorChallenge.expires_at <= now)
    )
    token = secrets.token_urlsafe(32)
    session.add(
        SecondFactorChallenge(
            id=challenge_id_for(token),
            user_id=user_id,
            created_at=now,
            expires_at=now + second_factor.CHALLENGE_LIFETIME,
        )
    )
    return token
