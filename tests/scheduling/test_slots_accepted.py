"""Every time the engine offers can really be booked: the database guard accepts each
offered slot (alone) over the demo clinic's real bookings, on both databases."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from clinic import clock, demo
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentSource, AppointmentStatus
from clinic.clients.models import Client
from clinic.db import Database
from clinic.scheduling.models import Location, Service
from clinic.scheduling.service import free_times

TODAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "service_name",
    [
        "Swedish massage, 60 min",
        "Oncology massage, 60 min",
        "Manual lymphatic drainage, 60 min",
        "Chair massage, 15 min",
    ],
)
async def test_every_offered_slot_is_accepted_by_the_database_guard(
    db: Database, service_name: str
) -> None:
    await demo.seed_demo(db, timezone="America/New_York", currency="usd", today=TODAY)
    async with db.reading() as session:
        service = await session.scalar(select(Service).where(Service.name == service_name))
        client_id = await session.scalar(select(Client.id).limit(1))
        location_id = await session.scalar(select(Location.id))
    assert service is not None
    with clock.frozen_at(NOW):
        found = await free_times(
            db, service_id=service.id, first_day=date(2026, 11, 28), last_day=date(2026, 12, 11)
        )
    assert found is not None
    assert found.slots, "the demo should have free times"
    sample = random.Random(7).sample(found.slots, min(60, len(found.slots)))
    async with db.transaction() as session:
        for slot in sample:
            try:
                async with session.begin_nested() as attempt:
                    await session.execute(
                        insert(Appointment).values(
                            location_id=location_id,
                            therapist_id=slot.therapist_id,
                            client_id=client_id,
                            service_id=service.id,
                            room_id=slot.room_id,
                            starts_at=slot.start,
                            ends_at=slot.end,
                            blocked_from=slot.start
                            - timedelta(minutes=service.buffer_before_minutes),
                            blocked_until=slot.end
                            + timedelta(minutes=service.buffer_after_minutes),
                            status=AppointmentStatus.HELD,
                            price_minor=service.price_minor,
                            currency="usd",
                            source=AppointmentSource.API,
                        )
                    )
                    await attempt.rollback()
            except IntegrityError as refused:  # pragma: no cover - the failure message
                pytest.fail(f"the guard refused an offered slot {slot}: {refused.orig}")
