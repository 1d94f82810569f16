"""The desk's moves on the day of a visit: check in, and undo a check-in or a no-show.

Marking a no-show is `bookings.mark_no_show` (it sets the fee). Each move here goes
through the status table (`check_transition`), takes the appointment's row lock, writes
an audit entry in the same transaction and is retried after a deadlock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.booking.transitions import WORDS, InvalidTransition, check_transition
from clinic.clients.models import Client
from clinic.clock import now_utc
from clinic.db import Database, is_overlap_violation, with_retries
from clinic.errors import Conflict, NotFound
from clinic.outbox.service import enqueue
from clinic.payments import SETTLE_PAYMENTS

# The desk may check a client in from this long before the visit starts.
CHECK_IN_OPENS = timedelta(minutes=30)


class TooEarlyToCheckIn(Conflict):
    title = "Too early to check in"

    def __init__(self) -> None:
        minutes = int(CHECK_IN_OPENS.total_seconds() // 60)
        super().__init__(
            f"It is too early to check in: check-in opens {minutes} minutes before the visit "
            "starts."
        )


class TimeTakenSince(Conflict):
    title = "That time is taken"

    def __init__(self) -> None:
        super().__init__(
            "Another appointment has been booked into this time since, so the no-show cannot "
            "be undone."
        )


@dataclass(frozen=True)
class VisitMoved:
    """What the page says after a move: "Sam Lee checked in."."""

    appointment_id: int
    client_name: str
    status: AppointmentStatus


def check_in_opens(starts_at: datetime) -> datetime:
    return starts_at - CHECK_IN_OPENS


def may_check_in(status: AppointmentStatus, starts_at: datetime, now: datetime) -> bool:
    """Whether the desk may check this visit in now: booked, and check-in is open."""
    return status is AppointmentStatus.CONFIRMED and check_in_opens(starts_at) <= now


async def _locked(session: AsyncSession, appointment_id: int) -> tuple[Appointment, str]:
    appointment = await session.get(Appointment, appointment_id, with_for_update=True)
    if appointment is None or appointment.client_id is None:
        raise NotFound("There is no such appointment.")
    name = await session.scalar(select(Client.name).where(Client.id == appointment.client_id))
    return appointment, name or "The client"


async def check_in(db: Database, appointment_id: int, *, actor_user_id: int) -> VisitMoved:
    """The client has arrived: booked -> checked in, from 30 minutes before the start."""

    async def attempt() -> VisitMoved:
        async with db.transaction() as session:
            appointment, name = await _locked(session, appointment_id)
            _check_arrival(appointment.status)
            if check_in_opens(appointment.starts_at) > now_utc():
                raise TooEarlyToCheckIn()
            appointment.status = AppointmentStatus.CHECKED_IN
            audit.record(
                session,
                "appointment.checked_in",
                actor_user_id=actor_user_id,
                subject_type="appointment",
                subject_id=appointment.id,
            )
            return VisitMoved(appointment.id, name, appointment.status)

    return await with_retries(attempt)


async def undo_check_in(db: Database, appointment_id: int, *, actor_user_id: int) -> VisitMoved:
    """A check-in made by mistake: checked in -> booked."""

    async def attempt() -> VisitMoved:
        async with db.transaction() as session:
            appointment, name = await _locked(session, appointment_id)
            if appointment.status is not AppointmentStatus.CHECKED_IN:
                raise InvalidTransition(_not_undoable(appointment.status, "checked in"))
            check_transition(appointment.status, AppointmentStatus.CONFIRMED)
            appointment.status = AppointmentStatus.CONFIRMED
            audit.record(
                session,
                "appointment.check_in_undone",
                actor_user_id=actor_user_id,
                subject_type="appointment",
                subject_id=appointment.id,
            )
            return VisitMoved(appointment.id, name, appointment.status)

    return await with_retries(attempt)


async def undo_no_show(db: Database, appointment_id: int, *, actor_user_id: int) -> VisitMoved:
    """A no-show marked by mistake: no-show -> booked, and the fee is dropped. The payment
    settlement that follows makes the ledger match (clinic/payments/settlement.py)."""

    async def attempt() -> VisitMoved:
        async with db.transaction() as session:
            appointment, name = await _locked(session, appointment_id)
            if appointment.status is not AppointmentStatus.NO_SHOW:
                raise InvalidTransition(_not_undoable(appointment.status, "marked as a no-show"))
            check_transition(appointment.status, AppointmentStatus.CONFIRMED)
            fee_was = appointment.fee_minor
            appointment.status = AppointmentStatus.CONFIRMED
            appointment.fee_minor = 0
            try:
                # A missed visit holds no time: someone may have been booked into it since.
                await session.flush()
            except IntegrityError as refused:
                if is_overlap_violation(refused):
                    raise TimeTakenSince() from refused
                raise
            audit.record(
                session,
                "appointment.no_show_undone",
                actor_user_id=actor_user_id,
                subject_type="appointment",
                subject_id=appointment.id,
                details={"fee_minor_was": fee_was},
            )
            enqueue(session, SETTLE_PAYMENTS, {"appointment_id": appointment.id})
            return VisitMoved(appointment.id, name, appointment.status)

    return await with_retries(attempt)


def _check_arrival(status: AppointmentStatus) -> None:
    """Only a booked visit can be checked in. The table also allows completed -> checked
    in, but that is the undo of a completion, not an arrival."""
    if status is AppointmentStatus.CHECKED_IN:
        raise InvalidTransition("This appointment is already checked in.")
    if status is not AppointmentStatus.CONFIRMED:
        raise InvalidTransition(
            f"This appointment is {WORDS[status]}, so it cannot be checked in now."
        )
    check_transition(status, AppointmentStatus.CHECKED_IN)


def _not_undoable(status: AppointmentStatus, what: str) -> str:
    return f"This appointment is {WORDS[status]}, not {what}, so there is nothing to undo."
