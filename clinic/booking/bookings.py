"""Bookings: a hold (or a time, in one step) becomes an appointment with a client; the
client's manage link shows it, moves it atomically and cancels it under the policies."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit
from clinic.auth.service import normalise_email
from clinic.booking.models import Appointment, ManageLink
from clinic.booking.notices import queue_cancelled, queue_confirmation, queue_rescheduled
from clinic.booking.policies import (
    CancellationTerms,
    Policies,
    cancellation_terms,
    no_show_fee,
)
from clinic.booking.policy_store import stored_policies
from clinic.booking.statuses import AppointmentSource, AppointmentStatus, CancelledBy
from clinic.booking.taking import (
    SlotRequest,
    SlotTaken,
    blocked_range,
    insert_first_free,
    new_appointment,
    offer_for,
    release_expired_holds,
    slot_taken,
)
from clinic.booking.transitions import check_transition
from clinic.clearance.service import recheck_client
from clinic.clients.contact import email_problem, phone_problem
from clinic.clients.models import Client, Consent, ConsentKind
from clinic.clock import now_utc
from clinic.db import Database, is_overlap_violation, with_retries
from clinic.errors import ClinicError, Conflict, InvalidInput, NotFound
from clinic.intake.models import AppointmentIntake, IntakeState
from clinic.intake.plan import CarePlan
from clinic.intake.service import (
    BookingCare,
    Signature,
    UnknownIntake,
    add_intake,
    attach_to_appointment,
    booking_care,
    care_for_appointment,
    check_submission,
    clinic_screening,
    current_intake,
    fit_problems,
    intake_by_token,
    link_booking,
    plan_for,
    record_contact_consent,
    replan,
)
from clinic.outbox.service import enqueue
from clinic.payments import SETTLE_PAYMENTS
from clinic.scheduling.availability import NO_OVERRIDES, RuleOverrides
from clinic.scheduling.models import Location, Room, Service
from clinic.staff.models import Therapist
from clinic.tokens import token_hash

CANCELLATION_TERMS_VERSION = "booking-policies-1"


@dataclass(frozen=True)
class ClientDetails:
    name: str
    email: str
    phone: str

    def problems(self) -> dict[str, str]:
        errors: dict[str, str] = {}
        if not self.name.strip():
            errors["name"] = "Enter your full name"
        elif len(self.name) > 200:
            errors["name"] = "Your name must be 200 characters or fewer"
        if not self.email.strip():
            errors["email"] = "Enter your email address"
        elif problem := email_problem(self.email):
            errors["email"] = problem
        if not self.phone.strip():
            errors["phone"] = "Enter your mobile number"
        elif problem := phone_problem(self.phone):
            errors["phone"] = problem
        return errors


class HoldGone(ClinicError):
    status_code = 409
    title = "That hold has ended"

    def __init__(self) -> None:
        super().__init__(
            "We could not find that held time: it may have been booked already or released. "
            "Choose a time again."
        )


class HoldDoesNotFit(Conflict):
    title = "That time does not fit your health form"

    def __init__(self) -> None:
        super().__init__(
            "The time you held is with a therapist or room your health form does not match. "
            "Choose a time again: we will show only times that fit."
        )


@dataclass(frozen=True)
class Booked:
    appointment_id: int
    status: AppointmentStatus
    manage_token: str
    start: datetime
    end: datetime
    therapist_id: int
    room_id: int | None
    timezone: str
    intake: IntakeState


async def care_for_booking(
    db: Database,
    *,
    intake_token: str | None,
    cancer_history: bool | None,
    email: str = "",
    client_id: int | None = None,
    start: datetime,
) -> BookingCare:
    """The intake named by its token, else the client's current one (by id, or by email),
    else the gate answer alone; screened for a visit at `start`."""
    now = now_utc()
    async with db.reading() as session:
        clinic = await clinic_screening(session)
        if intake_token:
            intake = await intake_by_token(session, intake_token)
            if intake is None:
                raise UnknownIntake()
        else:
            if client_id is None and email:
                client_id = await session.scalar(
                    select(Client.id).where(Client.email == normalise_email(email))
                )
            intake = await current_intake(session, client_id, now) if client_id else None
    return booking_care(intake, cancer_history, now=now, clinic=clinic, start=start)


def _check_client(client: ClientDetails) -> None:
    if errors := client.problems():
        raise InvalidInput("Check your details.", field_errors=errors)


async def _client_id(session: AsyncSession, details: ClientDetails) -> int:
    """The client with this email, or a new one. A booking never shows or changes what is
    already on an existing client's record."""
    email = normalise_email(details.email)
    existing = await session.scalar(select(Client.id).where(Client.email == email))
    if existing is not None:
        return existing
    client = Client(name=details.name.strip(), email=email, phone=details.phone.strip())
    session.add(client)
    await session.flush()
    return client.id


