"""A staff member's own account: the second factor (set up, confirm, turn off, new
recovery codes), password and e-mail, and the code step of signing in.

Every change asks for the current password again (ASVS 7.5.1), counted against the same
back-off as signing in, so a stolen session cannot guess its way to the password through
these forms. Every change and every refusal is in the audit trail; a new password ends
the member's other sessions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit
from clinic.auth import codes, second_factor, throttle
from clinic.auth.models import RecoveryCode, SecondFactorChallenge, User
from clinic.auth.passwords import (
    MAX_LENGTH,
    hash_password_async,
    password_problem,
    verify_password_async,
)
from clinic.auth.second_factor import Enrolment
from clinic.auth.secret_box import SecretBox
from clinic.auth.service import (
    SignInResult,
    TooManyAttempts,
    normalise_email,
    valid_email_problem,
)
from clinic.auth.sessions import SignedIn, end_user_sessions, start_session
from clinic.clock import now_utc
from clinic.db import Database, with_retries
from clinic.errors import ClinicError, Conflict, InvalidInput, NotFound, PermissionDenied
from clinic.options import get_option

CHECK_ANSWERS = "Check the highlighted answers."
# What each field's problem is called (a table, so that no string literal sits beside a
# field named "password").
SAY = {
    "enter_current": "Enter your current password",
    "not_right": "Your password is not right. Enter the password you sign in with",
    "enter_new": "Enter a new password",
    "same_as_current": "Choose a password different from your current one",
    "confirm_differs": "Type the new password again, exactly the same",
}
WRONG_CODE = (
    "That code is not right. Enter the current code from your authenticator app, "
    "or one of your unused recovery codes"
)
WRONG_SET_UP_CODE = (
    "That code is not right. Enter the 6-digit code your authenticator app shows now"
)


class SetUpExpired(ClinicError):
    status_code = 409
    title = "Set-up ran out of time"

    def __init__(self) -> None:
        super().__init__(
            "Your set-up ran out of time or was not started. Start again: enter your "
            "password and scan the new code."
        )


class ChallengeEnded(ClinicError):
    """The halfway sign-in is missing, used or out of time: sign in again."""

    status_code = 409
    title = "Sign in again"

    def __init__(self) -> None:
        super().__init__("Your sign-in took too long or has ended. Sign in again.")


# Reading


@dataclass(frozen=True)
class AccountSecurity:
    name: str
    email: str
    has_second_factor: bool
    confirmed_at: datetime | None
    recovery_codes_left: int
    # A set-up waiting for its confirming code (the page shows its secret), or None.
    enrolment: Enrolment | None
    # Whether one of the member's roles requires a second factor.
    required: bool


async def account_security(
    db: Database, user_id: int, box: SecretBox, *, issuer: str
) -> AccountSecurity:
    now = now_utc()
    async with db.reading() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise PermissionDenied("Sign in to continue.")
        left = await codes.recovery_codes_left(session, user_id)
        required = second_factor.required_roles_from(
            await get_option(session, second_factor.REQUIRED_ROLES_OPTION)
        )
    secret = codes.pending_secret(user, box, now)
    enrolment = None
    if secret is not None and user.totp_pending_until is not None:
        uri = second_factor.provisioning_uri(secret, email=user.email, issuer=issuer)
        enrolment = Enrolment(secret=secret, uri=uri, until=user.totp_pending_until)
    return AccountSecurity(
        name=user.name,
        email=user.email,
        has_second_factor=user.has_second_factor,
        confirmed_at=user.totp_confirmed_at,
        recovery_codes_left=left,
        enrolment=enrolment,
        required=bool(user.roles & required),
    )


# Re-authentication


async def _reauthenticate(
    db: Database, user_id: int, password: str, *, ip_address: str, purpose: str
) -> None:
    """The signed-in member's password again, before a change. Throttled and audited like
    a sign-in; a wrong one is an InvalidInput on the `password` field."""
    if not password:
        raise InvalidInput(CHECK_ANSWERS, field_errors={"password": SAY["enter_current"]})
    now = now_utc()
    async with db.reading() as session:
        user = await session.get(User, user_id)
    if user is None or not user.active:
        raise PermissionDenied("Sign in to continue.")
    keys = [throttle.account_key(user.email), throttle.address_key(ip_address)]

    async def take_attempt() -> datetime | None:
        async with db.transaction() as session:
            return await throttle.take_attempt(session, keys, now)

    blocked_until = await with_retries(take_attempt)
    if blocked_until is not None:
        raise TooManyAttempts(blocked_until, now, what="password attempts")
    if not await verify_password_async(user.password_hash, password[: MAX_LENGTH * 4]):

        async def record_failure() -> None:
            async with db.transaction() as session:
                audit.record(
                    session,
                    "user.reauthentication_failed",
                    actor_user_id=user_id,
                    subject_type="user",
                    subject_id=user_id,
                    details={"ip": ip_address, "for": purpose},
                )

        await with_retries(record_failure)
        raise InvalidInput(CHECK_ANSWERS, field_errors={"password": SAY["not_right"]})

    async def forgive() -> None:
        async with db.transaction() as session:
            await throttle.clear(session, keys[0])
            await throttle.forgive(session, keys[1])

    await with_retries(forgive)


def _record(session: AsyncSession, action: str, user_id: int, **details: object) -> None:
    """An audit entry about the member's own account, by the member."""
    audit.record(
        session,
        action,
        actor_user_id=user_id,
        subject_type="user",
        subject_id=user_id,
        details=dict(details),
    )


