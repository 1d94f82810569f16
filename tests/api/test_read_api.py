"""The public read API: services, therapists and free times, with problem bodies for every
kind of bad input, a statement budget, and an OpenAPI 3.1 document the answers match."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

import httpx2
import jsonschema
import pytest
from openapi_spec_validator import validate
from sqlalchemy import event, text
from sqlalchemy.engine import Connection

from clinic import clock, demo
from clinic.api.openapi import openapi_document
from clinic.db import Database
from clinic.scheduling.service import public_services
from tests.demo_snapshot import seed_demo

TODAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 13, 0, tzinfo=clock.now_utc().tzinfo)


@pytest.fixture
def frozen() -> Iterator[None]:
    with clock.frozen_at(NOW):
        yield


@pytest.fixture
async def seeded(db: Database) -> Database:
    await seed_demo(db, timezone="America/New_York", currency="usd", today=TODAY)
    return db


def _conforms(body: Any, schema_name: str) -> None:
    document = openapi_document()
    schema = {
        **document["components"]["schemas"][schema_name],
        "components": document["components"],
    }
    resolver_schema = _rewrite_refs(schema)
    jsonschema.validate(body, resolver_schema, format_checker=jsonschema.FormatChecker())


def _rewrite_refs(schema: Any) -> Any:
    """Point #/components/schemas/X at #/components/schemas/X inside the bundled schema."""
    return schema


async def _service_id(db: Database, name: str) -> int:
    async with db.reading() as session:
        return next(s.id for s in await public_services(session) if s.name == name)


def test_the_openapi_document_is_valid_openapi_3_1() -> None:
    document = openapi_document()
    assert document["openapi"] == "3.1.0"
    validate(document)


async def test_openapi_json_is_served(http: httpx2.AsyncClient) -> None:
    response = await http.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.json() == openapi_document()