def new_manage_link(session: AsyncSession, appointment_id: int) -> str:
    """A fresh manage link for an appointment; the token is returned once, stored hashed."""
    token = secrets.token_urlsafe(32)
    session.add(ManageLink(appointment_id=appointment_id, token_hash=token_hash(token)))
    return token


async def _after_booking(
    session: AsyncSession, appointment: Appointment, client_id: int, now: datetime
) -> None:
    """What every new booking gets: the terms consent, an audit entry and the
    confirmation in the outbox (sent after the grace period: clinic/booking/notices.py)."""
    session.add(
        Consent(
            client_id=client_id,
            kind=ConsentKind.CANCELLATION_TERMS,
            terms_version=CANCELLATION_TERMS_VERSION,
            given_at=now,
        )
    )
    audit.record(
        session,
        "appointment.booked",
        actor_user_id=appointment.created_by_user_id,
        actor_label="" if appointment.created_by_user_id else "client",
        subject_type="appointment",
        subject_id=appointment.id,
        details={
            "source": appointment.source.value,
            "status": appointment.status.value,
            "therapist_chosen": appointment.therapist_chosen,
        },
    )
    await queue_confirmation(session, appointment.id)


async def _care_for_hold(
    db: Database,
    hold_token: str,
    client: ClientDetails,
    intake_token: str | None,
    cancer_history: bool | None,
) -> BookingCare:
    """The care a booking from this hold is planned with (HoldGone: no such hold)."""
    _check_client(client)
    async with db.reading() as session:
        held_start = await session.scalar(
            select(Appointment.starts_at).where(
                Appointment.hold_token_hash == token_hash(hold_token)
            )
        )
    if held_start is None:
        raise HoldGone()
    return await care_for_booking(
        db,
        intake_token=intake_token,
        cancer_history=cancer_history,
        email=client.email,
        start=held_start,
    )


async def _held_for(
    session: AsyncSession, hold_token: str, care: BookingCare
) -> tuple[Appointment, ZoneInfo]:
    """The held (or lapsed) appointment of a hold, locked, checked against the care plan."""
    appointment = await session.scalar(
        select(Appointment)
        .where(Appointment.hold_token_hash == token_hash(hold_token))
        .with_for_update()
    )
    if appointment is None or appointment.status not in (
        AppointmentStatus.HELD,
        AppointmentStatus.EXPIRED,
    ):
        raise HoldGone()
    timezone = await session.scalar(
        select(Location.timezone).where(Location.id == appointment.location_id)
    )
    zone = ZoneInfo(timezone or "UTC")
    if care.plan is not None and await fit_problems(session, appointment, care.plan, zone):
        raise HoldDoesNotFit()
    return appointment, zone


