"""A reproducible clinic for the benchmarks, written straight into a migrated database:
one location, a room per therapist, therapists bookable Mon-Sat 08:00-20:00, a general
service offered by all, and appointments on a grid that never overlaps.

Every appointment sits on one therapist's 90-minute grid (08:00, 09:30, ... 18:30 local)
in that therapist's own room, so the database guards never refuse a generated row. The
same seed and the same calls give the same rows.

The desk's day (fill_desk_day) is one workday past every other scenario's days, with every
grid cell of the first therapists booked and in the states of a day under way.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, insert, text
from sqlalchemy.ext.asyncio import AsyncConnection

from clinic.auth.models import Role, User, UserRole
from clinic.auth.passwords import hash_password
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentSource, AppointmentStatus
from clinic.clients.models import Client
from clinic.db import Database
from clinic.payments.models import Payment
from clinic.payments.states import PaymentKind, PaymentMethod, PaymentState
from clinic.scheduling.models import Location, Room, Service, WeeklyHours, service_therapist
from clinic.staff.models import Credential, CredentialKind, Therapist, therapist_location

TIMEZONE = "America/New_York"
CURRENCY = "usd"
STAFF_EMAIL = "admin@bench.test"
STAFF_PASSWORD = "bench-admin-password-2026"  # protects a throwaway database only
# The front desk's account, apart from the admin's that the sign-in flood locks out.
DESK_EMAIL = "desk@bench.test"
DESK_PASSWORD = "bench-desk-password-2026"  # protects a throwaway database only
GENERAL_SERVICE = "General massage, 60 min"
DEEP_SERVICE = "Deep tissue massage, 90 min"
GENERAL_MINUTES = 60
GENERAL_BUFFER_AFTER = 15
OPEN_MINUTES = 8 * 60  # 08:00
CLOSE_MINUTES = 20 * 60  # 20:00
GRID_MINUTES = 90
SLOTS_PER_DAY = 8  # 08:00 ... 18:30; the last visit and its buffer end at 19:45
WORKDAYS = range(6)  # Monday to Saturday
CLIENTS = 2_000
FUTURE_DAYS = 28
FUTURE_FILL = 0.3  # share of future grid cells already booked
# Rows per executemany call.
CHUNK = 1_000
# The desk's day is the first workday this many days ahead: past every day that the
# availability asks (21), the bookings and the mixed run (88) reach, so it changes none.
DESK_DAY_AFTER = 91
DEPOSIT_MINOR = 2_700


@dataclass
class Clinic:
    """The ids the scenarios need, and the state that later phases build on."""

    seed: int
    today: date
    zone: ZoneInfo
    location_id: int = 0
    general_service_id: int = 0
    deep_service_id: int = 0
    staff_user_id: int = 0
    therapist_ids: list[int] = field(default_factory=list)
    room_ids: list[int] = field(default_factory=list)
    client_ids: list[int] = field(default_factory=list)
    history: int = 0

    def local(self, day: date, minutes: int) -> datetime:
        wall = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=self.zone)
        return wall.astimezone(UTC)

    def slot_start(self, day: date, slot: int) -> datetime:
        return self.local(day, OPEN_MINUTES + slot * GRID_MINUTES)


async def create_clinic(db: Database, *, seed: int, therapists: int, today: date) -> Clinic:
    """The location, staff user, services, clients and the first `therapists` therapists,
    with their future appointments. History comes from add_history()."""
    clinic = Clinic(seed=seed, today=today, zone=ZoneInfo(TIMEZONE))
    async with db.write_engine.begin() as conn:
        clinic.location_id = (
            await conn.execute(
                insert(Location).returning(Location.id),
                {
                    "name": "Bench Clinic",
                    "address": "1 Benchmark Way\nPhiladelphia, PA 19103",
                    "phone": "(215) 555-0100",
                    "timezone": TIMEZONE,
                    "active": True,
                },
            )
        ).scalar_one()
        clinic.staff_user_id = await _add_staff_user(conn)
        clinic.general_service_id, clinic.deep_service_id = await _add_services(conn)
        clinic.client_ids = await _insert_returning_ids(conn, Client.__table__, _clients())
    await add_therapists(db, clinic, therapists)
    return clinic


async def add_therapists(db: Database, clinic: Clinic, count: int) -> None:
    """`count` more therapists, each with a room, credentials, hours, the general service
    (the deep-tissue one for every other therapist) and some booked future."""
    first = len(clinic.therapist_ids)
    async with db.write_engine.begin() as conn:
        rooms = [
            {
                "location_id": clinic.location_id,
                "name": f"Room {first + i + 1}",
                "attributes": ["massage_table"],
                "active": True,
            }
            for i in range(count)
        ]
        room_ids = await _insert_returning_ids(conn, Room.__table__, rooms)
        people = [
            {
                "display_name": f"Therapist {first + i + 1:03d}",
                "bio": "",
                "active": True,
                "oncology_sessions_elsewhere": 0,
                "oncology_sessions_here": 0,
            }
            for i in range(count)
        ]
        therapist_ids = await _insert_returning_ids(conn, Therapist.__table__, people)
        await _add_standing_facts(conn, clinic, therapist_ids)
        clinic.therapist_ids.extend(therapist_ids)
        clinic.room_ids.extend(room_ids)
        await _insert_chunked(conn, Appointment.__table__, _future(clinic, first))


async def add_history(db: Database, clinic: Clinic, count: int) -> None:
    """`count` more completed appointments, going back in time from where the earlier
    history stops, spread over every therapist present."""
    rows = _history(clinic, skip=clinic.history, count=count)
    async with db.write_engine.begin() as conn:
        await _insert_chunked(conn, Appointment.__table__, rows)
    clinic.history += count


async def add_front_desk(db: Database) -> int:
    """A front-desk account (DESK_EMAIL), the role the desk's pages ask for."""
    async with db.write_engine.begin() as conn:
        return await _add_user(conn, DESK_EMAIL, "Bench Desk", DESK_PASSWORD, Role.FRONTDESK)


