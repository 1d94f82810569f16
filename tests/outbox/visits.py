"""Booked visits made straight from the factories, for the booking-email tests that need a
visit at an exact instant (a clock change) rather than one the demo clinic offers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from clinic.booking.bookings import new_manage_link
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.db import Database
from clinic.scheduling.models import Service
from tests.factories import (
    create_appointment,
    create_client,
    create_location,
    create_service,
    create_therapist,
)

# The service's internal name discloses a condition; emails and calendars must use the
# public one.
INTERNAL_NAME = "Oncology massage, 60 min"
PUBLIC_NAME = "Massage, 60 min"


@dataclass(frozen=True)
class Visit:
    appointment_id: int
    client_id: int
    client_email: str
    manage_token: str
    starts_at: datetime


async def book_visit(
    db: Database,
    *,
    starts_at: datetime,
    booked_at: datetime,
    timezone: str = "America/New_York",
    status: AppointmentStatus = AppointmentStatus.CONFIRMED,
) -> Visit:
    """A visit at `starts_at` in a clinic in `timezone`, booked at `booked_at`, with a
    manage link."""
    async with db.transaction() as session:
        location = await create_location(
            session, timezone=timezone, address="12 Elm Street\nPhiladelphia, PA 19107"
        )
        therapist = await create_therapist(session, display_name="Ana Ruiz")
        # Service names are unique: a second visit in one test has the same service.
        service = await session.scalar(select(Service).where(Service.name == INTERNAL_NAME))
        if service is None:
            service = await create_service(session, name=INTERNAL_NAME, public_name=PUBLIC_NAME)
        client = await create_client(session, name="Ruth Example")
        appointment = await create_appointment(
            session,
            location=location,
            therapist=therapist,
            client=client,
            service=service,
            starts_at=starts_at,
            status=status,
            created_at=booked_at,
            updated_at=booked_at,
        )
        token = new_manage_link(session, appointment.id)
    assert client.email is not None
    return Visit(appointment.id, client.id, client.email, token, starts_at)


async def appointment(db: Database, appointment_id: int) -> Appointment:
    async with db.reading() as session:
        found = await session.get(Appointment, appointment_id)
    assert found is not None
    return found
