"""Clearance use cases. The desk requests (an audited disclosure), chases and marks a reply
received; only a clinical lead, or the client's treating therapist qualified for the plan,
records the outcome. Every change re-checks the client's coming visits: a visit whose plan
needs a clearance is confirmed exactly while a clearance covers it, and waits otherwise.
The client is told when a booked visit starts waiting and when a recorded clearance
confirms it (clinic/clearance/notices.py), never why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit
from clinic.auth.models import Role
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.booking.transitions import check_transition
from clinic.clearance.covering import covers, default_valid_until, lapsed_before, with_clearance
from clinic.clearance.models import (
    CLEARING,
    DECIDED,
    ChaseMethod,
    Clearance,
    ClearanceChase,
    ClearanceStatus,
)
from clinic.clearance.notices import notify_recorded, notify_requested
from clinic.clock import now_utc
from clinic.db import Database, with_retries
from clinic.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from clinic.intake.models import AppointmentIntake, Intake
from clinic.intake.plan import Action
from clinic.intake.plan import Clearance as Needed
from clinic.intake.service import ClinicScreening, answers_of, clinic_screening, keep_plan
from clinic.intake.summary import plan_from_json
from clinic.outbox.service import enqueue
from clinic.payments import SETTLE_PAYMENTS
from clinic.staff.models import Therapist
from clinic.staff.service import therapist_qualification

TEXT_MAX = 300


@dataclass(frozen=True)
class Actor:
    """Who acts: their account and roles (a therapist's own profile found from the account)."""

    user_id: int
    roles: frozenset[Role]


@dataclass(frozen=True)
class Outcome:
    status: ClearanceStatus  # one of DECIDED
    max_pressure: int | None = None
    restrictions: str = ""
    valid_until: date | None = None  # None: the clinic's default for the client's phase

    def problems(self, today: date) -> dict[str, str]:
        errors: dict[str, str] = {}
        if self.status not in DECIDED:
            errors["status"] = "Choose cleared, cleared with restrictions, or not cleared"
        if self.max_pressure is not None and not 1 <= self.max_pressure <= 5:
            errors["max_pressure"] = "Choose a pressure from 1 to 5 on Walton's scale"
        restricted = self.max_pressure is not None or self.restrictions.strip()
        if self.status is ClearanceStatus.CLEARED_WITH_RESTRICTIONS and not restricted:
            errors["restrictions"] = "Write the physician's restrictions, or set a pressure cap"
        if len(self.restrictions) > 2000:
            errors["restrictions"] = "Keep the restrictions to 2,000 characters or fewer"
        if self.valid_until is not None and self.valid_until < today:
            errors["valid_until"] = "The date it is valid until must be today or later"
        return errors


async def _clearance(session: AsyncSession, clearance_id: int) -> Clearance:
    clearance = await session.get(Clearance, clearance_id, with_for_update=True)
    if clearance is None:
        raise NotFound("There is no such clearance.")
    return clearance


def _text(value: str, field: str, label: str, *, required: bool = False) -> dict[str, str]:
    if required and not value.strip():
        return {field: f"Enter the {label}"}
    if len(value) > TEXT_MAX:
        return {field: f"The {label} must be {TEXT_MAX} characters or fewer"}
    return {}


async def request_clearance(
    db: Database,
    appointment_id: int,
    *,
    physician_name: str,
    practice: str,
    contact: str,
    actor: Actor,
) -> Clearance:
    """The desk sends the physician letter for a visit's plan: a disclosure, audited."""
    errors = {
        **_text(physician_name, "physician_name", "physician's name", required=True),
        **_text(practice, "practice", "practice"),
        **_text(contact, "contact", "contact details", required=True),
    }
    if errors:
        raise InvalidInput("Check the physician's details.", field_errors=errors)

    async def attempt() -> Clearance:
        async with db.transaction() as session:
            appointment = await session.get(Appointment, appointment_id)
            if appointment is None or appointment.client_id is None:
                raise NotFound("There is no such appointment.")
            link = await session.get(AppointmentIntake, appointment_id)
            clearance = Clearance(
                client_id=appointment.client_id,
                intake_id=link.intake_id if link is not None else None,
                physician_name=physician_name.strip(),
                practice=practice.strip(),
                contact=contact.strip(),
                status=ClearanceStatus.REQUESTED,
                requested_at=now_utc(),
                requested_by_user_id=actor.user_id,
                restrictions="",
                void_reason="",
            )
            session.add(clearance)
            await session.flush()
            audit.record(
                session,
                "clearance.requested",
                actor_user_id=actor.user_id,
                subject_type="clearance",
                subject_id=clearance.id,
                # A disclosure of health information to a named recipient.
                details={"appointment_id": appointment_id, "recipient": clearance.physician_name},
            )
            return clearance

    return await with_retries(attempt)


async def log_chase(
    db: Database,
    clearance_id: int,
    *,
    method: ChaseMethod,
    outcome: str,
    next_on: date | None,
    actor: Actor,
    today: date,
) -> ClearanceChase:
    """`today` is the clinic's date (in its zone), which the next chase may not precede."""
    errors = _text(outcome, "outcome", "outcome", required=True)
    if next_on is not None and next_on < today:
        errors["next_on"] = "The next chase must be today or later"
    if errors:
        raise InvalidInput("Check the chase.", field_errors=errors)
    async with db.transaction() as session:
        clearance = await _clearance(session, clearance_id)
        if clearance.status not in (ClearanceStatus.REQUESTED, ClearanceStatus.RECEIVED):
            raise Conflict("This clearance is no longer waiting for a reply.")
        chase = ClearanceChase(
            clearance_id=clearance.id,
            at=now_utc(),
            by_user_id=actor.user_id,
            method=method,
            outcome=outcome.strip(),
            next_on=next_on,
        )
        session.add(chase)
        audit.record(
            session,
            "clearance.chased",
            actor_user_id=actor.user_id,
            subject_type="clearance",
            subject_id=clearance.id,
            details={"method": method.value},
        )
    return chase


async def mark_received(db: Database, clearance_id: int, *, actor: Actor) -> None:
    async with db.transaction() as session:
        clearance = await _clearance(session, clearance_id)
        if clearance.status is not ClearanceStatus.REQUESTED:
            raise Conflict("Only a requested clearance can be marked received.")
        clearance.status = ClearanceStatus.RECEIVED
        clearance.received_at = now_utc()
        audit.record(
            session,
            "clearance.received",
            actor_user_id=actor.user_id,
            subject_type="clearance",
            subject_id=clearance.id,
        )


async def may_decide(session: AsyncSession, actor: Actor, clearance: Clearance) -> bool:
    """A clinical lead, or a therapist who treats this client at a coming visit and is
    qualified on its date for the level its plan needs."""
    if Role.CLINICAL_LEAD in actor.roles:
        return True
    if Role.THERAPIST not in actor.roles:
        return False
    therapist = await session.scalar(select(Therapist).where(Therapist.user_id == actor.user_id))
    if therapist is None:
        return False
    screening = await clinic_screening(session)
    rows = await session.execute(
        select(Appointment, AppointmentIntake.required_level)
        .join(AppointmentIntake, AppointmentIntake.appointment_id == Appointment.id)
        .where(
            Appointment.client_id == clearance.client_id,
            Appointment.therapist_id == therapist.id,
            Appointment.starts_at > now_utc(),
            Appointment.status.in_(
                (AppointmentStatus.PENDING_CLEARANCE, AppointmentStatus.CONFIRMED)
            ),
        )
    )
    for appointment, required_level in rows:
        day = appointment.starts_at.astimezone(screening.zone).date()
        qualification = await therapist_qualification(session, therapist, day)
        if (qualification.oncology_level or 0) >= (required_level or 0):
            return True
    return False


async def record_outcome(
    db: Database, clearance_id: int, outcome: Outcome, *, actor: Actor
) -> Clearance:
    """The physician's answer, read and recorded by a clinician; the client's coming
    visits are confirmed where it covers them, and their plans take its restrictions."""

    async def attempt() -> Clearance:
        now = now_utc()
        async with db.transaction() as session:
            clearance = await _clearance(session, clearance_id)
            screening = await clinic_screening(session)
            today = now.astimezone(screening.zone).date()
            if errors := outcome.problems(today):
                raise InvalidInput("Check the outcome.", field_errors=errors)
            if not await may_decide(session, actor, clearance):
                raise PermissionDenied(
                    "Only a clinical lead, or the client's treating therapist trained for "
                    "their plan, can record a clearance's outcome."
                )
            if clearance.status not in (ClearanceStatus.REQUESTED, ClearanceStatus.RECEIVED):
                raise Conflict("This clearance already has an outcome.")
            intake = (
                await session.get(Intake, clearance.intake_id)
                if clearance.intake_id is not None
                else None
            )
            clearance.status = outcome.status
            clearance.decided_at = now
            clearance.decided_by_user_id = actor.user_id
            clearance.received_at = clearance.received_at or now
            clearance.max_pressure = outcome.max_pressure
            clearance.restrictions = outcome.restrictions.strip()
            if outcome.status in CLEARING:
                clearance.valid_until = outcome.valid_until or (
                    default_valid_until(answers_of(intake), today, screening.rules)
                    if intake is not None
                    else today
                )
            audit.record(
                session,
                "clearance.decided",
                actor_user_id=actor.user_id,
                subject_type="clearance",
                subject_id=clearance.id,
                details={"status": outcome.status.value, "restricted": outcome.max_pressure},
            )
            await session.flush()
            changes = await recheck_client(
                session, clearance.client_id, screening, actor_user_id=actor.user_id
            )
            for change in changes:
                if change.status is AppointmentStatus.CONFIRMED:
                    notify_recorded(session, change.appointment_id)
            return clearance

    return await with_retries(attempt)


async def void_clearance(
    session: AsyncSession, clearance: Clearance, reason: str, *, actor_user_id: int | None
) -> None:
    """A change in the client's health (domain section (d)): the clearance no longer holds."""
    await void_clearances(session, [clearance], reason, actor_user_id=actor_user_id)


async def void_clearances(
    session: AsyncSession,
    clearances: list[Clearance],
    reason: str,
    *,
    actor_user_id: int | None,
) -> None:
    """Void each, then re-check each client's coming visits once."""
    now = now_utc()
    for clearance in clearances:
        clearance.status = ClearanceStatus.VOIDED
        clearance.voided_at = now
        clearance.void_reason = reason.strip()[:TEXT_MAX]
        audit.record(
            session,
            "clearance.voided",
            actor_user_id=actor_user_id,
            actor_label="" if actor_user_id else "system",
            subject_type="clearance",
            subject_id=clearance.id,
        )
    await session.flush()
    screening = await clinic_screening(session)
    for client_id in sorted({c.client_id for c in clearances}):
        await recheck_client(
            session, client_id, screening, actor_user_id=actor_user_id, notify_client=True
        )


@dataclass(frozen=True)
class StatusChange:
    """A visit that a re-check confirmed or sent back to wait for a clearance."""

    appointment_id: int
    status: AppointmentStatus


async def recheck_client(
    session: AsyncSession,
    client_id: int,
    screening: ClinicScreening,
    *,
    actor_user_id: int | None,
    notify_client: bool | None = None,
) -> list[StatusChange]:
    """Every coming visit of the client whose plan needs a clearance: confirmed while one
    covers it (its plan tightened by the restrictions), waiting for one otherwise.

    With `notify_client`, a booked visit that starts waiting tells its client so. None
    means "when a staff member's decision caused it" (the clinical lead asking for a
    clearance): a new booking and the demo's seeding re-check as no one, and their visits
    were never confirmed to the client. A visit confirmed is told by the caller that knows
    why (a recorded clearance), since a booking confirms this way too and says so itself."""
    if notify_client is None:
        notify_client = actor_user_id is not None
    now = now_utc()
    # Every decided clearance, newest first: the covering one is the newest that covers;
    # the newest of all says whether a visit waits only because the one on file ends early.
    clearances = list(
        await session.scalars(
            select(Clearance)
            .where(Clearance.client_id == client_id, Clearance.decided_at.is_not(None))
            .order_by(Clearance.decided_at.desc())
        )
    )
    rows = await session.execute(
        select(Appointment, AppointmentIntake, Intake.signed_at)
        .join(AppointmentIntake, AppointmentIntake.appointment_id == Appointment.id)
        .outerjoin(Intake, Intake.id == AppointmentIntake.intake_id)
        .where(
            Appointment.client_id == client_id,
            Appointment.starts_at > now,
            Appointment.status.in_(
                (AppointmentStatus.PENDING_CLEARANCE, AppointmentStatus.CONFIRMED)
            ),
        )
        .with_for_update(of=Appointment)
    )
    changes: list[StatusChange] = []
    for appointment, link, signed_at in rows:
        if link.plan is None:
            continue
        plan = plan_from_json(link.plan)
        day = appointment.starts_at.astimezone(screening.zone).date()
        covering = next(
            (c for c in clearances if covers(c, intake_signed_at=signed_at, visit_day=day)),
            None,
        )
        if covering is not None:
            # Restrictions apply whether the plan asked for the clearance or only advised it.
            keep_plan(link, with_clearance(plan, covering))
        if plan.clearance is not Needed.REQUIRED and plan.action is not Action.HOLD:
            continue
        wanted = (
            AppointmentStatus.CONFIRMED
            if covering is not None
            else AppointmentStatus.PENDING_CLEARANCE
        )
        if appointment.status is wanted:
            continue
        check_transition(appointment.status, wanted)
        appointment.status = wanted
        changes.append(StatusChange(appointment.id, wanted))
        if wanted is AppointmentStatus.CONFIRMED:
            # A card saved for this visit is charged now that it goes ahead.
            enqueue(session, SETTLE_PAYMENTS, {"appointment_id": appointment.id})
        elif notify_client and (
            lapsed_before(clearances, intake_signed_at=signed_at, visit_day=day) is None
        ):
            # When it waits only because the clearance on file ends before it, the renewal
            # notice says so instead (clinic/clearance/notices.py).
            notify_requested(session, appointment.id)
        audit.record(
            session,
            "appointment.confirmed" if covering is not None else "appointment.awaiting_clearance",
            actor_user_id=actor_user_id,
            actor_label="" if actor_user_id else "system",
            subject_type="appointment",
            subject_id=appointment.id,
            details={"clearance_id": covering.id if covering is not None else None},
        )
    return changes