async def book_from_hold(
    db: Database,
    *,
    hold_token: str,
    client: ClientDetails,
    intake_token: str | None = None,
    cancer_history: bool | None = None,
) -> Booked:
    """Turn a hold into a booking. A hold past its expiry still works while nobody else
    has taken its time; once released, it is taken back only if the time is still free.
    The held therapist and room must fit the client's care plan."""
    care = await _care_for_hold(db, hold_token, client, intake_token, cancer_history)

    async def attempt() -> Booked:
        now = now_utc()
        async with db.transaction() as session:
            appointment, zone = await _held_for(session, hold_token, care)
            client_id = await _client_id(session, client)
            check_transition(appointment.status, care.status)
            try:
                async with session.begin_nested():
                    appointment.client_id = client_id
                    appointment.status = care.status
                    appointment.hold_token_hash = None
                    appointment.hold_expires_at = None
                    appointment.hold_owner = None
                    await session.flush()
            except IntegrityError as refused:
                if is_overlap_violation(refused):
                    raise HoldGone() from refused
                raise
            await link_booking(session, appointment, care, client_id, now)
            await _confirm_if_cleared(session, appointment, client_id)
            await _after_booking(session, appointment, client_id, now)
            token = new_manage_link(session, appointment.id)
        return _booked(appointment, token, zone.key, care)

    return await with_retries(attempt)


@dataclass(frozen=True)
class Reserved:
    """A held time kept for a client while they pay: booked when the payment arrives."""

    appointment_id: int
    client_id: int
    # What the visit becomes once paid: confirmed, or waiting for a clearance.
    books_as: AppointmentStatus


async def reserve_hold(
    db: Database,
    *,
    hold_token: str,
    client: ClientDetails,
    hold_until: datetime,
    intake_token: str | None = None,
    cancer_history: bool | None = None,
) -> Reserved:
    """Keep a held time for a client until `hold_until` while they pay online: the same
    checks as booking (the client, the care plan, the time still free), the client and
    intake tied to it, and the status left `held` until `book_paid_hold`. Asking again
    (the client came back from the payment page) ties it afresh."""
    care = await _care_for_hold(db, hold_token, client, intake_token, cancer_history)

    async def attempt() -> Reserved:
        now = now_utc()
        async with db.transaction() as session:
            appointment, _zone = await _held_for(session, hold_token, care)
            client_id = await _client_id(session, client)
            try:
                async with session.begin_nested():
                    if appointment.status is AppointmentStatus.EXPIRED:
                        check_transition(appointment.status, AppointmentStatus.HELD)
                        appointment.status = AppointmentStatus.HELD
                    appointment.client_id = client_id
                    appointment.hold_expires_at = max(
                        hold_until, appointment.hold_expires_at or hold_until
                    )
                    await session.flush()
            except IntegrityError as refused:
                if is_overlap_violation(refused):
                    raise HoldGone() from refused
                raise
            await session.execute(
                delete(AppointmentIntake).where(AppointmentIntake.appointment_id == appointment.id)
            )
            await link_booking(session, appointment, care, client_id, now)
            audit.record(
                session,
                "appointment.reserved_for_payment",
                actor_label="client",
                subject_type="appointment",
                subject_id=appointment.id,
                details={"until": appointment.hold_expires_at.isoformat()},
            )
        return Reserved(appointment.id, client_id, care.status)

    return await with_retries(attempt)


class PaidHold(StrEnum):
    BOOKED = "booked"
    # An earlier notice of the same payment booked it already.
    ALREADY = "already"
    # Someone else took the time after the hold ran out, or the visit was cancelled.
    LOST = "lost"


