"""Intake use cases: signing an intake, finding a client's current one, screening it for a
visit, and tying it to an appointment (which may send the appointment to review).

The plan for a visit is screened when the visit is booked or its intake arrives: the visit's
date decides whether the day-of-visit answers count (ScreeningRules.day_of_visit_window_hours).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.clients.models import Consent, ConsentKind
from clinic.clock import now_utc
from clinic.db import Database
from clinic.errors import ClinicError, InvalidInput
from clinic.intake import forms
from clinic.intake.answers import Answers
from clinic.intake.models import AppointmentIntake, Intake, IntakeState
from clinic.intake.plan import Action, CarePlan, Clearance
from clinic.intake.rules import SCREENING_OPTION, ScreeningRules, screening_rules_from
from clinic.intake.screening import screen, within_day_of_visit_window
from clinic.intake.summary import has_modifications, plan_to_json
from clinic.options import get_option
from clinic.scheduling.availability import CareNeed
from clinic.scheduling.models import Location, Room, Service
from clinic.staff.models import Therapist
from clinic.staff.service import therapist_qualification
from clinic.tokens import token_hash

# A signed intake is a client's current one for this long; after that the gate asks again.
INTAKE_VALID_DAYS = 365
# Row 1: any cancer history needs at least a foundational oncology level.
GATE_LEVEL = 1
SIGNED_NAME_MAX = 200


@dataclass(frozen=True)
class Signature:
    name: str
    agreed: bool


class Deferred(ClinicError):
    """The plan says not now: the client is told to contact their doctor or the clinic."""

    status_code = 422
    title = "Please contact us before booking"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class UnknownIntake(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "We could not find that health form.",
            field_errors={"intake_token": "This health form link is not valid. Fill it in again."},
        )


@dataclass(frozen=True)
class Submitted:
    intake: Intake
    token: str  # shown once: the client's way back to their answers
    plan: CarePlan  # screened for no visit in particular (day-of-visit answers ignored)


def _signature_problems(signature: Signature) -> dict[str, str]:
    errors: dict[str, str] = {}
    name = signature.name.strip()
    if not name:
        errors["signed_name"] = "Type your full name to sign the form"
    elif len(name) > SIGNED_NAME_MAX:
        errors["signed_name"] = f"Your name must be {SIGNED_NAME_MAX} characters or fewer"
    if not signature.agreed:
        errors["agreed"] = "Confirm that your answers are true to the best of your knowledge"
    return errors


def check_submission(
    raw: Mapping[str, Any], signature: Signature
) -> tuple[forms.FormDefinition, dict[str, Any]]:
    """The cleaned answers of the current form, or one InvalidInput with every problem."""
    definition = forms.current()
    errors = _signature_problems(signature)
    try:
        cleaned = forms.validate(definition, raw)
    except InvalidInput as invalid:
        raise InvalidInput(
            "Check the highlighted answers.", field_errors={**invalid.field_errors, **errors}
        ) from None
    if errors:
        raise InvalidInput("Check the highlighted answers.", field_errors=errors)
    return definition, cleaned


async def location_zone(session: AsyncSession) -> ZoneInfo:
    timezone = await session.scalar(
        select(Location.timezone).where(Location.active.is_(True)).order_by(Location.id).limit(1)
    )
    return ZoneInfo(timezone or "UTC")


@dataclass(frozen=True)
class ClinicScreening:
    """What screening needs from the clinic: its zone (whose date is "today") and its
    screening settings (the PRODUCT values of the domain table, `clinic screening set`)."""

    zone: ZoneInfo
    rules: ScreeningRules


async def clinic_screening(session: AsyncSession) -> ClinicScreening:
    stored = await get_option(session, SCREENING_OPTION)
    return ClinicScreening(await location_zone(session), screening_rules_from(stored))


def add_intake(
    session: AsyncSession,
    definition: forms.FormDefinition,
    cleaned: dict[str, Any],
    signature: Signature,
    *,
    now: datetime,
    client_id: int | None = None,
) -> tuple[Intake, str]:
    token = secrets.token_urlsafe(32)
    intake = Intake(
        client_id=client_id,
        token_hash=token_hash(token),
        form_hash=definition.hash,
        answers=cleaned,
        cancer_history=bool(cleaned.get(forms.GATE_QUESTION)),
        signed_name=signature.name.strip(),
        signed_at=now,
        consent_version=definition.consent.version,
        created_at=now,
    )
    session.add(intake)
    return intake, token


async def sign_intake(
    db: Database,
    definition: forms.FormDefinition,
    cleaned: dict[str, Any],
    signature: Signature,
) -> tuple[Intake, str]:
    """A client signs an intake before booking (the pages and the API): stored, audited,
    and its token returned once."""
    async with db.transaction() as session:
        intake, token = add_intake(session, definition, cleaned, signature, now=now_utc())
        await session.flush()
        audit.record(
            session,
            "intake.signed",
            actor_label="client",
            subject_type="intake",
            subject_id=intake.id,
            details={"form": definition.version},
        )
    return intake, token


def answers_of(intake: Intake) -> Answers:
    return forms.to_answers(forms.by_hash(intake.form_hash), intake.answers)


def plan_for(
    intake: Intake, *, now: datetime, clinic: ClinicScreening, visit_start: datetime | None
) -> CarePlan:
    """The care plan for a visit at `visit_start` (None: no visit chosen yet)."""
    rules = clinic.rules
    in_window = visit_start is not None and within_day_of_visit_window(now, visit_start, rules)
    return screen(
        answers_of(intake),
        today=now.astimezone(clinic.zone).date(),
        visit_within_window=in_window,
        rules=rules,
    )


def care_need(plan: CarePlan) -> CareNeed:
    return CareNeed(
        min_oncology_level=plan.min_oncology_level,
        lymphedema=plan.lymphedema_needed,
        room_attributes=frozenset(plan.room_attributes),
        session_cap_minutes=plan.session_cap_minutes,
    )


def gate_need(cancer_history: bool | None) -> CareNeed | None:
    """What the row-1 answer alone asks for, before any intake."""
    return CareNeed(min_oncology_level=GATE_LEVEL) if cancer_history else None


async def intake_by_token(session: AsyncSession, token: str) -> Intake | None:
    if not token or len(token) > 100:
        return None
    found: Intake | None = await session.scalar(
        select(Intake).where(Intake.token_hash == token_hash(token))
    )
    return found


async def current_intake(session: AsyncSession, client_id: int, now: datetime) -> Intake | None:
    """The client's newest signed intake, if it is recent enough to plan from."""
    found: Intake | None = await session.scalar(
        select(Intake)
        .where(
            Intake.client_id == client_id,
            Intake.signed_at > now - timedelta(days=INTAKE_VALID_DAYS),
        )
        .order_by(Intake.signed_at.desc(), Intake.id.desc())
        .limit(1)
    )
    return found


