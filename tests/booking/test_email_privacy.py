"""No e-mail to a client says anything clinical: every client message the worker sends
(booked, changed, cancelled, the pre-visit check, a pay link, a lost time refunded) is
rendered for a demo client whose visit is planned from an oncology health form, and
searched for clinical words in its subject, both bodies and its attachments."""

from __future__ import annotations

import re
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.clients.models import Client
from clinic.db import Database
from clinic.intake.models import AppointmentIntake
from clinic.outbox.service import enqueue
from clinic.payments.jobs import PAY_LINK_EMAIL, SLOT_LOST_EMAIL
from clinic.payments.models import Payment
from clinic.payments.states import PaymentKind, PaymentMethod, PaymentState
from clinic.settings import Settings
from clinic.worker import build_worker
from tests.booking.conftest import NOW
from tests.booking.test_emails import mail_in

pytestmark = pytest.mark.usefixtures("frozen")

# Words from health forms, plans, clearances and services that would disclose a condition.
CLINICAL_WORDS = (
    "oncology",
    "cancer",
    "chemo",
    "radiation",
    "lymph",
    "metast",
    "tumo",
    "port",
    "clearance",
    "diagnos",
    "precaution",
    "pressure",
    "physician",
    "oncologist",
)
APPOINTMENT_EMAILS = (
    "email.booking_confirmed",
    "email.booking_rescheduled",
    "email.previsit_check",
    "email.booking_cancelled",
)


def _words_of(message: EmailMessage) -> str:
    parts = [str(message["Subject"])]
    for part in message.walk():
        if part.get_content_maintype() == "multipart":
            continue
        content = part.get_content()
        parts.append(content.decode() if isinstance(content, bytes) else str(content))
        if part.get_filename():
            parts.append(part.get_filename() or "")
    return "\n".join(parts).lower()


async def _oncology_visit(db: Database) -> tuple[int, int]:
    """A future booked visit of a demo client with an e-mail, planned from a health form
    that asks for oncology training; its id and its client's."""
    async with db.reading() as session:
        row = (
            await session.execute(
                select(Appointment.id, Appointment.client_id)
                .join(AppointmentIntake, AppointmentIntake.appointment_id == Appointment.id)
                .join(Client, Client.id == Appointment.client_id)
                .where(
                    AppointmentIntake.required_level.is_not(None),
                    AppointmentIntake.required_level > 0,
                    Appointment.status.in_(
                        (AppointmentStatus.CONFIRMED, AppointmentStatus.PENDING_CLEARANCE)
                    ),
                    Appointment.starts_at > NOW,
                    Client.email.is_not(None),
                )
                .order_by(Appointment.starts_at)
                .limit(1)
            )
        ).one()
    return row[0], row[1]


async def test_no_client_email_says_anything_clinical(seeded: Database, settings: Settings) -> None:
    appointment_id, client_id = await _oncology_visit(seeded)
    async with seeded.transaction() as session:
        payment = Payment(
            appointment_id=appointment_id,
            client_id=client_id,
            kind=PaymentKind.NO_SHOW_FEE,
            method=PaymentMethod.CARD_SAVED,
            state=PaymentState.AWAITING_CLIENT,
            amount_minor=5000,
            currency="usd",
            provider="offline",
            idempotency_key=f"privacy-test-{appointment_id}",
        )
        session.add(payment)
        await session.flush()
        for kind in APPOINTMENT_EMAILS:
            enqueue(session, kind, {"appointment_id": appointment_id})
        for kind in (PAY_LINK_EMAIL, SLOT_LOST_EMAIL):
            enqueue(session, kind, {"payment_id": payment.id})
    worker = build_worker(seeded, settings)
    while await worker.run_once():
        pass
    messages = mail_in(settings.var_dir / "mail")
    assert len(messages) == len(APPOINTMENT_EMAILS) + 2, [m["Subject"] for m in messages]
    for message in messages:
        words = _words_of(message)
        for word in CLINICAL_WORDS:
            # From the start of a word: "port" the device, not "viewport".
            assert not re.search(rf"\b{word}", words), (message["Subject"], word)
