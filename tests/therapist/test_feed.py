"""The calendar subscription: a secret link, stored hashed, to an iCalendar feed that
parses, places every appointment at the right instant across daylight-saving changes,
names nothing about anyone's health, and dies when revoked or replaced."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx2
import pytest
from icalendar import Calendar, Event
from sqlalchemy import select

from clinic.audit import AuditEntry
from clinic.auth.models import Role
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.db import Database
from clinic.intake.models import AppointmentIntake, IntakeState
from clinic.logging import redact_path
from clinic.therapist.models import CalendarFeed
from tests import factories

NEW_YORK = ZoneInfo("America/New_York")
HEALTH_WORDS = (
    "oncology",
    "cancer",
    "chemo",
    "lymph",
    "clearance",
    "pressure",
    "radiation",
    "metasta",
    "tumo",
    "intake",
    "diagnos",
)
FEED_URL = re.compile(r'value="https://testserver(/calendar/([A-Za-z0-9_-]{43})\.ics)"')


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)  # type: ignore[misc]


@dataclass
class FeedClinic:
    user_id: int
    therapist_id: int
    # appointment id -> (start in UTC, end in UTC, STATUS)
    expected: dict[int, tuple[datetime, datetime, str]]
    left_out: list[int]


@pytest.fixture
async def feed_clinic(db: Database, http: httpx2.AsyncClient, frozen: None) -> FeedClinic:
    """A signed-in therapist with visits either side of both 2026-27 clock changes in New
    York, on an oncology service with a neutral public name and a care plan."""
    user = await factories.sign_in_as(http, db, Role.THERAPIST)
    async with db.transaction() as session:
        location = await factories.create_location(session, name="Willow & Oak Massage Therapy")
        room = await factories.create_room(session, location=location, name="Cedar")
        therapist = await factories.create_therapist(session, user_id=user.id)
        service = await factories.create_service(
            session,
            name="Oncology massage, 60 min",
            public_name="Massage, 60 min",
            min_oncology_level=1,
        )
        client = await factories.create_client(session, name="Ruth Example")

        async def visit(start: datetime, status: AppointmentStatus) -> Appointment:
            return await factories.create_appointment(
                session,
                location=location,
                therapist=therapist,
                client=client,
                service=service,
                room=room,
                starts_at=start.astimezone(UTC),
                status=status,
            )

        shown = [
            # Saturday before the autumn change (EDT, UTC-4) and the Sunday of it (EST).
            (ny(2026, 10, 31, 9), AppointmentStatus.COMPLETED, "CONFIRMED"),
            (ny(2026, 11, 1, 9), AppointmentStatus.COMPLETED, "CONFIRMED"),
            (ny(2026, 11, 2, 9), AppointmentStatus.NO_SHOW, "CONFIRMED"),
            # Either side of the spring change on 14 March 2027.
            (ny(2027, 3, 13, 9), AppointmentStatus.CONFIRMED, "CONFIRMED"),
            (ny(2027, 3, 15, 9), AppointmentStatus.PENDING_CLEARANCE, "TENTATIVE"),
        ]
        expected = {}
        for start, status, word in shown:
            row = await visit(start, status)
            expected[row.id] = (row.starts_at, row.ends_at, word)
            session.add(
                AppointmentIntake(
                    appointment_id=row.id,
                    state=IntakeState.COMPLETE,
                    plan={"max_pressure": 2, "notes": ["Oncology: chemo port, lymph nodes"]},
                    modifications=True,
                )
            )
        left_out = [
            (await visit(ny(2027, 3, 16, 9), AppointmentStatus.CANCELLED)).id,
            (await visit(ny(2027, 3, 17, 9), AppointmentStatus.HELD)).id,
            # 30 days back and 180 ahead of 27 November 2026 bound the feed.
            (await visit(ny(2026, 10, 20, 9), AppointmentStatus.COMPLETED)).id,
            (await visit(ny(2027, 6, 1, 9), AppointmentStatus.CONFIRMED)).id,
        ]
    return FeedClinic(user.id, therapist.id, expected, left_out)


async def _create_link(http: httpx2.AsyncClient) -> tuple[str, str]:
    """Create (or replace) the link; its path and token as the page shows them once."""
    token = await factories.form_token(http, "/therapist/calendar")
    page = await http.post("/therapist/calendar-link", data={"csrf_token": token})
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    match = FEED_URL.search(page.text)
    assert match, page.text
    assert f'href="webcal://testserver{match.group(1)}"' in page.text
    return match.group(1), match.group(2)


async def test_the_feed_parses_and_holds_the_right_instants_across_clock_changes(
    feed_clinic: FeedClinic, http: httpx2.AsyncClient, new_client: Callable[[], httpx2.AsyncClient]
) -> None:
    path, _ = await _create_link(http)
    async with new_client() as phone:  # no sign-in: the token is the credential
        response = await phone.get(path)

        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "text/calendar; charset=utf-8"
        assert response.headers["cache-control"].startswith("private")
        calendar = Calendar.from_ical(response.content)

        again = await phone.get(path, headers={"if-none-match": response.headers["etag"]})
        assert again.status_code == 304

    (vtimezone,) = calendar.timezones
    assert vtimezone.tz_name == "America/New_York"
    from_vtimezone = vtimezone.to_tz()
    events: list[Event] = calendar.events
    assert len(events) == len(feed_clinic.expected)
    for event in events:
        appointment_id = int(event.uid.removeprefix("appointment-").removesuffix("@testserver"))
        start, end, status = feed_clinic.expected[appointment_id]
        assert event.get("DTSTART").params["TZID"] == "America/New_York"
        assert event.start.astimezone(UTC) == start
        assert event.end.astimezone(UTC) == end
        # A phone that knows no zones uses the VTIMEZONE: the same instants.
        wall = event.start.replace(tzinfo=None)
        assert wall.replace(tzinfo=from_vtimezone).astimezone(UTC) == start
        assert event["STATUS"] == status
        assert event["SUMMARY"] == "Massage, 60 min: Ruth E."
        assert event["LOCATION"] == "Cedar"
    by_day = {e.start.date().isoformat(): e.start.astimezone(UTC).hour for e in events}
    # 9am in New York: 13:00 UTC in summer time, 14:00 UTC in winter.
    assert by_day == {
        "2026-10-31": 13,
        "2026-11-01": 14,
        "2026-11-02": 14,
        "2027-03-13": 14,
        "2027-03-15": 13,
    }
    text = response.text.lower()
    for word in HEALTH_WORDS:
        assert word not in text, word


async def test_replacing_the_link_kills_the_old_one_and_revoking_kills_it_for_good(
    feed_clinic: FeedClinic, db: Database, http: httpx2.AsyncClient
) -> None:
    first_path, first = await _create_link(http)
    second_path, second = await _create_link(http)
    assert first != second
    assert (await http.get(first_path)).status_code == 404
    assert (await http.get(second_path)).status_code == 200
    async with db.reading() as session:
        feeds = list(await session.scalars(select(CalendarFeed).order_by(CalendarFeed.id)))
    assert [f.token_hash for f in feeds] == [
        hashlib.sha256(token.encode()).hexdigest() for token in (first, second)
    ]
    assert feeds[0].revoked_at is not None
    assert feeds[1].revoked_at is None

    csrf = await factories.form_token(http, "/therapist/calendar")
    revoked = await http.post("/therapist/calendar-link/revoke", data={"csrf_token": csrf})

    assert revoked.status_code == 303
    page = await http.get(revoked.headers["location"])
    assert "Calendar link turned off" in page.text
    assert "You have no calendar link." in page.text
    assert (await http.get(second_path)).status_code == 404
    assert (await http.get("/calendar/not-a-real-token.ics")).status_code == 404
    async with db.reading() as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.subject_type == "calendar_feed")
                .order_by(AuditEntry.id)
            )
        )
    assert actions == ["calendar_feed.created", "calendar_feed.created", "calendar_feed.revoked"]


async def test_the_token_never_reaches_the_log(
    feed_clinic: FeedClinic,
    http: httpx2.AsyncClient,
    new_client: Callable[[], httpx2.AsyncClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    path, token = await _create_link(http)
    async with new_client() as phone:
        assert (await phone.get(path)).status_code == 200
        assert (await phone.get(path + "?token=" + token)).status_code == 200

    assert "/calendar/[redacted]" in caplog.text
    assert token not in caplog.text
    for record in caplog.records:
        assert token not in record.getMessage()
        assert token not in repr(getattr(record, "fields", ""))


def test_feed_paths_are_redacted() -> None:
    assert redact_path("/calendar/AbC-123_x.ics") == "/calendar/[redacted]"
    assert redact_path("/therapist/calendar") == "/therapist/calendar"
    assert redact_path("/therapist/calendar-link/revoke") == "/therapist/calendar-link/revoke"


async def test_an_empty_feed_still_names_its_zone(
    db: Database, http: httpx2.AsyncClient, frozen: None
) -> None:
    user = await factories.sign_in_as(http, db, Role.THERAPIST)
    async with db.transaction() as session:
        await factories.create_location(session)
        await factories.create_therapist(session, user_id=user.id)
    path, _ = await _create_link(http)

    calendar = Calendar.from_ical((await http.get(path)).content)

    assert calendar.events == []
    assert [tz.tz_name for tz in calendar.timezones] == ["America/New_York"]


def test_the_window_is_thirty_days_back_and_180_ahead() -> None:
    from clinic.therapist import feed

    assert (feed.DAYS_BACK, feed.DAYS_AHEAD) == (30, 180)
    assert timedelta(days=feed.DAYS_AHEAD) > ny(2027, 3, 15) - ny(2026, 11, 27)