@dataclass(frozen=True)
class BookingCare:
    """What a booking knows of the client's health: a signed intake and its plan for this
    visit, or only the gate answer, or nothing (the intake is then "missing")."""

    intake_id: int | None = None
    plan: CarePlan | None = None
    cancer_history: bool | None = None

    @property
    def need(self) -> CareNeed | None:
        if self.plan is not None:
            return care_need(self.plan)
        return gate_need(self.cancer_history)

    @property
    def status(self) -> AppointmentStatus:
        """A plan that holds the visit (clearance or review first) books it as pending."""
        plan = self.plan
        if plan is not None and (
            plan.action is Action.HOLD or plan.clearance is Clearance.REQUIRED
        ):
            return AppointmentStatus.PENDING_CLEARANCE
        return AppointmentStatus.CONFIRMED


def bookable(plan: CarePlan) -> CarePlan:
    """The plan, unless it defers the visit: then the client's message, as a 422."""
    if plan.action is Action.DEFER:
        raise Deferred(plan.client_message or "Please contact the clinic before booking.")
    return plan


def booking_care(
    intake: Intake | None,
    cancer_history: bool | None,
    *,
    now: datetime,
    clinic: ClinicScreening,
    start: datetime,
) -> BookingCare:
    """The care a booking at `start` is planned with; a plan that defers refuses it."""
    if intake is None:
        return BookingCare(cancer_history=cancer_history)
    plan = bookable(plan_for(intake, now=now, clinic=clinic, visit_start=start))
    return BookingCare(intake_id=intake.id, plan=plan, cancer_history=intake.cancer_history)


