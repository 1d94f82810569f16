"""Staff account use cases: creating accounts, signing in and out.

Signing in is one step, or two for a member with a second factor: a right password then
starts a challenge (clinic/auth/codes.py) instead of a session, and account.py's
`pass_challenge` starts the session once the code is right. A member whose role requires
a second factor they have not set up gets a session that the role guard confines to the
set-up page, with a set-up already started (the password was just given).
"""

from __future__ import annotations

import functools
import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit
from clinic.auth import codes, throttle
from clinic.auth.models import Role, SignInThrottle, User, UserRole
from clinic.auth.passwords import (
    MAX_LENGTH,
    hash_password,
    hash_password_async,
    needs_rehash,
    password_problem,
    verify_password_async,
)
from clinic.auth.second_factor import REQUIRED_ROLES_OPTION, must_set_up, required_roles_from
from clinic.auth.secret_box import SecretBox
from clinic.auth.sessions import SignedIn, end_session, end_user_sessions, start_session
from clinic.clock import now_utc
from clinic.db import Database, with_retries
from clinic.errors import ClinicError, Conflict, InvalidInput, NotFound
from clinic.options import get_option


def normalise_email(email: str) -> str:
    return email.strip().lower()


def valid_email_problem(email: str) -> str | None:
    """Why a (normalised) sign-in e-mail address cannot be used, or None."""
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        return "Enter an email address in the correct format, like name@example.com"
    if len(email) > 254 or any(c.isspace() for c in email):
        return "Enter an email address in the correct format, like name@example.com"
    return None


async def create_user(
    db: Database,
    *,
    email: str,
    name: str,
    password: str,
    roles: Iterable[Role],
    actor_user_id: int | None = None,
    actor_label: str = "",
) -> User:
    email = normalise_email(email)
    role_set = frozenset(roles)
    errors: dict[str, str] = {}
    if problem := valid_email_problem(email):
        errors["email"] = problem
    if not name.strip():
        errors["name"] = "Enter the person's name"
    if not role_set:
        errors["roles"] = "Choose at least one role"
    if problem := password_problem(password):
        errors["password"] = problem
    if errors:
        raise InvalidInput("Check the highlighted answers.", field_errors=errors)
    password_hash = await hash_password_async(password)
    async with db.transaction() as session:
        taken = await session.scalar(select(func.count()).where(User.email == email))
        if taken:
            raise Conflict(f"There is already an account for {email}.")
        user = User(email=email, name=name.strip(), password_hash=password_hash, active=True)
        user.role_rows = [UserRole(role=r) for r in sorted(role_set)]
        session.add(user)
        await session.flush()
        audit.record(
            session,
            "user.created",
            actor_user_id=actor_user_id,
            actor_label=actor_label,
            subject_type="user",
            subject_id=user.id,
            details={"roles": sorted(r.value for r in role_set)},
        )
    return user


class TooManyAttempts(ClinicError):
    status_code = 429
    title = "Too many attempts"

    def __init__(
        self, retry_after: datetime, now: datetime, *, what: str = "sign-in attempts"
    ) -> None:
        if retry_after == throttle.LOCKED:
            message = (
                "Sign-in to this account is locked after too many failed attempts. "
                "Ask a clinic administrator to unlock it."
            )
            self.retry_after_seconds = 3600
        else:
            seconds = max(1, math.ceil((retry_after - now).total_seconds()))
            self.retry_after_seconds = seconds
            wait = f"{seconds} seconds" if seconds < 90 else f"{math.ceil(seconds / 60)} minutes"
            message = f"Too many failed {what}. Wait {wait} and try again."
        super().__init__(message)


class WrongCredentials(ClinicError):
    status_code = 400
    title = "Sign-in failed"

    def __init__(self) -> None:
        # One message for an unknown email, a wrong password and a disabled account
        # (ASVS 6.3.8: no enumeration by message).
        super().__init__("Enter a correct email address and password.")