async def book_paid_hold(
    session: AsyncSession, appointment_id: int, books_as: AppointmentStatus
) -> PaidHold:
    """Book a reserved time once its payment has arrived, in the caller's transaction. A
    hold that ran out is taken back if its time is still free; the database guard says
    whether it is."""
    appointment = await session.get(Appointment, appointment_id, with_for_update=True)
    if appointment is None or appointment.client_id is None:
        return PaidHold.LOST
    if appointment.status in (
        AppointmentStatus.CONFIRMED,
        AppointmentStatus.PENDING_CLEARANCE,
        AppointmentStatus.CHECKED_IN,
        AppointmentStatus.COMPLETED,
    ):
        return PaidHold.ALREADY
    if appointment.status not in (AppointmentStatus.HELD, AppointmentStatus.EXPIRED):
        return PaidHold.LOST
    check_transition(appointment.status, books_as)
    try:
        async with session.begin_nested():
            appointment.status = books_as
            appointment.hold_token_hash = None
            appointment.hold_expires_at = None
            appointment.hold_owner = None
            await session.flush()
    except IntegrityError as refused:
        if is_overlap_violation(refused):
            await session.refresh(appointment)
            return PaidHold.LOST
        raise
    now = now_utc()
    await _confirm_if_cleared(session, appointment, appointment.client_id)
    await _after_booking(session, appointment, appointment.client_id, now)
    return PaidHold.BOOKED


async def book_slot(
    db: Database,
    request: SlotRequest,
    *,
    client: ClientDetails | int,
    source: AppointmentSource,
    currency: str,
    created_by_user_id: int | None = None,
    intake_token: str | None = None,
    cancer_history: bool | None = None,
    override_reason: str = "",
) -> Booked:
    """Book a time in one step (the API, the desk): the same path as a hold, confirmed at
    once, with "anyone suitable" trying each candidate in order. `client`: their details,
    or the id of one the desk found. The client's intake (by token, or their current one),
    or else their gate answer, decides who may treat them. Rules the desk sets aside
    (`request.overrides`) need a reason, kept in the audit log with the booking."""
    if isinstance(client, ClientDetails):
        _check_client(client)
    if request.overrides and not override_reason.strip():
        raise InvalidInput(
            "Say why the usual rules are set aside.",
            field_errors={"override_reason": "Enter the reason for booking outside the rules"},
        )
    care = await care_for_booking(
        db,
        intake_token=intake_token,
        cancer_history=cancer_history,
        email=client.email if isinstance(client, ClientDetails) else "",
        client_id=client if isinstance(client, int) else None,
        start=request.start,
    )
    request = replace(request, care=care.need)
    offer = await offer_for(db, request)
    if not offer.candidates:
        raise slot_taken(offer, request, raced=False)

    async def attempt() -> Booked:
        now = now_utc()
        async with db.transaction() as session:
            client_id = client if isinstance(client, int) else await _client_id(session, client)
            await release_expired_holds(session, offer.candidates, offer.service, now)
            booked = await insert_first_free(
                session,
                offer,
                lambda slot: new_appointment(
                    offer,
                    slot,
                    client_id=client_id,
                    status=care.status,
                    source=source,
                    currency=currency,
                    chosen=request.therapist_id is not None,
                    created_by_user_id=created_by_user_id,
                ),
            )
            if booked is None:
                raise slot_taken(offer, request)
            await link_booking(session, booked, care, client_id, now)
            await _confirm_if_cleared(session, booked, client_id)
            await _after_booking(session, booked, client_id, now)
            if request.overrides:
                _audit_override(
                    session, booked.id, request.overrides, override_reason, created_by_user_id
                )
            token = new_manage_link(session, booked.id)
        return _booked(booked, token, offer.zone.key, care)

    return await with_retries(attempt)


def _audit_override(
    session: AsyncSession,
    appointment_id: int,
    overrides: RuleOverrides,
    reason: str,
    actor_user_id: int | None,
) -> None:
    audit.record(
        session,
        "appointment.rules_overridden",
        actor_user_id=actor_user_id,
        subject_type="appointment",
        subject_id=appointment_id,
        details={"overrides": overrides.names, "reason": reason.strip()[:500]},
    )


async def _confirm_if_cleared(
    session: AsyncSession, appointment: Appointment, client_id: int
) -> None:
    """A visit whose plan waits for a clearance is confirmed at once when the client
    already has one that covers it."""
    if appointment.status is AppointmentStatus.PENDING_CLEARANCE:
        await session.flush()
        screening = await clinic_screening(session)
        await recheck_client(session, client_id, screening, actor_user_id=None)


