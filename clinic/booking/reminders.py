"""Reminder emails: one per booked time, at the same local time the day before by default
(`reminder_hours_before`, see `policies.reminder_moment`), and the client's opt-out.

Why a periodic scan rather than an outbox row queued at booking for the reminder's moment:
the scan decides from what is true when it runs. A move, a cancellation, an opt-out or a
change of the setting needs no queued row found and moved or withdrawn (a path that forgot
to would send a reminder for a time that no longer stands), and a visit that reached
`confirmed` by any path (online, the desk, a clearance arriving, the demo data) is covered
without each path remembering to queue one. The cost is one indexed range read every few
minutes: confirmed visits not yet reminded that start within the lead
(`ix_appointment_reminder_due`, a partial index on `starts_at`).

Rules:
- only `confirmed` visits still ahead, of clients with an email who have not opted out;
- once per time: the visit is marked (`reminder_sent_at`) in the transaction that queues
  the email, by an UPDATE that only takes rows still unmarked, so two workers running the
  scan at once queue it once; a move clears the mark, as the new time deserves its own;
- none for a time the client was given after its reminder's moment (booked or moved less
  than the lead ahead): the confirmation or the "Changed" email just told them;
- a reminder the worker could not send at its moment (the worker was down) goes out late
  while the visit is still ahead, its subject saying "today" when it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit
from clinic.booking.bookings import appointment_for_token
from clinic.booking.models import Appointment, ReminderOptOut
from clinic.booking.notices import BOOKING_REMINDER
from clinic.booking.policies import Policies, reminder_moment
from clinic.booking.policy_store import stored_policies
from clinic.booking.statuses import AppointmentStatus
from clinic.clients.models import Client
from clinic.clock import now_utc
from clinic.db import Database, with_retries
from clinic.outbox.service import enqueue
from clinic.scheduling.models import Location

# Reminders queued per pass at most; the rest go in the next pass, minutes later.
BATCH = 200
# Whole days of the lead are counted on the local calendar, so a reminder can come up to
# a clock change's length (an hour, in practice) earlier than the lead in real time.
CLOCK_CHANGE_MARGIN = timedelta(hours=2)


@dataclass(frozen=True)
class Candidate:
    appointment_id: int
    starts_at: datetime
    # When the client was given this time: booked, or last moved.
    told_at: datetime
    zone: ZoneInfo


def is_due(policies: Policies, candidate: Candidate, now: datetime) -> bool:
    """Its moment has come, the visit is still ahead, and the client knew of this time
    before the moment (else the confirmation or the change just told them)."""
    moment = reminder_moment(policies, candidate.starts_at, candidate.zone)
    return moment is not None and candidate.told_at < moment <= now < candidate.starts_at


async def due_reminders(session: AsyncSession, now: datetime) -> list[Candidate]:
    """The booked visits whose reminder is due now, soonest first, at most BATCH."""
    policies = await stored_policies(session)
    if policies.reminder_hours_before == 0:
        return []
    horizon = now + timedelta(hours=policies.reminder_hours_before) + CLOCK_CHANGE_MARGIN
    rows = await session.execute(
        select(
            Appointment.id,
            Appointment.starts_at,
            Appointment.created_at,
            Appointment.rescheduled_at,
            Location.timezone,
        )
        .join(Location, Location.id == Appointment.location_id)
        .join(Client, Client.id == Appointment.client_id)
        .outerjoin(ReminderOptOut, ReminderOptOut.client_id == Appointment.client_id)
        .where(
            Appointment.status == AppointmentStatus.CONFIRMED,
            Appointment.reminder_sent_at.is_(None),
            Appointment.starts_at > now,
            Appointment.starts_at <= horizon,
            Client.email.is_not(None),
            Client.email != "",
            ReminderOptOut.client_id.is_(None),
        )
        .order_by(Appointment.starts_at, Appointment.id)
    )
    zones: dict[str, ZoneInfo] = {}
    due = []
    for appointment_id, starts_at, created_at, rescheduled_at, timezone in rows:
        zone = zones.setdefault(timezone, ZoneInfo(timezone))
        candidate = Candidate(appointment_id, starts_at, rescheduled_at or created_at, zone)
        if is_due(policies, candidate, now):
            due.append(candidate)
            if len(due) == BATCH:
                break
    return due


async def queue_due_reminders(db: Database) -> int:
    """Mark each due visit and queue its reminder email, in one transaction; how many."""

    async def attempt() -> int:
        now = now_utc()
        async with db.transaction() as session:
            due = await due_reminders(session, now)
            if not due:
                return 0
            marked = await session.execute(
                update(Appointment)
                .where(
                    Appointment.id.in_([c.appointment_id for c in due]),
                    Appointment.status == AppointmentStatus.CONFIRMED,
                    Appointment.reminder_sent_at.is_(None),
                )
                # Not a change the therapist's feed should show as one.
                .values(reminder_sent_at=now, updated_at=Appointment.updated_at)
                .returning(Appointment.id, Appointment.starts_at),
                execution_options={"synchronize_session": False},
            )
            queued = 0
            for appointment_id, starts_at in marked:
                # The time it is for: a move after this makes the email moot.
                payload = {"appointment_id": appointment_id, "starts_at": starts_at.isoformat()}
                enqueue(session, BOOKING_REMINDER, payload)
                queued += 1
            return queued

    return await with_retries(attempt)


async def reminders_wanted(session: AsyncSession, client_id: int) -> bool:
    return await session.get(ReminderOptOut, client_id) is None


async def set_reminders(db: Database, manage_token: str, *, wanted: bool) -> bool:
    """Turn reminders on or off for the client of a manage link's booking (every visit of
    theirs); True when that changed anything. Audited without the client's details."""

    async def attempt() -> bool:
        async with db.transaction() as session:
            appointment = await appointment_for_token(session, manage_token)
            client_id = appointment.client_id
            assert client_id is not None  # a manage link is only issued for a booking
            opted_out = await session.get(ReminderOptOut, client_id, with_for_update=True)
            if wanted == (opted_out is None):
                return False
            if opted_out is not None:
                await session.delete(opted_out)
            else:
                try:
                    async with session.begin_nested():
                        session.add(ReminderOptOut(client_id=client_id, opted_out_at=now_utc()))
                except IntegrityError:
                    # A second click raced the first: it is off already.
                    return False
            audit.record(
                session,
                "client.reminders_changed",
                actor_label="client",
                subject_type="client",
                subject_id=client_id,
                details={"reminders": "on" if wanted else "off", "via": "manage_link"},
            )
            return True

    return await with_retries(attempt)


async def reminder_still_wanted(
    session: AsyncSession, appointment: Appointment, starts_at: str, now: datetime
) -> bool:
    """Whether a queued reminder should still go out when the worker gets to it: the visit
    still booked at the time it was for, still ahead, and the client has not opted out."""
    return (
        appointment.status is AppointmentStatus.CONFIRMED
        and appointment.starts_at == datetime.fromisoformat(starts_at)
        and appointment.starts_at > now
        and appointment.client_id is not None
        and await reminders_wanted(session, appointment.client_id)
    )