# The second factor


async def start_set_up(
    db: Database, box: SecretBox, staff: SignedIn, password: str, *, ip_address: str
) -> None:
    """A new secret to scan, after the password (replacing a set-up in progress; a factor
    already in effect stays until the new one is confirmed)."""
    await _reauthenticate(
        db, staff.user_id, password, ip_address=ip_address, purpose="second_factor_set_up"
    )
    async with db.transaction() as session:
        user = await session.get(User, staff.user_id, with_for_update=True)
        if user is None:
            raise PermissionDenied("Sign in to continue.")
        codes.begin_enrolment(user, box, now_utc())
        _record(session, "user.second_factor_set_up_started", user.id, ip=ip_address)


async def confirm_set_up(
    db: Database, box: SecretBox, staff: SignedIn, code: str, *, ip_address: str
) -> list[str]:
    """Put the set-up's secret in effect once a current code from it is typed; issue ten
    new recovery codes and return them (shown once)."""
    typed = second_factor.clean_code(code)
    if not typed:
        raise InvalidInput(
            CHECK_ANSWERS,
            field_errors={"code": "Enter the 6-digit code your authenticator app shows"},
        )
    now = now_utc()
    keys = [throttle.second_factor_key(staff.user_id), throttle.address_key(ip_address)]

    async def attempt() -> tuple[str, list[str] | datetime | None]:
        async with db.transaction() as session:
            blocked_until = await throttle.take_attempt(session, keys, now)
            if blocked_until is not None:
                return "blocked", blocked_until
            user = await session.get(User, staff.user_id, with_for_update=True)
            if user is None:
                raise PermissionDenied("Sign in to continue.")
            secret = codes.pending_secret(user, box, now)
            if secret is None:
                return "expired", None
            step = second_factor.matching_step(secret, typed, now, last_step=None)
            if step is None:
                _record(
                    session,
                    "user.second_factor_failed",
                    user.id,
                    ip=ip_address,
                    during="set_up",
                    reason="wrong_code",
                )
                return "wrong", None
            replaced = user.has_second_factor
            user.totp_secret = user.totp_pending_secret
            user.totp_confirmed_at = now
            user.totp_last_step = step
            user.totp_pending_secret = None
            user.totp_pending_until = None
            shown = await codes.issue_recovery_codes(session, user.id, box, now)
            await throttle.clear(session, keys[0])
            await throttle.forgive(session, keys[1])
            _record(
                session,
                "user.second_factor_enabled",
                user.id,
                ip=ip_address,
                replaced=replaced,
                recovery_codes=len(shown),
            )
            return "ok", shown

    outcome, value = await with_retries(attempt)
    if outcome == "blocked":
        assert isinstance(value, datetime)
        raise TooManyAttempts(value, now, what="code attempts")
    if outcome == "expired":
        raise SetUpExpired()
    if outcome == "wrong":
        raise InvalidInput(CHECK_ANSWERS, field_errors={"code": WRONG_SET_UP_CODE})
    assert isinstance(value, list)
    return value


async def _required_for(session: AsyncSession, user: User) -> bool:
    required = second_factor.required_roles_from(
        await get_option(session, second_factor.REQUIRED_ROLES_OPTION)
    )
    return bool(user.roles & required)


async def turn_off(db: Database, staff: SignedIn, password: str, *, ip_address: str) -> None:
    """Stop asking for a code at sign-in: the secret, any set-up in progress and the
    recovery codes are deleted. Refused while one of the member's roles requires it."""
    await _reauthenticate(
        db, staff.user_id, password, ip_address=ip_address, purpose="second_factor_off"
    )
    async with db.transaction() as session:
        user = await session.get(User, staff.user_id, with_for_update=True)
        if user is None:
            raise PermissionDenied("Sign in to continue.")
        if await _required_for(session, user):
            raise InvalidInput(
                "Your role requires two-step sign-in, so it cannot be turned off.",
                field_errors={
                    "password": "Your role requires two-step sign-in. To move it to a new "
                    "phone, set it up again instead"
                },
            )
        if not user.has_second_factor:
            return
        clear_second_factor(user)
        await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
        _record(session, "user.second_factor_disabled", user.id, ip=ip_address)


