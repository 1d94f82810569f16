"""The "fill in your health form" reminder (clinic/intake/reminders.py says when): the scan
that queues it, and its handler, which sends it only while the form is still missing and
the visit still booked and to come."""

from __future__ import annotations

from datetime import timedelta

from clinic.clock import now_utc
from clinic.db import with_retries
from clinic.intake.models import IntakeState
from clinic.intake.reminders import INTAKE_NEEDED, OPEN_STATUSES, queue_intake_reminders
from clinic.notifications.intake_and_clearance import send_visit_email, visit_now
from clinic.outbox.models import OutboxMessage
from clinic.outbox.registry import HandlerContext, handles, periodic


@periodic("intake.reminders", every=timedelta(minutes=15))
async def queue_due_intake_reminders(ctx: HandlerContext) -> int:
    async def attempt() -> int:
        async with ctx.db.transaction() as session:
            return await queue_intake_reminders(session, now_utc())

    return await with_retries(attempt)


@handles(INTAKE_NEEDED)
async def send_intake_needed(ctx: HandlerContext, message: OutboxMessage) -> None:
    visit = await visit_now(ctx, message)
    if (
        visit is None
        or visit.status not in OPEN_STATUSES
        or not visit.upcoming
        or visit.intake_state is not IntakeState.MISSING
    ):
        return
    await send_visit_email(ctx, message, visit, "intake_needed", needs="intake_url")