def desk_day(clinic: Clinic) -> date:
    day = clinic.today + timedelta(days=DESK_DAY_AFTER)
    while day.weekday() not in WORKDAYS:
        day += timedelta(days=1)
    return day


async def fill_desk_day(db: Database, clinic: Clinic, day: date, therapists: int) -> int:
    """Every grid cell of `day` booked for the first `therapists` therapists (8 each), as a
    day under way: the first three visits of each done (one in eight a no-show), the fourth
    arrived, the rest booked; done visits paid at the desk but one in five (the to-do
    list's unpaid), every other booked one with a deposit. `day` must have no visits yet.
    Returns the number of visits written."""
    rng = random.Random(f"{clinic.seed}:desk:{day}")
    rows = []
    for index in range(therapists):
        for slot in range(SLOTS_PER_DAY):
            cell = index * SLOTS_PER_DAY + slot
            if slot < 3:
                status = AppointmentStatus.NO_SHOW if cell % 8 == 0 else AppointmentStatus.COMPLETED
            elif slot == 3:
                status = AppointmentStatus.CHECKED_IN
            else:
                status = AppointmentStatus.CONFIRMED
            start = clinic.slot_start(day, slot)
            rows.append(_appointment(clinic, index, start, status, rng.choice(clinic.client_ids)))
    async with db.write_engine.begin() as conn:
        ids = await _insert_returning_ids(conn, Appointment.__table__, rows)
        payments = [
            _payment(appointment_id, row, cell)
            for cell, (appointment_id, row) in enumerate(zip(ids, rows, strict=True))
            if (row["status"] is AppointmentStatus.COMPLETED and cell % 5 != 0)
            or (row["status"] is AppointmentStatus.CONFIRMED and cell % 2 == 0)
        ]
        await conn.execute(insert(Payment), payments)
    return len(rows)


async def analyse(db: Database) -> None:
    """PostgreSQL: refresh the planner's statistics, as autovacuum would after a bulk load.
    SQLite is left as the app leaves it (it never runs ANALYZE)."""
    if db.dialect == "postgresql":
        async with db.write_engine.connect() as conn:
            await conn.execute(text("COMMIT"))  # ANALYZE of many tables outside a block
            await conn.execute(text("ANALYZE"))


async def _add_staff_user(conn: AsyncConnection) -> int:
    return await _add_user(conn, STAFF_EMAIL, "Bench Admin", STAFF_PASSWORD, Role.ADMIN)