def clear_second_factor(user: User) -> None:
    user.totp_secret = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
    user.totp_pending_secret = None
    user.totp_pending_until = None


async def replace_recovery_codes(
    db: Database, box: SecretBox, staff: SignedIn, password: str, *, ip_address: str
) -> list[str]:
    """Ten new recovery codes; the old ones stop working."""
    await _reauthenticate(
        db, staff.user_id, password, ip_address=ip_address, purpose="recovery_codes"
    )
    async with db.transaction() as session:
        user = await session.get(User, staff.user_id, with_for_update=True)
        if user is None:
            raise PermissionDenied("Sign in to continue.")
        if not user.has_second_factor:
            raise InvalidInput(
                "Set up two-step sign-in first.",
                field_errors={"password": "Set up two-step sign-in before recovery codes"},
            )
        shown = await codes.issue_recovery_codes(session, user.id, box, now_utc())
        _record(session, "user.recovery_codes_replaced", user.id, ip=ip_address)
    return shown


async def reset_second_factor(
    db: Database, email: str, *, actor_user_id: int | None = None, actor_label: str = ""
) -> bool:
    """For a member who lost both their phone and their recovery codes: their second
    factor, recovery codes, halfway sign-ins and code back-off are cleared, so they sign in
    with their password (and, if their role requires it, set it up again at once).
    Returns whether there was a second factor to clear."""
    async with db.transaction() as session:
        user = await session.scalar(
            select(User).where(User.email == normalise_email(email)).with_for_update()
        )
        if user is None:
            raise NotFound("There is no staff account with that email address.")
        had_one = user.has_second_factor
        clear_second_factor(user)
        await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
        await session.execute(
            delete(SecondFactorChallenge).where(SecondFactorChallenge.user_id == user.id)
        )
        await throttle.clear(session, throttle.second_factor_key(user.id))
        audit.record(
            session,
            "user.second_factor_reset",
            actor_user_id=actor_user_id,
            actor_label=actor_label,
            subject_type="user",
            subject_id=user.id,
            details={"had_second_factor": had_one},
        )
    return had_one


# Password and e-mail


async def change_password(
    db: Database,
    staff: SignedIn,
    *,
    current: str,
    new: str,
    confirm: str,
    ip_address: str,
) -> int:
    """A new password after the current one; the member's other sessions end. Returns
    how many ended."""
    errors: dict[str, str] = {}
    if not current:
        errors["current_password"] = SAY["enter_current"]
    if not new:
        errors["new_password"] = SAY["enter_new"]
    elif problem := password_problem(new):
        errors["new_password"] = problem
    elif new == current:
        errors["new_password"] = SAY["same_as_current"]
    if not errors.get("new_password") and new != confirm:
        errors["confirm_password"] = SAY["confirm_differs"]
    if errors:
        raise InvalidInput(CHECK_ANSWERS, field_errors=errors)
    try:
        await _reauthenticate(db, staff.user_id, current, ip_address=ip_address, purpose="password")
    except InvalidInput as wrong:
        raise InvalidInput(
            CHECK_ANSWERS, field_errors={"current_password": wrong.field_errors["password"]}
        ) from None
    new_hash = await hash_password_async(new)

    async def store() -> int:
        async with db.transaction() as session:
            user = await session.get(User, staff.user_id, with_for_update=True)
            if user is None:
                raise PermissionDenied("Sign in to continue.")
            user.password_hash = new_hash
            ended = await end_user_sessions(session, user.id, keep_session_id=staff.session_id)
            # A pending halfway sign-in was made with the old password.
            await session.execute(
                delete(SecondFactorChallenge).where(SecondFactorChallenge.user_id == user.id)
            )
            _record(
                session,
                "user.password_changed",
                user.id,
                ip=ip_address,
                other_sessions_ended=ended,
            )
            return ended

    return await with_retries(store)