def _booked(appointment: Appointment, token: str, timezone: str, care: BookingCare) -> Booked:
    return Booked(
        intake=IntakeState.COMPLETE if care.plan is not None else IntakeState.MISSING,
        appointment_id=appointment.id,
        status=appointment.status,
        manage_token=token,
        start=appointment.starts_at,
        end=appointment.ends_at,
        therapist_id=appointment.therapist_id,
        room_id=appointment.room_id,
        timezone=timezone,
    )


@dataclass(frozen=True)
class BookingView:
    """What a client's manage link shows: no clinical details, nothing of other clients."""

    appointment_id: int
    status: AppointmentStatus
    start: datetime
    end: datetime
    service_id: int
    service_name: str
    duration_minutes: int
    therapist_id: int
    therapist_name: str
    therapist_chosen: bool
    room_name: str | None
    location_name: str
    location_address: str
    location_phone: str
    timezone: str
    price_minor: int
    currency: str
    fee_minor: int
    client_id: int
    client_name: str
    terms_now: CancellationTerms
    policies: Policies

    @property
    def is_active(self) -> bool:
        return self.status in (AppointmentStatus.CONFIRMED, AppointmentStatus.PENDING_CLEARANCE)

    @property
    def can_change(self) -> bool:
        """Clients may move or cancel online until the appointment starts; a late move or
        cancellation states its fee first."""
        return self.is_active and now_utc() < self.start


async def appointment_for_token(session: AsyncSession, token: str) -> Appointment:
    appointment = await session.scalar(
        select(Appointment)
        .join(ManageLink, ManageLink.appointment_id == Appointment.id)
        .where(ManageLink.token_hash == token_hash(token), ManageLink.revoked_at.is_(None))
    )
    if appointment is None:
        raise NotFound(
            "We could not find that booking. The link may be incomplete or no longer valid: "
            "call the clinic and we will help."
        )
    return appointment


@dataclass(frozen=True)
class IntakeReceived:
    intake_token: str  # the client's key to read their answers back
    state: IntakeState
    plan: CarePlan


async def intake_for_booking(
    db: Database, manage_token: str, answers: Mapping[str, Any], signature: Signature
) -> IntakeReceived:
    """A health form filled in after booking, through the booking's manage link: a new
    signed intake for the booking's client, and the visit planned from it (or sent to
    review when it asks more than what was booked)."""
    definition, cleaned = check_submission(answers, signature)

    async def attempt() -> IntakeReceived:
        now = now_utc()
        async with db.transaction() as session:
            appointment = await appointment_for_token(session, manage_token)
            if appointment.status not in (
                AppointmentStatus.CONFIRMED,
                AppointmentStatus.PENDING_CLEARANCE,
            ):
                raise Conflict("This appointment is no longer booked, so its form is closed.")
            assert appointment.client_id is not None
            intake, token = add_intake(
                session, definition, cleaned, signature, now=now, client_id=appointment.client_id
            )
            await session.flush()
            record_contact_consent(session, intake, appointment.client_id, now)
            clinic = await clinic_screening(session)
            link = await attach_to_appointment(session, appointment, intake, now=now, clinic=clinic)
            plan = plan_for(intake, now=now, clinic=clinic, visit_start=appointment.starts_at)
        return IntakeReceived(token, link.state, plan)

    return await with_retries(attempt)


async def booking_for_token(db: Database, token: str) -> BookingView:
    async with db.reading() as session:
        appointment = await appointment_for_token(session, token)
        return await _view(session, appointment)