async def _add_user(conn: AsyncConnection, email: str, name: str, password: str, role: Role) -> int:
    user_id: int = (
        await conn.execute(
            insert(User).returning(User.id),
            {
                "email": email,
                "name": name,
                "password_hash": hash_password(password),
                "active": True,
                "created_at": datetime.now(UTC),
            },
        )
    ).scalar_one()
    await conn.execute(insert(UserRole), {"user_id": user_id, "role": role})
    return user_id


async def _add_services(conn: AsyncConnection) -> tuple[int, int]:
    common = {
        "description": "",
        "buffer_before_minutes": 0,
        "buffer_after_minutes": GENERAL_BUFFER_AFTER,
        "min_oncology_level": None,
        "needs_lymphedema": False,
        "room_attributes": ["massage_table"],
        "bookable_online": True,
        "active": True,
    }
    services = [
        {
            **common,
            "name": GENERAL_SERVICE,
            "public_name": "Massage, 60 min",
            "duration_minutes": GENERAL_MINUTES,
            "price_minor": 9000,
            "display_order": 10,
        },
        {
            **common,
            "name": DEEP_SERVICE,
            "public_name": "Massage, 90 min",
            "duration_minutes": 90,
            "price_minor": 12500,
            "display_order": 20,
        },
    ]
    general, deep = await _insert_returning_ids(conn, Service.__table__, services)
    return general, deep


def _clients() -> list[dict[str, Any]]:
    created = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        {
            "name": f"Bench Client {i:04d}",
            "email": f"client{i:04d}@bench.test",
            "phone": f"(215) 555-{i:04d}",
            "created_at": created,
        }
        for i in range(CLIENTS)
    ]