async def listing_care(
    session: AsyncSession, *, intake_token: str | None, cancer_history: bool | None
) -> CareNeed | None:
    """What narrows a list of free times before any time is chosen: the intake's standing
    needs (day-of-visit answers count only once the visit's date is known)."""
    if not intake_token:
        return gate_need(cancer_history)
    intake = await intake_by_token(session, intake_token)
    if intake is None:
        raise UnknownIntake()
    clinic = await clinic_screening(session)
    return care_need(bookable(plan_for(intake, now=now_utc(), clinic=clinic, visit_start=None)))


async def listing_care_for_client(
    session: AsyncSession, client_id: int, *, cancer_history: bool | None
) -> tuple[CareNeed | None, bool]:
    """The desk's list of free times for a known client: their current intake's standing
    needs, else the gate answer; and whether an intake was on file."""
    intake = await current_intake(session, client_id, now_utc())
    if intake is None:
        return gate_need(cancer_history), False
    clinic = await clinic_screening(session)
    plan = bookable(plan_for(intake, now=now_utc(), clinic=clinic, visit_start=None))
    return care_need(plan), True


async def care_for_appointment(
    session: AsyncSession, appointment_id: int, *, start: datetime, now: datetime
) -> BookingCare:
    """The care a booked visit keeps when it moves to `start`: its intake screened again
    for the new date (which may now defer it), or its gate answer."""
    link = await session.get(AppointmentIntake, appointment_id)
    if link is None:
        return BookingCare()
    intake = await session.get(Intake, link.intake_id) if link.intake_id is not None else None
    clinic = await clinic_screening(session)
    return booking_care(intake, link.cancer_history, now=now, clinic=clinic, start=start)


def keep_plan(link: AppointmentIntake, plan: CarePlan) -> None:
    """Store the plan a visit goes ahead on, with the facts the desk and matching read
    from it (the required level, whether anything is adapted)."""
    link.plan = plan_to_json(plan)
    link.required_level = plan.min_oncology_level
    link.modifications = has_modifications(plan)


async def replan(session: AsyncSession, appointment_id: int, care: BookingCare) -> None:
    """Keep a moved visit's plan in step with its new date."""
    plan = care.plan
    if plan is None:
        return
    link = await session.get(AppointmentIntake, appointment_id)
    if link is not None:
        keep_plan(link, plan)


async def link_booking(
    session: AsyncSession,
    appointment: Appointment,
    care: BookingCare,
    client_id: int,
    now: datetime,
) -> None:
    """Tie a new appointment to its intake (or mark the intake missing), and the intake to
    the client. An intake already tied to another client cannot be reused."""
    if care.intake_id is not None:
        intake = await session.get(Intake, care.intake_id, with_for_update=True)
        assert intake is not None
        if intake.client_id is None:
            intake.client_id = client_id
            record_contact_consent(session, intake, client_id, now)
        elif intake.client_id != client_id:
            raise InvalidInput(
                "That health form was filled in for someone else.",
                field_errors={"intake_token": "This health form belongs to another client."},
            )
    link = AppointmentIntake(
        appointment_id=appointment.id,
        intake_id=care.intake_id,
        state=IntakeState.COMPLETE if care.plan is not None else IntakeState.MISSING,
        cancer_history=care.cancer_history,
        modifications=False,
        review_reason="",
        updated_at=now,
    )
    if care.plan is not None:
        keep_plan(link, care.plan)
    session.add(link)


