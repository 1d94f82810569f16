"""Services, rooms and closures for admins: lists with a change link per row, short forms
that come back with 422 and their values on bad input, every change audited, nothing
deleted but closures (a closed day is opened again)."""

from __future__ import annotations

from datetime import date

import httpx2
import pytest
from sqlalchemy import func, select

from clinic.audit import AuditEntry
from clinic.db import Database
from clinic.scheduling.models import Closure, Room, Service
from tests.admin.support import (
    date_parts,
    field_error,
    input_value,
    post_form,
    service_named,
    sign_in_demo,
    text_of,
    title_of,
)
from tests.booking.conftest import free_slots

pytestmark = pytest.mark.usefixtures("frozen")

SERVICE_FORM = {
    "name": "Swedish massage, 60 min",
    "public_name": "Massage, 60 min",
    "description": "Relaxing.",
    "duration": "60",
    "price": "95.00",
    "buffer_before": "0",
    "buffer_after": "15",
    "min_level": "",
    "room_attributes": "massage_table",
    "online": "yes",
    "active": "yes",
}


async def audit_of(db: Database, subject_type: str, subject_id: int) -> list[AuditEntry]:
    async with db.reading() as session:
        return list(
            await session.scalars(
                select(AuditEntry)
                .where(
                    AuditEntry.subject_type == subject_type,
                    AuditEntry.subject_id == str(subject_id),
                )
                .order_by(AuditEntry.id)
            )
        )


async def test_changing_a_service_is_audited_and_reaches_booking(
    seeded: Database, http: httpx2.AsyncClient, api: httpx2.AsyncClient
) -> None:
    admin = await sign_in_demo(http, seeded)
    service = await service_named(seeded, "Swedish massage, 60 min")
    listing = await http.get("/admin/services")
    assert listing.status_code == 200
    assert "Swedish massage, 60 min Massage, 60 min 60 min, $95.00 Any therapist" in text_of(
        listing.text
    )
    assert f'/admin/services/{service.id}">Change' in listing.text
    url = f"/admin/services/{service.id}"
    form = await http.get(url)
    assert input_value(form.text, "price") == "95.00"
    assert await free_slots(api, service.id)

    saved = await post_form(
        http,
        url,
        url,
        {**SERVICE_FORM, "duration": "45", "price": "$100", "min_level": "1", "online": ""},
    )
    assert saved.status_code == 303
    async with seeded.reading() as session:
        changed = await session.get(Service, service.id)
    assert changed is not None
    assert (changed.duration_minutes, changed.price_minor, changed.min_oncology_level) == (
        45,
        10000,
        1,
    )
    assert changed.bookable_online is False
    # No longer offered online.
    response = await api.get(
        "/api/v1/availability",
        params={"service_id": service.id, "from": "2026-12-01", "to": "2026-12-01"},
    )
    assert response.status_code == 422
    entries = await audit_of(seeded, "service", service.id)
    assert entries[-1].action == "service.changed"
    assert set(entries[-1].details["fields"]) == {
        "duration_minutes",
        "price_minor",
        "min_oncology_level",
        "bookable_online",
        "description",
    }
    assert entries[-1].actor_user_id == admin.id
    page = text_of((await http.get(url)).text)
    assert f"Last changed by {admin.name} on Friday 27 November 2026 at 8am." in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"public_name": ""}, "public_name", "Enter a neutral public name, like Massage, 60 min"),
        ({"duration": "0"}, "duration", "The length must be between 5 and 480"),
        ({"duration": "sixty"}, "duration", "The length must be a whole number, like 5"),
        ({"price": "-5"}, "price", "Enter the price as 0 or more"),
        ({"price": "abc"}, "price", "Enter the price as a number, like 85.00"),
        ({"price": "9" * 30}, "price", "Enter the price as a number, like 85.00"),
        ({"price": "1000000"}, "price", "Enter a price of 100,000 or less"),
        ({"min_level": "9"}, "min_level", "Choose a training level from the list"),
        ({"buffer_after": "121"}, "buffer_after", "The time after must be between 0 and 120"),
        (
            {"name": "Deep tissue massage, 60 min"},
            "name",
            "There is already a service called Deep tissue massage, 60 min: choose another name",
        ),
    ],
)
async def test_a_bad_service_form_comes_back_with_its_errors(
    seeded: Database,
    http: httpx2.AsyncClient,
    changes: dict[str, str],
    field: str,
    message: str,
) -> None:
    await sign_in_demo(http, seeded)
    service = await service_named(seeded, "Swedish massage, 60 min")
    url = f"/admin/services/{service.id}"
    refused = await post_form(http, url, url, {**SERVICE_FORM, **changes})
    assert refused.status_code == 422
    assert title_of(refused.text).startswith("Error: ")
    assert field_error(refused.text, field) == message
    for name, value in changes.items():
        assert input_value(refused.text, name) in (value, None)  # min_level is a select
    assert await audit_of(seeded, "service", service.id) == []


async def test_adding_a_service(seeded: Database, http: httpx2.AsyncClient) -> None:
    await sign_in_demo(http, seeded)
    added = await post_form(
        http,
        "/admin/services/new",
        "/admin/services/new",
        {**SERVICE_FORM, "name": "Foot massage, 30 min", "public_name": "Massage, 30 min"},
    )
    assert added.status_code == 303
    async with seeded.reading() as session:
        service = await session.scalar(
            select(Service).where(Service.name == "Foot massage, 30 min")
        )
    assert service is not None
    assert service.room_attributes == ["massage_table"]
    assert [e.action for e in await audit_of(seeded, "service", service.id)] == ["service.created"]


