"""Storms against the live server: many booking and hold requests released together over
real HTTP, then the database itself is checked for overlaps (reliability.md T1, T2, T4).

The database is the arbiter: the app may answer 201, 409 or 422, never a 5xx, and no two
appointments in a blocking status may share a therapist or a room at the same time.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx2
import pytest
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import aliased
from sqlalchemy.pool import NullPool

from clinic.booking.models import Appointment
from clinic.booking.statuses import BLOCKING_STATUSES, AppointmentStatus
from clinic.clock import today_in
from tests.live.conftest import TIMEZONE, LiveServer

ZONE = ZoneInfo(TIMEZONE)
SWEDISH_60 = "Swedish massage, 60 min"
MIXED_SERVICES = (SWEDISH_60, "Swedish massage, 90 min", "Deep tissue massage, 60 min")
PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: the request failed in transport (reset, timeout...)
    content_type: str
    body: Any
    error: str = ""


@pytest.fixture(scope="module")
async def live_db(live_server: LiveServer) -> AsyncIterator[AsyncEngine]:
    """The server's database, read directly (no pool: nothing stays connected)."""
    engine = create_async_engine(live_server.async_database_url, poolclass=NullPool)
    yield engine
    await engine.dispose()


@pytest.fixture
async def http(live_server: LiveServer) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=live_server.base_url, timeout=30.0) as client:
        yield client


async def storm(base_url: str, requests: Sequence[tuple[str, dict[str, Any]]]) -> list[Answer]:
    """POST every request at once: each waits at a barrier that opens when all are ready."""
    barrier = asyncio.Barrier(len(requests) + 1)
    limits = httpx2.Limits(
        max_connections=len(requests) + 10, max_keepalive_connections=len(requests) + 10
    )
    async with httpx2.AsyncClient(base_url=base_url, limits=limits, timeout=60.0) as client:

        async def one(path: str, body: dict[str, Any]) -> Answer:
            await barrier.wait()
            try:
                response = await client.post(path, json=body)
            except httpx2.TransportError as error:
                return Answer(None, "", None, repr(error))
            content_type = response.headers.get("content-type", "")
            parsed = response.json() if "json" in content_type else response.text
            return Answer(response.status_code, content_type, parsed)

        tasks = [asyncio.create_task(one(path, body)) for path, body in requests]
        await barrier.wait()
        return list(await asyncio.gather(*tasks))


def statuses(answers: Sequence[Answer]) -> Counter[int | None]:
    return Counter(a.status for a in answers)


def assert_no_server_errors(answers: Sequence[Answer]) -> None:
    broken = [a for a in answers if a.status is None or a.status >= 500]
    if broken:
        pytest.fail(
            f"{len(broken)} of {len(answers)} requests failed in transport or with a 5xx "
            f"(statuses {dict(statuses(answers))}); the first: {broken[0]}",
            pytrace=False,
        )


def assert_no_traceback(server: LiveServer) -> None:
    assert "Traceback" not in server.log_text(), "the server logged a traceback"


async def service_ids(http: httpx2.AsyncClient) -> dict[str, int]:
    response = await http.get("/api/v1/services")
    assert response.status_code == 200, response.text
    return {s["name"]: s["id"] for s in response.json()["services"]}


async def free_slots(
    http: httpx2.AsyncClient, service: int, day: date, therapist_id: int | None = None
) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"service_id": service, "from": day.isoformat(), "to": day.isoformat()}
    if therapist_id is not None:
        params["therapist_id"] = therapist_id
    response = await http.get("/api/v1/availability", params=params)
    assert response.status_code == 200, response.text
    slots: list[dict[str, Any]] = response.json()["slots"]
    return slots


async def day_with_slots(
    http: httpx2.AsyncClient, service: int, days_ahead: int, *, therapists: int = 1
) -> tuple[date, list[dict[str, Any]]]:
    """The first day from `days_ahead` on with free slots from at least `therapists`."""
    first = today_in(ZONE) + timedelta(days=days_ahead)
    for offset in range(14):
        day = first + timedelta(days=offset)
        slots = await free_slots(http, service, day)
        if len({s["therapist_id"] for s in slots}) >= therapists:
            return day, slots
    raise AssertionError(f"no day with {therapists} therapists free from {first}")


async def overlaps(engine: AsyncEngine) -> list[Any]:
    """Pairs of blocking appointments that share a therapist or a room and overlap in time."""
    a, b = aliased(Appointment), aliased(Appointment)
    query = (
        select(a.id, b.id, a.therapist_id, b.therapist_id, a.room_id, b.room_id)
        .join(
            b,
            and_(
                a.id < b.id,
                a.blocked_from < b.blocked_until,
                b.blocked_from < a.blocked_until,
                or_(
                    a.therapist_id == b.therapist_id,
                    and_(a.room_id.is_not(None), a.room_id == b.room_id),
                ),
            ),
        )
        .where(a.status.in_(BLOCKING_STATUSES), b.status.in_(BLOCKING_STATUSES))
    )
    async with engine.connect() as connection:
        return list((await connection.execute(query)).all())


async def blocking_rows_at(engine: AsyncEngine, therapist_id: int, start: datetime) -> list[Any]:
    query = select(Appointment.id, Appointment.status).where(
        Appointment.therapist_id == therapist_id,
        Appointment.starts_at == start,
        Appointment.status.in_(BLOCKING_STATUSES),
    )
    async with engine.connect() as connection:
        return list((await connection.execute(query)).all())


def client_details(label: str, n: int) -> dict[str, str]:
    return {
        "name": f"Storm Client {n}",
        "email": f"{label}.{n}@storm.example.com",
        "phone": "(215) 555-0142",
    }


