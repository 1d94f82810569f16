"""Which booking emails a change queues, inside the change's own transaction.

A booking's confirmation waits out a short grace period (`confirmation_grace_minutes`,
default 2) and is written when it is sent, from the appointment as it is then. So a quick
correction sends one email with the final details:

- a change of time while the confirmation is still waiting queues no "Changed" email:
  the confirmation will carry the new time;
- a cancellation while it is still waiting queues no "Cancelled" email either, unless the
  cancellation costs a fee or money was paid (the client must hear of a charge or a
  refund). The client never had an email about the booking, and saw the cancellation on
  screen; a visit the clinic cancelled at once was a slip the client need not hear of.
  The waiting confirmation's handler skips the cancelled appointment.

"Still waiting" is the confirmation's outbox row pending and never tried. The row is read
FOR UPDATE: on PostgreSQL a worker's claim (FOR UPDATE SKIP LOCKED) then cannot take it
until this change commits, and once a worker has it the row is no longer pending, so the
change queues its own email. On SQLite writers already take turns.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.booking.models import Appointment
from clinic.booking.policy_store import stored_policies
from clinic.clock import now_utc
from clinic.outbox.models import OutboxMessage, OutboxStatus
from clinic.outbox.service import enqueue
from clinic.payments.ledger import applied_to_visit, payments_of

BOOKING_CONFIRMED = "email.booking_confirmed"
BOOKING_RESCHEDULED = "email.booking_rescheduled"
BOOKING_CANCELLED = "email.booking_cancelled"
BOOKING_REMINDER = "email.booking_reminder"


async def queue_confirmation(session: AsyncSession, appointment_id: int) -> OutboxMessage:
    """The booking's confirmation, due once the grace period has passed."""
    policies = await stored_policies(session)
    return enqueue(
        session,
        BOOKING_CONFIRMED,
        {"appointment_id": appointment_id},
        due_at=now_utc() + policies.confirmation_grace,
    )


async def unsent_confirmation(session: AsyncSession, appointment_id: int) -> int | None:
    """The id of the booking's confirmation while it still waits to be sent, locked."""
    found: int | None = await session.scalar(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.kind == BOOKING_CONFIRMED,
            OutboxMessage.attempts == 0,
            OutboxMessage.payload["appointment_id"].as_integer() == appointment_id,
        )
        .limit(1)
        .with_for_update()
    )
    return found


async def queue_rescheduled(session: AsyncSession, appointment_id: int) -> bool:
    """The "Changed" email, unless the confirmation has not gone out yet. True if queued."""
    if await unsent_confirmation(session, appointment_id) is not None:
        return False
    enqueue(session, BOOKING_RESCHEDULED, {"appointment_id": appointment_id})
    return True


async def queue_cancelled(session: AsyncSession, appointment: Appointment) -> bool:
    """The "Cancelled" email for an appointment just cancelled (its fee set), unless the
    client never had its confirmation and no money is involved. True if queued."""
    if (
        appointment.fee_minor == 0
        and await unsent_confirmation(session, appointment.id) is not None
        and not any(applied_to_visit(p) for p in await payments_of(session, appointment.id))
    ):
        return False
    enqueue(session, BOOKING_CANCELLED, {"appointment_id": appointment.id})
    return True
