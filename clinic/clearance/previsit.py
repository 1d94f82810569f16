"""The pre-visit check: before each visit of a client in active treatment, the manage link
asks "anything new since your last visit?". A change the domain notes name as a trigger
(section (d)) voids the clearances that covered the visit and sends it to review with a new
health form asked for; fever or an infection close to the visit defers it, with advice to
contact their doctor. Nothing here gives medical advice beyond that referral."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit
from clinic.booking.bookings import cancel_in
from clinic.booking.models import Appointment
from clinic.booking.notices import queue_cancelled
from clinic.booking.statuses import AppointmentStatus, CancelledBy
from clinic.clearance.covering import covers, in_active_treatment
from clinic.clearance.models import CLEARING, Clearance, PrevisitCheck
from clinic.clearance.service import void_clearances
from clinic.clock import now_utc
from clinic.errors import Conflict, InvalidInput
from clinic.intake.models import AppointmentIntake, Intake, IntakeState
from clinic.intake.plan import CONTACT_PROMPTLY
from clinic.intake.screening import within_day_of_visit_window
from clinic.intake.service import ClinicScreening, answers_of, clinic_screening
from clinic.outbox.service import enqueue

# Changes that void a clearance and ask for a new health form (domain section (d)).
CHANGES: tuple[tuple[str, str], ...] = (
    ("recurrence", "Have you been told the cancer has come back or spread?"),
    (
        "new_treatment",
        "Have you started a new treatment, such as chemotherapy, radiation, immunotherapy or "
        "a transplant?",
    ),
    ("surgery", "Have you had an operation or a procedure?"),
    ("new_device", "Do you have a new port, line, drain or other device?"),
    ("clot", "Have you been told you have a blood clot, or started a blood thinner?"),
    ("hospital_stay", "Have you stayed in hospital?"),
    ("new_swelling", "Do you have new swelling, or swelling that is quickly getting worse?"),
    ("counts_dropped", "Has your care team told you that your blood counts have dropped?"),
)
# Symptoms that defer a visit close at hand (rows 22-23).
TODAY: tuple[tuple[str, str], ...] = (
    ("fever", "Do you have a fever or chills?"),
    ("infection", "Do you have an infection?"),
)
QUESTIONS = CHANGES + TODAY


class PrevisitOutcome(StrEnum):
    NOTHING_NEW = "nothing_new"
    REVIEW = "review"
    DEFERRED = "deferred"


@dataclass(frozen=True)
class PrevisitResult:
    outcome: PrevisitOutcome
    message: str


def parse_answers(raw: Mapping[str, Any]) -> dict[str, bool]:
    """Every question answered yes or no (True/False, or "yes"/"no" from a form)."""
    answers: dict[str, bool] = {}
    errors: dict[str, str] = {}
    for name in raw:
        if name not in dict(QUESTIONS):
            errors[name] = "This question is not on the form. Reload the page and try again."
    for name, _ in QUESTIONS:
        value = raw.get(name)
        if value in (True, "yes"):
            answers[name] = True
        elif value in (False, "no"):
            answers[name] = False
        else:
            errors[name] = "Select yes or no"
    if errors:
        raise InvalidInput("Check the highlighted answers.", field_errors=errors)
    return answers


async def answer_check(
    session: AsyncSession, appointment: Appointment, raw: Mapping[str, Any]
) -> PrevisitResult:
    """Apply a client's answers to the visit (inside the caller's transaction)."""
    answers = parse_answers(raw)
    if appointment.status not in (AppointmentStatus.CONFIRMED, AppointmentStatus.PENDING_CLEARANCE):
        raise Conflict("This appointment is no longer booked.")
    now = now_utc()
    screening = await clinic_screening(session)
    check = await session.get(PrevisitCheck, appointment.id, with_for_update=True)
    if check is None:
        check = PrevisitCheck(appointment_id=appointment.id, sent_at=now)
        session.add(check)
    changes = [name for name, _ in CHANGES if answers[name]]
    unwell = [name for name, _ in TODAY if answers[name]]
    close = within_day_of_visit_window(now, appointment.starts_at, screening.rules)
    if unwell and close:
        outcome = PrevisitOutcome.DEFERRED
        result = PrevisitResult(outcome, CONTACT_PROMPTLY)
        await _defer(session, appointment, now)
    elif changes or unwell:
        outcome = PrevisitOutcome.REVIEW
        result = PrevisitResult(
            outcome,
            "Thank you. Something has changed since your last visit, so we need you to fill in "
            "the health form again before we can go ahead. We will be in touch.",
        )
        await _to_review(session, appointment, changes + unwell, screening)
    else:
        outcome = PrevisitOutcome.NOTHING_NEW
        result = PrevisitResult(outcome, "Thank you. We look forward to seeing you.")
    check.answered_at = now
    check.answers = answers
    check.outcome = outcome
    audit.record(
        session,
        "previsit.answered",
        actor_label="client",
        subject_type="appointment",
        subject_id=appointment.id,
        details={"outcome": outcome},
    )
    return result


async def _defer(session: AsyncSession, appointment: Appointment, now: datetime) -> None:
    # Illness is a medical reason: no fee, and the desk calls to rebook.
    await cancel_in(
        session,
        appointment,
        now=now,
        cancelled_by=CancelledBy.CLIENT,
        reason="Unwell before the visit (pre-visit check).",
        medically_excused=True,
        needs_rebooking=True,
    )
    await queue_cancelled(session, appointment)


async def _to_review(
    session: AsyncSession,
    appointment: Appointment,
    reasons: list[str],
    screening: ClinicScreening,
) -> None:
    assert appointment.client_id is not None
    words = ", ".join(name.replace("_", " ") for name in reasons)
    link = await session.get(AppointmentIntake, appointment.id, with_for_update=True)
    if link is not None:
        link.state = IntakeState.REVIEW
        link.review_reason = f"pre-visit check: {words}; a new health form is needed"
    day = appointment.starts_at.astimezone(screening.zone).date()
    signed_at = None
    if link is not None and link.intake_id is not None:
        intake = await session.get(Intake, link.intake_id)
        signed_at = intake.signed_at if intake is not None else None
        # The intake is reopened: the visit waits for a new form (the manage link asks for
        # it); the plan it was booked on stays for the therapist until then.
        link.intake_id = None
    clearances = await session.scalars(
        select(Clearance).where(
            Clearance.client_id == appointment.client_id, Clearance.status.in_(CLEARING)
        )
    )
    covering = [c for c in clearances if covers(c, intake_signed_at=signed_at, visit_day=day)]
    await void_clearances(session, covering, f"Pre-visit check: {words}", actor_user_id=None)


async def due_checks(session: AsyncSession, now: datetime) -> list[Appointment]:
    """Coming visits, inside the check window, of clients in active treatment, not yet
    asked."""
    screening = await clinic_screening(session)
    horizon = now + timedelta(hours=screening.rules.previsit_check_hours)
    rows = await session.execute(
        select(Appointment, Intake)
        .join(AppointmentIntake, AppointmentIntake.appointment_id == Appointment.id)
        .join(Intake, Intake.id == AppointmentIntake.intake_id)
        .outerjoin(PrevisitCheck, PrevisitCheck.appointment_id == Appointment.id)
        .where(
            Appointment.status.in_(
                (AppointmentStatus.CONFIRMED, AppointmentStatus.PENDING_CLEARANCE)
            ),
            Appointment.starts_at > now,
            Appointment.starts_at <= horizon,
            PrevisitCheck.appointment_id.is_(None),
        )
    )
    return [a for a, intake in rows if in_active_treatment(answers_of(intake))]


async def send_due_checks(session: AsyncSession) -> int:
    """Ask each due client once: a row per visit, and the email with its manage link."""
    now = now_utc()
    due = await due_checks(session, now)
    for appointment in due:
        session.add(PrevisitCheck(appointment_id=appointment.id, sent_at=now))
        enqueue(session, "email.previsit_check", {"appointment_id": appointment.id})
    return len(due)