def record_contact_consent(
    session: AsyncSession, intake: Intake, client_id: int, now: datetime
) -> None:
    oncology = answers_of(intake).oncology
    contact = oncology.contact if oncology is not None else None
    if contact is not None and contact.consent_to_contact:
        session.add(
            Consent(
                client_id=client_id,
                kind=ConsentKind.CONTACT_ONCOLOGY_TEAM,
                terms_version=intake.consent_version,
                given_at=intake.signed_at,
                counterparty=contact.name[:200],
            )
        )


async def review_reasons(
    session: AsyncSession, appointment: Appointment, plan: CarePlan, zone: ZoneInfo
) -> list[str]:
    """Why this visit cannot simply go ahead on this plan (empty: it can)."""
    reasons: list[str] = []
    if plan.action is Action.DEFER:
        reasons.append("the client's answers say the visit should not go ahead now")
    if plan.clearance is Clearance.REQUIRED or plan.action is Action.HOLD:
        reasons.append("the plan needs a physician's clearance or a therapist's review first")
    return reasons + await fit_problems(session, appointment, plan, zone)


async def fit_problems(
    session: AsyncSession, appointment: Appointment, plan: CarePlan, zone: ZoneInfo
) -> list[str]:
    """Why the booked therapist, room or length do not fit this plan (empty: they do)."""
    reasons: list[str] = []
    therapist = await session.get(Therapist, appointment.therapist_id)
    assert therapist is not None
    day = appointment.starts_at.astimezone(zone).date()
    qualification = await therapist_qualification(session, therapist, day)
    needed = plan.min_oncology_level
    if needed is not None and (qualification.oncology_level or 0) < needed:
        reasons.append(
            f"the plan needs oncology level {needed}; the booked therapist has level "
            f"{qualification.oncology_level or 0}"
        )
    if plan.lymphedema_needed and not qualification.lymphedema:
        reasons.append("the plan needs a lymphedema-trained therapist")
    if plan.room_attributes:
        room = await session.get(Room, appointment.room_id) if appointment.room_id else None
        missing = set(plan.room_attributes) - set(room.attributes if room else ())
        if missing:
            reasons.append("the booked room lacks " + ", ".join(sorted(missing)).replace("_", " "))
    service = await session.get(Service, appointment.service_id)
    assert service is not None
    cap = plan.session_cap_minutes
    if cap is not None and service.duration_minutes > cap:
        reasons.append(f"the plan limits sessions to {cap} minutes")
    return reasons


async def attach_to_appointment(
    session: AsyncSession,
    appointment: Appointment,
    intake: Intake,
    *,
    now: datetime,
    clinic: ClinicScreening,
) -> AppointmentIntake:
    """An intake that arrives after booking: plan the visit from it, and send the visit to
    review when the plan asks more than what was booked. Never silently kept."""
    plan = plan_for(intake, now=now, clinic=clinic, visit_start=appointment.starts_at)
    reasons = await review_reasons(session, appointment, plan, clinic.zone)
    link = await session.get(AppointmentIntake, appointment.id, with_for_update=True)
    if link is None:
        link = AppointmentIntake(appointment_id=appointment.id, modifications=False)
        session.add(link)
    link.intake_id = intake.id
    link.state = IntakeState.REVIEW if reasons else IntakeState.COMPLETE
    keep_plan(link, plan)
    link.review_reason = "; ".join(reasons)
    link.cancer_history = intake.cancer_history
    link.updated_at = now
    audit.record(
        session,
        "appointment.intake_review" if reasons else "appointment.intake_linked",
        actor_label="client",
        subject_type="appointment",
        subject_id=appointment.id,
        details={"intake_id": intake.id, "review": bool(reasons)},
    )
    return link


async def review_reasons_of(session: AsyncSession, appointment_ids: list[int]) -> dict[int, str]:
    """Why each of these visits is in review, for the clinical lead (not the desk)."""
    if not appointment_ids:
        return {}
    rows = await session.execute(
        select(AppointmentIntake.appointment_id, AppointmentIntake.review_reason).where(
            AppointmentIntake.appointment_id.in_(appointment_ids)
        )
    )
    return {row.appointment_id: row.review_reason for row in rows}
