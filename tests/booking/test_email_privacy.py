"""No e-mail to a client says anything clinical: every client message the worker sends
(booked, changed, cancelled with their calendar files, the reminder, the pre-visit check,
a pay link, a lost time refunded) is
rendered for a demo client whose visit is planned from an oncology health form, and
searched for clinical words in its subject, both bodies and its attachments."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from clinic import clock
from clinic.booking.models import Appointment
from clinic.booking.notices import BOOKING_REMINDER
from clinic.booking.statuses import AppointmentStatus, CancelledBy
from clinic.clearance.jobs import RELEASE_REASON
from clinic.clearance.models import Clearance, ClearanceStatus
from clinic.clients.models import Client
from clinic.db import Database
from clinic.intake.models import AppointmentIntake, IntakeState
from clinic.outbox.service import enqueue
from clinic.payments.jobs import PAY_LINK_EMAIL, SLOT_LOST_EMAIL
from clinic.payments.ledger import RECEIPT_EMAIL, REFUND_EMAIL, add_refund, move, move_refund
from clinic.payments.models import Payment
from clinic.payments.states import (
    PaymentKind,
    PaymentMethod,
    PaymentState,
    RefundReason,
    RefundState,
)
from clinic.settings import PROJECT_ROOT, Settings
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
                    # Confirmed: a reminder goes only to a confirmed visit.
                    Appointment.status == AppointmentStatus.CONFIRMED,
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
        visit = await session.get(Appointment, appointment_id)
        assert visit is not None
        reminder = {"appointment_id": appointment_id, "starts_at": visit.starts_at.isoformat()}
        enqueue(session, BOOKING_REMINDER, reminder)
        for kind in (PAY_LINK_EMAIL, SLOT_LOST_EMAIL):
            enqueue(session, kind, {"payment_id": payment.id})
    worker = build_worker(seeded, settings)
    while await worker.run_once():
        pass
    messages = mail_in(settings.var_dir / "mail")
    assert len(messages) == len(APPOINTMENT_EMAILS) + 3, [m["Subject"] for m in messages]
    # Booked and changed carry the visit's .ics, cancelled its cancellation: all searched.
    calendars = [
        part
        for message in messages
        for part in message.iter_attachments()
        if part.get_content_type() == "text/calendar"
    ]
    assert len(calendars) == 3
    for message in messages:
        words = _words_of(message)
        for word in CLINICAL_WORDS:
            # From the start of a word: "port" the device, not "viewport".
            assert not re.search(rf"\b{word}", words), (message["Subject"], word)


async def test_no_receipt_or_refund_notice_says_anything_clinical(
    seeded: Database, settings: Settings
) -> None:
    """The payment receipt and the refund notice, queued by the ledger's own moves."""
    appointment_id, client_id = await _oncology_visit(seeded)
    async with seeded.transaction() as session:
        payment = Payment(
            appointment_id=appointment_id,
            client_id=client_id,
            kind=PaymentKind.DEPOSIT,
            method=PaymentMethod.CARD_ONLINE,
            state=PaymentState.PENDING,
            amount_minor=3000,
            currency="usd",
            provider="offline",
            idempotency_key=f"privacy-receipt-{appointment_id}",
        )
        session.add(payment)
        await session.flush()
        assert move(session, payment, PaymentState.SUCCEEDED)
        refund = add_refund(session, payment, 1000, RefundReason.CANCELLATION)
        await session.flush()
        assert move_refund(session, refund, payment, RefundState.SUCCEEDED)
    worker = build_worker(seeded, settings)
    while await worker.run_once():
        pass
    messages = [
        m
        for m in mail_in(settings.var_dir / "mail")
        if str(m["Subject"]).startswith(("Receipt:", "Refund:"))
    ]
    assert len(messages) == 2, [m["Subject"] for m in messages]
    for message in messages:
        words = _words_of(message)
        for word in CLINICAL_WORDS:
            assert not re.search(rf"\b{word}", words), (message["Subject"], word)