@functools.cache
def _dummy_hash() -> str:
    # Unknown emails verify against this so that they cost the same work as known ones.
    return hash_password(secrets.token_urlsafe(16))


# "signed_in": `token` is a session. "code_needed": `token` is a challenge waiting for the
# second factor (no session yet). "set_up_needed": `token` is a session confined to
# setting up the second factor its roles require.
SignInOutcome = Literal["signed_in", "code_needed", "set_up_needed"]


@dataclass(frozen=True)
class SignInResult:
    user_id: int
    token: str
    roles: frozenset[Role]
    outcome: SignInOutcome = "signed_in"


async def sign_in(
    db: Database,
    *,
    email: str,
    password: str,
    ip_address: str,
    user_agent: str,
    box: SecretBox,
) -> SignInResult:
    email = normalise_email(email)[:254]
    keys = [throttle.account_key(email), throttle.address_key(ip_address)]
    now = now_utc()
    # A blocked attempt is refused from a read, before any write or hashing: a flood
    # that is already backed off costs one cheap query per request.
    async with db.reading() as session:
        blocked_until = await throttle.wait_until(session, keys, now)
        user = await session.scalar(select(User).where(User.email == email))
    if blocked_until is not None:
        raise TooManyAttempts(blocked_until, now)

    async def take_attempt() -> datetime | None:
        async with db.transaction() as session:
            return await throttle.take_attempt(session, keys, now)

    blocked_until = await with_retries(take_attempt)
    if blocked_until is not None:
        raise TooManyAttempts(blocked_until, now)

    stored_hash = user.password_hash if user is not None else _dummy_hash()
    password_ok = await verify_password_async(stored_hash, password[: MAX_LENGTH * 4])
    if user is None or not user.active or not password_ok:
        await with_retries(functools.partial(_audit_failure, db, user, password_ok, ip_address))
        raise WrongCredentials()

    new_hash = await hash_password_async(password) if needs_rehash(user.password_hash) else None

    async def start() -> tuple[str, SignInOutcome]:
        assert user is not None
        async with db.transaction() as session:
            await throttle.clear(session, throttle.account_key(email))
            await throttle.forgive(session, throttle.address_key(ip_address))
            if new_hash is not None:
                await session.execute(
                    update(User).where(User.id == user.id).values(password_hash=new_hash)
                )
            details = {"ip": ip_address, "rehashed": new_hash is not None}
            if user.has_second_factor:
                token = await codes.start_challenge(session, user.id, now_utc())
                audit.record(
                    session,
                    "user.password_accepted",
                    actor_user_id=user.id,
                    subject_type="user",
                    subject_id=user.id,
                    details={**details, "second_factor": "owed"},
                )
                return token, "code_needed"
            required = required_roles_from(await get_option(session, REQUIRED_ROLES_OPTION))
            outcome: SignInOutcome = "signed_in"
            if must_set_up(user.roles, required, has_factor=False):
                # The password was just given: that is the re-authentication the set-up
                # asks for, so the set-up starts here.
                locked = await session.get(User, user.id, with_for_update=True)
                assert locked is not None
                codes.begin_enrolment(locked, box, now_utc())
                outcome = "set_up_needed"
            token = await start_session(session, user, ip_address=ip_address, user_agent=user_agent)
            audit.record(
                session,
                "user.signed_in",
                actor_user_id=user.id,
                subject_type="user",
                subject_id=user.id,
                details={
                    **details,
                    "second_factor": "must_set_up" if outcome != "signed_in" else "none",
                },
            )
        return token, outcome

    token, outcome = await with_retries(start)
    return SignInResult(user_id=user.id, token=token, roles=user.roles, outcome=outcome)


