"""The front desk's day (/desk/, /desk/YYYY-MM-DD) on the demo clinic's Friday: a column for
each therapist working, cards in time order with status, payment and flags in words, the
zone named, the now line on today only, nothing clinical, and a clear 400 for a bad date."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx2
import pytest
from sqlalchemy import select

from clinic.auth.models import Role
from clinic.booking.models import Appointment
from clinic.booking.service import day_bounds
from clinic.booking.statuses import AppointmentStatus
from clinic.clearance.models import Clearance, ClearanceStatus
from clinic.db import Database
from clinic.intake.models import AppointmentIntake, IntakeState
from clinic.payments.models import Payment
from clinic.payments.states import PaymentKind, PaymentMethod, PaymentState
from clinic.scheduling.models import Room, WeeklyHours
from clinic.staff.models import Therapist
from tests import factories
from tests.booking.conftest import NOW, TODAY
from tests.desk.support import (
    CLINICAL_WORDS,
    card_ids,
    make_visit,
    sections,
    sign_in_desk,
    text_of,
)

pytestmark = pytest.mark.usefixtures("frozen")

ZONE = "America/New_York"
SHOWN = (
    AppointmentStatus.PENDING_CLEARANCE,
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.CHECKED_IN,
    AppointmentStatus.COMPLETED,
    AppointmentStatus.NO_SHOW,
)


def _bounds(day: date = TODAY) -> tuple[datetime, datetime]:
    from zoneinfo import ZoneInfo

    return day_bounds(day, ZoneInfo(ZONE))


async def _todays_visits(db: Database) -> list[tuple[Appointment, str]]:
    start, end = _bounds()
    async with db.reading() as session:
        rows = await session.execute(
            select(Appointment, Therapist.display_name)
            .join(Therapist, Therapist.id == Appointment.therapist_id)
            .where(
                Appointment.starts_at < end,
                Appointment.ends_at > start,
                Appointment.status.in_(SHOWN),
            )
            .order_by(Appointment.starts_at, Appointment.id)
        )
        return [(appointment, name) for appointment, name in rows]


async def _working_on(db: Database, weekday: int) -> set[str]:
    async with db.reading() as session:
        return set(
            await session.scalars(
                select(Therapist.display_name)
                .join(WeeklyHours, WeeklyHours.therapist_id == Therapist.id)
                .where(WeeklyHours.weekday == weekday, Therapist.active.is_(True))
            )
        )


def _card(page: str, appointment_id: int) -> str:
    """One card's markup, from its <li> to the next."""
    match = re.search(
        r'<li class="desk-item desk-card [^"]*">\s*<a class="desk-card-open" '
        rf'href="[^"]*/desk/appointments/{appointment_id}">'
        r'.*?</li>\s*(?=<li class="desk-item|</ol>)',
        page,
        flags=re.S,
    )
    assert match, f"no card for appointment {appointment_id}"
    return match.group(0)


def _words(fragment: str) -> str:
    return text_of(fragment)


