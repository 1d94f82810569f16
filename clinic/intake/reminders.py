"""The reminder to fill in a missing health form. A visit booked without one is asked for it
by its booking confirmation; if the form is still missing three days before the visit (at
the visit's own local clock time), the client gets one reminder with a fresh manage link to
the form. A visit booked less than a day before that moment is not reminded: its
confirmation asked only just now. The reminder is queued once per visit
(AppointmentIntake.intake_reminder_at) by a scan the worker runs every 15 minutes
(clinic/notifications/intake_emails.py), so a visit moved later is reminded before its new
date and one moved sooner is not missed. A form the pre-visit check reopened is asked for
on that check's own page, not by this reminder.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.intake.models import AppointmentIntake, IntakeState
from clinic.outbox.service import enqueue
from clinic.scheduling.models import Location

INTAKE_NEEDED = "email.intake_needed"
REMINDER_DAYS_BEFORE = 3
# A booking this close to the reminder's moment had its confirmation ask instead.
ASKED_AT_BOOKING_WITHIN = timedelta(days=1)
# Booked visits whose health form can still be filled in (intake_for_booking's rule).
OPEN_STATUSES = (AppointmentStatus.CONFIRMED, AppointmentStatus.PENDING_CLEARANCE)
# A local day is 23 to 25 hours long: the scan looks this far past three times 24 hours.
_DST_MARGIN = timedelta(hours=2)


def reminder_due(starts_at: datetime, zone: ZoneInfo) -> datetime:
    """The visit's local clock time, REMINDER_DAYS_BEFORE local days earlier, as a UTC
    instant (so a reminder before a clock change still comes at the visit's hour)."""
    local = starts_at.astimezone(zone)
    day = local.date() - timedelta(days=REMINDER_DAYS_BEFORE)
    return datetime.combine(day, local.time(), tzinfo=zone).astimezone(UTC)


async def queue_intake_reminders(session: AsyncSession, now: datetime) -> int:
    """Queue the reminder of every booked visit whose form is still missing and whose
    reminder moment has come, unless its confirmation asked shortly before; how many."""
    rows = await session.execute(
        select(Appointment, AppointmentIntake, Location.timezone)
        .join(AppointmentIntake, AppointmentIntake.appointment_id == Appointment.id)
        .join(Location, Location.id == Appointment.location_id)
        .where(
            AppointmentIntake.state == IntakeState.MISSING,
            AppointmentIntake.intake_reminder_at.is_(None),
            Appointment.status.in_(OPEN_STATUSES),
            Appointment.starts_at > now,
            Appointment.starts_at <= now + timedelta(days=REMINDER_DAYS_BEFORE) + _DST_MARGIN,
        )
        .order_by(Appointment.starts_at, Appointment.id)
        .with_for_update(of=AppointmentIntake)
    )
    queued = 0
    for appointment, link, timezone in rows:
        due = reminder_due(appointment.starts_at, ZoneInfo(timezone))
        if due > now or appointment.created_at > due - ASKED_AT_BOOKING_WITHIN:
            continue
        link.intake_reminder_at = now
        enqueue(session, INTAKE_NEEDED, {"appointment_id": appointment.id})
        queued += 1
    return queued
