"""The desk books for a client: find them (or add them), choose service, therapist and day,
pick a free time from the real availability; or, with a reason that is audited, a time
outside working hours, inside the minimum notice, or a walk-in. The overlap guard, time
off and the training the client's care needs are never set aside. The gate answer travels
in a POST body, never in a URL."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import httpx2
import pytest
from sqlalchemy import select

from clinic.audit import AuditEntry
from clinic.booking.models import Appointment
from clinic.booking.policy_store import set_policy
from clinic.booking.statuses import AppointmentSource, AppointmentStatus
from clinic.clients.models import Client
from clinic.db import Database
from clinic.desk.booking import walk_in_start
from clinic.desk.overrides import local_instant
from clinic.outbox.models import OutboxMessage
from clinic.scheduling.models import Service
from clinic.staff.models import Therapist
from tests import factories
from tests.booking.conftest import NOW
from tests.desk.support import audit_entries, post_form, sign_in_desk, text_of

pytestmark = pytest.mark.usefixtures("frozen")

ZONE = ZoneInfo("America/New_York")
MONDAY = date(2026, 11, 30)
SLOT = re.compile(r'name="slot" value="(\d+)\|([^"]+)"')


async def _ids(db: Database) -> tuple[int, dict[str, int]]:
    async with db.reading() as session:
        service_id = await session.scalar(
            select(Service.id).where(Service.name == "Swedish massage, 60 min")
        )
        therapists = dict(
            (await session.execute(select(Therapist.display_name, Therapist.id))).all()
        )
    assert service_id is not None
    return service_id, therapists


async def _new_client(db: Database, **values: str) -> int:
    async with db.transaction() as session:
        client = await factories.create_client(session, **values)
    return client.id


def _choice(
    service_id: int, day: date, therapist: str = "any", cancer: str = "no"
) -> dict[str, str]:
    return {
        "service": str(service_id),
        "therapist": therapist,
        "day": day.isoformat(),
        "cancer": cancer,
    }


async def _times(http: httpx2.AsyncClient, client_id: int, data: dict[str, str]) -> httpx2.Response:
    page = f"/desk/book/{client_id}"
    return await post_form(http, page, page, data)


async def _book(http: httpx2.AsyncClient, client_id: int, data: dict[str, str]) -> httpx2.Response:
    page = f"/desk/book/{client_id}"
    return await post_form(http, page, f"{page}/confirm", data)


def _slots(page: str) -> list[tuple[int, datetime]]:
    return [(int(t), datetime.fromisoformat(s)) for t, s in SLOT.findall(page)]


async def _desk_bookings(db: Database, client_id: int) -> list[Appointment]:
    async with db.reading() as session:
        return list(
            await session.scalars(
                select(Appointment)
                .where(Appointment.client_id == client_id)
                .order_by(Appointment.id)
            )
        )


async def test_the_desk_finds_clients_by_name_email_or_phone_digits(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    await _new_client(
        seeded, name="Priya Natarajan", email="pnat@example.org", phone="(215) 555-0199"
    )
    await sign_in_desk(http, seeded)
    for query in ("natarajan", "PRIYA nat", "pnat@", "555 0199", "2155550199"):
        page = await http.get("/desk/book", params={"q": query})
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        assert "Priya Natarajan" in page.text, query
    # LIKE's wildcards are plain characters here.
    page = await http.get("/desk/book", params={"q": "%"})
    assert "Priya Natarajan" not in page.text
    assert "No client matches" in text_of(page.text)


async def test_the_desk_adds_a_client_without_an_email_and_goes_on_to_book(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    user = await sign_in_desk(http, seeded)
    empty = await post_form(http, "/desk/book", "/desk/clients", {"name": "", "phone": ""})
    assert empty.status_code == 422
    assert "Enter the client's full name" in text_of(empty.text)
    bad = await post_form(
        http, "/desk/book", "/desk/clients", {"name": "Ann Lowe", "phone": "call me", "email": ""}
    )
    assert bad.status_code == 422
    assert "Enter a phone number" in bad.text
    assert 'value="Ann Lowe"' in bad.text

    added = await post_form(
        http,
        "/desk/book?day=2026-11-30",
        "/desk/clients?day=2026-11-30",
        {"name": "Ann Lowe", "phone": "(267) 555-0101", "email": ""},
    )
    assert added.status_code == 303
    assert re.fullmatch(r"/desk/book/\d+\?day=2026-11-30", added.headers["location"])
    client_id = int(added.headers["location"].split("/")[3].split("?")[0])
    async with seeded.reading() as session:
        client = await session.get(Client, client_id)
        entry = await session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "client.added", AuditEntry.subject_id == str(client_id)
            )
        )
    assert client is not None
    assert (client.name, client.email) == ("Ann Lowe", None)
    assert entry is not None
    assert entry.actor_user_id == user.id
    form = await http.get(added.headers["location"])
    assert 'value="2026-11-30"' in form.text


async def test_adding_a_client_whose_email_is_on_file_offers_that_client(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    existing = await _new_client(seeded, name="Bo Chen", email="bo@example.org")
    await sign_in_desk(http, seeded)
    again = await post_form(
        http, "/desk/book", "/desk/clients", {"name": "Bo C", "email": "BO@example.org"}
    )
    assert again.status_code == 409
    assert f"/desk/book/{existing}" in again.text
    assert "already on file" in again.text


async def test_the_desk_books_a_listed_free_time_and_the_client_is_emailed(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service_id, _ = await _ids(seeded)
    client_id = await _new_client(seeded, name="Cora Diaz")
    user = await sign_in_desk(http, seeded)
    page = await _times(http, client_id, _choice(service_id, MONDAY))
    assert page.status_code == 200
    slots = _slots(page.text)
    assert slots, "Monday has free times in the demo"
    therapist_id, start = slots[0]
    assert start.astimezone(ZONE).date() == MONDAY
    booked = await _book(
        http,
        client_id,
        _choice(service_id, MONDAY)
        | {"mode": "slot", "slot": f"{therapist_id}|{start.isoformat()}"},
    )
    assert booked.status_code == 303
    panel = await http.get(booked.headers["location"])
    assert "Booked: Cora Diaz, Monday 30 November 2026" in text_of(panel.text)
    [appointment] = await _desk_bookings(seeded, client_id)
    assert appointment.starts_at == start
    assert appointment.therapist_id == therapist_id
    assert appointment.source is AppointmentSource.DESK
    assert appointment.created_by_user_id == user.id
    assert appointment.status is AppointmentStatus.CONFIRMED
    [entry] = await audit_entries(seeded, "appointment.booked", appointment.id)
    assert entry.actor_user_id == user.id
    async with seeded.reading() as session:
        emails = list(
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "email.booking_confirmed")
            )
        )
    assert any(m.payload == {"appointment_id": appointment.id} for m in emails)

    # The same time again is gone from the list and refused if posted.
    again = await _book(
        http,
        client_id,
        _choice(service_id, MONDAY)
        | {"mode": "slot", "slot": f"{therapist_id}|{start.isoformat()}"},
    )
    assert again.status_code == 409
    assert "taken a moment ago" in again.text
    assert f'value="{therapist_id}|{start.isoformat()}"' not in again.text
    assert len(await _desk_bookings(seeded, client_id)) == 1


async def test_without_a_health_form_the_desk_must_ask_the_gate_question_in_the_body(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service_id, therapists = await _ids(seeded)
    client_id = await _new_client(seeded)
    await sign_in_desk(http, seeded)
    today = NOW.astimezone(ZONE).date()
    unasked = await _times(http, client_id, _choice(service_id, today, cancer=""))
    assert unasked.status_code == 422
    assert "Ask the client and choose yes or no" in unasked.text

    no = _slots((await _times(http, client_id, _choice(service_id, today, cancer="no"))).text)
    yes = _slots((await _times(http, client_id, _choice(service_id, today, cancer="yes"))).text)
    # Grace O'Connell works Fridays with no oncology training: offered only on a "no".
    untrained = therapists["Grace O'Connell"]
    assert any(t == untrained for t, _ in no)
    assert yes
    assert all(t != untrained for t, _ in yes)


async def test_a_time_outside_hours_needs_a_rule_and_a_reason_and_is_audited(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service_id, therapists = await _ids(seeded)
    client_id = await _new_client(seeded, name="Dev Patel")
    user = await sign_in_desk(http, seeded)
    sam = therapists["Sam Whitaker"]  # Mondays 9 to 5
    choice = _choice(service_id, MONDAY) | {
        "mode": "override",
        "override_therapist": str(sam),
        "override_time": "18:30",
    }
    listed = await _times(http, client_id, _choice(service_id, MONDAY, therapist=str(sam)))
    evening = local_instant(MONDAY, time(18, 30), ZONE)
    assert all(start != evening for _, start in _slots(listed.text))

    no_rule = await _book(http, client_id, choice | {"override_reason": "Only time she can"})
    assert no_rule.status_code == 422
    assert "Choose which rule to set aside" in no_rule.text
    assert 'value="Only time she can"' not in no_rule.text  # a textarea keeps it as text
    assert "Only time she can</textarea>" in no_rule.text
    no_reason = await _book(http, client_id, choice | {"override_outside_hours": "1"})
    assert no_reason.status_code == 422
    assert "Enter the reason" in no_reason.text
    assert not await _desk_bookings(seeded, client_id)

    booked = await _book(
        http,
        client_id,
        choice | {"override_outside_hours": "1", "override_reason": "Only time she can"},
    )
    assert booked.status_code == 303
    [appointment] = await _desk_bookings(seeded, client_id)
    assert appointment.starts_at == evening
    assert appointment.therapist_id == sam
    [entry] = await audit_entries(seeded, "appointment.rules_overridden", appointment.id)
    assert entry.actor_user_id == user.id
    assert entry.details == {"overrides": ["outside_hours"], "reason": "Only time she can"}


async def test_the_overlap_guard_and_training_are_never_set_aside(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service_id, therapists = await _ids(seeded)
    first = await _new_client(seeded)
    second = await _new_client(seeded)
    await sign_in_desk(http, seeded)
    sam = therapists["Sam Whitaker"]
    override = {
        "mode": "override",
        "override_therapist": str(sam),
        "override_time": "19:00",
        "override_outside_hours": "1",
        "override_reason": "Evening visit",
    }
    assert (await _book(http, first, _choice(service_id, MONDAY) | override)).status_code == 303
    clash = await _book(http, second, _choice(service_id, MONDAY) | override)
    assert clash.status_code == 409
    assert "never set aside" in clash.text
    assert not await _desk_bookings(seeded, second)

    # A client with a cancer history is not booked with an untrained therapist, even
    # outside hours with a reason.
    untrained = await _book(
        http,
        second,
        _choice(service_id, MONDAY, cancer="yes") | override | {"override_time": "20:00"},
    )
    assert untrained.status_code == 409
    assert not await _desk_bookings(seeded, second)


async def test_inside_the_notice_needs_the_override(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service_id, _ = await _ids(seeded)
    client_id = await _new_client(seeded)
    await sign_in_desk(http, seeded)
    today = NOW.astimezone(ZONE).date()
    listed = _slots((await _times(http, client_id, _choice(service_id, today))).text)
    therapist_id, start = listed[0]
    # The clinic now asks for a day's notice: that free time is inside it.
    await set_policy(seeded, "minimum_notice_minutes", 24 * 60)
    assert not _slots((await _times(http, client_id, _choice(service_id, today))).text)
    soon = _choice(service_id, today) | {
        "mode": "override",
        "override_therapist": str(therapist_id),
        "override_time": start.astimezone(ZONE).strftime("%H:%M"),
        "override_reason": "Regular client squeezed in",
    }
    refused = await _book(http, client_id, soon | {"override_outside_hours": "1"})
    assert refused.status_code == 409
    booked = await _book(http, client_id, soon | {"override_inside_notice": "1"})
    assert booked.status_code == 303
    [appointment] = await _desk_bookings(seeded, client_id)
    assert (appointment.starts_at, appointment.therapist_id) == (start, therapist_id)


async def test_a_walk_in_starts_now_and_is_checked_in(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service_id, therapists = await _ids(seeded)
    client_id = await _new_client(seeded, name="Eve Stone")
    await sign_in_desk(http, seeded)
    today = NOW.astimezone(ZONE).date()
    page = await _times(http, client_id, _choice(service_id, today))
    assert "Book the walk-in and check in" in page.text
    assert "from 8:05am" in text_of(page.text)
    jordan = therapists["Jordan Kim"]  # starts at noon on Fridays
    walk_in = _choice(service_id, today) | {
        "mode": "walk_in",
        "walk_in_therapist": str(jordan),
        "walk_in_reason": "Walked in with a stiff neck",
    }
    assert (await _book(http, client_id, walk_in | {"walk_in_reason": ""})).status_code == 422
    outside = await _book(http, client_id, walk_in)
    assert outside.status_code == 409
    booked = await _book(http, client_id, walk_in | {"walk_in_outside_hours": "1"})
    assert booked.status_code == 303
    [appointment] = await _desk_bookings(seeded, client_id)
    assert appointment.starts_at == walk_in_start(NOW) == datetime(2026, 11, 27, 13, 5, tzinfo=UTC)
    assert appointment.status is AppointmentStatus.CHECKED_IN
    [entry] = await audit_entries(seeded, "appointment.rules_overridden", appointment.id)
    assert entry.details["overrides"] == ["outside_hours", "inside_notice"]
    panel = await http.get(booked.headers["location"])
    assert "Checked in." in text_of(panel.text)


async def test_bad_choices_come_back_beside_their_fields(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service_id, _ = await _ids(seeded)
    client_id = await _new_client(seeded)
    await sign_in_desk(http, seeded)
    page = await _times(
        http,
        client_id,
        {"service": "abc", "therapist": "99999", "day": "2026-11-26", "cancer": "maybe"},
    )
    assert page.status_code == 422
    words = text_of(page.text)
    for message in (
        "Choose a service from the list",
        "Choose a therapist from the list, or anyone suitable",
        "Choose today or a later day",
        "Ask the client and choose yes or no",
    ):
        assert message in words
    assert "<title>Error: " in page.text
    stale = await _book(
        http, client_id, _choice(service_id, MONDAY) | {"mode": "slot", "slot": "nonsense"}
    )
    assert stale.status_code == 422
    assert "Choose one of the free times" in stale.text
    missing = await http.get("/desk/book/999999")
    assert missing.status_code == 404


async def test_a_time_the_clocks_skip_is_refused_and_a_repeated_one_is_the_first() -> None:
    spring = date(2027, 3, 14)
    with pytest.raises(ValueError, match="clocks skip"):
        local_instant(spring, time(2, 30), ZONE)
    autumn = date(2026, 11, 1)
    assert local_instant(autumn, time(1, 30), ZONE) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert walk_in_start(datetime(2026, 11, 27, 13, 0, tzinfo=UTC)) == datetime(
        2026, 11, 27, 13, 5, tzinfo=UTC
    )
    assert walk_in_start(datetime(2026, 11, 27, 13, 3, 59, tzinfo=UTC)) == datetime(
        2026, 11, 27, 13, 5, tzinfo=UTC
    )
    assert walk_in_start(datetime(2026, 11, 27, 13, 55, 1, tzinfo=UTC)) == datetime(
        2026, 11, 27, 14, 0, tzinfo=UTC
    )
