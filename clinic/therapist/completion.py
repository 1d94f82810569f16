"""A therapist marks their own checked-in session completed, or undoes that. Moves only
along the status table (checked in -> completed -> checked in), audited, and keeps the
therapist's counter of completed oncology sessions true both ways."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit
from clinic.booking.models import Appointment
from clinic.booking.service import therapist_for_user
from clinic.booking.statuses import AppointmentStatus
from clinic.booking.transitions import WORDS, InvalidTransition, check_transition
from clinic.clients.models import Client
from clinic.db import Database, with_retries
from clinic.errors import NotFound
from clinic.scheduling.models import Service
from clinic.staff.models import Therapist


@dataclass(frozen=True)
class Completed:
    appointment_id: int
    starts_at: datetime
    client_name: str


def counts_as_oncology_session(service: Service) -> bool:
    """The same test as the counter's backfill (migration 0003) and the demo's count."""
    return (service.min_oncology_level or 0) >= 1


async def move_completion(
    session: AsyncSession, appointment: Appointment, new: AppointmentStatus
) -> None:
    """Move `appointment` (locked by the caller) to or from completed, keeping its
    therapist's oncology session counter in step. Any path that completes a visit, or
    undoes it, goes through here."""
    old = appointment.status
    check_transition(old, new)
    appointment.status = new
    step = int(new is AppointmentStatus.COMPLETED) - int(old is AppointmentStatus.COMPLETED)
    service = await session.get(Service, appointment.service_id)
    if step and service is not None and counts_as_oncology_session(service):
        await session.execute(
            update(Therapist)
            .where(Therapist.id == appointment.therapist_id)
            .values(oncology_sessions_here=Therapist.oncology_sessions_here + step)
        )


async def _own_locked_appointment(
    session: AsyncSession, appointment_id: int, user_id: int
) -> Appointment:
    therapist = await therapist_for_user(session, user_id)
    appointment = await session.scalar(
        select(Appointment).where(Appointment.id == appointment_id).with_for_update()
    )
    if appointment is None or therapist is None or appointment.therapist_id != therapist.id:
        raise NotFound("There is no such appointment on your schedule.")
    return appointment


async def _move(
    db: Database, appointment_id: int, *, user_id: int, new: AppointmentStatus, action: str
) -> Completed:
    async def attempt() -> Completed:
        async with db.transaction() as session:
            appointment = await _own_locked_appointment(session, appointment_id, user_id)
            if new is AppointmentStatus.CHECKED_IN and (
                appointment.status is not AppointmentStatus.COMPLETED
            ):
                raise InvalidTransition(
                    f"This appointment is {WORDS[appointment.status]}, not completed, so "
                    "there is nothing to undo."
                )
            await move_completion(session, appointment, new)
            audit.record(
                session,
                action,
                actor_user_id=user_id,
                subject_type="appointment",
                subject_id=appointment.id,
                details={"by": "therapist"},
            )
            name = await session.scalar(
                select(Client.name).where(Client.id == appointment.client_id)
            )
            return Completed(appointment.id, appointment.starts_at, name or "")

    return await with_retries(attempt)


async def complete_session(db: Database, appointment_id: int, *, user_id: int) -> Completed:
    """The signed-in therapist's own checked-in visit is done."""
    return await _move(
        db,
        appointment_id,
        user_id=user_id,
        new=AppointmentStatus.COMPLETED,
        action="appointment.completed",
    )


async def undo_completion(db: Database, appointment_id: int, *, user_id: int) -> Completed:
    """Back to checked in: a session marked completed by mistake."""
    return await _move(
        db,
        appointment_id,
        user_id=user_id,
        new=AppointmentStatus.CHECKED_IN,
        action="appointment.completion_undone",
    )
