"""The worker carries out what booking puts in the outbox: the confirmation email (found
under var/mail/ in development) once its grace period has passed, cancellations and the
release of expired holds."""

from __future__ import annotations

import email
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx2
import icalendar
import pytest
from sqlalchemy import select

from clinic import clock
from clinic.booking.models import Appointment
from clinic.booking.notices import BOOKING_CONFIRMED
from clinic.booking.policies import Policies
from clinic.booking.policy_store import set_policy
from clinic.booking.statuses import AppointmentStatus
from clinic.db import Database
from clinic.outbox.models import OutboxMessage, OutboxStatus
from clinic.settings import Settings
from clinic.web.formatting import clock_time, long_date
from clinic.worker import build_worker
from tests.booking.conftest import CLIENT, NOW, free_slots, service_id
from tests.intake.answers_factory import signed

pytestmark = pytest.mark.usefixtures("frozen")

# A booking's confirmation waits this long (the default policy), so a quick correction
# sends one email.
AFTER_GRACE = NOW + Policies().confirmation_grace
CLINICAL_WORDS = ("oncology", "cancer", "chemo", "lymph", "clearance", "diagnos", "tumou", "tumor")


@pytest.fixture(autouse=True)
async def default_grace(seeded: Database) -> None:
    """The clinic default's grace period: the demo clinic sends confirmations at once."""
    await set_policy(seeded, "confirmation_grace_minutes", Policies().confirmation_grace_minutes)


def mail_in(folder: Path) -> list[EmailMessage]:
    return [
        email.message_from_bytes(path.read_bytes(), policy=default)  # type: ignore[misc]
        for path in sorted(folder.glob("*.eml"))
    ]


def booking_mail_in(folder: Path) -> list[EmailMessage]:
    """The booking emails (booked, changed, cancelled, reminder) among the messages: a
    booking may also ask for a health form or a clearance, by emails of their own."""
    prefixes = ("Booked:", "Changed:", "Cancelled:", "Reminder:")
    return [m for m in mail_in(folder) if str(m["Subject"]).startswith(prefixes)]


