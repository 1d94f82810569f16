"""What the client is told about clearances, and when. Each message is put in the outbox by
the transaction of its cause, with ids only; its handler (clinic/notifications/
clearance_emails.py) loads the visit when it runs and says nothing clinical.

- requested: a booked visit starts waiting for a clearance (a change in the client's health
  voided the one that covered it, or the clinical lead asked for one). A visit booked as
  waiting is told so by its booking confirmation instead.
- recorded: a clearance recorded by a clinician confirms a waiting visit.
- deadline passed: a visit still waiting at its deadline is released (clinic/clearance/
  jobs.py).
- expiring: the clearance on file ends before a coming visit that needs one; found by the
  hourly scan below, once per clearance (Clearance.renewal_notice_at).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.clearance.covering import lapsed_before
from clinic.clearance.models import Clearance
from clinic.intake.models import AppointmentIntake, Intake
from clinic.intake.service import ClinicScreening
from clinic.outbox.service import enqueue

CLEARANCE_REQUESTED = "email.clearance_requested"
CLEARANCE_RECORDED = "email.clearance_recorded"
CLEARANCE_DEADLINE_PASSED = "email.clearance_deadline_passed"
CLEARANCE_EXPIRING = "email.clearance_expiring"


def release_deadline(starts_at: datetime, screening: ClinicScreening) -> datetime:
    """When a visit still waiting for a clearance is released (clinic/clearance/jobs.py)."""
    return starts_at - timedelta(hours=screening.rules.clearance_deadline_hours)


def notify_requested(session: AsyncSession, appointment_id: int) -> None:
    enqueue(session, CLEARANCE_REQUESTED, {"appointment_id": appointment_id})


def notify_recorded(session: AsyncSession, appointment_id: int) -> None:
    enqueue(session, CLEARANCE_RECORDED, {"appointment_id": appointment_id})


def notify_deadline_passed(session: AsyncSession, appointment_id: int) -> None:
    enqueue(session, CLEARANCE_DEADLINE_PASSED, {"appointment_id": appointment_id})


async def send_renewal_notices(
    session: AsyncSession, now: datetime, screening: ClinicScreening
) -> int:
    """Tell each client whose clearance on file ends before a coming visit still waiting for
    one that a new one is needed: once per clearance, naming the earliest such visit. Visits
    already inside their release deadline are left to the release, which tells the client
    itself. Returns how many notices were queued."""
    rows = (
        await session.execute(
            select(Appointment, Intake.signed_at)
            .join(AppointmentIntake, AppointmentIntake.appointment_id == Appointment.id)
            .outerjoin(Intake, Intake.id == AppointmentIntake.intake_id)
            .where(
                Appointment.status == AppointmentStatus.PENDING_CLEARANCE,
                Appointment.starts_at
                > now + timedelta(hours=screening.rules.clearance_deadline_hours),
            )
            .order_by(Appointment.starts_at, Appointment.id)
        )
    ).all()
    client_ids = {appointment.client_id for appointment, _ in rows if appointment.client_id}
    if not client_ids:
        return 0
    by_client: defaultdict[int, list[Clearance]] = defaultdict(list)
    for clearance in await session.scalars(
        select(Clearance)
        .where(Clearance.client_id.in_(client_ids), Clearance.decided_at.is_not(None))
        .with_for_update()
    ):
        by_client[clearance.client_id].append(clearance)
    sent = 0
    for appointment, signed_at in rows:
        assert appointment.client_id is not None
        lapsed = lapsed_before(
            by_client[appointment.client_id],
            intake_signed_at=signed_at,
            visit_day=appointment.starts_at.astimezone(screening.zone).date(),
        )
        if lapsed is None or lapsed.renewal_notice_at is not None:
            continue
        lapsed.renewal_notice_at = now
        enqueue(
            session,
            CLEARANCE_EXPIRING,
            {"appointment_id": appointment.id, "clearance_id": lapsed.id},
        )
        sent += 1
    return sent