async def test_rooms_are_added_changed_and_taken_out_of_use(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    await sign_in_demo(http, seeded)
    listing = await http.get("/admin/rooms")
    assert listing.status_code == 200
    assert "In use" in text_of(listing.text)
    added = await post_form(
        http,
        "/admin/rooms/new",
        "/admin/rooms/new",
        {"name": "Garden room", "attributes": ["massage_table", "near_restroom"], "active": "yes"},
    )
    assert added.status_code == 303
    async with seeded.reading() as session:
        room = await session.scalar(select(Room).where(Room.name == "Garden room"))
        other = await session.scalar(select(Room).where(Room.name != "Garden room").limit(1))
    assert room is not None
    assert other is not None
    assert room.attributes == ["massage_table", "near_restroom"]

    refused = await post_form(
        http, "/admin/rooms/new", "/admin/rooms/new", {"name": other.name, "active": "yes"}
    )
    assert refused.status_code == 422
    assert field_error(refused.text, "name") == (
        f"There is already a room called {other.name} there: choose another name"
    )
    refused = await post_form(
        http, "/admin/rooms/new", "/admin/rooms/new", {"name": "X", "attributes": "jacuzzi"}
    )
    assert field_error(refused.text, "attributes") == "Choose room features from the list"

    url = f"/admin/rooms/{room.id}"
    saved = await post_form(http, url, url, {"name": "Garden room", "active": "no"})
    assert saved.status_code == 303
    async with seeded.reading() as session:
        changed = await session.get(Room, room.id)
    assert changed is not None
    assert changed.active is False
    assert changed.attributes == []
    assert [e.action for e in await audit_of(seeded, "room", room.id)] == [
        "room.created",
        "room.changed",
    ]
    # A room with visits booked says so on its page.
    busy = await http.get(f"/admin/rooms/{other.id}")
    assert "still to come" in text_of(busy.text)


async def test_closing_a_day_with_visits_asks_first_and_removes_its_times(
    seeded: Database, http: httpx2.AsyncClient, api: httpx2.AsyncClient
) -> None:
    await sign_in_demo(http, seeded)
    swedish = await service_named(seeded, "Swedish massage, 60 min")
    assert await free_slots(api, swedish.id, "2026-12-01")
    form = {**date_parts("day", 1, 12, 2026), "reason": "Staff training"}
    confirm = await post_form(http, "/admin/closures", "/admin/closures", form)
    assert confirm.status_code == 200
    words = text_of(confirm.text)
    assert "booked visits on Tuesday 1 December 2026" in words
    assert "does not cancel or move these visits" in words
    async with seeded.reading() as session:
        assert not await session.scalar(
            select(func.count()).where(Closure.on_date == date(2026, 12, 1))
        )

    closed = await post_form(
        http, "/admin/closures", "/admin/closures", {**form, "confirmed": "yes"}
    )
    assert closed.status_code == 303
    page = text_of((await http.get("/admin/closures")).text)
    assert "Closed on Tuesday 1 December 2026: nobody can book that day." in page
    assert "Tuesday 1 December 2026: Staff training" in page
    assert await free_slots(api, swedish.id, "2026-12-01") == []
    async with seeded.reading() as session:
        closure = await session.scalar(select(Closure).where(Closure.on_date == date(2026, 12, 1)))
    assert closure is not None
    entry = (await audit_of(seeded, "closure", closure.id))[-1]
    assert entry.action == "closure.added"
    assert entry.details["on_date"] == "2026-12-01"

    again = await post_form(
        http, "/admin/closures", "/admin/closures", {**form, "confirmed": "yes"}
    )
    assert again.status_code == 422
    assert field_error(again.text, "day-day") == "The clinic is already closed that day"

    opened = await post_form(http, "/admin/closures", f"/admin/closures/{closure.id}/remove")
    assert opened.status_code == 303
    assert await free_slots(api, swedish.id, "2026-12-01")
    assert (await audit_of(seeded, "closure", closure.id))[-1].action == "closure.removed"


@pytest.mark.parametrize(
    ("day", "month", "year", "field", "message"),
    [
        ("31", "2", "2027", "day-day", "The date must be a real date"),
        ("x", "2", "2027", "day-day", "The date must be a real date, in numbers"),
        ("1", "1", "123456", "day-year", "The date must be a real date, in numbers"),
        ("26", "11", "2026", "day-day", "That day has passed: enter today or a later date"),
        ("", "", "", "day-day", "Enter the date"),
    ],
)
async def test_a_bad_closure_date_is_a_message(
    seeded: Database,
    http: httpx2.AsyncClient,
    day: str,
    month: str,
    year: str,
    field: str,
    message: str,
) -> None:
    await sign_in_demo(http, seeded)
    refused = await post_form(
        http,
        "/admin/closures",
        "/admin/closures",
        {**date_parts("day", day, month, year), "reason": "Holiday"},
    )
    assert refused.status_code == 422
    assert field_error(refused.text, field) == message
    assert input_value(refused.text, "reason") == "Holiday"
