"""What the admin use cases share: who last changed a record (from the audit trail), the
visits a change would leave without a therapist, and which zone a therapist's times are in.

Helpers take a session and never commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.audit import AuditEntry
from clinic.auth.models import User
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.clients.models import Client
from clinic.desk.attention import during
from clinic.errors import InvalidInput, NotFound
from clinic.scheduling.models import Location, Service
from clinic.staff.models import Therapist, therapist_location

# Visits still to happen: a change to the therapist's time leaves these to be moved.
# Holds have no client yet and run out on their own.
UPCOMING = (
    AppointmentStatus.PENDING_CLEARANCE,
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.CHECKED_IN,
)
# Enough to act on; the page says how many more there are.
VISITS_SHOWN = 200


@dataclass(frozen=True)
class LastChange:
    at: datetime
    by: str


async def last_change(
    session: AsyncSession, subject_type: str, subject_id: int
) -> LastChange | None:
    """The newest audit entry about the record: one indexed lookup (subject type and id)."""
    return await last_change_where(
        session,
        and_(AuditEntry.subject_type == subject_type, AuditEntry.subject_id == str(subject_id)),
    )


async def last_change_where(
    session: AsyncSession, *subjects: ColumnElement[bool]
) -> LastChange | None:
    """The newest audit entry matching any of `subjects` (conditions on its subject)."""
    row = (
        await session.execute(
            select(AuditEntry.occurred_at, AuditEntry.actor_label, User.name)
            .outerjoin(User, User.id == AuditEntry.actor_user_id)
            .where(or_(*subjects))
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    return LastChange(at=row.occurred_at, by=row.name or row.actor_label or "the system")


@dataclass(frozen=True)
class Visit:
    appointment_id: int
    starts_at: datetime
    ends_at: datetime
    client_name: str
    service_name: str
    therapist_name: str
    status: AppointmentStatus


@dataclass(frozen=True)
class Visits:
    shown: list[Visit]
    total: int


async def visits_in(
    session: AsyncSession,
    *,
    now: datetime,
    therapist_id: int | None = None,
    location_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Visits:
    """Visits still to come (not yet over at `now`) for a therapist or a location,
    overlapping [start, end) when given, soonest first."""
    conditions = [Appointment.status.in_(UPCOMING), Appointment.ends_at > now]
    if therapist_id is not None:
        conditions.append(Appointment.therapist_id == therapist_id)
    if location_id is not None:
        conditions.append(Appointment.location_id == location_id)
    # The same overlap test as the desk's "Needs attention" list.
    conditions.extend(during(start, end))
    total = await session.scalar(select(func.count()).select_from(Appointment).where(*conditions))
    rows = (
        await session.execute(
            select(
                Appointment.id,
                Appointment.starts_at,
                Appointment.ends_at,
                Appointment.status,
                Client.name.label("client_name"),
                Service.name.label("service_name"),
                Therapist.display_name.label("therapist_name"),
            )
            .join(Service, Service.id == Appointment.service_id)
            .join(Therapist, Therapist.id == Appointment.therapist_id)
            .outerjoin(Client, Client.id == Appointment.client_id)
            .where(*conditions)
            .order_by(Appointment.starts_at, Appointment.id)
            .limit(VISITS_SHOWN)
        )
    ).all()
    shown = [
        Visit(
            appointment_id=row.id,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            client_name=row.client_name or "No client yet",
            service_name=row.service_name,
            therapist_name=row.therapist_name,
            status=row.status,
        )
        for row in rows
    ]
    return Visits(shown=shown, total=total or 0)


async def get_therapist(
    session: AsyncSession, therapist_id: int, *, lock: bool = False
) -> Therapist:
    therapist = await session.get(Therapist, therapist_id, with_for_update=lock)
    if therapist is None:
        raise NotFound("There is no therapist with that number.")
    return therapist


async def therapist_locations(session: AsyncSession, therapist_id: int) -> list[Location]:
    return list(
        await session.scalars(
            select(Location)
            .join(therapist_location, therapist_location.c.location_id == Location.id)
            .where(therapist_location.c.therapist_id == therapist_id)
            .order_by(Location.id)
        )
    )


async def primary_location(session: AsyncSession) -> Location | None:
    """The location online booking offers (the first active one), as availability uses."""
    return await session.scalar(
        select(Location).where(Location.active.is_(True)).order_by(Location.id).limit(1)
    )


def zone_of(locations: list[Location], fallback: ZoneInfo) -> ZoneInfo:
    """A therapist's times are in their first location's zone; else the clinic's."""
    return ZoneInfo(locations[0].timezone) if locations else fallback


def refused(field: str, message: str) -> InvalidInput:
    """A form answer refused, with its message beside the field."""
    return InvalidInput("Check the highlighted answers.", field_errors={field: message})


async def flush_or_refuse(session: AsyncSession, field: str, message: str) -> None:
    """Flush; a unique constraint that another admin's change won meanwhile (the check
    before it passed) becomes the same message beside the field, not a 500."""
    try:
        await session.flush()
    except IntegrityError:
        raise refused(field, message) from None


def apply_changes(row: object, values: Mapping[str, object]) -> list[str]:
    """Set the columns of `row` whose values differ; the names of those changed, for the
    audit entry. A list (a room's features) is compared as a set: the same features in
    another order are no change."""
    changed = []
    for column, wanted in values.items():
        stored = getattr(row, column)
        differs = (
            set(stored) != set(wanted)
            if isinstance(stored, list) and isinstance(wanted, list)
            else stored != wanted
        )
        if differs:
            changed.append(column)
            setattr(row, column, wanted)
    return changed