async def _add_standing_facts(
    conn: AsyncConnection, clinic: Clinic, therapist_ids: Sequence[int]
) -> None:
    verified_at = datetime.now(UTC)
    await conn.execute(
        insert(therapist_location),
        [{"therapist_id": t, "location_id": clinic.location_id} for t in therapist_ids],
    )
    credentials = [
        {
            "therapist_id": t,
            "kind": kind,
            "title": kind.value,
            "issuer": "Bench Board",
            "number": f"B-{t}-{n}",
            "jurisdiction": "PA",
            "hours": None,
            "supervised_hands_on": False,
            "issued_on": clinic.today - timedelta(days=365),
            "expires_on": clinic.today + timedelta(days=730),
            "verified_by_user_id": None,
            "verified_at": verified_at,
        }
        for t in therapist_ids
        for n, kind in enumerate(
            (CredentialKind.MASSAGE_LICENCE, CredentialKind.LIABILITY_INSURANCE)
        )
    ]
    await conn.execute(insert(Credential), credentials)
    hours = [
        {
            "therapist_id": t,
            "location_id": clinic.location_id,
            "weekday": weekday,
            "start_time": time(OPEN_MINUTES // 60),
            "end_time": time(CLOSE_MINUTES // 60),
        }
        for t in therapist_ids
        for weekday in WORKDAYS
    ]
    await conn.execute(insert(WeeklyHours), hours)
    offers = [{"service_id": clinic.general_service_id, "therapist_id": t} for t in therapist_ids]
    offers += [
        {"service_id": clinic.deep_service_id, "therapist_id": t}
        for t in therapist_ids
        if t % 2 == 0
    ]
    await conn.execute(insert(service_therapist), offers)


def _appointment(
    clinic: Clinic, index: int, start: datetime, status: AppointmentStatus, client: int
) -> dict[str, Any]:
    end = start + timedelta(minutes=GENERAL_MINUTES)
    created = min(start, datetime.now(UTC)) - timedelta(days=7)
    return {
        "location_id": clinic.location_id,
        "therapist_id": clinic.therapist_ids[index],
        "client_id": client,
        "booked_by_client_id": None,
        "service_id": clinic.general_service_id,
        "room_id": clinic.room_ids[index],
        "starts_at": start,
        "ends_at": end,
        "blocked_from": start,
        "blocked_until": end + timedelta(minutes=GENERAL_BUFFER_AFTER),
        "status": status,
        "price_minor": 9000,
        "currency": CURRENCY,
        "source": AppointmentSource.DESK,
        "created_by_user_id": None,
        "created_at": created,
        "updated_at": created,
        "therapist_chosen": True,
        "hold_expires_at": None,
        "hold_token_hash": None,
        "hold_owner": None,
        "hold_address": None,
        "cancelled_at": None,
        "cancelled_by": None,
        "cancellation_reason": "",
        "needs_rebooking": False,
        "fee_minor": 0,
    }


def _payment(appointment_id: int, visit: dict[str, Any], cell: int) -> dict[str, Any]:
    """Done visits paid in full at the desk's card machine; booked ones a deposit online."""
    done = visit["status"] is AppointmentStatus.COMPLETED
    at = visit["starts_at"] if done else visit["created_at"]
    return {
        "appointment_id": appointment_id,
        "client_id": visit["client_id"],
        "kind": PaymentKind.FULL if done else PaymentKind.DEPOSIT,
        "method": PaymentMethod.TERMINAL if done else PaymentMethod.CARD_ONLINE,
        "state": PaymentState.SUCCEEDED,
        "amount_minor": visit["price_minor"] if done else DEPOSIT_MINOR,
        "tip_minor": 0,
        "refunded_minor": 0,
        "currency": CURRENCY,
        "provider": "desk" if done else "offline",
        "idempotency_key": f"bench-desk-{appointment_id}-{cell}",
        "attempts": 1,
        "reference": "",
        "created_at": at,
        "updated_at": at,
        "succeeded_at": at,
    }


def _future(clinic: Clinic, first: int) -> Iterator[dict[str, Any]]:
    """About FUTURE_FILL of each new therapist's grid over the next FUTURE_DAYS, from
    tomorrow on. One random stream per therapist, so adding therapists later never
    changes the rows of those already there."""
    for index in range(first, len(clinic.therapist_ids)):
        rng = random.Random(f"{clinic.seed}:future:{index}")
        for offset in range(1, FUTURE_DAYS + 1):
            day = clinic.today + timedelta(days=offset)
            if day.weekday() not in WORKDAYS:
                continue
            for slot in range(SLOTS_PER_DAY):
                if rng.random() < FUTURE_FILL:
                    client = rng.choice(clinic.client_ids)
                    start = clinic.slot_start(day, slot)
                    yield _appointment(clinic, index, start, AppointmentStatus.CONFIRMED, client)


def _past_cells(clinic: Clinic) -> Iterator[tuple[date, int, int]]:
    """(day, slot, therapist index) going back from yesterday, therapists innermost."""
    day = clinic.today
    while True:
        day -= timedelta(days=1)
        if day.weekday() not in WORKDAYS:
            continue
        for slot in range(SLOTS_PER_DAY - 1, -1, -1):
            for index in range(len(clinic.therapist_ids)):
                yield day, slot, index


def _history(clinic: Clinic, *, skip: int, count: int) -> Iterator[dict[str, Any]]:
    """Oldest first: SQLite's overlap trigger looks at the therapist's rows that end after
    the new one starts, so inserting backwards in time would make every insert read the
    whole history (quadratic), while forwards it reads only the few later rows."""
    cells = itertools.islice(_past_cells(clinic), skip, skip + count)
    rng = random.Random(f"{clinic.seed}:history:{skip}")
    for day, slot, index in reversed(list(cells)):
        client = rng.choice(clinic.client_ids)
        start = clinic.slot_start(day, slot)
        yield _appointment(clinic, index, start, AppointmentStatus.COMPLETED, client)


async def _insert_returning_ids(
    conn: AsyncConnection, table: Table, rows: list[dict[str, Any]]
) -> list[int]:
    # sort_by_parameter_order: the ids come back in the order of `rows`.
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list((await conn.execute(statement, rows)).scalars())


async def _insert_chunked(
    conn: AsyncConnection, table: Table, rows: Iterator[dict[str, Any]]
) -> int:
    """CHUNK rows at a time through one cached INSERT and the driver's executemany.
    (A multi-row VALUES built per chunk costs more to compile than to run.)"""
    done = 0
    while chunk := list(itertools.islice(rows, CHUNK)):
        await conn.execute(insert(table), chunk)
        done += len(chunk)
    return done
