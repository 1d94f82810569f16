"""The reminder to fill in a missing health form: queued once, three local days before the
visit at its own clock time (across a change of clock too), never for a visit booked just
before that moment (its confirmation asked), following a visit that moves, skipped when the
form arrives or the visit is cancelled first, and linking to the form through a fresh
manage link, with nothing clinical in it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import httpx2
import pytest
from sqlalchemy import select

from clinic import clock
from clinic.booking.bookings import cancel_appointment, intake_for_booking, reschedule_appointment
from clinic.booking.statuses import CancelledBy
from clinic.db import Database
from clinic.intake.models import AppointmentIntake
from clinic.intake.reminders import INTAKE_NEEDED, queue_intake_reminders, reminder_due
from clinic.intake.service import Signature
from clinic.outbox.models import OutboxMessage
from clinic.settings import Settings
from clinic.web.formatting import clock_time
from clinic.worker import build_worker
from tests.booking.conftest import CLIENT, NOW, free_slots, frozen, seeded, service_id
from tests.booking.test_clearance import BONE_METS
from tests.booking.test_email_privacy import CLINICAL_WORDS
from tests.booking.test_emails import mail_in
from tests.intake.answers_factory import answers

__all__ = ["frozen", "seeded"]

pytestmark = pytest.mark.usefixtures("frozen")

NEW_YORK = ZoneInfo("America/New_York")


async def book_without_form(
    db: Database, http: httpx2.AsyncClient, day: str, client: dict[str, str] = CLIENT
) -> dict[str, Any]:
    service = await service_id(db)
    slot = (await free_slots(http, service, day))[0]
    booked = await http.post(
        "/api/v1/bookings", json={"service_id": service, "start": slot["start"], "client": client}
    )
    assert booked.status_code == 201, booked.text
    result: dict[str, Any] = booked.json()
    return result


def start_of(visit: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(visit["start"]))


async def reminders(db: Database, visit: dict[str, Any]) -> list[OutboxMessage]:
    """The reminders queued for this visit (the demo's own visits get theirs too)."""
    async with db.reading() as session:
        queued = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == INTAKE_NEEDED)
        )
        return [m for m in queued if m.payload["appointment_id"] == visit["id"]]


async def scan(db: Database, at: datetime, visit: dict[str, Any]) -> int:
    """Run the scan at `at`; how many reminders it queued for this visit."""
    before = len(await reminders(db, visit))
    with clock.frozen_at(at):
        async with db.transaction() as session:
            await queue_intake_reminders(session, at)
    return len(await reminders(db, visit)) - before


async def deliver(db: Database, settings: Settings, at: datetime) -> list[EmailMessage]:
    with clock.frozen_at(at):
        worker = build_worker(db, settings)
        while await worker.run_once():
            pass
    return [m for m in mail_in(settings.var_dir / "mail") if "Health form" in str(m["Subject"])]


def test_the_reminder_is_due_at_the_visits_clock_time_three_local_days_before() -> None:
    # Monday 2 November 2026, 10am EST; clocks went back on Sunday 1 November.
    autumn = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    assert reminder_due(autumn, NEW_YORK) == datetime(2026, 10, 30, 14, 0, tzinfo=UTC)
    assert reminder_due(autumn, NEW_YORK) != autumn - timedelta(hours=72)
    # Tuesday 10 March 2026, 9:30am EDT; clocks went forward on Sunday 8 March.
    spring = datetime(2026, 3, 10, 13, 30, tzinfo=UTC)
    assert reminder_due(spring, NEW_YORK) == datetime(2026, 3, 7, 14, 30, tzinfo=UTC)
    # In another zone, the same rule in that zone.
    tokyo = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)  # 10am in Tokyo
    assert reminder_due(tokyo, ZoneInfo("Asia/Tokyo")) == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


