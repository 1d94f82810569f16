"""Read models of appointments for the staff pages. Nothing clinical is selected here: of
the intake, only its flags (missing, complete, review; modifications required)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.clients.models import Client
from clinic.intake.models import AppointmentIntake, IntakeState
from clinic.scheduling.models import Room, Service
from clinic.staff.models import Therapist

HIDDEN_FROM_DAY = (AppointmentStatus.CANCELLED, AppointmentStatus.EXPIRED)


@dataclass(frozen=True)
class ScheduledVisit:
    appointment_id: int
    starts_at: datetime
    ends_at: datetime
    status: AppointmentStatus
    therapist_id: int
    therapist_name: str
    client_name: str
    service_name: str
    duration_minutes: int
    room_name: str | None
    # None: booked before intakes existed.
    intake_state: IntakeState | None = None
    modifications: bool = False


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants of local midnight and the next local midnight (23 to 25 hours apart
    on a daylight-saving change)."""
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def short_name(full_name: str) -> str:
    """First name and last initial, as a therapist's sheet shows clients: "Ruth G."."""
    parts = full_name.split()
    if len(parts) < 2:
        return full_name
    return f"{parts[0]} {parts[-1][0]}."


async def visits_between(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    *,
    therapist_id: int | None = None,
    statuses: tuple[AppointmentStatus, ...] | None = None,
) -> list[ScheduledVisit]:
    query = (
        select(
            Appointment,
            Therapist.display_name,
            Client.name,
            Service,
            Room.name,
            AppointmentIntake.state,
            AppointmentIntake.modifications,
        )
        .join(Therapist, Therapist.id == Appointment.therapist_id)
        .join(Client, Client.id == Appointment.client_id)
        .join(Service, Service.id == Appointment.service_id)
        .outerjoin(Room, Room.id == Appointment.room_id)
        .outerjoin(AppointmentIntake, AppointmentIntake.appointment_id == Appointment.id)
        .where(Appointment.starts_at < end, Appointment.ends_at > start)
        .order_by(Appointment.starts_at, Therapist.display_name)
    )
    if therapist_id is not None:
        query = query.where(Appointment.therapist_id == therapist_id)
    if statuses is not None:
        query = query.where(Appointment.status.in_(statuses))
    else:
        query = query.where(Appointment.status.not_in(HIDDEN_FROM_DAY))
    rows = await session.execute(query)
    return [
        ScheduledVisit(
            appointment_id=appointment.id,
            starts_at=appointment.starts_at,
            ends_at=appointment.ends_at,
            status=appointment.status,
            therapist_id=appointment.therapist_id,
            therapist_name=therapist_name,
            client_name=client_name,
            service_name=service.name,
            duration_minutes=service.duration_minutes,
            room_name=room_name,
            intake_state=intake_state,
            modifications=bool(modifications),
        )
        for (
            appointment,
            therapist_name,
            client_name,
            service,
            room_name,
            intake_state,
            modifications,
        ) in rows
    ]


async def therapist_for_user(session: AsyncSession, user_id: int) -> Therapist | None:
    return await session.scalar(select(Therapist).where(Therapist.user_id == user_id))
