"""Moving a visit from the desk (/desk/appointments/{id}/move): the day's free times by
therapist, only therapists the client's care need allows; the move itself audited and
emailed; a time taken meanwhile or a page gone stale is a 409 that changes nothing; times
go back and forth as UTC instants, so a move across a clock change (or into the repeated
hour) books the instant that was shown."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import httpx2
import pytest
from sqlalchemy import select

from clinic import clock
from clinic.booking.bookings import ClientDetails, book_slot, reschedule_appointment
from clinic.booking.policies import Policies
from clinic.booking.statuses import AppointmentSource, AppointmentStatus
from clinic.booking.taking import SlotRequest
from clinic.db import Database
from clinic.intake.service import gate_need
from clinic.outbox.models import OutboxMessage
from clinic.scheduling.models import Location, WeeklyHours
from clinic.scheduling.service import free_times
from clinic.settings import Settings
from clinic.web.formatting import clock_time
from clinic.worker import build_worker
from tests.booking.conftest import CLIENT, NOW, service_id
from tests.demo_snapshot import seed_demo
from tests.desk.support import (
    appointment,
    audit_entries,
    make_visit,
    post_form,
    sign_in_desk,
    text_of,
)

ZONE = ZoneInfo("America/New_York")
# Level-0 therapists of the demo: never offered to a client who has had cancer.
UNTRAINED = ("Sam Whitaker", "Grace O'Connell")
RADIO = re.compile(
    r'<input type="radio" id="(choice[-0-9]*)" name="choice" value="([^"]+)"[^>]*>'
    r'<label for="\1">(.*?)<span class="visually-hidden"> with (.*?)</span></label>'
)


@dataclass(frozen=True)
class Offered:
    value: str
    label: str
    therapist: str

    @property
    def start(self) -> datetime:
        return datetime.fromisoformat(self.value.split("@", 1)[1])

    @property
    def therapist_id(self) -> int:
        return int(self.value.split("@", 1)[0])


def offered(page: str) -> list[Offered]:
    """The move page's time radios, in page order."""
    return [
        Offered(html.unescape(value), html.unescape(label), html.unescape(name))
        for _, value, label, name in RADIO.findall(page)
    ]


async def book_visit(
    db: Database, day: date, *, cancer_history: bool | None = None, hour: int | None = None
) -> int:
    """A visit booked through the desk's one-step path on `day` (at `hour` when given): the
    first free time, with the care need the client's gate answer asks for."""
    service = await service_id(db)
    found = await free_times(
        db, service_id=service, first_day=day, last_day=day, care=gate_need(cancer_history)
    )
    assert found is not None
    assert found.slots, f"no free time on {day}"
    slot = next(s for s in found.slots if hour is None or s.start.astimezone(ZONE).hour >= hour)
    booked = await book_slot(
        db,
        SlotRequest(service_id=service, start=slot.start, therapist_id=slot.therapist_id),
        client=ClientDetails(**CLIENT),
        source=AppointmentSource.DESK,
        currency="usd",
        cancer_history=cancer_history,
    )
    return booked.appointment_id


async def confirmed_visit(db: Database, settings: Settings, day: date) -> int:
    """A visit booked a grace period ago whose confirmation the worker has sent, so that a
    move now is emailed as a change (one within the grace period is folded into the
    confirmation: tests/booking/test_emails.py)."""
    with clock.frozen_at(NOW - Policies().confirmation_grace):
        visit = await book_visit(db, day)
    worker = build_worker(db, settings)
    while await worker.run_once():
        pass
    return visit


async def rescheduled_emails(db: Database, appointment_id: int) -> int:
    async with db.reading() as session:
        messages = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "email.booking_rescheduled")
        )
        return sum(1 for m in messages if m.payload == {"appointment_id": appointment_id})


def move_url(appointment_id: int) -> str:
    return f"/desk/appointments/{appointment_id}/move"


def was_of(page: str) -> str:
    found = re.search(r'name="was" value="([^"]+)"', page)
    assert found, "the move form carries the time it was shown for"
    return html.unescape(found.group(1))


