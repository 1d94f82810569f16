"""What an appointment's payments come to once it is cancelled, missed or confirmed, and
the provider calls that follow. `booking/policies.py` decides the fee; this module makes
the ledger match it: open payments are closed, what was paid above the fee is refunded
(newest payment first), and a fee above what was paid is charged to the client's saved
card. Recomputed from the ledger each time, so running it twice changes nothing."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.booking.models import Appointment
from clinic.booking.policies import settle
from clinic.booking.statuses import AppointmentStatus, CancelledBy
from clinic.clock import now_utc
from clinic.db import Database, with_retries
from clinic.errors import ClinicError
from clinic.payments.events import apply_event
from clinic.payments.ledger import (
    FEE_KINDS,
    applied_to_visit,
    audit_new,
    move,
    new_key,
    payments_of,
    saved_card_of,
    spread_refund,
)
from clinic.payments.models import Payment, PaymentCustomer, Refund, SavedCard
from clinic.payments.port import (
    ChargeOutcome,
    ChargeRequest,
    EventKind,
    GatewayEvent,
    PaymentGateway,
    RefundRequest,
)
from clinic.payments.states import (
    PaymentKind,
    PaymentMethod,
    PaymentState,
    RefundReason,
    RefundState,
)

DESK = "desk"


@dataclass
class Calls:
    """Provider calls a ledger change left to make, after its transaction commits."""

    expire: list[str] = field(default_factory=list)
    refunds: list[int] = field(default_factory=list)
    charges: list[int] = field(default_factory=list)


def refund_reason(appointment: Appointment) -> RefundReason:
    if appointment.cancelled_by in (CancelledBy.CLINIC, CancelledBy.SYSTEM):
        return RefundReason.CLINIC_CANCELLED
    if appointment.medically_excused:
        return RefundReason.MEDICALLY_EXCUSED
    return RefundReason.CANCELLATION


async def settle_appointment(db: Database, gateway: PaymentGateway, appointment_id: int) -> Calls:
    calls = await with_retries(lambda: _settle_ledger(db, appointment_id, gateway.provider))
    for checkout_id in calls.expire:
        with contextlib.suppress(ClinicError):
            await gateway.expire_checkout(checkout_id)
    await execute_pending(db, gateway, appointment_id)
    return calls


async def _settle_ledger(db: Database, appointment_id: int, provider: str) -> Calls:
    calls = Calls()
    async with db.transaction() as session:
        appointment = await session.get(Appointment, appointment_id, with_for_update=True)
        if appointment is None:
            return calls
        payments = await payments_of(session, appointment_id, lock=True)
        if appointment.status in (
            AppointmentStatus.CONFIRMED,
            AppointmentStatus.CHECKED_IN,
            AppointmentStatus.COMPLETED,
        ):
            # A card saved while the visit waited for its clearance is charged now; a fee
            # from a no-show the desk has undone is no longer owed.
            for payment in payments:
                if payment.kind in FEE_KINDS:
                    _drop_fee(session, payment, calls)
                elif payment.state is PaymentState.SCHEDULED:
                    payment.method = PaymentMethod.CARD_SAVED
                    payment.attempts += 1
                    move(session, payment, PaymentState.PENDING, details={"reason": "confirmed"})
                    calls.charges.append(payment.id)
            return calls
        if appointment.status not in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW):
            return calls
        fee_kind = (
            PaymentKind.NO_SHOW_FEE
            if appointment.status is AppointmentStatus.NO_SHOW
            else PaymentKind.LATE_CANCELLATION_FEE
        )
        for payment in payments:
            if payment.kind in FEE_KINDS:
                continue
            if payment.state in (PaymentState.PENDING, PaymentState.SCHEDULED) or (
                payment.state is PaymentState.AWAITING_CLIENT
            ):
                if payment.state is PaymentState.PENDING and payment.checkout_id:
                    calls.expire.append(payment.checkout_id)
                move(session, payment, PaymentState.CANCELLED, details={"reason": "visit ended"})
        fees_open = sum(
            p.amount_minor
            for p in payments
            if p.kind in FEE_KINDS
            and p.state in (PaymentState.PENDING, PaymentState.AWAITING_CLIENT)
        )
        owed = settle(
            fee_minor=appointment.fee_minor,
            paid_minor=sum(applied_to_visit(p) for p in payments),
        )
        if owed.refund_minor:
            spread_refund(session, payments, owed.refund_minor, refund_reason(appointment))
        short = owed.charge_minor - fees_open
        if short > 0 and not any(p.kind is fee_kind for p in payments):
            card = await saved_card_of(session, appointment.client_id, provider)
            if card is not None:
                fee = Payment(
                    appointment_id=appointment.id,
                    client_id=appointment.client_id,
                    kind=fee_kind,
                    method=PaymentMethod.CARD_SAVED,
                    state=PaymentState.PENDING,
                    amount_minor=short,
                    currency=appointment.currency,
                    provider=provider,
                    idempotency_key=new_key(),
                    saved_card_id=card.id,
                    attempts=1,
                )
                session.add(fee)
                await session.flush()
                audit_new(session, fee)
                calls.charges.append(fee.id)
    return calls


def _drop_fee(session: AsyncSession, fee: Payment, calls: Calls) -> None:
    """A fee that is not owed any more: closed while open, refunded once taken."""
    if fee.state in (PaymentState.PENDING, PaymentState.AWAITING_CLIENT):
        if fee.state is PaymentState.PENDING and fee.checkout_id:
            calls.expire.append(fee.checkout_id)
        move(session, fee, PaymentState.CANCELLED, details={"reason": "no longer owed"})
    elif applied_to_visit(fee) > 0:
        spread_refund(session, [fee], applied_to_visit(fee), RefundReason.STAFF)


async def execute_pending(db: Database, gateway: PaymentGateway, appointment_id: int) -> None:
    """Make the provider calls the ledger is waiting for on an appointment: refunds not
    yet sent, off-session charges not yet made. Safe to repeat: each call carries the
    idempotency key of its row."""
    async with db.reading() as session:
        refund_ids = list(
            await session.scalars(
                select(Refund.id)
                .join(Payment, Payment.id == Refund.payment_id)
                .where(
                    Payment.appointment_id == appointment_id,
                    Refund.state == RefundState.PENDING,
                    Refund.provider_refund_id.is_(None),
                )
                .order_by(Refund.id)
            )
        )
        charge_ids = list(
            await session.scalars(
                select(Payment.id).where(
                    Payment.appointment_id == appointment_id,
                    Payment.state == PaymentState.PENDING,
                    Payment.method == PaymentMethod.CARD_SAVED,
                )
            )
        )
    for refund_id in refund_ids:
        await execute_refund(db, gateway, refund_id)
    for payment_id in charge_ids:
        await execute_charge(db, gateway, payment_id)


async def execute_refund(db: Database, gateway: PaymentGateway, refund_id: int) -> None:
    async with db.reading() as session:
        refund = await session.get(Refund, refund_id)
        if refund is None or refund.state is not RefundState.PENDING or refund.provider_refund_id:
            return
        payment = await session.get(Payment, refund.payment_id)
        assert payment is not None
    if payment.provider == DESK or not payment.provider_payment_id:
        # Money taken at the desk goes back at the desk; the desk marks it given.
        return
    result = await gateway.refund(
        RefundRequest(
            refund_id=refund.id,
            payment_id=payment.id,
            idempotency_key=refund.idempotency_key,
            provider_payment_id=payment.provider_payment_id,
            amount_minor=refund.amount_minor,
            currency=payment.currency,
        )
    )
    await apply_event(
        db,
        GatewayEvent(
            event_id=f"refund-result:{refund.idempotency_key}:{result.status.value}",
            kind=EventKind.REFUND_UPDATED,
            created=now_utc(),
            payment_id=payment.id,
            refund_id=result.provider_refund_id,
            refund_row_id=refund.id,
            refund_status=result.status,
        ),
        gateway.provider,
    )


async def execute_charge(db: Database, gateway: PaymentGateway, payment_id: int) -> None:
    """Charge a saved card for a pending off-session payment; a decline or a request
    for authentication becomes "awaiting client" with a pay link, through the same path
    as Stripe's own notice of it."""
    async with db.reading() as session:
        payment = await session.get(Payment, payment_id)
        if (
            payment is None
            or payment.state is not PaymentState.PENDING
            or payment.method is not PaymentMethod.CARD_SAVED
        ):
            return
        card = (
            await session.get(SavedCard, payment.saved_card_id)
            if payment.saved_card_id is not None
            else await saved_card_of(session, payment.client_id, payment.provider)
        )
        customer_id = card.customer_id if card is not None else ""
        if card is not None and not customer_id:
            customer_id = (
                await session.scalar(
                    select(PaymentCustomer.customer_id).where(
                        PaymentCustomer.client_id == card.client_id,
                        PaymentCustomer.provider == card.provider,
                    )
                )
                or ""
            )
    if card is None:
        result_kind, code, provider_id = EventKind.CHARGE_FAILED, "no_saved_card", None
    else:
        result = await gateway.charge_saved_card(
            ChargeRequest(
                payment_id=payment.id,
                appointment_id=payment.appointment_id,
                idempotency_key=payment.key("charge"),
                amount_minor=payment.amount_minor,
                currency=payment.currency,
                description=payment.kind.value.replace("_", " "),
                customer_id=customer_id,
                method_id=card.method_id,
            )
        )
        provider_id = result.provider_payment_id
        code = result.failure_code
        result_kind = (
            EventKind.CHARGE_SUCCEEDED
            if result.outcome is ChargeOutcome.SUCCEEDED
            else EventKind.CHARGE_FAILED
        )
    await apply_event(
        db,
        GatewayEvent(
            event_id=f"charge-result:{payment.key('charge')}",
            kind=result_kind,
            created=now_utc(),
            payment_id=payment.id,
            provider_payment_id=provider_id,
            failure_code=code,
        ),
        gateway.provider,
    )


__all__ = ["Calls", "execute_charge", "execute_pending", "settle_appointment"]