async def test_same_slot_storm_books_exactly_once(
    live_server: LiveServer, live_db: AsyncEngine, http: httpx2.AsyncClient
) -> None:
    service = (await service_ids(http))[SWEDISH_60]
    day, slots = await day_with_slots(http, service, 3)
    therapist = slots[0]["therapist_id"]
    slot = (await free_slots(http, service, day, therapist))[0]
    requests = [
        (
            "/api/v1/bookings",
            {
                "service_id": service,
                "start": slot["start"],
                "therapist_id": therapist,
                "client": client_details("t1", n),
            },
        )
        for n in range(200)
    ]

    answers = await storm(live_server.base_url, requests)

    assert_no_server_errors(answers)
    assert statuses(answers) == {201: 1, 409: 199}
    (won,) = [a for a in answers if a.status == 201]
    assert won.body["therapist_id"] == therapist
    assert datetime.fromisoformat(won.body["start"]) == datetime.fromisoformat(slot["start"])
    for lost in (a for a in answers if a.status == 409):
        assert lost.content_type == PROBLEM_JSON
        assert isinstance(lost.body["alternatives"], list)
    assert await overlaps(live_db) == []
    rows = await blocking_rows_at(live_db, therapist, datetime.fromisoformat(slot["start"]))
    assert [(row.id, row.status) for row in rows] == [(won.body["id"], AppointmentStatus.CONFIRMED)]
    assert_no_traceback(live_server)


async def test_mixed_storm_never_overlaps(
    live_server: LiveServer, live_db: AsyncEngine, http: httpx2.AsyncClient
) -> None:
    rng = random.Random(20261127)
    ids = await service_ids(http)
    day, swedish = await day_with_slots(http, ids[SWEDISH_60], 4, therapists=3)
    # The busiest few therapists: more of them than table rooms, so rooms are contested too.
    busiest = Counter(s["therapist_id"] for s in swedish).most_common(5)
    therapists = [therapist for therapist, _ in busiest]
    offered: dict[int, list[dict[str, Any]]] = {}
    for name in MIXED_SERVICES:
        slots = await free_slots(http, ids[name], day)
        offered[ids[name]] = [s for s in slots if s["therapist_id"] in therapists]
    assert len({s["therapist_id"] for s in offered[ids[SWEDISH_60]]}) >= 3

    def random_request() -> dict[str, Any]:
        service = rng.choice([s for s in offered if offered[s]])
        slot = rng.choice(offered[service])
        start = datetime.fromisoformat(slot["start"])
        therapist: int | None = slot["therapist_id"]
        kind = rng.random()
        if kind < 0.45:
            pass  # exactly as offered
        elif kind < 0.65:
            therapist = None  # anyone suitable
        elif kind < 0.85:
            start += timedelta(minutes=rng.choice([-45, -20, -5, 5, 10, 20, 30, 45]))
        else:
            minute = rng.randrange(8 * 60, 20 * 60)
            start = datetime.combine(day, time(minute // 60, minute % 60), ZONE)
            therapist = rng.choice([*therapists, None])
        body: dict[str, Any] = {"service_id": service, "start": start.isoformat()}
        if therapist is not None:
            body["therapist_id"] = therapist
        return body

    bodies = [random_request() for _ in range(300)]
    requests = [
        ("/api/v1/bookings", {**body, "client": client_details("t2", n)})
        for n, body in enumerate(bodies)
    ]

    answers = await storm(live_server.base_url, requests)

    assert_no_server_errors(answers)
    counts = statuses(answers)
    assert set(counts) <= {201, 409, 422}, counts
    assert counts[201] >= 3, counts
    assert await overlaps(live_db) == []
    booked = {
        a.body["id"]: (body, a.body)
        for body, a in zip(bodies, answers, strict=True)
        if a.status == 201
    }
    async with live_db.connect() as connection:
        rows = {
            row.id: row
            for row in await connection.execute(
                select(Appointment).where(Appointment.id.in_(list(booked)))
            )
        }
    for appointment_id, (asked, answer) in booked.items():
        row = rows[appointment_id]
        assert row.status == AppointmentStatus.CONFIRMED
        assert row.therapist_id == answer["therapist_id"]
        assert row.room_id == answer["room_id"]
        assert row.starts_at == datetime.fromisoformat(answer["start"])
        assert row.starts_at == datetime.fromisoformat(asked["start"])
        assert asked.get("therapist_id", row.therapist_id) == row.therapist_id
    for lost in (a for a in answers if a.status in (409, 422)):
        assert lost.content_type == PROBLEM_JSON
    assert_no_traceback(live_server)


async def test_hold_storm_gives_one_hold(
    live_server: LiveServer, live_db: AsyncEngine, http: httpx2.AsyncClient
) -> None:
    service = (await service_ids(http))[SWEDISH_60]
    _, slots = await day_with_slots(http, service, 5)
    slot = slots[0]
    body = {"service_id": service, "start": slot["start"], "therapist_id": slot["therapist_id"]}

    answers = await storm(live_server.base_url, [("/api/v1/holds", body)] * 50)

    assert_no_server_errors(answers)
    counts = statuses(answers)
    # Every request comes from 127.0.0.1, which may hold at most three times at once.
    assert counts[201] == 1, counts
    assert counts[409] + counts[429] == 49, counts
    (won,) = [a for a in answers if a.status == 201]
    rows = await blocking_rows_at(
        live_db, slot["therapist_id"], datetime.fromisoformat(slot["start"])
    )
    assert [row.status for row in rows] == [AppointmentStatus.HELD]
    assert won.body["hold_token"]
    assert await overlaps(live_db) == []
    assert_no_traceback(live_server)