async def _view(session: AsyncSession, appointment: Appointment) -> BookingView:
    row = (
        await session.execute(
            select(Service, Therapist, Location, Client.name, Room.name)
            .select_from(Appointment)
            .join(Service, Service.id == Appointment.service_id)
            .join(Therapist, Therapist.id == Appointment.therapist_id)
            .join(Location, Location.id == Appointment.location_id)
            .join(Client, Client.id == Appointment.client_id)
            .outerjoin(Room, Room.id == Appointment.room_id)
            .where(Appointment.id == appointment.id)
        )
    ).one()
    service, therapist, location, client_name, room_name = row
    policies = await stored_policies(session)
    return BookingView(
        appointment_id=appointment.id,
        status=appointment.status,
        start=appointment.starts_at,
        end=appointment.ends_at,
        service_id=service.id,
        service_name=service.name,
        duration_minutes=service.duration_minutes,
        therapist_id=therapist.id,
        therapist_name=therapist.display_name,
        therapist_chosen=appointment.therapist_chosen,
        room_name=room_name,
        location_name=location.name,
        location_address=location.address,
        location_phone=location.phone,
        timezone=location.timezone,
        price_minor=appointment.price_minor,
        currency=appointment.currency,
        fee_minor=appointment.fee_minor,
        client_id=appointment.client_id or 0,
        client_name=client_name,
        terms_now=cancellation_terms(
            policies,
            price_minor=appointment.price_minor,
            starts_at=appointment.starts_at,
            now=now_utc(),
            cancelled_by=CancelledBy.CLIENT,
        ),
        policies=policies,
    )


