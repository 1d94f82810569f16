"""The client's clearance emails (clinic/clearance/notices.py says when each is queued).
Each handler looks at the visit as it is when it runs and sends nothing when its message no
longer holds. None names the clearance, its reason or anything clinical: "one more thing",
"paperwork", "everything we need"."""

from __future__ import annotations

from sqlalchemy import select

from clinic.booking.statuses import AppointmentStatus, CancelledBy
from clinic.clearance.models import CLEARING, Clearance, ClearanceStatus
from clinic.clearance.notices import (
    CLEARANCE_DEADLINE_PASSED,
    CLEARANCE_EXPIRING,
    CLEARANCE_RECORDED,
    CLEARANCE_REQUESTED,
)
from clinic.notifications.intake_and_clearance import send_visit_email, visit_now
from clinic.outbox.models import OutboxMessage
from clinic.outbox.registry import HandlerContext, handles
from clinic.web.formatting import long_date


@handles(CLEARANCE_REQUESTED)
async def send_clearance_requested(ctx: HandlerContext, message: OutboxMessage) -> None:
    visit = await visit_now(ctx, message)
    if visit is not None and visit.waiting_before_deadline:
        await send_visit_email(ctx, message, visit, "clearance_requested")


@handles(CLEARANCE_RECORDED)
async def send_clearance_recorded(ctx: HandlerContext, message: OutboxMessage) -> None:
    visit = await visit_now(ctx, message)
    if visit is not None and visit.status is AppointmentStatus.CONFIRMED and visit.upcoming:
        await send_visit_email(ctx, message, visit, "clearance_recorded")


@handles(CLEARANCE_DEADLINE_PASSED)
async def send_clearance_deadline_passed(ctx: HandlerContext, message: OutboxMessage) -> None:
    visit = await visit_now(ctx, message)
    if (
        visit is not None
        and visit.status is AppointmentStatus.CANCELLED
        and visit.cancelled_by is CancelledBy.SYSTEM
    ):
        # A cancelled visit's manage link has nothing left to do.
        await send_visit_email(ctx, message, visit, "clearance_deadline_passed", with_link=False)


@handles(CLEARANCE_EXPIRING)
async def send_clearance_expiring(ctx: HandlerContext, message: OutboxMessage) -> None:
    visit = await visit_now(ctx, message)
    if visit is None or not visit.waiting_before_deadline:
        return
    async with ctx.db.reading() as session:
        clearance = await session.scalar(
            select(Clearance).where(Clearance.id == int(message.payload["clearance_id"]))
        )
    # Voided since (a change in health): the visit waits for a new one for that reason,
    # not because this one ends early. Moved inside its dates: it no longer ends early.
    if (
        clearance is None
        or clearance.status not in (*CLEARING, ClearanceStatus.EXPIRED)
        or clearance.voided_at is not None
        or clearance.valid_until is None
        or visit.starts_at.astimezone(visit.zone).date() <= clearance.valid_until
    ):
        return
    await send_visit_email(
        ctx,
        message,
        visit,
        "clearance_expiring",
        extra={"valid_until": long_date(clearance.valid_until)},
    )
