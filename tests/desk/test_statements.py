"""The day page's cost does not grow with the day: 20 therapists and 160 appointments take the
same number of SQL statements as 2 therapists and 10, all of them reads."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx2
from sqlalchemy import event, insert
from sqlalchemy.engine import Connection

from clinic import clock
from clinic.auth.models import Role
from clinic.booking.statuses import AppointmentStatus
from clinic.clearance.models import Clearance, ClearanceStatus
from clinic.db import Database
from clinic.intake.models import AppointmentIntake, IntakeState
from clinic.payments.models import Payment
from clinic.payments.states import PaymentKind, PaymentMethod, PaymentState
from clinic.scheduling.models import TimeOff
from clinic.staff.models import therapist_location
from tests import factories

MONDAY = date(2026, 11, 30)
TUESDAY = date(2026, 12, 1)
# Monday 8am in New York.
NOW = datetime(2026, 11, 30, 13, 0, tzinfo=UTC)
STATUSES = (
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.CHECKED_IN,
    AppointmentStatus.COMPLETED,
    AppointmentStatus.NO_SHOW,
    AppointmentStatus.PENDING_CLEARANCE,
)


@contextmanager
def _statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements run while the block runs (transaction control left out)."""
    statements: list[str] = []

    def count(conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    engine = db.read_engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def _build_day(db: Database, day: date, therapists: int, visits: int) -> None:
    """`therapists` working 9 to 5 on `day`, with `visits` appointments between them, every
    kind of card: statuses, payments, health-form flags, clearances, time off, rooms."""
    async with db.transaction() as session:
        location = await factories.create_location(session)
        service = await factories.create_service(session)
        rooms = [await factories.create_room(session, location=location) for _ in range(2)]
        team = []
        for n in range(therapists):
            therapist = await factories.create_therapist(session, display_name=f"T{day} {n:02d}")
            await factories.create_weekly_hours(
                session,
                therapist=therapist,
                location=location,
                weekday=day.weekday(),
                start_time=time(9),
                end_time=time(13) if n % 5 == 0 else time(17),
            )
            if n % 5 == 0:  # a split shift: a break, then the afternoon
                await factories.create_weekly_hours(
                    session,
                    therapist=therapist,
                    location=location,
                    weekday=day.weekday(),
                    start_time=time(14),
                    end_time=time(18),
                )
            await session.execute(
                insert(therapist_location).values(
                    therapist_id=therapist.id, location_id=location.id
                )
            )
            team.append(therapist)
        session.add(
            TimeOff(
                therapist_id=team[-1].id,
                starts_at=datetime.combine(day, time(20), tzinfo=UTC),
                ends_at=datetime.combine(day, time(22), tzinfo=UTC),
            )
        )
        nine = datetime.combine(day, time(14), tzinfo=UTC)  # 9am in New York
        for n in range(visits):
            therapist = team[n % therapists]
            slot = n // therapists
            client = await factories.create_client(session)
            status = STATUSES[n % len(STATUSES)]
            appointment = await factories.create_appointment(
                session,
                location=location,
                therapist=therapist,
                client=client,
                service=service,
                # One visit every 75 minutes from 9am in New York.
                starts_at=nine + slot * timedelta(minutes=75),
                room=rooms[n % 2] if n < 2 else None,
                status=status,
                fee_minor=service.price_minor if status is AppointmentStatus.NO_SHOW else 0,
            )
            session.add(
                AppointmentIntake(
                    appointment_id=appointment.id,
                    state=(IntakeState.MISSING, IntakeState.COMPLETE, IntakeState.REVIEW)[n % 3],
                    modifications=n % 2 == 0,
                )
            )
            if n % 2:
                session.add(
                    Payment(
                        appointment_id=appointment.id,
                        client_id=client.id,
                        kind=PaymentKind.DEPOSIT,
                        method=PaymentMethod.CARD_ONLINE,
                        state=PaymentState.SUCCEEDED,
                        amount_minor=2500,
                        currency="usd",
                        provider="offline",
                        idempotency_key=uuid.uuid4().hex,
                        succeeded_at=NOW - timedelta(days=3),
                    )
                )
            if n % 4 == 0:
                session.add(
                    Clearance(
                        client_id=client.id,
                        physician_name="Dr Example",
                        status=ClearanceStatus.CLEARED,
                        decided_at=NOW - timedelta(days=30),
                        valid_until=day + timedelta(days=5),
                    )
                )


async def _day_page(http: httpx2.AsyncClient, db: Database, day: date) -> list[str]:
    with _statements(db) as statements:
        page = await http.get(f"/desk/{day.isoformat()}")
    assert page.status_code == 200, page.text
    return statements


async def test_the_day_page_runs_a_fixed_number_of_selects_and_writes_nothing(
    db: Database, http: httpx2.AsyncClient
) -> None:
    with clock.frozen_at(NOW):
        await _build_day(db, MONDAY, therapists=2, visits=10)
        await _build_day(db, TUESDAY, therapists=20, visits=160)
        await factories.sign_in_as(http, db, Role.FRONTDESK)
        small = await _day_page(http, db, MONDAY)
        large = await _day_page(http, db, TUESDAY)
        page = await http.get(f"/desk/{TUESDAY.isoformat()}")
    assert page.text.count('class="desk-card-open"') == 160
    assert page.text.count('<section class="desk-col') == 20
    assert len(small) == len(large), (small, large)
    # The staff session with its roles, then the day: settings, roster, time off, closures,
    # cards, payments, clearances to chase, visits needing attention and their credentials.
    assert len(large) == 10, large
    for statement in small + large:
        assert statement.lstrip().upper().startswith(("SELECT", "WITH")), statement
