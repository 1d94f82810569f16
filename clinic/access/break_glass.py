"""Break-glass: a member of staff opens health details their access does not cover (a
visit outside the care window, a colleague's client in an emergency) by giving a reason.
The grant covers one appointment for a limited time; opening it and every read under it
are audited with the reason, and admins see the list of grants.

Who may: therapists and clinical leads, whose work is clinical. The front desk and admins
never read clinical fields, so they have no break-glass either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit
from clinic.access.models import BreakGlassGrant
from clinic.auth.models import Role, User
from clinic.booking.models import Appointment
from clinic.clients.models import Client
from clinic.db import Database
from clinic.errors import NotFound
from clinic.staff.models import Therapist

CLINICAL_ROLES = frozenset({Role.THERAPIST, Role.CLINICAL_LEAD})
DEFAULT_MINUTES = 60
REASON_MIN = 20
REASON_MAX = 500


class ReasonProblem(ValueError):
    """The reason given is not one the grant can be opened with; the message says why."""


def clean_reason(raw: str) -> str:
    """The reason as stored: trimmed, with runs of spaces and line breaks made one space."""
    reason = " ".join(raw.split())
    if not reason:
        raise ReasonProblem("Say why you need to open this record.")
    if len(reason) < REASON_MIN:
        raise ReasonProblem(
            f"Say a little more: at least {REASON_MIN} characters (you wrote {len(reason)})."
        )
    if len(reason) > REASON_MAX:
        raise ReasonProblem(f"Keep it to {REASON_MAX} characters (you wrote {len(reason)}).")
    return reason


async def active_grant(
    session: AsyncSession, *, user_id: int, appointment_id: int, now: datetime
) -> BreakGlassGrant | None:
    """The latest unexpired grant of `user_id` for the appointment, if any."""
    grant: BreakGlassGrant | None = await session.scalar(
        select(BreakGlassGrant)
        .where(
            BreakGlassGrant.user_id == user_id,
            BreakGlassGrant.appointment_id == appointment_id,
            BreakGlassGrant.expires_at > now,
        )
        .order_by(BreakGlassGrant.expires_at.desc())
        .limit(1)
    )
    return grant


async def is_own_visit(session: AsyncSession, *, user_id: int, appointment_id: int) -> bool:
    """Whether the appointment is with the therapist profile of `user_id` (NotFound when
    there is no such appointment)."""
    therapist_user = (
        await session.execute(
            select(Therapist.user_id)
            .join(Appointment, Appointment.therapist_id == Therapist.id)
            .where(Appointment.id == appointment_id)
        )
    ).one_or_none()
    if therapist_user is None:
        raise NotFound("There is no such appointment.")
    return bool(therapist_user[0] == user_id)


async def open_grant(
    db: Database,
    *,
    user_id: int,
    appointment_id: int,
    reason: str,
    now: datetime,
    minutes: int,
    ip_address: str = "",
) -> BreakGlassGrant:
    """Open a grant for `minutes` (raises ReasonProblem, or NotFound for no such
    appointment); audited as "break_glass.opened" with the reason."""
    cleaned = clean_reason(reason)
    async with db.transaction() as session:
        if await session.get(Appointment, appointment_id) is None:
            raise NotFound("There is no such appointment.")
        grant = BreakGlassGrant(
            user_id=user_id,
            appointment_id=appointment_id,
            reason=cleaned,
            granted_at=now,
            expires_at=now + timedelta(minutes=minutes),
            ip_address=ip_address[:64],
        )
        session.add(grant)
        await session.flush()
        audit.record(
            session,
            "break_glass.opened",
            actor_user_id=user_id,
            subject_type="appointment",
            subject_id=appointment_id,
            details={
                "grant_id": grant.id,
                "reason": cleaned,
                "expires_at": grant.expires_at.isoformat(),
            },
        )
    return grant


@dataclass(frozen=True)
class GrantRow:
    """One grant as admins review it: who, for which visit, why, and until when."""

    id: int
    staff_name: str
    staff_email: str
    appointment_id: int
    appointment_starts_at: datetime
    client_name: str
    reason: str
    granted_at: datetime
    expires_at: datetime
    ip_address: str


async def recent_grants(session: AsyncSession, *, since: datetime) -> list[GrantRow]:
    """Grants opened since `since`, newest first, in one statement."""
    rows = await session.execute(
        select(
            BreakGlassGrant,
            User.name,
            User.email,
            Appointment.starts_at,
            Client.name,
        )
        .join(User, User.id == BreakGlassGrant.user_id)
        .join(Appointment, Appointment.id == BreakGlassGrant.appointment_id)
        .join(Client, Client.id == Appointment.client_id)
        .where(BreakGlassGrant.granted_at >= since)
        .order_by(BreakGlassGrant.granted_at.desc(), BreakGlassGrant.id.desc())
    )
    return [
        GrantRow(
            id=grant.id,
            staff_name=staff_name,
            staff_email=staff_email,
            appointment_id=grant.appointment_id,
            appointment_starts_at=starts_at,
            client_name=client_name,
            reason=grant.reason,
            granted_at=grant.granted_at,
            expires_at=grant.expires_at,
            ip_address=grant.ip_address,
        )
        for grant, staff_name, staff_email, starts_at, client_name in rows
    ]