async def test_services_lists_online_services_with_prices(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    response = await http.get("/api/v1/services")
    assert response.status_code == 200
    body = response.json()
    _conforms(body, "ServiceList")
    names = {s["name"] for s in body["services"]}
    assert "Swedish massage, 60 min" in names
    assert "Hot stone massage, 75 min" not in names  # desk only
    oncology = next(s for s in body["services"] if s["name"] == "Oncology massage, 60 min")
    assert oncology["min_oncology_level"] == 1
    assert oncology["price"]["currency"] == "usd"
    assert oncology["public_name"] == "Massage, 60 min"


@pytest.mark.usefixtures("frozen")
async def test_therapists_carry_their_level_today_and_services(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    response = await http.get("/api/v1/therapists")
    assert response.status_code == 200
    body = response.json()
    _conforms(body, "TherapistList")
    levels = {t["display_name"]: t["oncology_level"] for t in body["therapists"]}
    assert levels == demo.INTENDED_LEVELS
    lymphedema = {t["display_name"] for t in body["therapists"] if t["lymphedema"]}
    assert lymphedema == {demo.LYMPHEDEMA_THERAPIST}


@pytest.mark.usefixtures("frozen")
async def test_availability_shows_real_free_times_with_offsets(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service_id = await _service_id(seeded, "Swedish massage, 60 min")
    response = await http.get(
        "/api/v1/availability",
        params={"service_id": service_id, "from": "2026-11-30", "to": "2026-12-06"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    _conforms(body, "Availability")
    assert body["timezone"] == "America/New_York"
    assert body["slots"]
    starts = [datetime.fromisoformat(s["start"]) for s in body["slots"]]
    assert all(s.utcoffset() == timedelta(hours=-5) for s in starts)
    assert starts == sorted(starts)
    assert all(date(2026, 11, 30) <= s.date() <= date(2026, 12, 6) for s in starts)


@pytest.mark.usefixtures("frozen")
async def test_availability_for_one_therapist_only_lists_them(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service_id = await _service_id(seeded, "Swedish massage, 60 min")
    therapists = (await http.get("/api/v1/therapists")).json()["therapists"]
    chosen = next(
        t for t in therapists if service_id in t["service_ids"] and t["oncology_level"] is not None
    )
    response = await http.get(
        "/api/v1/availability",
        params={
            "service_id": service_id,
            "from": "2026-11-30",
            "to": "2026-12-06",
            "therapist_id": chosen["id"],
        },
    )
    assert response.status_code == 200
    assert {s["therapist_id"] for s in response.json()["slots"]} <= {chosen["id"]}


@pytest.mark.usefixtures("frozen")
async def test_oncology_service_offers_only_qualified_therapists(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service_id = await _service_id(seeded, "Comfort touch, 30 min")
    therapists = {t["id"]: t for t in (await http.get("/api/v1/therapists")).json()["therapists"]}
    response = await http.get(
        "/api/v1/availability",
        params={"service_id": service_id, "from": "2026-11-30", "to": "2026-12-13"},
    )
    slots = response.json()["slots"]
    assert slots
    assert all((therapists[s["therapist_id"]]["oncology_level"] or 0) >= 2 for s in slots)


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


@pytest.mark.usefixtures("frozen")
@pytest.mark.parametrize("days", [1, 7, 31])
@pytest.mark.parametrize("one_therapist", [False, True])
async def test_availability_runs_at_most_three_statements(
    seeded: Database, http: httpx2.AsyncClient, days: int, one_therapist: bool
) -> None:
    service_id = await _service_id(seeded, "Swedish massage, 60 min")
    params: dict[str, Any] = {
        "service_id": service_id,
        "from": "2026-11-28",
        "to": (date(2026, 11, 28) + timedelta(days=days - 1)).isoformat(),
    }
    if one_therapist:
        params["therapist_id"] = (await http.get("/api/v1/therapists")).json()["therapists"][0][
            "id"
        ]
    with _statements(seeded) as statements:
        response = await http.get("/api/v1/availability", params=params)
    assert response.status_code == 200
    assert len(statements) <= 3, statements


async def test_busy_ranges_are_found_through_the_blocked_range_indexes(seeded: Database) -> None:
    """The busy query reaches only appointments overlapping the range, through an index
    bounded by time, so years of past appointments are never read: the exclusion
    constraints' GiST indexes on PostgreSQL, (therapist_id | room_id, blocked_until) on
    SQLite."""
    from clinic.scheduling.loading import _busy_ranges

    statement = _busy_ranges(1, None, NOW, NOW + timedelta(days=7), dialect=seeded.dialect, now=NOW)
    async with seeded.reading() as session:
        compiled = statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        if seeded.dialect == "postgresql":
            await session.execute(text("SET LOCAL enable_seqscan = off"))
            rows = await session.execute(text(f"EXPLAIN {compiled}"))
            plan = [str(r[0]) for r in rows]
            expected = ["appointment"]
        else:
            rows = await session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
            plan = [str(r[-1]) for r in rows]
            expected = ["ix_appointment_therapist_blocked", "ix_appointment_room_blocked"]
    for index in expected:
        assert any(index in step for step in plan), plan
    # Every scan of the appointment table is an index scan bounded by time.
    assert not any(step.strip() == "SCAN appointment" for step in plan), plan
    assert not any("Seq Scan on appointment" in step for step in plan), plan
    for number, step in enumerate(plan):
        if "appointment_" in step and ("Index Scan" in step or "SEARCH" in step):
            window = " ".join(plan[number : number + 3])
            assert "&&" in window or "blocked_until>" in window.replace(" ", ""), plan


BAD_QUERIES = [
    ({}, "service_id"),
    ({"service_id": "abc", "from": "2026-11-30", "to": "2026-12-01"}, "service_id"),
    ({"service_id": "0", "from": "2026-11-30", "to": "2026-12-01"}, "service_id"),
    ({"service_id": "-3", "from": "2026-11-30", "to": "2026-12-01"}, "service_id"),
    ({"service_id": "99999", "from": "2026-11-30", "to": "2026-12-01"}, "service_id"),
    ({"service_id": "1" * 30, "from": "2026-11-30", "to": "2026-12-01"}, "service_id"),
    ({"service_id": "{swedish}", "from": "2026-11-30"}, "to"),
    ({"service_id": "{swedish}", "from": "30/11/2026", "to": "2026-12-01"}, "from"),
    ({"service_id": "{swedish}", "from": "2026-02-30", "to": "2026-03-01"}, "from"),
    ({"service_id": "{swedish}", "from": "2026-12-05", "to": "2026-12-01"}, "to"),
    ({"service_id": "{swedish}", "from": "2026-11-28", "to": "2026-12-29"}, "to"),
    ({"service_id": "{swedish}", "from": "2026-11-20", "to": "2026-11-28"}, "from"),
    ({"service_id": "{swedish}", "from": "2027-02-20", "to": "2027-03-01"}, "to"),
    (
        {"service_id": "{swedish}", "from": "2026-11-30", "to": "2026-12-01", "therapist_id": "x"},
        "therapist_id",
    ),
    (
        {
            "service_id": "{swedish}",
            "from": "2026-11-30",
            "to": "2026-12-01",
            "therapist_id": "99999",
        },
        "therapist_id",
    ),
    ({"service_id": "{hot_stone}", "from": "2026-11-30", "to": "2026-12-01"}, "service_id"),
    (
        {"service_id": "{swedish}", "from": "2026-11-30", "to": "2026-12-01", "colour": "red"},
        "colour",
    ),
]


@pytest.mark.usefixtures("frozen")
@pytest.mark.parametrize(("params", "field"), BAD_QUERIES)
async def test_bad_input_gets_422_with_a_problem_naming_the_parameter(
    seeded: Database, http: httpx2.AsyncClient, params: dict[str, str], field: str
) -> None:
    async with seeded.reading() as session:
        ids = {s.name: s.id for s in await public_services(session)}
        hot_stone = await session.scalar(
            text("SELECT id FROM service WHERE bookable_online = false")
        )
    names = {"{swedish}": str(ids["Swedish massage, 60 min"]), "{hot_stone}": str(hot_stone)}
    query = {k: names.get(v, v) for k, v in params.items()}
    response = await http.get("/api/v1/availability", params=query)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    _conforms(body, "Problem")
    assert field in body["errors"]
    assert body["errors"][field][0].isupper()  # a sentence, not a code


@pytest.mark.usefixtures("frozen")
async def test_thirty_one_days_is_the_longest_range(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service_id = await _service_id(seeded, "Swedish massage, 60 min")
    response = await http.get(
        "/api/v1/availability",
        params={"service_id": service_id, "from": "2026-11-28", "to": "2026-12-28"},
    )
    assert response.status_code == 200


async def test_a_repeated_parameter_is_refused(seeded: Database, http: httpx2.AsyncClient) -> None:
    response = await http.get(
        "/api/v1/availability?service_id=1&service_id=2&from=2026-11-30&to=2026-12-01"
    )
    assert response.status_code == 422
    assert "service_id" in response.json()["errors"]


# Found by Schemathesis (tests/api/test_schemathesis.py): a start at the calendar's ends
# overflowed the date arithmetic behind an offer and answered 500.
FAR_STARTS = ["0001-01-01T00:00:00Z", "1999-12-31T18:59:59-05:00", "9999-12-31T23:59:59+14:00"]


@pytest.mark.usefixtures("frozen")
@pytest.mark.parametrize("start", FAR_STARTS)
async def test_a_start_no_visit_could_have_is_a_422_on_every_write(
    seeded: Database, http: httpx2.AsyncClient, start: str
) -> None:
    service_id = await _service_id(seeded, "Swedish massage, 60 min")
    client = {"name": "Ruth Example", "email": "ruth@example.com", "phone": "(215) 555-0142"}
    for path, body in (
        ("/api/v1/holds", {"service_id": service_id, "start": start}),
        ("/api/v1/bookings", {"service_id": service_id, "start": start, "client": client}),
        ("/api/v1/bookings/not-a-real-token/reschedule", {"start": start}),
    ):
        response = await http.post(path, json=body)
        assert response.status_code == 422, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        _conforms(problem, "Problem")
        assert problem["errors"] == {"start": "Choose a time inside the booking window."}


@pytest.mark.usefixtures("frozen")
async def test_a_start_no_visit_could_have_is_refused_by_the_offer_itself(
    seeded: Database,
) -> None:
    """Every way a time is taken (online pages, the desk) goes through offer_for."""
    from clinic.booking.taking import SlotRequest, offer_for
    from clinic.errors import InvalidInput

    service_id = await _service_id(seeded, "Swedish massage, 60 min")
    for start in FAR_STARTS:
        with pytest.raises(InvalidInput) as refused:
            await offer_for(seeded, SlotRequest(service_id, datetime.fromisoformat(start)))
        assert "start" in refused.value.field_errors


@pytest.mark.usefixtures("frozen")
@pytest.mark.parametrize("field", ["service_id", "therapist_id"])
async def test_an_id_past_the_id_range_is_a_422_not_a_database_error(
    seeded: Database, http: httpx2.AsyncClient, field: str
) -> None:
    """Found by Schemathesis on PostgreSQL: 2**31 reached the database as an integer
    parameter (a DataError, so a 500). Ids are at most nine digits, as in paths."""
    service_id = await _service_id(seeded, "Swedish massage, 60 min")
    body = {"service_id": service_id, "start": "2026-12-01T10:00:00-05:00", field: 2**31}
    response = await http.post("/api/v1/holds", json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["errors"]
    document = openapi_document()["components"]["schemas"]["HoldIn"]["properties"][field]
    assert "999999999" in str(document)