async def test_a_booking_sends_one_confirmation_with_a_working_manage_link(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    service = await service_id(seeded, "Oncology massage, 60 min")
    slot = (await free_slots(http, service))[0]
    booked = await http.post(
        "/api/v1/bookings", json={"service_id": service, "start": slot["start"], "client": CLIENT}
    )
    assert booked.status_code == 201
    worker = build_worker(seeded, settings)
    await worker.run_once()
    assert booking_mail_in(settings.var_dir / "mail") == []  # not before the grace period
    with clock.frozen_at(AFTER_GRACE):
        assert await worker.run_once() >= 1
        assert await worker.run_once() == 0  # nothing is sent twice
    [message] = booking_mail_in(settings.var_dir / "mail")
    assert message["To"] == CLIENT["email"]
    assert message["Subject"].startswith("Booked: ")
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "Massage, 60 min" in text  # the public name, not "Oncology massage"
    for word in CLINICAL_WORDS:
        assert word not in (message["Subject"] + text + html).lower(), word
    link = next(line for line in text.splitlines() if "/manage/" in line).strip()
    page = await http.get(link.replace(settings.base_url, ""))
    assert page.status_code == 200


async def test_cancelling_sends_the_cancellation_with_the_fee(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    service = await service_id(seeded)
    slot = (await free_slots(http, service))[0]
    booked = (
        await http.post(
            "/api/v1/bookings",
            json={"service_id": service, "start": slot["start"], "client": CLIENT},
        )
    ).json()
    worker = build_worker(seeded, settings)
    # Cancelled once the confirmation has gone out (a cancellation within the grace period
    # is tests/outbox/test_reminders.py's).
    with clock.frozen_at(AFTER_GRACE):
        await worker.run_once()
        await http.post(f"/api/v1/bookings/{booked['manage_token']}/cancel", json={})
        await worker.run_once()
    mail = booking_mail_in(settings.var_dir / "mail")
    subjects = sorted(m["Subject"].split(":")[0] for m in mail)
    assert subjects == ["Booked", "Cancelled"]


async def test_the_worker_releases_expired_holds(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    service = await service_id(seeded)
    slot = (await free_slots(http, service))[0]
    hold = await http.post(
        "/api/v1/holds",
        json={"service_id": service, "start": slot["start"], "therapist_id": slot["therapist_id"]},
    )
    assert hold.status_code == 201
    worker = build_worker(seeded, settings)
    with clock.frozen_at(NOW + timedelta(minutes=5)):
        await worker.ensure_periodic()
        await worker.run_once()
    with clock.frozen_at(NOW + timedelta(minutes=11)):
        await worker.run_once()
        await worker.run_once()
    async with seeded.reading() as session:
        status = await session.scalar(
            select(Appointment.status).where(
                Appointment.hold_owner.is_(None), Appointment.client_id.is_(None)
            )
        )
    assert status is AppointmentStatus.EXPIRED


async def test_a_booking_without_a_health_form_emails_the_link_to_fill_it_in(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    service = await service_id(seeded)
    slots = await free_slots(http, service)
    without = await http.post(
        "/api/v1/bookings",
        json={"service_id": service, "start": slots[0]["start"], "client": CLIENT},
    )
    intake_token = (await http.post("/api/v1/intakes", json=signed(False))).json()["intake_token"]
    other = {**CLIENT, "email": "second.client@example.com"}
    with_form = await http.post(
        "/api/v1/bookings",
        json={
            "service_id": service,
            "start": slots[-1]["start"],
            "client": other,
            "intake_token": intake_token,
        },
    )
    assert without.status_code == with_form.status_code == 201
    with clock.frozen_at(AFTER_GRACE):
        await build_worker(seeded, settings).run_once()
    by_recipient = {m["To"]: m for m in booking_mail_in(settings.var_dir / "mail")}
    asked = by_recipient[CLIENT["email"]].get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    not_asked = by_recipient[other["email"]].get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    form_link = next(
        line.strip() for line in asked.splitlines() if line.strip().endswith("/intake")
    )
    assert "health form" in asked
    assert "/intake" not in not_asked
    page = await http.get(form_link.replace(settings.base_url, ""))
    assert page.status_code == 200


# The grace period, and the calendar files


def calendar_event(message: EmailMessage) -> tuple[str, icalendar.Event]:
    """The METHOD and the one VEVENT of a message's .ics attachment (the part's header
    names the same method as the file)."""
    [part] = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    calendar = icalendar.Calendar.from_ical(part.get_content())
    [event] = calendar.events
    assert part.get_param("method") == str(calendar["METHOD"])
    return str(calendar["METHOD"]), event


async def _book(http: httpx2.AsyncClient, service: int, start: str) -> dict[str, Any]:
    booked = await http.post(
        "/api/v1/bookings", json={"service_id": service, "start": start, "client": CLIENT}
    )
    assert booked.status_code == 201, booked.text
    body: dict[str, Any] = booked.json()
    return body


async def test_a_change_within_the_grace_period_sends_one_confirmation_with_the_final_time(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    service = await service_id(seeded)
    slots = await free_slots(http, service)
    first, final = slots[0]["start"], slots[-1]["start"]
    assert first != final
    booked = await _book(http, service, first)
    with clock.frozen_at(NOW + timedelta(minutes=1)):
        moved = await http.post(
            f"/api/v1/bookings/{booked['manage_token']}/reschedule", json={"start": final}
        )
        assert moved.status_code == 200, moved.text
    worker = build_worker(seeded, settings)
    with clock.frozen_at(AFTER_GRACE):
        while await worker.run_once():
            pass
    [message] = booking_mail_in(settings.var_dir / "mail")
    assert message["Subject"].startswith("Booked: ")
    zone = ZoneInfo("America/New_York")
    final_start = datetime.fromisoformat(final)
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert f"{long_date(final_start, zone)}, {clock_time(final_start, zone)}" in text
    method, event = calendar_event(message)
    assert method == "PUBLISH"
    assert event.decoded("DTSTART") == final_start
    assert event.decoded("SEQUENCE") == 1


async def test_a_free_cancellation_within_the_grace_period_sends_nothing(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    service = await service_id(seeded)
    booked = await _book(http, service, (await free_slots(http, service))[0]["start"])
    with clock.frozen_at(NOW + timedelta(minutes=1)):
        cancelled = await http.post(f"/api/v1/bookings/{booked['manage_token']}/cancel", json={})
        assert cancelled.status_code == 200, cancelled.text
    worker = build_worker(seeded, settings)
    with clock.frozen_at(AFTER_GRACE + timedelta(minutes=1)):
        while await worker.run_once():
            pass
    # The client never had an email about it, and saw the cancellation on screen.
    assert booking_mail_in(settings.var_dir / "mail") == []
    async with seeded.reading() as session:
        confirmation = await session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.kind == BOOKING_CONFIRMED,
                OutboxMessage.payload["appointment_id"].as_integer() == booked["id"],
            )
        )
    assert confirmation is not None
    assert confirmation.status is OutboxStatus.DONE  # handled: it skipped the cancelled visit


async def test_a_late_cancellation_within_the_grace_period_still_says_what_it_costs(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    service = await service_id(seeded)
    # Later today: inside the free-cancellation window from the moment it is booked.
    slots = await free_slots(http, service, day="2026-11-27")
    booked = await _book(http, service, slots[0]["start"])
    with clock.frozen_at(NOW + timedelta(minutes=1)):
        cancelled = await http.post(f"/api/v1/bookings/{booked['manage_token']}/cancel", json={})
        assert cancelled.status_code == 200, cancelled.text
    worker = build_worker(seeded, settings)
    with clock.frozen_at(AFTER_GRACE + timedelta(minutes=1)):
        while await worker.run_once():
            pass
    [message] = booking_mail_in(settings.var_dir / "mail")
    assert message["Subject"].startswith("Cancelled: ")
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "late cancellation fee" in text


async def test_a_grace_period_of_zero_confirms_at_once(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    await set_policy(seeded, "confirmation_grace_minutes", 0)
    service = await service_id(seeded)
    await _book(http, service, (await free_slots(http, service))[0]["start"])
    await build_worker(seeded, settings).run_once()
    [message] = booking_mail_in(settings.var_dir / "mail")
    assert message["Subject"].startswith("Booked: ")


async def test_the_calendar_files_of_one_visit_share_a_uid_with_a_rising_sequence(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    service = await service_id(seeded, "Oncology massage, 60 min")
    slots = await free_slots(http, service)
    booked = await _book(http, service, slots[0]["start"])
    token = booked["manage_token"]
    worker = build_worker(seeded, settings)
    with clock.frozen_at(AFTER_GRACE):
        await worker.run_once()
        moved = await http.post(
            f"/api/v1/bookings/{token}/reschedule", json={"start": slots[-1]["start"]}
        )
        assert moved.status_code == 200, moved.text
        await worker.run_once()
        await http.post(f"/api/v1/bookings/{token}/cancel", json={})
        await worker.run_once()
    by_kind = {m["Subject"].split(":")[0]: m for m in booking_mail_in(settings.var_dir / "mail")}
    assert sorted(by_kind) == ["Booked", "Cancelled", "Changed"]
    files = {kind: calendar_event(message) for kind, message in by_kind.items()}
    assert {kind: method for kind, (method, _) in files.items()} == {
        "Booked": "PUBLISH",
        "Changed": "PUBLISH",
        "Cancelled": "CANCEL",
    }
    events = {kind: event for kind, (_, event) in files.items()}
    assert len({str(e["UID"]) for e in events.values()}) == 1
    sequences = [events[kind].decoded("SEQUENCE") for kind in ("Booked", "Changed", "Cancelled")]
    assert sequences == [0, 1, 2]
    assert str(events["Cancelled"]["STATUS"]) == "CANCELLED"
    assert events["Changed"].decoded("DTSTART") == datetime.fromisoformat(slots[-1]["start"])
    for event in events.values():
        assert str(event["SUMMARY"]) == "Massage, 60 min at Willow & Oak Massage Therapy"
        assert "oncology" not in event.to_ical().decode().lower()
    # The Booked file's link is the manage link of its email.
    booked_text = by_kind["Booked"].get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert str(events["Booked"]["URL"]) in booked_text