async def revoke_manage_links(
    db: Database, appointment_id: int, *, actor_user_id: int | None = None
) -> int:
    """Stop every manage link of an appointment from working (a forwarded email, a
    client's request); a new one goes out with the next email."""
    now = now_utc()
    async with db.transaction() as session:
        result = await session.execute(
            update(ManageLink)
            .where(ManageLink.appointment_id == appointment_id, ManageLink.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        revoked = int(result.rowcount)  # type: ignore[attr-defined]
        audit.record(
            session,
            "appointment.links_revoked",
            actor_user_id=actor_user_id,
            subject_type="appointment",
            subject_id=appointment_id,
            details={"links": revoked},
        )
    return revoked


async def cancel_by_token(
    db: Database, token: str, *, reason: str = "", medically_excused: bool = False
) -> BookingView:
    async with db.reading() as session:
        appointment = await appointment_for_token(session, token)
    if appointment.starts_at <= now_utc():
        raise Conflict("This appointment has already started, so it cannot be cancelled online.")
    return await cancel_appointment(
        db,
        appointment.id,
        cancelled_by=CancelledBy.CLIENT,
        reason=reason,
        medically_excused=medically_excused,
    )


async def cancel_in(
    session: AsyncSession,
    appointment: Appointment,
    *,
    now: datetime,
    cancelled_by: CancelledBy,
    reason: str,
    medically_excused: bool = False,
    needs_rebooking: bool | None = None,
    actor_user_id: int | None = None,
    audit_details: Mapping[str, object] | None = None,
) -> CancellationTerms:
    """Cancel `appointment` (locked by the caller) in the caller's transaction, under the
    policies: free before the window, the late fee after it, nothing for the client when
    the clinic or the system cancels or the reason is medical. Audited, and its money
    settled afterwards; the caller queues the email that fits (`queue_cancelled`, or the
    deadline's or the pre-visit check's own). `needs_rebooking` overrides the policy's
    answer (the clinic calls to rebook)."""
    check_transition(appointment.status, AppointmentStatus.CANCELLED)
    terms = cancellation_terms(
        await stored_policies(session),
        price_minor=appointment.price_minor,
        starts_at=appointment.starts_at,
        now=now,
        cancelled_by=cancelled_by,
        medically_excused=medically_excused,
    )
    appointment.status = AppointmentStatus.CANCELLED
    appointment.cancelled_at = now
    appointment.cancelled_by = cancelled_by
    appointment.cancellation_reason = reason.strip()[:500]
    appointment.fee_minor = terms.fee_minor
    appointment.needs_rebooking = (
        terms.needs_rebooking if needs_rebooking is None else needs_rebooking
    )
    appointment.medically_excused = medically_excused and cancelled_by is CancelledBy.CLIENT
    audit.record(
        session,
        "appointment.cancelled",
        actor_user_id=actor_user_id,
        actor_label="" if actor_user_id else cancelled_by.value,
        subject_type="appointment",
        subject_id=appointment.id,
        details={
            "by": cancelled_by.value,
            "late": terms.late,
            "fee_minor": terms.fee_minor,
            "medically_excused": medically_excused,
            **(audit_details or {}),
        },
    )
    # Refunds and fees follow from the ledger.
    enqueue(session, SETTLE_PAYMENTS, {"appointment_id": appointment.id})
    return terms


async def cancel_appointment(
    db: Database,
    appointment_id: int,
    *,
    cancelled_by: CancelledBy,
    reason: str = "",
    medically_excused: bool = False,
    actor_user_id: int | None = None,
) -> BookingView:
    """Cancel under the policies (see `cancel_in`) and tell the client."""
    async with db.transaction() as session:
        appointment = await session.get(Appointment, appointment_id, with_for_update=True)
        if appointment is None:
            raise NotFound("There is no such appointment.")
        await cancel_in(
            session,
            appointment,
            now=now_utc(),
            cancelled_by=cancelled_by,
            reason=reason,
            medically_excused=medically_excused,
            actor_user_id=actor_user_id,
        )
        await queue_cancelled(session, appointment)
        await session.flush()
        return await _view(session, appointment)


async def mark_no_show(
    db: Database, appointment_id: int, *, actor_user_id: int | None = None, waive_reason: str = ""
) -> int:
    """The client did not come: the no-show fee is due (charged to a saved card by the
    settlement that follows), unless the desk waives it with a reason (then nothing is
    owed, and what was paid is refunded). Returns the fee."""
    waived = waive_reason.strip()[:500]

    async def attempt() -> int:
        async with db.transaction() as session:
            appointment = await session.get(Appointment, appointment_id, with_for_update=True)
            if appointment is None:
                raise NotFound("There is no such appointment.")
            if appointment.starts_at > now_utc():
                raise Conflict("This appointment has not started yet, so it cannot be missed.")
            check_transition(appointment.status, AppointmentStatus.NO_SHOW)
            policies = await stored_policies(session)
            appointment.status = AppointmentStatus.NO_SHOW
            due = no_show_fee(policies, appointment.price_minor)
            appointment.fee_minor = 0 if waived else due
            details: dict[str, object] = {"fee_minor": appointment.fee_minor}
            if waived:
                details |= {"waived_minor": due, "reason": waived}
            audit.record(
                session,
                "appointment.no_show",
                actor_user_id=actor_user_id,
                subject_type="appointment",
                subject_id=appointment.id,
                details=details,
            )
            enqueue(session, SETTLE_PAYMENTS, {"appointment_id": appointment.id})
            return appointment.fee_minor

    return await with_retries(attempt)


async def reschedule_by_token(
    db: Database, token: str, *, start: datetime, therapist_id: int | None = None
) -> BookingView:
    async with db.reading() as session:
        appointment = await appointment_for_token(session, token)
    if appointment.starts_at <= now_utc():
        raise Conflict("This appointment has already started, so it cannot be moved online.")
    return await reschedule_appointment(
        db, appointment.id, start=start, therapist_id=therapist_id, actor_label="client"
    )


async def reschedule_appointment(
    db: Database,
    appointment_id: int,
    *,
    start: datetime,
    therapist_id: int | None = None,
    actor_user_id: int | None = None,
    actor_label: str = "",
    overrides: RuleOverrides = NO_OVERRIDES,
    override_reason: str = "",
) -> BookingView:
    """Move an appointment in one UPDATE: the guard checks the new time against everyone
    else, so the old time is freed only as the new one is taken. A lost race leaves the
    original untouched. The desk may set rules aside (`overrides`) with a reason."""
    if overrides and not override_reason.strip():
        raise InvalidInput(
            "Say why the usual rules are set aside.",
            field_errors={"override_reason": "Enter the reason for moving outside the rules"},
        )
    async with db.reading() as session:
        current = await session.get(Appointment, appointment_id)
        if current is None:
            raise NotFound("There is no such appointment.")
        if current.status not in (
            AppointmentStatus.CONFIRMED,
            AppointmentStatus.PENDING_CLEARANCE,
        ):
            raise Conflict("Only a booked appointment can be moved.")
        care = await care_for_appointment(session, appointment_id, start=start, now=now_utc())
    # Keep the therapist unless the client chose "anyone suitable" or names another.
    wanted = (
        therapist_id
        if therapist_id is not None
        else (current.therapist_id if current.therapist_chosen else None)
    )
    request = SlotRequest(
        service_id=current.service_id,
        start=start,
        therapist_id=wanted,
        care=care.need,
        overrides=overrides,
    )
    offer = await offer_for(db, request, ignoring_appointment=appointment_id)
    if not offer.candidates:
        raise slot_taken(offer, request, raced=False)

    async def attempt() -> BookingView:
        now = now_utc()
        async with db.transaction() as session:
            await release_expired_holds(session, offer.candidates, offer.service, now)
            for slot in offer.candidates:
                blocked_from, blocked_until = blocked_range(slot, offer.service)
                try:
                    async with session.begin_nested():
                        moved = await session.execute(
                            update(Appointment)
                            .where(
                                Appointment.id == appointment_id,
                                Appointment.status == current.status,
                                Appointment.starts_at == current.starts_at,
                            )
                            .values(
                                therapist_id=slot.therapist_id,
                                # Named now: later moves keep this therapist.
                                therapist_chosen=current.therapist_chosen
                                or therapist_id is not None,
                                room_id=slot.room_id,
                                starts_at=slot.start,
                                ends_at=slot.end,
                                blocked_from=blocked_from,
                                blocked_until=blocked_until,
                                updated_at=now,
                                # A new time: the client is told now, its reminder is
                                # still to come, and calendars take the file over theirs.
                                rescheduled_at=now,
                                reminder_sent_at=None,
                                calendar_sequence=Appointment.calendar_sequence + 1,
                            )
                        )
                except IntegrityError as refused:
                    if not is_overlap_violation(refused):
                        raise
                    continue
                if moved.rowcount != 1:  # type: ignore[attr-defined]
                    raise Conflict("This appointment was changed just now. Reload and try again.")
                await replan(session, appointment_id, care)
                # A clearance covers visits up to its date: judge the visit at its new
                # one (waiting again past it, confirmed when moved back inside). Its
                # "Changed" email says when it waits. (A booked visit has its client.)
                if current.client_id is not None:
                    await recheck_client(
                        session,
                        current.client_id,
                        await clinic_screening(session),
                        actor_user_id=actor_user_id,
                        notify_client=False,
                    )
                audit.record(
                    session,
                    "appointment.rescheduled",
                    actor_user_id=actor_user_id,
                    actor_label=actor_label,
                    subject_type="appointment",
                    subject_id=appointment_id,
                    details={
                        "from": current.starts_at.isoformat(),
                        "to": slot.start.isoformat(),
                        "therapist_changed": slot.therapist_id != current.therapist_id,
                    },
                )
                if overrides:
                    _audit_override(
                        session, appointment_id, overrides, override_reason, actor_user_id
                    )
                await queue_rescheduled(session, appointment_id)
                appointment = await session.get(Appointment, appointment_id, populate_existing=True)
                assert appointment is not None
                return await _view(session, appointment)
        raise slot_taken(offer, request)

    return await with_retries(attempt)


__all__ = [
    "Booked",
    "BookingView",
    "ClientDetails",
    "HoldGone",
    "SlotTaken",
    "book_from_hold",
    "book_paid_hold",
    "book_slot",
    "booking_for_token",
    "cancel_appointment",
    "cancel_by_token",
    "cancel_in",
    "intake_for_booking",
    "mark_no_show",
    "reschedule_appointment",
    "reschedule_by_token",
    "reserve_hold",
    "revoke_manage_links",
]
