"""The worker carries out what booking puts in the outbox: the confirmation email (found
under var/mail/ in development), cancellations and the release of expired holds."""

from __future__ import annotations

import email
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import select

from clinic import clock
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.db import Database
from clinic.settings import Settings
from clinic.worker import build_worker
from tests.booking.conftest import CLIENT, NOW, free_slots, service_id
from tests.intake.answers_factory import signed

pytestmark = pytest.mark.usefixtures("frozen")

CLINICAL_WORDS = ("oncology", "cancer", "chemo", "lymph", "clearance", "diagnos", "tumou", "tumor")


def mail_in(folder: Path) -> list[EmailMessage]:
    return [
        email.message_from_bytes(path.read_bytes(), policy=default)  # type: ignore[misc]
        for path in sorted(folder.glob("*.eml"))
    ]


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
    assert await worker.run_once() >= 1
    assert await worker.run_once() == 0  # nothing is sent twice
    [message] = mail_in(settings.var_dir / "mail")
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
    await http.post(f"/api/v1/bookings/{booked['manage_token']}/cancel", json={})
    await build_worker(seeded, settings).run_once()
    subjects = sorted(m["Subject"].split(":")[0] for m in mail_in(settings.var_dir / "mail"))
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
    await build_worker(seeded, settings).run_once()
    by_recipient = {m["To"]: m for m in mail_in(settings.var_dir / "mail")}
    asked = by_recipient[CLIENT["email"]].get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    not_asked = by_recipient[other["email"]].get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    form_link = next(
        line.strip() for line in asked.splitlines() if line.strip().endswith("/intake")
    )
    assert "health form" in asked
    assert "/intake" not in not_asked
    page = await http.get(form_link.replace(settings.base_url, ""))
    assert page.status_code == 200