async def test_the_day_has_a_column_for_each_therapist_working_with_cards_in_time_order(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    await sign_in_desk(http, seeded)
    page = await http.get("/desk/")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    visits = await _todays_visits(seeded)
    assert len(visits) >= 5
    working = await _working_on(seeded, TODAY.weekday())
    columns = sections(page.text)
    assert set(columns) == working | {name for _, name in visits}
    for name, column in columns.items():
        expected = [a.id for a, therapist in visits if therapist == name]
        assert card_ids(column) == expected, name
    # Read in order, each column is an agenda: an ordered list, times rising.
    for column in columns.values():
        starts = re.findall(r'<span class="desk-card-time">([^<]+)', column)
        assert len(starts) == len(card_ids(column))

    async with seeded.reading() as session:
        everyone = set(
            await session.scalars(select(Therapist.display_name).where(Therapist.active.is_(True)))
        )
    resting = everyone - set(columns)
    assert resting, "the demo has therapists who do not work on Fridays"
    assert f"Show all therapists ({len(resting)} not working)" in page.text
    shown_all = await http.get("/desk/2026-11-27?all=1")
    assert set(sections(shown_all.text)) == everyone
    for name in resting:
        assert "Not working" in _words(sections(shown_all.text)[name])


async def test_the_day_names_the_zone_and_shows_nothing_clinical(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    await sign_in_desk(http, seeded)
    for url in ("/desk/", "/desk/2026-11-28", "/desk/2026-12-01?all=1&cancelled=1"):
        page = await http.get(url)
        assert page.status_code == 200
        assert "Times are New York time (EST)." in page.text
        lowered = page.text.lower()
        for word in CLINICAL_WORDS:
            assert word not in lowered, f"{url} shows {word!r}"
    # Services go by their public names: "Oncology massage" would tell the waiting room.
    assert "Massage, 60 min" in (await http.get("/desk/")).text


async def test_cards_show_the_room(seeded: Database, http: httpx2.AsyncClient) -> None:
    await sign_in_desk(http, seeded)
    page = (await http.get("/desk/")).text
    async with seeded.reading() as session:
        rooms = {room.id: room.name for room in await session.scalars(select(Room))}
    placed = [a for a, _ in await _todays_visits(seeded) if a.room_id is not None]
    assert placed
    for visit in placed:
        assert re.search(
            rf"{rooms[visit.room_id]} · \w+ massage|{rooms[visit.room_id]} · Massage",
            _words(_card(page, visit.id)),
        )


async def test_cards_say_status_and_payment_in_words(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    visits = [a for a, _ in await _todays_visits(seeded)]
    arrived, done, paid, missed, late, free, deposit = (a.id for a in visits[:7])
    async with seeded.transaction() as session:
        changes = {
            arrived: (AppointmentStatus.CHECKED_IN, 0),
            done: (AppointmentStatus.COMPLETED, 0),
            paid: (AppointmentStatus.COMPLETED, 0),
            missed: (AppointmentStatus.NO_SHOW, 9500),
            late: (AppointmentStatus.CANCELLED, 4750),
            free: (AppointmentStatus.CANCELLED, 0),
        }
        for appointment_id, (status, fee) in changes.items():
            row = await session.get(Appointment, appointment_id)
            assert row is not None
            row.status, row.fee_minor = status, fee
        for appointment_id, kind, share in (
            (done, PaymentKind.BALANCE, 0.5),
            (paid, PaymentKind.BALANCE, 2.0),
            (deposit, PaymentKind.DEPOSIT, 0.25),
        ):
            row = await session.get(Appointment, appointment_id)
            assert row is not None
            session.add(
                Payment(
                    appointment_id=appointment_id,
                    client_id=row.client_id,
                    kind=kind,
                    method=PaymentMethod.CASH,
                    state=PaymentState.SUCCEEDED,
                    amount_minor=int(row.price_minor * share),
                    currency="usd",
                    provider="desk",
                    idempotency_key=uuid.uuid4().hex,
                    succeeded_at=NOW,
                )
            )
    await sign_in_desk(http, seeded)
    page = (await http.get("/desk/")).text
    expected = {
        arrived: ("checked_in", "➜ Arrived"),
        done: ("completed", "● Done"),
        paid: ("completed", "● Done"),
        missed: ("no_show", "✕ No-show"),
        late: ("late_cancel", "⊘ Late cancel"),
        deposit: ("confirmed", "✓ Booked"),
    }
    for appointment_id, (key, words) in expected.items():
        card = _card(page, appointment_id)
        assert f"desk-card status-{key}" in card
        assert words in _words(card)
    assert "Part paid" in _words(_card(page, done))
    assert " Paid " in _words(_card(page, paid))
    assert "Fee due" in _words(_card(page, missed))
    assert "Fee due" in _words(_card(page, late))
    assert "Deposit paid" in _words(_card(page, deposit))
    assert "Unpaid" in _words(_card(page, visits[7].id))
    # The payment word opens the visit's payments page.
    assert f'/desk/appointments/{done}/payments"' in _card(page, done)
    # A free cancellation shows only when asked for.
    assert f'/desk/appointments/{free}"' not in page
    with_cancelled = (await http.get("/desk/2026-11-27?cancelled=1")).text
    assert "– Cancelled" in _words(_card(with_cancelled, free))
    # The finished visit with money due is on the to-do list, with its balance.
    todo = page[page.index('id="todo-heading"') :]
    assert "Unpaid finished visits" in todo
    assert f"/desk/appointments/{done}/payments" in todo
    assert f"/desk/appointments/{paid}/payments" not in todo


async def test_cards_flag_forms_care_plans_new_clients_and_clearances_without_reasons(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    forms = await make_visit(seeded, starts_at=NOW + timedelta(hours=2), client_name="Ann Forms")
    care = await make_visit(seeded, starts_at=NOW + timedelta(hours=3), client_name="Bea Care")
    waiting = await make_visit(
        seeded,
        starts_at=NOW + timedelta(hours=5),
        status=AppointmentStatus.PENDING_CLEARANCE,
        client_name="Cal Waiting",
    )
    expiring = await make_visit(seeded, starts_at=NOW + timedelta(hours=4), client_name="Dee Soon")
    async with seeded.transaction() as session:
        session.add(
            AppointmentIntake(appointment_id=forms.appointment_id, state=IntakeState.MISSING)
        )
        session.add(
            AppointmentIntake(
                appointment_id=care.appointment_id, state=IntakeState.COMPLETE, modifications=True
            )
        )
        session.add(
            Clearance(
                client_id=expiring.client_id,
                physician_name="Dr Example",
                status=ClearanceStatus.CLEARED,
                requested_at=NOW - timedelta(days=80),
                decided_at=NOW - timedelta(days=70),
                valid_until=TODAY + timedelta(days=10),
            )
        )
    await sign_in_desk(http, seeded)
    page = (await http.get("/desk/")).text
    assert "✎ Forms due" in _words(_card(page, forms.appointment_id))
    assert "✚ Care plan" in _words(_card(page, care.appointment_id))
    # 72 hours before 6pm UTC (1pm in New York) on Friday 27 November.
    assert "⚠ Clearance needed by Tue 24 Nov, 1pm" in _words(_card(page, waiting.appointment_id))
    assert "◷ Clearance expiring on file until Mon 7 Dec" in _words(
        _card(page, expiring.appointment_id)
    )
    for visit in (forms, care, waiting, expiring):
        assert "★ New client" in _words(_card(page, visit.appointment_id))
    returning = [a for a, _ in await _todays_visits(seeded) if a.client_id not in {forms.client_id}]
    assert any("New client" not in _words(_card(page, a.id)) for a in returning)
    # The to-do list: the visit waiting for its clearance, with the deadline and the page
    # to chase it from.
    todo = page[page.index('id="todo-heading"') :]
    assert "Clearances to chase" in todo
    assert f'/desk/appointments/{waiting.appointment_id}/clearance"' in todo
    assert "Clearance needed by Tuesday 24 November 2026, 1pm." in _words(todo)
    # The key explains every symbol.
    key = _words(page[page.index('id="key"') :])
    for words in ("Forms due Health form not filled in yet.", "New client", "Late cancel"):
        assert words in key


async def test_tomorrows_visits_waiting_for_a_clearance_are_on_the_to_do_list(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    tomorrow = await make_visit(
        seeded,
        starts_at=NOW + timedelta(days=1, hours=6),
        status=AppointmentStatus.PENDING_CLEARANCE,
        client_name="Tom Morrow",
    )
    await sign_in_desk(http, seeded)
    page = (await http.get("/desk/")).text
    todo = page[page.index('id="todo-heading"') :]
    section = todo[todo.index("Tomorrow, still waiting for clearance") :]
    assert f"/desk/appointments/{tomorrow.appointment_id}/clearance" in section
    assert "Tom Morrow" in section


async def test_the_now_line_is_placed_by_the_server_on_today_only(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    await sign_in_desk(http, seeded)
    page = (await http.get("/desk/")).text
    assert '<a href="#now">Jump to now</a>' in page
    assert "It is now 8am." in page
    now_line = re.search(r'<p id="now" class="desk-now ([^"]+)" tabindex="-1">', page)
    assert now_line
    # The grid starts at the first whole hour shown: 8am here, so 8am is the first row.
    assert re.search(r'<li class="desk-at-1 desk-span-4">8am</li>', page)
    assert now_line.group(1) == "desk-at-1 desk-nudge-0"
    other = (await http.get("/desk/2026-11-30")).text
    assert "Jump to now" not in other
    assert 'id="now"' not in other


async def test_cards_are_placed_on_the_grid_by_class(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    # 9:10 to 10:10 in New York, on a grid from 8am: rows 5 (9:00) to 9 (10:00).
    visit = await make_visit(seeded, starts_at=datetime(2026, 11, 27, 14, 10, tzinfo=UTC))
    await sign_in_desk(http, seeded)
    card = _card((await http.get("/desk/")).text, visit.appointment_id)
    assert "desk-at-5 desk-span-5 desk-lane-1 desk-lanes-1" in card
    assert 'style="' not in card


async def test_the_toolbar_moves_between_days_and_keeps_the_links_to_takings(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    await sign_in_desk(http, seeded)
    page = (await http.get("/desk/2026-11-28?all=1")).text
    assert "<h1>Saturday 28 November 2026</h1>" in page
    assert '/desk/2026-11-27?all=1">Previous day' in page
    assert '/desk/2026-11-29?all=1">Next day' in page
    assert '/desk/?all=1">Today</a>' in page
    assert '/desk/takings?day=2026-11-28"' in page
    assert 'name="day" type="date" value="2026-11-28"' in page
    today = (await http.get("/desk/")).text
    assert "<h1>Today, Friday 27 November 2026</h1>" in today
    assert "/desk/takings" in today


async def test_the_date_field_goes_to_that_days_page(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    await sign_in_desk(http, seeded)
    gone = await http.get("/desk/?day=2026-11-30&all=1")
    assert gone.status_code == 303
    assert gone.headers["location"] == "/desk/2026-11-30?all=1"


@pytest.mark.parametrize(
    "url",
    [
        "/desk/2026-02-30",
        "/desk/2026-13-01",
        "/desk/20261127",
        "/desk/2026-11-27-",
        "/desk/1999-12-31",
        "/desk/9999-01-01",
        "/desk/?day=banana",
        "/desk/?day=2026-02-30",
        "/desk/?day=27/11/2026",
        "/desk/?day=",
    ],
)
async def test_a_bad_date_is_a_clear_400(
    seeded: Database, http: httpx2.AsyncClient, url: str
) -> None:
    await sign_in_desk(http, seeded)
    page = await http.get(url)
    assert page.status_code == 400
    assert "<title>Error: Front desk</title>" in page.text
    assert "There is a problem" in page.text
    assert re.search(r"Enter (the date like|a real date|a date between)", page.text)
    assert 'href="#day"' in page.text


async def test_desk_paths_that_are_not_dates_are_not_taken_by_the_day_page(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    await sign_in_desk(http, seeded)
    assert (await http.get("/desk/takings")).status_code == 200
    assert (await http.get("/desk/week")).status_code == 200
    assert (await http.get("/desk/tomorrow")).status_code == 404


async def test_only_the_front_desk_sees_the_day(seeded: Database, http: httpx2.AsyncClient) -> None:
    await factories.sign_in_as(http, seeded, Role.THERAPIST)
    for url in ("/desk/", "/desk/2026-11-27", "/desk/week"):
        assert (await http.get(url)).status_code == 403
