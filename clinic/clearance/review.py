"""The review queue's decisions, for a clinical lead: confirm a visit in review as booked,
adjust its plan, or ask for a physician's clearance. Each is audited; none moves a visit
(the desk moves visits, and the move is matched to the plan)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit
from clinic.booking.models import Appointment
from clinic.clearance.service import recheck_client
from clinic.clock import now_utc
from clinic.errors import Conflict, InvalidInput, NotFound
from clinic.intake.models import AppointmentIntake, IntakeState
from clinic.intake.plan import CarePlan, Clearance, tightened
from clinic.intake.service import clinic_screening, fit_problems, keep_plan
from clinic.intake.summary import plan_from_json

NOTE_MAX = 500


@dataclass(frozen=True)
class InReview:
    appointment: Appointment
    link: AppointmentIntake
    plan: CarePlan


async def in_review(session: AsyncSession, appointment_id: int, *, user_id: int) -> InReview:
    """A visit in review with its plan, read for a clinical lead (audited)."""
    appointment = await session.get(Appointment, appointment_id, with_for_update=True)
    link = await session.get(AppointmentIntake, appointment_id, with_for_update=True)
    if appointment is None or link is None or link.plan is None:
        raise NotFound("There is no such visit in review.")
    if link.state is not IntakeState.REVIEW:
        raise Conflict("This visit is no longer in review.")
    audit.record(
        session,
        "intake.read",
        actor_user_id=user_id,
        subject_type="appointment",
        subject_id=appointment_id,
        details={"appointment_id": appointment_id, "by": "clinical_lead"},
    )
    return InReview(appointment, link, plan_from_json(link.plan))


def _close(review: InReview, action: str, session: AsyncSession, user_id: int) -> None:
    review.link.state = IntakeState.COMPLETE
    review.link.review_reason = ""
    review.link.updated_at = now_utc()
    audit.record(
        session,
        f"review.{action}",
        actor_user_id=user_id,
        subject_type="appointment",
        subject_id=review.appointment.id,
    )


async def confirm_as_booked(session: AsyncSession, review: InReview, *, user_id: int) -> None:
    """The visit goes ahead as booked, if its therapist, room and length fit the plan."""
    zone = (await clinic_screening(session)).zone
    problems = await fit_problems(session, review.appointment, review.plan, zone)
    if problems:
        raise Conflict(
            "The visit cannot go ahead as booked: "
            + "; ".join(problems)
            + ". Ask the desk to move it to a suitable therapist or room first."
        )
    _close(review, "confirmed", session, user_id)


async def adjust_plan(
    session: AsyncSession,
    review: InReview,
    *,
    max_pressure: int | None,
    note: str,
    user_id: int,
) -> None:
    """Lower the pressure cap and add a note for the therapist; the plan never loosens here."""
    errors: dict[str, str] = {}
    if max_pressure is not None and not 1 <= max_pressure <= 5:
        errors["max_pressure"] = "Choose a pressure from 1 to 5 on Walton's scale"
    if len(note) > NOTE_MAX:
        errors["note"] = f"Keep the note to {NOTE_MAX} characters or fewer"
    if max_pressure is None and not note.strip():
        errors["note"] = "Lower the pressure or write a note for the therapist"
    if errors:
        raise InvalidInput("Check the plan changes.", field_errors=errors)
    lead_note = f"Clinical lead: {note.strip()}" if note.strip() else ""
    keep_plan(review.link, tightened(review.plan, max_pressure=max_pressure, note=lead_note))
    _close(review, "plan_adjusted", session, user_id)


async def ask_for_clearance(session: AsyncSession, review: InReview, *, user_id: int) -> None:
    """The visit waits for a physician's clearance: the desk then requests and chases it."""
    plan = replace(
        review.plan,
        clearance=Clearance.REQUIRED,
        clearance_reasons=(*review.plan.clearance_reasons, "asked for by the clinical lead"),
    )
    keep_plan(review.link, plan)
    _close(review, "clearance_asked", session, user_id)
    assert review.appointment.client_id is not None
    await session.flush()
    await recheck_client(
        session,
        review.appointment.client_id,
        await clinic_screening(session),
        actor_user_id=user_id,
    )
