"""What the worker does for clearances: release visits still waiting for a clearance when
their deadline passes (the client is told what happens now, with nothing clinical in the
email), expire clearances past their date so the visits they covered wait again, and tell
clients whose clearance on file ends before a coming visit that a new one is needed."""

from __future__ import annotations

import functools
import logging
from datetime import timedelta

from sqlalchemy import select

from clinic.booking.bookings import cancel_in
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus, CancelledBy
from clinic.clearance.models import CLEARING, Clearance, ClearanceStatus
from clinic.clearance.notices import notify_deadline_passed, send_renewal_notices
from clinic.clearance.previsit import send_due_checks
from clinic.clearance.service import recheck_client
from clinic.clock import now_utc
from clinic.db import Database, with_retries
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
        released += await with_retries(functools.partial(_release, db, appointment_id))
    return released


async def _release(db: Database, appointment_id: int) -> int:
    """Cancel one overdue visit as the system would (no fee: the clinic's rule, not the
    client's choice; `cancel_in` settles its money) and tell the client what happens now,
    by the deadline's own email in place of the generic cancellation, so the client gets
    one message, not two. Re-checked under the row lock: a visit confirmed or cancelled
    meanwhile is left alone (0)."""
    now = now_utc()
    async with db.transaction() as session:
        appointment = await session.get(Appointment, appointment_id, with_for_update=True)
        rules = (await clinic_screening(session)).rules
        if (
            appointment is None
            or appointment.status is not AppointmentStatus.PENDING_CLEARANCE
            or appointment.starts_at > now + timedelta(hours=rules.clearance_deadline_hours)
        ):
            return 0
        await cancel_in(
            session,
            appointment,
            now=now,
            cancelled_by=CancelledBy.SYSTEM,
            reason=RELEASE_REASON,
            audit_details={"clearance_deadline": True},
        )
        notify_deadline_passed(session, appointment.id)
    return 1


async def renew_lapsing_clearances(db: Database) -> int:
    """Tell clients whose clearance on file ends before a coming visit; how many."""

    async def attempt() -> int:
        async with db.transaction() as session:
            screening = await clinic_screening(session)
            return await send_renewal_notices(session, now_utc(), screening)

    return await with_retries(attempt)


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
            await recheck_client(
                session, client_id, screening, actor_user_id=None, notify_client=True
            )
    return len(ended)


@periodic("clearance.release", every=timedelta(minutes=5))
async def release_overdue_visits(ctx: HandlerContext) -> int:
    return await release_overdue(ctx.db)


@periodic("clearance.expire", every=timedelta(hours=1))
async def expire_old_clearances(ctx: HandlerContext) -> int:
    return await expire_clearances(ctx.db)


@periodic("clearance.renewal_notices", every=timedelta(hours=1))
async def send_clearance_renewal_notices(ctx: HandlerContext) -> int:
    return await renew_lapsing_clearances(ctx.db)


@periodic("previsit.send", every=timedelta(hours=1))
async def send_previsit_checks(ctx: HandlerContext) -> int:
    async def attempt() -> int:
        async with ctx.db.transaction() as session:
            return await send_due_checks(session)

    return await with_retries(attempt)
