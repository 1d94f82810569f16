"""What the worker does for clearances: release visits still waiting for a clearance when
their deadline passes (the client is told, with nothing clinical in the email), and expire
clearances past their date so the visits they covered wait again."""

from __future__ import annotations

import functools
import logging
from datetime import timedelta

from sqlalchemy import select

from clinic.booking.bookings import cancel_appointment
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus, CancelledBy
from clinic.clearance.models import CLEARING, Clearance, ClearanceStatus
from clinic.clearance.previsit import send_due_checks
from clinic.clearance.service import recheck_client
from clinic.clock import now_utc
from clinic.db import Database, with_retries
from clinic.errors import ClinicError
from clinic.intake.service import clinic_screening
from clinic.outbox.registry import HandlerContext, periodic

log = logging.getLogger("clinic.clearance")
RELEASE_REASON = "The clearance it needed did not arrive before the deadline."


async def release_overdue(db: Database) -> int:
    """Cancel every visit still waiting for a clearance inside its deadline; how many."""
    now = now_utc()
    async with db.reading() as session:
        rules = (await clinic_screening(session)).rules
        overdue = list(
            await session.scalars(
                select(Appointment.id).where(
                    Appointment.status == AppointmentStatus.PENDING_CLEARANCE,
                    Appointment.starts_at <= now + timedelta(hours=rules.clearance_deadline_hours),
                )
            )
        )
    released = 0
    for appointment_id in overdue:
        try:
            await with_retries(
                functools.partial(
                    cancel_appointment,
                    db,
                    appointment_id,
                    cancelled_by=CancelledBy.SYSTEM,
                    reason=RELEASE_REASON,
                )
            )
        except ClinicError:
            # Confirmed or cancelled meanwhile by someone else: nothing to release.
            continue
        released += 1
    return released


async def expire_clearances(db: Database) -> int:
    """Mark clearances past their date expired and re-check their clients' visits."""
    return await with_retries(lambda: _expire_clearances(db))


async def _expire_clearances(db: Database) -> int:
    async with db.transaction() as session:
        screening = await clinic_screening(session)
        today = now_utc().astimezone(screening.zone).date()
        ended = list(
            await session.scalars(
                select(Clearance)
                .where(Clearance.status.in_(CLEARING), Clearance.valid_until < today)
                .with_for_update()
            )
        )
        for clearance in ended:
            clearance.status = ClearanceStatus.EXPIRED
        await session.flush()
        for client_id in sorted({c.client_id for c in ended}):
            await recheck_client(session, client_id, screening, actor_user_id=None)
    return len(ended)


@periodic("clearance.release", every=timedelta(minutes=5))
async def release_overdue_visits(ctx: HandlerContext) -> int:
    return await release_overdue(ctx.db)


@periodic("clearance.expire", every=timedelta(hours=1))
async def expire_old_clearances(ctx: HandlerContext) -> int:
    return await expire_clearances(ctx.db)


@periodic("previsit.send", every=timedelta(hours=1))
async def send_previsit_checks(ctx: HandlerContext) -> int:
    async def attempt() -> int:
        async with ctx.db.transaction() as session:
            return await send_due_checks(session)

    return await with_retries(attempt)
