"""The ledger's moves and sums: every change of a payment's state goes through `move`
(checked against the one table of moves, audited), and what an appointment has been paid
is summed here and nowhere else."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit
from clinic.clock import now_utc
from clinic.errors import Conflict
from clinic.outbox.service import enqueue
from clinic.payments.models import Payment, Refund, SavedCard
from clinic.payments.states import (
    CAPTURED,
    REFUND_MOVES,
    PaymentKind,
    PaymentState,
    RefundReason,
    RefundState,
    can_move,
)

FEE_KINDS = (PaymentKind.LATE_CANCELLATION_FEE, PaymentKind.NO_SHOW_FEE)
# What a client pays online when booking.
BOOKING_KINDS = (PaymentKind.DEPOSIT, PaymentKind.FULL)
# The client's emails when money arrives and when it goes back (clinic/payments/notices.py).
RECEIPT_EMAIL = "email.payment_receipt"
REFUND_EMAIL = "email.refund_notice"


def new_key() -> str:
    return uuid.uuid4().hex


def move(
    session: AsyncSession,
    payment: Payment,
    new: PaymentState,
    *,
    actor_user_id: int | None = None,
    actor_label: str = "system",
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> bool:
    """Move a payment to `new` if the table allows it; False (and nothing changed) when
    it does not, which is how a late or repeated notice is ignored."""
    old = payment.state
    if old is new or not can_move(old, new):
        return False
    payment.state = new
    if new is PaymentState.SUCCEEDED and payment.succeeded_at is None:
        payment.succeeded_at = now or now_utc()
    if new is PaymentState.SUCCEEDED and old not in CAPTURED:
        # Money arrived. Captured is a payment's last stop (refunded and back when a
        # refund fails), so this happens once per payment.
        queue_receipt(session, payment)
    audit.record(
        session,
        f"payment.{new.value}",
        actor_user_id=actor_user_id,
        actor_label="" if actor_user_id else actor_label,
        subject_type="payment",
        subject_id=payment.id,
        details={
            "from": old.value,
            "kind": payment.kind.value,
            "amount_minor": payment.amount_minor,
            "appointment_id": payment.appointment_id,
            **(details or {}),
        },
    )
    return True


def queue_receipt(session: AsyncSession, payment: Payment) -> None:
    """The client's receipt for a payment that has just succeeded, in the same transaction
    (the payment needs its id: flush a new one first)."""
    enqueue(session, RECEIPT_EMAIL, {"payment_id": payment.id})


def queue_refund_notice(session: AsyncSession, refund: Refund) -> None:
    """The client's notice of a refund that has just been made (not merely promised)."""
    enqueue(session, REFUND_EMAIL, {"refund_id": refund.id})


def audit_new(
    session: AsyncSession,
    payment: Payment,
    *,
    actor_user_id: int | None = None,
    actor_label: str = "system",
) -> None:
    """The audit entry of a new payment (flushed first, so it has its id)."""
    audit.record(
        session,
        "payment.created",
        actor_user_id=actor_user_id,
        actor_label="" if actor_user_id else actor_label,
        subject_type="payment",
        subject_id=payment.id,
        details={
            "state": payment.state.value,
            "kind": payment.kind.value,
            "method": payment.method.value,
            "amount_minor": payment.amount_minor,
            "tip_minor": payment.tip_minor,
            "appointment_id": payment.appointment_id,
        },
    )


def applied_to_visit(payment: Payment) -> int:
    """What a payment has paid towards the visit and its fees (tips aside, refunds out)."""
    if payment.state not in (PaymentState.SUCCEEDED, PaymentState.REFUNDED):
        return 0
    return max(payment.amount_minor - payment.refunded_minor, 0)


async def payments_of(
    session: AsyncSession, appointment_id: int, *, lock: bool = False
) -> list[Payment]:
    query = select(Payment).where(Payment.appointment_id == appointment_id).order_by(Payment.id)
    if lock:
        query = query.with_for_update()
    return list(await session.scalars(query))


def add_refund(
    session: AsyncSession,
    payment: Payment,
    amount_minor: int,
    reason: RefundReason,
    *,
    note: str = "",
    requested_by_user_id: int | None = None,
    settled: bool = False,
) -> Refund:
    """Promise a refund: counted against the payment at once, so two refunds can never
    together pass what was captured (the database checks it too). `settled` for money
    handed back at the desk, which needs no provider."""
    if amount_minor <= 0:
        raise Conflict("A refund must be more than nothing.")
    if amount_minor > payment.refundable_minor:
        raise Conflict("That is more than is left to refund on this payment.")
    now = now_utc()
    refund = Refund(
        payment_id=payment.id,
        amount_minor=amount_minor,
        reason=reason,
        note=note.strip()[:500],
        state=RefundState.SUCCEEDED if settled else RefundState.PENDING,
        idempotency_key=new_key(),
        requested_by_user_id=requested_by_user_id,
        succeeded_at=now if settled else None,
    )
    session.add(refund)
    payment.refunded_minor += amount_minor
    if payment.refunded_minor >= payment.amount_minor + payment.tip_minor:
        move(session, payment, PaymentState.REFUNDED, actor_user_id=requested_by_user_id)
    audit.record(
        session,
        "refund.requested",
        actor_user_id=requested_by_user_id,
        actor_label="" if requested_by_user_id else "system",
        subject_type="payment",
        subject_id=payment.id,
        details={"amount_minor": amount_minor, "reason": reason.value},
    )
    return refund


def move_refund(session: AsyncSession, refund: Refund, payment: Payment, new: RefundState) -> bool:
    """Move a refund forward; a failed refund gives its amount back to the payment."""
    old = refund.state
    if old is new or new not in REFUND_MOVES[old]:
        return False
    refund.state = new
    if new is RefundState.SUCCEEDED:
        refund.succeeded_at = now_utc()
        # Pending to succeeded is a refund's only way there: once per refund.
        queue_refund_notice(session, refund)
    if new is RefundState.FAILED:
        payment.refunded_minor -= refund.amount_minor
        if payment.state is PaymentState.REFUNDED:
            move(session, payment, PaymentState.SUCCEEDED, details={"refund_failed": refund.id})
    audit.record(
        session,
        f"refund.{new.value}",
        actor_label="system",
        subject_type="payment",
        subject_id=payment.id,
        details={"refund_id": refund.id, "amount_minor": refund.amount_minor},
    )
    return True


def spread_refund(
    session: AsyncSession, payments: Sequence[Payment], amount_minor: int, reason: RefundReason
) -> list[Refund]:
    """Refund `amount_minor` across the captured payments, newest first."""
    refunds: list[Refund] = []
    left = amount_minor
    for payment in sorted(payments, key=lambda p: p.id, reverse=True):
        if left <= 0:
            break
        take = min(left, applied_to_visit(payment), payment.refundable_minor)
        if take > 0:
            refunds.append(add_refund(session, payment, take, reason))
            left -= take
    return refunds


async def saved_card_of(
    session: AsyncSession, client_id: int | None, provider: str
) -> SavedCard | None:
    """The card a client saved most recently with this provider, if any."""
    if client_id is None:
        return None
    return await session.scalar(
        select(SavedCard)
        .where(
            SavedCard.client_id == client_id,
            SavedCard.provider == provider,
            SavedCard.removed_at.is_(None),
        )
        .order_by(SavedCard.id.desc())
        .limit(1)
    )
