"""Server-side staff sessions: start, load (with idle and absolute timeouts), end.

The cookie carries 256 random bits; the table stores only their SHA-256. Idle time counts
only user-initiated requests, and last_seen_at is written at most once a minute so a busy
day does not turn every page view into a write. Loading a session is one SELECT: the
session, its user, the user's roles (one row each) and the clinic's second-factor
requirement, joined.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload

from clinic.auth.models import DeskDensity, Role, StaffSession, User, UserRole
from clinic.auth.second_factor import REQUIRED_ROLES_OPTION, must_set_up, required_roles_from
from clinic.clock import now_utc
from clinic.db import Database
from clinic.options import ClinicOption

IDLE_TIMEOUT = timedelta(minutes=15)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
TOUCH_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class SignedIn:
    """Who is signed in on this request."""

    session_id: str
    user_id: int
    name: str
    email: str
    roles: frozenset[Role]
    csrf_token: str
    # The desk grid's row height (None: comfortable); loaded with the session, so the
    # day page costs no extra statement.
    desk_density: DeskDensity | None = None
    # Whether a second factor is in effect, and whether one of the member's roles
    # requires one they have not set up (then only the set-up page is open to them).
    has_second_factor: bool = False
    must_set_up_second_factor: bool = False

    def has_any(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))


class SessionEnded(Exception):
    """The cookie named a session that has timed out or no longer exists."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def session_id_for(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(
    session: AsyncSession, user: User, *, ip_address: str, user_agent: str
) -> str:
    """Create a session in the caller's transaction; return the cookie token."""
    token = secrets.token_urlsafe(32)
    now = now_utc()
    session.add(
        StaffSession(
            id=session_id_for(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + ABSOLUTE_TIMEOUT,
            ip_address=ip_address[:64],
            user_agent=user_agent[:300],
        )
    )
    return token


async def load_session(db: Database, token: str, *, user_initiated: bool) -> SignedIn:
    """The signed-in staff member for a cookie token, or SessionEnded."""
    now = now_utc()
    session_id = session_id_for(token)
    async with db.reading() as session:
        rows = (
            await session.execute(
                select(StaffSession, User, UserRole.role, ClinicOption.value)
                .join(User, User.id == StaffSession.user_id)
                .outerjoin(UserRole, UserRole.user_id == User.id)
                .outerjoin(ClinicOption, ClinicOption.key == REQUIRED_ROLES_OPTION)
                .where(StaffSession.id == session_id)
                # The roles come from the join: no second SELECT for the relationship.
                .options(raiseload(User.role_rows))
            )
        ).all()
        if not rows:
            raise SessionEnded("unknown")
        staff_session, user, _, requirement = rows[0]
        roles = frozenset(row[2] for row in rows if row[2] is not None)
        signed_in = SignedIn(
            session_id=session_id,
            user_id=user.id,
            name=user.name,
            email=user.email,
            roles=roles,
            csrf_token=staff_session.csrf_token,
            desk_density=user.desk_density,
            has_second_factor=user.has_second_factor,
            must_set_up_second_factor=must_set_up(
                roles, required_roles_from(requirement), user.has_second_factor
            ),
        )
    reason = _ended_because(staff_session, user, now)
    if reason is not None:
        await end_session(db, session_id)
        raise SessionEnded(reason)
    if user_initiated and now - staff_session.last_seen_at >= TOUCH_INTERVAL:
        async with db.transaction() as session:
            await session.execute(
                update(StaffSession).where(StaffSession.id == session_id).values(last_seen_at=now)
            )
    return signed_in


def _ended_because(staff_session: StaffSession, user: User, now: datetime) -> str | None:
    if not user.active:
        return "disabled"
    if now >= staff_session.expires_at:
        return "absolute"
    if now - staff_session.last_seen_at >= IDLE_TIMEOUT:
        return "idle"
    return None


async def end_session(db: Database, session_id: str) -> None:
    async with db.transaction() as session:
        await session.execute(delete(StaffSession).where(StaffSession.id == session_id))


async def end_user_sessions(
    session: AsyncSession, user_id: int, *, keep_session_id: str | None = None
) -> int:
    """End every session of a user but `keep_session_id`, in the caller's transaction
    (disabling an account; a new password ends the other sessions). Returns how many."""
    statement = delete(StaffSession).where(StaffSession.user_id == user_id)
    if keep_session_id is not None:
        statement = statement.where(StaffSession.id != keep_session_id)
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)