async def choose(
    http: httpx2.AsyncClient, appointment_id: int, page: str, choice: str, day: str
) -> httpx2.Response:
    return await post_form(
        http,
        move_url(appointment_id),
        move_url(appointment_id),
        {"choice": choice, "day": day, "therapist": "any", "was": was_of(page)},
    )


@pytest.mark.usefixtures("frozen")
async def test_the_desk_moves_a_visit_to_a_free_time(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    visit = await confirmed_visit(seeded, settings, date(2026, 12, 2))
    before = await appointment(seeded, visit)
    desk = await sign_in_desk(http, seeded)
    panel = await http.get(f"/desk/appointments/{visit}")
    assert move_url(visit) in panel.text

    page = await http.get(move_url(visit), params={"day": "2026-12-03"})
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    words = text_of(page.text)
    assert "Move Ruth Example's visit" in words
    assert "Now: Wednesday 2 December 2026" in words
    assert "Times are New York time (EST)." in words
    assert "Free times on Thursday 3 December 2026" in words
    choices = offered(page.text)
    assert choices
    assert all(c.start.astimezone(ZONE).date() == date(2026, 12, 3) for c in choices)
    assert all(c.label == clock_time(c.start, ZONE) for c in choices)
    target = next(c for c in choices if c.therapist_id != before.therapist_id)

    moved = await choose(http, visit, page.text, target.value, "2026-12-03")
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/desk/appointments/{visit}"
    after = await appointment(seeded, visit)
    assert (after.starts_at, after.therapist_id) == (target.start, target.therapist_id)
    assert after.ends_at - after.starts_at == before.ends_at - before.starts_at
    assert after.status is before.status
    [entry] = await audit_entries(seeded, "appointment.rescheduled", visit)
    assert entry.actor_user_id == desk.id
    assert entry.details["to"] == target.start.isoformat()
    assert await rescheduled_emails(seeded, visit) == 1

    panel = await http.get(f"/desk/appointments/{visit}")
    assert (
        f"Moved: Ruth Example is now Thu 3 Dec, {target.label} with {target.therapist}."
        in text_of(panel.text)
    )
    day = await http.get("/desk/2026-12-03")
    assert f"/desk/appointments/{visit}" in day.text
    assert f"/desk/appointments/{visit}" not in (await http.get("/desk/2026-12-02")).text


@pytest.mark.usefixtures("frozen")
async def test_moving_onto_a_time_taken_meanwhile_is_a_409_and_changes_nothing(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    visit = await book_visit(seeded, date(2026, 12, 2))
    before = await appointment(seeded, visit)
    await sign_in_desk(http, seeded)
    page = await http.get(move_url(visit), params={"day": "2026-12-03"})
    target = offered(page.text)[0]
    # Someone books that very time first.
    await book_slot(
        seeded,
        SlotRequest(
            service_id=await service_id(seeded),
            start=target.start,
            therapist_id=target.therapist_id,
        ),
        client=ClientDetails("Other Client", "other.client@example.com", "(215) 555-0199"),
        source=AppointmentSource.DESK,
        currency="usd",
    )

    refused = await choose(http, visit, page.text, target.value, "2026-12-03")
    assert refused.status_code == 409
    assert "<title>Error: Move Ruth Example" in refused.text
    words = text_of(refused.text)
    assert "There is a problem" in words
    assert "That time has just been taken. Choose another." in words
    assert "Free times on Thursday 3 December 2026" in words
    fresh = offered(refused.text)
    assert fresh, "fresh times to choose from"
    assert target.value not in {c.value for c in fresh}
    after = await appointment(seeded, visit)
    assert (after.starts_at, after.therapist_id, after.status) == (
        before.starts_at,
        before.therapist_id,
        before.status,
    )
    assert await audit_entries(seeded, "appointment.rescheduled", visit) == []
    assert await rescheduled_emails(seeded, visit) == 0


@pytest.mark.usefixtures("frozen")
async def test_a_page_shown_before_someone_else_moved_the_visit_is_a_409(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    visit = await book_visit(seeded, date(2026, 12, 2))
    await sign_in_desk(http, seeded)
    page = await http.get(move_url(visit), params={"day": "2026-12-03"})
    first, elsewhere = offered(page.text)[0], offered(page.text)[-1]
    await reschedule_appointment(
        seeded, visit, start=elsewhere.start, therapist_id=elsewhere.therapist_id
    )

    stale = await choose(http, visit, page.text, first.value, "2026-12-03")
    assert stale.status_code == 409
    assert "This visit was changed since the page was shown: it is now at Thu 3 Dec" in (
        text_of(stale.text)
    )
    after = await appointment(seeded, visit)
    assert (after.starts_at, after.therapist_id) == (elsewhere.start, elsewhere.therapist_id)


@pytest.mark.usefixtures("frozen")
async def test_no_time_chosen_is_a_422_on_the_same_day(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    visit = await book_visit(seeded, date(2026, 12, 2))
    await sign_in_desk(http, seeded)
    page = await http.get(move_url(visit), params={"day": "2026-12-03"})
    missing = await choose(http, visit, page.text, "", "2026-12-03")
    assert missing.status_code == 422
    assert "<title>Error: " in missing.text
    words = text_of(missing.text)
    assert words.count("Choose a new time") == 2  # in the summary and beside the times
    assert "Free times on Thursday 3 December 2026" in words
    assert '<a href="#choice">' in missing.text
    assert await audit_entries(seeded, "appointment.rescheduled", visit) == []


@pytest.mark.usefixtures("frozen")
async def test_the_move_page_offers_an_oncology_client_only_trained_therapists(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    day = "2026-12-03"  # a Thursday: both level-0 therapists work
    plain = await book_visit(seeded, date(2026, 12, 2))
    gated = await book_visit(seeded, date(2026, 12, 2), cancer_history=True)
    await sign_in_desk(http, seeded)

    everyone = await http.get(move_url(plain), params={"day": day})
    names = {c.therapist for c in offered(everyone.text)}
    assert set(UNTRAINED) <= names, "the demo's Thursday needs its level-0 therapists"

    trained = await http.get(move_url(gated), params={"day": day})
    assert trained.status_code == 200
    listed = {c.therapist for c in offered(trained.text)}
    assert listed
    assert listed.isdisjoint(UNTRAINED)
    for name in UNTRAINED:
        # Neither among the times nor in the therapist filter.
        assert html.escape(name) not in trained.text

    # A time with an untrained therapist, sent anyway, is refused and nothing moves.
    untrained = next(c for c in offered(everyone.text) if c.therapist in UNTRAINED)
    before = await appointment(seeded, gated)
    refused = await choose(http, gated, trained.text, untrained.value, day)
    assert refused.status_code == 409
    after = await appointment(seeded, gated)
    assert (after.starts_at, after.therapist_id) == (before.starts_at, before.therapist_id)


@pytest.mark.usefixtures("frozen")
async def test_one_therapist_only_and_a_bad_filter(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    visit = await book_visit(seeded, date(2026, 12, 2))
    await sign_in_desk(http, seeded)
    page = await http.get(move_url(visit), params={"day": "2026-12-03"})
    one = offered(page.text)[-1]
    narrowed = await http.get(
        move_url(visit), params={"day": "2026-12-03", "therapist": str(one.therapist_id)}
    )
    assert {c.therapist_id for c in offered(narrowed.text)} == {one.therapist_id}
    assert f'<option value="{one.therapist_id}" selected>' in narrowed.text
    # Previous and next day keep the filter.
    assert f"?day=2026-12-04&amp;therapist={one.therapist_id}" in narrowed.text

    bad = await http.get(move_url(visit), params={"day": "2026-13-40", "therapist": "x"})
    assert bad.status_code == 400
    words = text_of(bad.text)
    assert "Enter a real date, like 2026-11-27" in words
    assert "Choose a therapist from the list" in words
    assert 'value="2026-13-40"' in bad.text


@pytest.mark.usefixtures("frozen")
@pytest.mark.parametrize(
    ("status", "starts_in", "sentence"),
    [
        (AppointmentStatus.CONFIRMED, -timedelta(hours=1), "has already started"),
        (AppointmentStatus.CANCELLED, timedelta(days=2), "This visit is cancelled"),
        (AppointmentStatus.COMPLETED, -timedelta(hours=3), "This visit is completed"),
    ],
)
async def test_a_visit_that_cannot_move_gets_a_clear_409(
    seeded: Database,
    http: httpx2.AsyncClient,
    status: AppointmentStatus,
    starts_in: timedelta,
    sentence: str,
) -> None:
    visit = await make_visit(seeded, starts_at=NOW + starts_in, status=status)
    await sign_in_desk(http, seeded)
    panel = await http.get(visit.panel)
    assert move_url(visit.appointment_id) not in panel.text
    page = await http.get(move_url(visit.appointment_id))
    assert page.status_code == 409
    assert "This visit cannot be moved" in page.text
    assert sentence in page.text
    posted = await post_form(
        http,
        visit.panel,
        move_url(visit.appointment_id),
        {"choice": f"1@{(NOW + timedelta(days=3)).isoformat()}"},
    )
    assert posted.status_code == 409
    assert (await appointment(seeded, visit.appointment_id)).starts_at == NOW + starts_in


# Clock changes: the demo is built around a moment just before each.


async def _demo_at(db: Database, now: datetime) -> None:
    await seed_demo(
        db, timezone="America/New_York", currency="usd", today=now.astimezone(ZONE).date()
    )


async def _work_on_sunday(db: Database, therapist_id: int, start: time, end: time) -> None:
    async with db.transaction() as session:
        location_id = await session.scalar(select(Location.id).order_by(Location.id).limit(1))
        session.add(
            WeeklyHours(
                therapist_id=therapist_id,
                location_id=location_id,
                weekday=6,
                start_time=start,
                end_time=end,
            )
        )


@pytest.mark.parametrize(
    ("now", "booked_on", "moved_to", "offset"),
    [
        # Autumn: Friday 30 October on EDT to Monday 2 November on EST.
        (
            datetime(2026, 10, 29, 14, 0, tzinfo=UTC),
            date(2026, 10, 30),
            date(2026, 11, 2),
            timedelta(hours=-5),
        ),
        # Spring: Friday 12 March on EST to Monday 15 March on EDT.
        (
            datetime(2027, 3, 11, 15, 0, tzinfo=UTC),
            date(2027, 3, 12),
            date(2027, 3, 15),
            timedelta(hours=-4),
        ),
    ],
    ids=["autumn", "spring"],
)
async def test_a_move_across_a_clock_change_books_the_wall_time_shown(
    db: Database,
    http: httpx2.AsyncClient,
    now: datetime,
    booked_on: date,
    moved_to: date,
    offset: timedelta,
) -> None:
    with clock.frozen_at(now):
        await _demo_at(db, now)
        visit = await book_visit(db, booked_on, hour=10)
        await sign_in_desk(http, db)
        # The first day from `moved_to` that has a free time (the demo fills some days).
        for day in (moved_to + timedelta(days=n) for n in range(5)):
            page = await http.get(move_url(visit), params={"day": day.isoformat()})
            assert page.status_code == 200
            if choices := offered(page.text):
                break
        assert choices, f"no free time in the five days from {moved_to}"
        moved_to = day
        for choice in choices:
            local = choice.start.astimezone(ZONE)
            assert local.date() == moved_to
            assert local.utcoffset() == offset
            # Not a clock-change day: the plain wall time, no abbreviation.
            assert "(" not in choice.label
        ten = next(c for c in choices if c.start.astimezone(ZONE).time() >= time(10))
        moved = await choose(http, visit, page.text, ten.value, moved_to.isoformat())
        assert moved.status_code == 303
        after = await appointment(db, visit)
        assert after.starts_at == ten.start
        assert after.starts_at.astimezone(ZONE).utcoffset() == offset
        panel = await http.get(f"/desk/appointments/{visit}")
        abbreviation = "EST" if offset == timedelta(hours=-5) else "EDT"
        assert f"{ten.label} to" in text_of(panel.text)
        assert f"(New York time ({abbreviation}))" in text_of(panel.text)


async def test_the_night_the_clocks_go_back_offers_both_1ams_and_books_the_second(
    db: Database, http: httpx2.AsyncClient
) -> None:
    now = datetime(2026, 10, 29, 14, 0, tzinfo=UTC)
    with clock.frozen_at(now):
        await _demo_at(db, now)
        visit = await book_visit(db, date(2026, 10, 30))
        therapist_id = (await appointment(db, visit)).therapist_id
        await _work_on_sunday(db, therapist_id, time(0), time(4))
        await sign_in_desk(http, db)
        page = await http.get(
            move_url(visit), params={"day": "2026-11-01", "therapist": str(therapist_id)}
        )
        assert page.status_code == 200
        assert "The clocks change on this day: each time says which." in text_of(page.text)
        by_label = {c.label: c for c in offered(page.text)}
        first, second = by_label["1am (EDT)"], by_label["1am (EST)"]
        assert first.start == datetime(2026, 11, 1, 5, 0, tzinfo=UTC)
        assert second.start == datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
        # Every slot once, 15 minutes of elapsed time apart, through the repeated hour.
        starts = [c.start for c in offered(page.text)]
        assert starts == sorted(set(starts))
        assert all(b - a == timedelta(minutes=15) for a, b in pairwise(starts))

        moved = await choose(http, visit, page.text, second.value, "2026-11-01")
        assert moved.status_code == 303
        assert (await appointment(db, visit)).starts_at == second.start
        panel = text_of((await http.get(f"/desk/appointments/{visit}")).text)
        assert "Sunday 1 November 2026, 1am to 2am (New York time (EST))" in panel


async def test_the_night_the_clocks_go_forward_offers_nothing_in_the_gap(
    db: Database, http: httpx2.AsyncClient
) -> None:
    now = datetime(2027, 3, 11, 15, 0, tzinfo=UTC)
    with clock.frozen_at(now):
        await _demo_at(db, now)
        visit = await book_visit(db, date(2027, 3, 12))
        therapist_id = (await appointment(db, visit)).therapist_id
        await _work_on_sunday(db, therapist_id, time(0), time(5))
        await sign_in_desk(http, db)
        page = await http.get(
            move_url(visit), params={"day": "2027-03-14", "therapist": str(therapist_id)}
        )
        choices = offered(page.text)
        labels = [c.label for c in choices]
        assert "1:45am (EST)" in labels
        assert "3am (EDT)" in labels
        assert not [label for label in labels if label.startswith("2")]
        gap = labels.index("3am (EDT)")
        assert choices[gap].start - choices[gap - 1].start == timedelta(minutes=15)


@pytest.mark.usefixtures("frozen")
async def test_a_move_outside_working_hours_needs_a_reason_and_is_audited(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    visit = await confirmed_visit(seeded, settings, date(2026, 12, 2))
    before = await appointment(seeded, visit)
    desk = await sign_in_desk(http, seeded)
    page = await http.get(move_url(visit), params={"day": "2026-12-03"})
    assert "Outside the usual rules" in text_of(page.text)
    evening = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)  # 9pm on Thursday 3 December
    assert all(c.start != evening for c in offered(page.text))
    asked = {
        "mode": "override",
        "day": "2026-12-03",
        "therapist": "any",
        "override_therapist": str(before.therapist_id),
        "override_time": "21:00",
        "override_outside_hours": "1",
    }
    unexplained = await post_form(http, move_url(visit), move_url(visit), asked)
    assert unexplained.status_code == 422
    assert "Enter the reason" in unexplained.text
    assert 'value="21:00"' in unexplained.text
    assert (await appointment(seeded, visit)).starts_at == before.starts_at

    moved = await post_form(
        http, move_url(visit), move_url(visit), asked | {"override_reason": "Works late"}
    )
    assert moved.status_code == 303
    after = await appointment(seeded, visit)
    assert (after.starts_at, after.therapist_id) == (evening, before.therapist_id)
    [entry] = await audit_entries(seeded, "appointment.rules_overridden", visit)
    assert entry.actor_user_id == desk.id
    assert entry.details == {"overrides": ["outside_hours"], "reason": "Works late"}
    assert await rescheduled_emails(seeded, visit) == 1