async def change_email(
    db: Database, staff: SignedIn, *, password: str, new_email: str, ip_address: str
) -> str:
    """A new sign-in e-mail address after the password; returns it as stored."""
    email = normalise_email(new_email)
    errors: dict[str, str] = {}
    if not email:
        errors["email"] = "Enter your new email address"
    elif problem := valid_email_problem(email):
        errors["email"] = problem
    elif email == staff.email:
        errors["email"] = "That is already your email address"
    if not password:
        errors["password"] = SAY["enter_current"]
    if errors:
        raise InvalidInput(CHECK_ANSWERS, field_errors=errors)
    await _reauthenticate(db, staff.user_id, password, ip_address=ip_address, purpose="email")
    taken_message = "There is already an account with that email address."
    try:
        async with db.transaction() as session:
            taken = await session.scalar(
                select(func.count()).select_from(User).where(User.email == email)
            )
            if taken:
                raise Conflict(taken_message)
            user = await session.get(User, staff.user_id, with_for_update=True)
            if user is None:
                raise PermissionDenied("Sign in to continue.")
            before = user.email
            user.email = email
            _record(
                session, "user.email_changed", user.id, ip=ip_address, before=before, after=email
            )
    except IntegrityError:
        # Someone else took the address between the check and the write.
        raise Conflict(taken_message) from None
    return email


# The code step of signing in


@dataclass(frozen=True)
class ChallengePassed:
    result: SignInResult
    # Set when a recovery code was used: how many are left.
    recovery_codes_left: int | None


async def challenge_is_open(db: Database, token: str) -> bool:
    async with db.reading() as session:
        challenge = await session.get(SecondFactorChallenge, codes.challenge_id_for(token))
    return challenge is not None and now_utc() < challenge.expires_at


async def pass_challenge(
    db: Database,
    box: SecretBox,
    token: str,
    code: str,
    *,
    ip_address: str,
    user_agent: str,
) -> ChallengePassed:
    """Finish a sign-in with its second factor: a session starts and the challenge is
    used up. A wrong code leaves the challenge open (within its time) and counts against
    the account's code back-off."""
    now = now_utc()
    challenge_id = codes.challenge_id_for(token)
    async with db.reading() as session:
        challenge = await session.get(SecondFactorChallenge, challenge_id)
    if challenge is None or now >= challenge.expires_at:
        raise ChallengeEnded()
    user_id = challenge.user_id
    typed = second_factor.clean_code(code)
    if not typed:
        raise InvalidInput(
            CHECK_ANSWERS,
            field_errors={"code": "Enter the code from your authenticator app"},
        )
    keys = [throttle.second_factor_key(user_id), throttle.address_key(ip_address)]

    async def attempt() -> tuple[str, object]:
        async with db.transaction() as session:
            blocked_until = await throttle.take_attempt(session, keys, now)
            if blocked_until is not None:
                return "blocked", blocked_until
            user = await session.get(User, user_id, with_for_update=True)
            if user is None or not user.active:
                return "ended", None
            check = await codes.check_code(session, user, box, typed, now)
            if check.accepted is None:
                _record(
                    session,
                    "user.second_factor_failed",
                    user_id,
                    ip=ip_address,
                    during="sign_in",
                    reason=check.reason,
                )
                return "wrong", None
            used = await session.execute(
                delete(SecondFactorChallenge).where(SecondFactorChallenge.id == challenge_id)
            )
            if int(getattr(used, "rowcount", 0) or 0) != 1:
                # Another request finished this sign-in first: undo this one's code use.
                raise ChallengeEnded()
            await throttle.clear(session, keys[0])
            await throttle.forgive(session, keys[1])
            session_token = await start_session(
                session, user, ip_address=ip_address, user_agent=user_agent
            )
            left = None
            if check.accepted == "recovery_code":
                left = await codes.recovery_codes_left(session, user_id)
                _record(session, "user.recovery_code_used", user_id, ip=ip_address, left=left)
            _record(session, "user.signed_in", user_id, ip=ip_address, second_factor=check.accepted)
            result = SignInResult(user_id=user_id, token=session_token, roles=user.roles)
            return "ok", ChallengePassed(result, left)

    outcome, value = await with_retries(attempt)
    if outcome == "blocked":
        assert isinstance(value, datetime)
        raise TooManyAttempts(value, now, what="code attempts")
    if outcome == "ended":
        raise ChallengeEnded()
    if outcome == "wrong":
        raise InvalidInput(CHECK_ANSWERS, field_errors={"code": WRONG_CODE})
    assert isinstance(value, ChallengePassed)
    return value


async def abandon_challenge(db: Database, token: str) -> None:
    async with db.transaction() as session:
        await session.execute(
            delete(SecondFactorChallenge).where(
                SecondFactorChallenge.id == codes.challenge_id_for(token)
            )
        )


__all__ = [
    "AccountSecurity",
    "ChallengeEnded",
    "ChallengePassed",
    "SetUpExpired",
    "abandon_challenge",
    "account_security",
    "challenge_is_open",
    "change_email",
    "change_password",
    "confirm_set_up",
    "pass_challenge",
    "replace_recovery_codes",
    "reset_second_factor",
    "start_set_up",
    "turn_off",
]