async def test_a_missing_form_is_asked_for_once_three_days_before_with_a_working_link(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    visit = await book_without_form(seeded, http, "2026-12-04")
    assert visit["intake"] == "missing"
    due = reminder_due(start_of(visit), NEW_YORK)
    assert await reminders(seeded, visit) == []
    assert await scan(seeded, NOW, visit) == 0
    assert await scan(seeded, due - timedelta(minutes=1), visit) == 0
    assert await scan(seeded, due, visit) == 1
    assert await scan(seeded, due + timedelta(hours=1), visit) == 0
    [queued] = await reminders(seeded, visit)
    assert queued.payload == {"appointment_id": visit["id"]}
    async with seeded.reading() as session:
        link = await session.get(AppointmentIntake, visit["id"])
    assert link is not None
    assert link.intake_reminder_at == due

    [message] = await deliver(seeded, settings, due)
    assert message["To"] == CLIENT["email"]
    assert message["Subject"] == "Health form to fill in before Fri 4 Dec"
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    at = clock_time(start_of(visit), NEW_YORK)
    for body in (text, html):
        assert f"Your appointment is on Friday 4 December 2026 at {at} (New York time)" in body
        assert "Massage, 60 min" in body
    words = (message["Subject"] + text + html).lower()
    for word in CLINICAL_WORDS:
        assert not re.search(rf"\b{word}", words), word
    form_link = next(line.strip() for line in text.splitlines() if line.strip().endswith("/intake"))
    assert re.fullmatch(rf"{re.escape(settings.base_url)}/manage/[\w-]{{30,}}/intake", form_link)
    with clock.frozen_at(due):
        page = await http.get(form_link.replace(settings.base_url, ""))
    assert page.status_code == 200
    # Delivered once.
    assert len(await deliver(seeded, settings, due + timedelta(hours=2))) == 1


async def test_a_visit_booked_just_before_the_reminders_moment_is_not_reminded(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    # Booked on Friday 27 November for Monday 30 November: the confirmation asked.
    visit = await book_without_form(seeded, http, "2026-11-30")
    for hours in (0, 3, 24, 48):
        assert await scan(seeded, NOW + timedelta(hours=hours), visit) == 0
    assert start_of(visit) > NOW + timedelta(hours=48)


async def test_a_form_filled_in_before_the_reminder_goes_stops_it(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    visit = await book_without_form(seeded, http, "2026-12-04")
    due = reminder_due(start_of(visit), NEW_YORK)
    assert await scan(seeded, due, visit) == 1
    with clock.frozen_at(due):
        await intake_for_booking(
            seeded, visit["manage_token"], answers(True, **BONE_METS), Signature("R E", True)
        )
    assert await deliver(seeded, settings, due) == []
    # And a visit whose form arrived is never queued.
    other = await book_without_form(
        seeded, http, "2026-12-07", {**CLIENT, "email": "second.client@example.com"}
    )
    await intake_for_booking(seeded, other["manage_token"], answers(False), Signature("R E", True))
    assert await scan(seeded, reminder_due(start_of(other), NEW_YORK), other) == 0


async def test_a_cancelled_visit_is_not_reminded(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    visit = await book_without_form(seeded, http, "2026-12-04")
    due = reminder_due(start_of(visit), NEW_YORK)
    assert await scan(seeded, due, visit) == 1
    await cancel_appointment(seeded, visit["id"], cancelled_by=CancelledBy.CLIENT)
    assert await deliver(seeded, settings, due) == []


async def test_a_visit_moved_later_is_reminded_before_its_new_date(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    visit = await book_without_form(seeded, http, "2026-12-04")
    old_due = reminder_due(start_of(visit), NEW_YORK)
    new_slot = (await free_slots(http, await service_id(seeded), "2026-12-11"))[0]
    moved = datetime.fromisoformat(new_slot["start"])
    await reschedule_appointment(seeded, visit["id"], start=moved)
    assert await scan(seeded, old_due, visit) == 0
    assert await scan(seeded, reminder_due(moved, NEW_YORK), visit) == 1