# Each clearance email and the health-form reminder, with the visit in the state its
# handler sends for: (kind, the visit's status, its health form's state).
STATEFUL_EMAILS = (
    ("email.clearance_recorded", AppointmentStatus.CONFIRMED, IntakeState.COMPLETE),
    ("email.clearance_requested", AppointmentStatus.PENDING_CLEARANCE, IntakeState.COMPLETE),
    ("email.clearance_expiring", AppointmentStatus.PENDING_CLEARANCE, IntakeState.COMPLETE),
    ("email.intake_needed", AppointmentStatus.CONFIRMED, IntakeState.MISSING),
    ("email.clearance_deadline_passed", AppointmentStatus.CANCELLED, IntakeState.COMPLETE),
)


async def test_no_clearance_or_health_form_email_says_anything_clinical(
    seeded: Database, settings: Settings
) -> None:
    """Sent days before the visit (so none is past its deadline), for a client whose
    clearance on file names a cancer centre and restrictions, released for a reason that
    names the clearance: none of it may show."""
    appointment_id, client_id = await _oncology_visit(seeded)
    async with seeded.reading() as session:
        visit = await session.get(Appointment, appointment_id)
    assert visit is not None
    now = min(NOW, visit.starts_at - timedelta(days=5))
    with clock.frozen_at(now):
        async with seeded.transaction() as session:
            clearance = Clearance(
                client_id=client_id,
                physician_name="Dr Ana Lee",
                practice="Fox Chase Cancer Center",
                contact="fax (215) 555-0199",
                status=ClearanceStatus.CLEARED_WITH_RESTRICTIONS,
                decided_at=now,
                valid_until=now.date(),
                max_pressure=1,
                restrictions="No pressure near the port; lymphedema precautions.",
                void_reason="",
            )
            session.add(clearance)
            await session.flush()
        worker = build_worker(seeded, settings)
        for kind, status, intake_state in STATEFUL_EMAILS:
            async with seeded.transaction() as session:
                appointment = await session.get(Appointment, appointment_id)
                link = await session.get(AppointmentIntake, appointment_id)
                assert appointment is not None
                assert link is not None
                appointment.status, link.state = status, intake_state
                if status is AppointmentStatus.CANCELLED:
                    appointment.cancelled_by = CancelledBy.SYSTEM
                    appointment.cancellation_reason = RELEASE_REASON
                    appointment.cancelled_at = now
                enqueue(
                    session, kind, {"appointment_id": appointment_id, "clearance_id": clearance.id}
                )
            while await worker.run_once():
                pass
    messages = mail_in(settings.var_dir / "mail")
    assert len(messages) == len(STATEFUL_EMAILS), [m["Subject"] for m in messages]
    for message in messages:
        words = _words_of(message)
        for word in (*CLINICAL_WORDS, "fox chase", "ana lee", "restriction"):
            assert not re.search(rf"\b{word}", words), (message["Subject"], word)


# Emails to staff (who may read names and to-dos, still nothing clinical: their own tests).
STAFF_EMAILS = {"credential_expiry", "staff_digest"}
# Sent by the tests above: the receipt and the refund notice by the ledger's own moves.
SEARCHED = {
    *APPOINTMENT_EMAILS,
    BOOKING_REMINDER,
    PAY_LINK_EMAIL,
    SLOT_LOST_EMAIL,
    RECEIPT_EMAIL,
    REFUND_EMAIL,
    *(kind for kind, _, _ in STATEFUL_EMAILS),
}


def test_every_client_email_template_is_searched_above() -> None:
    """A new client email cannot ship without this file rendering and searching it."""
    folder = PROJECT_ROOT / "templates" / "emails"
    templates = {path.name.removesuffix(".subject.txt") for path in folder.glob("*.subject.txt")}
    client_templates = templates - STAFF_EMAILS
    assert client_templates == {kind.removeprefix("email.") for kind in SEARCHED}