async def _audit_failure(
    db: Database, user: User | None, password_ok: bool, ip_address: str
) -> None:
    async with db.transaction() as session:
        audit.record(
            session,
            "user.sign_in_failed",
            actor_label="anonymous",
            subject_type="user" if user is not None else "",
            subject_id=user.id if user is not None else "",
            details={"ip": ip_address, "reason": _failure_reason(user, password_ok)},
        )


def _failure_reason(user: User | None, password_ok: bool) -> str:
    if user is None:
        return "unknown_email"
    if not user.active:
        return "disabled"
    return "wrong_password"


async def sign_out(db: Database, signed_in: SignedIn) -> None:
    await end_session(db, signed_in.session_id)
    async with db.transaction() as session:
        audit.record(
            session,
            "user.signed_out",
            actor_user_id=signed_in.user_id,
            subject_type="user",
            subject_id=signed_in.user_id,
        )


@dataclass(frozen=True)
class StaffAccount:
    user: User
    locked: bool


async def list_accounts(db: Database) -> list[StaffAccount]:
    async with db.reading() as session:
        users = list(await session.scalars(select(User).order_by(User.active.desc(), User.name)))
        locked = await throttle.hard_stopped_keys(session)
    return [
        StaffAccount(
            u,
            throttle.account_key(u.email) in locked or throttle.second_factor_key(u.id) in locked,
        )
        for u in users
    ]


async def get_account(db: Database, user_id: int) -> StaffAccount:
    async with db.reading() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise NotFound("There is no staff account with that number.")
        rows = [
            await session.get(SignInThrottle, key)
            for key in (throttle.account_key(user.email), throttle.second_factor_key(user.id))
        ]
    return StaffAccount(user, any(throttle.is_hard_stopped(row) for row in rows))


async def update_account(
    db: Database,
    user_id: int,
    *,
    roles: Iterable[Role],
    active: bool,
    unlock: bool,
    actor: SignedIn,
) -> User:
    """Change an account's roles and whether it is active; disabling ends its sessions.
    Admins cannot remove their own admin role or disable themselves (no lock-out)."""
    role_set = frozenset(roles)
    if not role_set:
        raise InvalidInput(
            "Check the highlighted answers.", field_errors={"roles": "Choose at least one role"}
        )
    if user_id == actor.user_id and (Role.ADMIN not in role_set or not active):
        raise InvalidInput(
            "You cannot remove your own admin role or disable your own account.",
            field_errors={"roles": "Ask another admin to make this change"},
        )
    async with db.transaction() as session:
        user = await session.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("There is no staff account with that number.")
        before = user.roles
        if role_set != before:
            user.role_rows = [r for r in user.role_rows if r.role in role_set] + [
                UserRole(role=r) for r in sorted(role_set - before)
            ]
            audit.record(
                session,
                "user.roles_changed",
                actor_user_id=actor.user_id,
                subject_type="user",
                subject_id=user.id,
                details={
                    "before": sorted(r.value for r in before),
                    "after": sorted(r.value for r in role_set),
                },
            )
        if active != user.active:
            user.active = active
            if not active:
                await end_user_sessions(session, user.id)
            audit.record(
                session,
                "user.enabled" if active else "user.disabled",
                actor_user_id=actor.user_id,
                subject_type="user",
                subject_id=user.id,
            )
        if unlock:
            await throttle.clear(session, throttle.account_key(user.email))
            await throttle.clear(session, throttle.second_factor_key(user.id))
            audit.record(
                session,
                "user.sign_in_unlocked",
                actor_user_id=actor.user_id,
                subject_type="user",
                subject_id=user.id,
            )
    return user


async def email_while_in_role(session: AsyncSession, user_id: int, role: Role) -> str | None:
    """The staff member's email while their account is active and holds `role`, else
    None: a staff email queued earlier is theirs to hear only then."""
    email: str | None = await session.scalar(
        select(User.email)
        .join(UserRole, UserRole.user_id == User.id)
        .where(User.id == user_id, User.active.is_(True), UserRole.role == role)
    )
    return email
