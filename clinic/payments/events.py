"""The one path by which what a provider reports changes the ledger and the booking:
Stripe's webhooks, the client's return from a checkout page, the demo checkout page and
the results of our own off-session charges and refunds all arrive here as a
`GatewayEvent`.

Each event id is inserted under a unique constraint in the same transaction as its
effect, so a repeat does nothing; every state change goes through the table of moves, so
a late or out-of-order notice never moves a payment backwards."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit
from clinic.booking.bookings import PaidHold, book_paid_hold
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.booking.taking import expire_holds_where
from clinic.clients.models import Consent, ConsentKind
from clinic.clock import now_utc
from clinic.db import Database, with_retries
from clinic.outbox.service import enqueue
from clinic.payments.ledger import BOOKING_KINDS, add_refund, move, move_refund
from clinic.payments.models import Payment, PaymentCustomer, PaymentEvent, Refund, SavedCard
from clinic.payments.port import Card, EventKind, GatewayEvent, RefundStatus
from clinic.payments.states import PaymentMethod, PaymentState, RefundReason, RefundState

logger = logging.getLogger("clinic.payments")

# Emails the events lead to (clinic/payments/jobs.py).
PAY_LINK_EMAIL = "email.payment_link"
SLOT_LOST_EMAIL = "email.payment_slot_lost"
# Refunds promised here are made by the worker (clinic/payments/jobs.py).
EXECUTE_REFUND = "payment.refund"


@dataclass(frozen=True)
class Applied:
    # "applied", "duplicate", "ignored" or "unknown payment", with what it did.
    outcome: str
    payment_id: int | None = None


async def apply_event(db: Database, event: GatewayEvent, provider: str) -> Applied:
    """Apply one event in one transaction with its id; a repeat is a no-op."""

    async def attempt() -> Applied:
        try:
            async with db.transaction() as session:
                return await _apply(session, event, provider)
        except IntegrityError as clash:
            if await _seen(db, event.event_id):
                return Applied("duplicate")
            raise clash

    return await with_retries(attempt)


async def _seen(db: Database, event_id: str) -> bool:
    async with db.reading() as session:
        return await session.get(PaymentEvent, event_id) is not None


async def _apply(session: AsyncSession, event: GatewayEvent, provider: str) -> Applied:
    if await session.get(PaymentEvent, event.event_id) is not None:
        return Applied("duplicate")
    payment = await _payment_for(session, event)
    record = PaymentEvent(
        event_id=event.event_id,
        provider=provider,
        kind=event.kind.value,
        payment_id=payment.id if payment is not None else None,
        created=event.created,
    )
    session.add(record)
    # The insert goes first: a concurrent repeat fails here, before any effect.
    await session.flush()
    if payment is None:
        record.outcome = "unknown payment"
        logger.warning("payment event %s names no payment of ours", event.event_id)
        return Applied("unknown payment")
    outcome = await _effect(session, payment, event)
    record.outcome = outcome[:200]
    return Applied(outcome, payment.id)


async def _payment_for(session: AsyncSession, event: GatewayEvent) -> Payment | None:
    if event.kind is EventKind.REFUND_UPDATED:
        refund = await _refund_for(session, event)
        if refund is not None:
            return await session.get(Payment, refund.payment_id, with_for_update=True)
    conditions = []
    if event.payment_id is not None:
        conditions.append(Payment.id == event.payment_id)
    if event.checkout_id:
        conditions.append(Payment.checkout_id == event.checkout_id)
    if event.provider_payment_id:
        conditions.append(Payment.provider_payment_id == event.provider_payment_id)
    if not conditions:
        return None
    return await session.scalar(
        select(Payment).where(or_(*conditions)).order_by(Payment.id).limit(1).with_for_update()
    )


async def _refund_for(session: AsyncSession, event: GatewayEvent) -> Refund | None:
    if event.refund_id:
        refund = await session.scalar(
            select(Refund).where(Refund.provider_refund_id == event.refund_id)
        )
        if refund is not None:
            return refund
    if event.refund_row_id is not None:
        return await session.get(Refund, event.refund_row_id)
    return None


async def _effect(session: AsyncSession, payment: Payment, event: GatewayEvent) -> str:
    kind = event.kind
    if kind in (EventKind.CHECKOUT_PAID, EventKind.CHARGE_SUCCEEDED):
        return await _paid(session, payment, event)
    if kind is EventKind.CHECKOUT_CARD_SAVED:
        return await _card_saved(session, payment, event)
    if kind is EventKind.CHECKOUT_EXPIRED:
        return await _checkout_expired(session, payment, event)
    if kind is EventKind.CHECKOUT_FAILED:
        moved = move(session, payment, PaymentState.FAILED, details={"code": event.failure_code})
        return "failed" if moved else "ignored: not open"
    if kind is EventKind.CHARGE_FAILED:
        return _charge_failed(session, payment, event)
    if kind is EventKind.REFUND_UPDATED:
        return await _refund_updated(session, payment, event)
    if kind is EventKind.DISPUTE_OPENED:
        payment.disputed = True
        audit.record(
            session,
            "payment.disputed",
            actor_label="system",
            subject_type="payment",
            subject_id=payment.id,
            details={"appointment_id": payment.appointment_id},
        )
        return "dispute flagged"
    return "ignored"


def _note_provider_ids(payment: Payment, event: GatewayEvent) -> None:
    if event.provider_payment_id and payment.provider_payment_id is None:
        payment.provider_payment_id = event.provider_payment_id


async def _paid(session: AsyncSession, payment: Payment, event: GatewayEvent) -> str:
    if payment.state in (PaymentState.SUCCEEDED, PaymentState.REFUNDED):
        # Notices come in any order: the one that names the card may come second.
        if payment.save_card and event.card is not None and payment.saved_card_id is None:
            await _keep_card(session, payment, event.card, event.customer_id)
            return "card saved"
        return "ignored: already paid"
    was = payment.state
    _note_provider_ids(payment, event)
    payment.failure_code = ""
    move(session, payment, PaymentState.SUCCEEDED, details={"from_event": event.kind.value})
    if payment.save_card and event.card is not None:
        await _keep_card(session, payment, event.card, event.customer_id)
    if was is PaymentState.CANCELLED:
        # The clinic had given up on this payment (the client started again): return it.
        add_refund(session, payment, payment.amount_minor, RefundReason.SLOT_LOST)
        _execute_refunds_later(session, payment)
        return "paid after it was cancelled: refunded"
    if payment.kind not in BOOKING_KINDS:
        return "paid"
    return await _book(session, payment, AppointmentStatus.CONFIRMED)


async def _card_saved(session: AsyncSession, payment: Payment, event: GatewayEvent) -> str:
    if not move(session, payment, PaymentState.SCHEDULED):
        return "ignored: not open"
    if event.card is not None:
        await _keep_card(session, payment, event.card, event.customer_id)
    return await _book(session, payment, AppointmentStatus.PENDING_CLEARANCE)


async def _book(session: AsyncSession, payment: Payment, books_as: AppointmentStatus) -> str:
    """The payment for a held time has arrived: book it, or, when its time went to
    someone else meanwhile, give the money back (nothing was taken for a saved card)."""
    result = await book_paid_hold(session, payment.appointment_id, books_as)
    if result is not PaidHold.LOST:
        return f"appointment {result.value}"
    if payment.state is PaymentState.SCHEDULED:
        move(session, payment, PaymentState.CANCELLED, details={"reason": "slot lost"})
    else:
        add_refund(session, payment, payment.refundable_minor, RefundReason.SLOT_LOST)
        _execute_refunds_later(session, payment)
    enqueue(session, SLOT_LOST_EMAIL, {"payment_id": payment.id})
    return "slot lost: refunded"


def _execute_refunds_later(session: AsyncSession, payment: Payment) -> None:
    enqueue(session, EXECUTE_REFUND, {"payment_id": payment.id})


async def _checkout_expired(session: AsyncSession, payment: Payment, event: GatewayEvent) -> str:
    if payment.state is not PaymentState.PENDING or payment.checkout_id != event.checkout_id:
        return "ignored: not this payment's open checkout"
    if payment.kind in BOOKING_KINDS and payment.method is PaymentMethod.CARD_ONLINE:
        move(session, payment, PaymentState.EXPIRED)
        # The time was held for this checkout: it is free again now.
        await expire_holds_where(
            session,
            (Appointment.id == payment.appointment_id)
            & (Appointment.status == AppointmentStatus.HELD),
            now=now_utc(),
            actor="system",
            reason="checkout expired",
        )
        return "checkout expired: hold released"
    # A pay link (a fee, or a deposit a saved card could not pay) stays usable: the
    # client can open a new checkout from it.
    move(session, payment, PaymentState.AWAITING_CLIENT)
    return "checkout expired: awaiting client"


def _charge_failed(session: AsyncSession, payment: Payment, event: GatewayEvent) -> str:
    if payment.method is not PaymentMethod.CARD_SAVED:
        # A card declined on the checkout page: the client may try another there.
        payment.failure_code = event.failure_code[:100]
        return "checkout attempt failed: still open"
    _note_provider_ids(payment, event)
    if not move(
        session,
        payment,
        PaymentState.AWAITING_CLIENT,
        details={"code": event.failure_code},
    ):
        return "ignored: not being charged"
    payment.failure_code = event.failure_code[:100]
    enqueue(session, PAY_LINK_EMAIL, {"payment_id": payment.id})
    return "charge failed: pay link sent"


async def _refund_updated(session: AsyncSession, payment: Payment, event: GatewayEvent) -> str:
    refund = await _refund_for(session, event)
    if refund is None or event.refund_status is None:
        return "ignored: unknown refund"
    if event.refund_id and refund.provider_refund_id is None:
        refund.provider_refund_id = event.refund_id
    new = {
        RefundStatus.PENDING: RefundState.PENDING,
        RefundStatus.SUCCEEDED: RefundState.SUCCEEDED,
        RefundStatus.FAILED: RefundState.FAILED,
    }[event.refund_status]
    moved = move_refund(session, refund, payment, new)
    return f"refund {new.value}" if moved else "ignored: refund already there"


async def _keep_card(
    session: AsyncSession, payment: Payment, card: Card, customer_id: str | None
) -> None:
    """Keep the card the client saved, tied to the consent to the fee terms they gave
    before paying (clinic/payments/checkout.py records it)."""
    if payment.client_id is None:
        return
    existing = await session.scalar(select(SavedCard).where(SavedCard.method_id == card.method_id))
    if existing is None:
        consent_id = await session.scalar(
            select(Consent.id)
            .where(
                Consent.client_id == payment.client_id,
                Consent.kind == ConsentKind.CARD_ON_FILE,
                Consent.withdrawn_at.is_(None),
            )
            .order_by(Consent.given_at.desc(), Consent.id.desc())
            .limit(1)
        )
        if customer_id is None:
            customer_id = await session.scalar(
                select(PaymentCustomer.customer_id).where(
                    PaymentCustomer.client_id == payment.client_id,
                    PaymentCustomer.provider == payment.provider,
                )
            )
        existing = SavedCard(
            client_id=payment.client_id,
            provider=payment.provider,
            customer_id=customer_id or "",
            method_id=card.method_id,
            brand=card.brand[:40],
            last4=card.last4[-4:],
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            consent_id=consent_id,
        )
        session.add(existing)
        await session.flush()
        audit.record(
            session,
            "payment.card_saved",
            actor_label="client",
            subject_type="client",
            subject_id=payment.client_id,
            details={"brand": existing.brand, "last4": existing.last4},
        )
    payment.saved_card_id = existing.id
