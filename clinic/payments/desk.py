"""The desk's side of the ledger: payments taken at the desk (cash, the clinic's own card
machine, a bank transfer) with tips, refunds staff decide on, what an appointment has
been charged and paid (the balance due), its receipt, and a day's takings by method."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.booking.models import Appointment
from clinic.booking.policies import settle
from clinic.booking.service import day_bounds
from clinic.booking.statuses import AppointmentStatus
from clinic.clock import now_utc
from clinic.db import Database, with_retries
from clinic.errors import Conflict, InvalidInput, NotFound
from clinic.options import get_option
from clinic.outbox.service import enqueue
from clinic.payments.events import EXECUTE_REFUND
from clinic.payments.ledger import (
    add_refund,
    applied_to_visit,
    audit_new,
    move,
    new_key,
    payments_of,
    queue_receipt,
    queue_refund_notice,
)
from clinic.payments.models import Payment, Refund, SavedCard
from clinic.payments.pricing import (
    RECEIPT_OPTION,
    ReceiptSettings,
    TaxLines,
    receipt_settings_from,
    tax_lines,
)
from clinic.payments.settlement import DESK
from clinic.payments.states import (
    DESK_METHODS,
    PaymentKind,
    PaymentMethod,
    PaymentState,
    RefundReason,
    RefundState,
)
from clinic.web.formatting import money

MAX_AMOUNT = 10_000_000  # minor units: far above any visit, well inside an integer
# Money is taken at the desk for visits that happened or are about to.
PAYABLE = (
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.PENDING_CLEARANCE,
    AppointmentStatus.CHECKED_IN,
    AppointmentStatus.COMPLETED,
    AppointmentStatus.CANCELLED,
    AppointmentStatus.NO_SHOW,
)


@dataclass(frozen=True)
class Account:
    """What a visit costs, what has been paid towards it, and what is left."""

    appointment_id: int
    currency: str
    # The price (with tax) for a visit that goes ahead; the fee for one cancelled or missed.
    charges_minor: int
    paid_minor: int
    tips_minor: int
    refunded_minor: int
    tax: TaxLines
    payments: list[Payment]
    refunds: list[Refund]

    @property
    def balance_minor(self) -> int:
        return max(self.charges_minor - self.paid_minor, 0)

    @property
    def credit_minor(self) -> int:
        """Paid beyond the charges and not yet refunded."""
        return max(self.paid_minor - self.charges_minor, 0)


class Charged(Protocol):
    """What a visit's charges are read from: an Appointment, or the desk's card row."""

    @property
    def status(self) -> AppointmentStatus: ...
    @property
    def fee_minor(self) -> int: ...
    @property
    def price_minor(self) -> int: ...


def charges_of(appointment: Charged, receipt: ReceiptSettings) -> TaxLines:
    if appointment.status in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW):
        return TaxLines(appointment.fee_minor, 0, appointment.fee_minor)
    return tax_lines(appointment.price_minor, receipt)


async def receipt_settings(session: AsyncSession) -> ReceiptSettings:
    return receipt_settings_from(await get_option(session, RECEIPT_OPTION))


async def account_of(session: AsyncSession, appointment: Appointment) -> Account:
    receipt = await receipt_settings(session)
    payments = await payments_of(session, appointment.id)
    refunds = list(
        await session.scalars(
            select(Refund)
            .where(Refund.payment_id.in_([p.id for p in payments]))
            .order_by(Refund.id)
        )
    )
    captured = [p for p in payments if p.state in (PaymentState.SUCCEEDED, PaymentState.REFUNDED)]
    tax = charges_of(appointment, receipt)
    return Account(
        appointment_id=appointment.id,
        currency=appointment.currency,
        charges_minor=tax.gross_minor,
        paid_minor=sum(applied_to_visit(p) for p in captured),
        tips_minor=sum(p.tip_minor for p in captured),
        refunded_minor=sum(r.amount_minor for r in refunds if r.state is not RefundState.FAILED),
        tax=tax,
        payments=payments,
        refunds=refunds,
    )


async def paid_in(session: AsyncSession, appointment_id: int) -> int:
    """What has been paid towards a visit so far (refunds out, tips aside)."""
    return sum(applied_to_visit(p) for p in await payments_of(session, appointment_id))


async def paid_towards(db: Database, appointment_id: int) -> int:
    async with db.reading() as session:
        return await paid_in(session, appointment_id)


def money_after_cancelling(
    *, paid_minor: int, fee_minor: int, currency: str, has_card: bool
) -> list[str]:
    """What a fee (or none) does to what the client has paid, in the client's words: for
    the cancel page, its answer, and the cancellation email."""
    if paid_minor <= 0:
        return []
    owed = settle(fee_minor=fee_minor, paid_minor=paid_minor)
    paid = money(paid_minor, currency)
    if owed.charge_minor == 0:
        if owed.refund_minor == paid_minor:
            return [f"You paid {paid}: it is refunded in full to your card."]
        if owed.refund_minor:
            refund = money(owed.refund_minor, currency)
            return [f"The fee comes out of the {paid} you paid; {refund} is refunded to your card."]
        return [f"The fee is covered by the {paid} you paid."]
    rest = money(owed.charge_minor, currency)
    where = (
        "is charged to the card you saved"
        if has_card
        else "is due: the clinic will contact you about it"
    )
    return [f"The {paid} you paid counts towards the fee; the rest, {rest}, {where}."]


async def client_has_card(session: AsyncSession, client_id: int) -> bool:
    found = await session.scalar(
        select(SavedCard.id)
        .where(SavedCard.client_id == client_id, SavedCard.removed_at.is_(None))
        .limit(1)
    )
    return found is not None


async def has_saved_card(db: Database, client_id: int) -> bool:
    async with db.reading() as session:
        return await client_has_card(session, client_id)


@dataclass(frozen=True)
class DeskPayment:
    amount_minor: int
    tip_minor: int
    method: PaymentMethod
    reference: str

    def problems(self) -> dict[str, str]:
        errors: dict[str, str] = {}
        if self.method not in DESK_METHODS:
            errors["method"] = "Choose cash, card machine or bank transfer"
        if self.amount_minor <= 0:
            errors["amount"] = "Enter the amount taken for the visit (a tip goes beside it)"
        elif self.amount_minor > MAX_AMOUNT:
            errors["amount"] = "Enter an amount the size of a visit"
        if not 0 <= self.tip_minor <= MAX_AMOUNT:
            errors["tip"] = "Enter a tip of 0 or more"
        if len(self.reference) > 200:
            errors["reference"] = "The reference must be 200 characters or fewer"
        if self.method is PaymentMethod.BANK_TRANSFER and not self.reference.strip():
            errors["reference"] = "Enter the bank's reference for the transfer"
        return errors


async def record_desk_payment(
    db: Database, appointment_id: int, taken: DeskPayment, *, staff_user_id: int
) -> int:
    """Record money taken at the desk: no provider is called, the ledger is the record."""
    if errors := taken.problems():
        raise InvalidInput("Check the payment.", field_errors=errors)

    async def attempt() -> int:
        async with db.transaction() as session:
            appointment = await session.get(Appointment, appointment_id, with_for_update=True)
            if appointment is None or appointment.client_id is None:
                raise NotFound("There is no such appointment.")
            if appointment.status not in PAYABLE:
                raise Conflict("This appointment is not booked, so nothing is due on it.")
            amount = taken.amount_minor
            payment = Payment(
                appointment_id=appointment.id,
                client_id=appointment.client_id,
                kind=PaymentKind.BALANCE,
                method=taken.method,
                state=PaymentState.SUCCEEDED,
                amount_minor=amount,
                tip_minor=taken.tip_minor,
                currency=appointment.currency,
                provider=DESK,
                idempotency_key=new_key(),
                reference=taken.reference.strip(),
                recorded_by_user_id=staff_user_id,
                succeeded_at=now_utc(),
            )
            session.add(payment)
            await session.flush()
            audit_new(session, payment, actor_user_id=staff_user_id)
            queue_receipt(session, payment)
            await _close_pay_links_if_settled(session, appointment, staff_user_id)
            return payment.id

    return await with_retries(attempt)


async def _close_pay_links_if_settled(
    session: AsyncSession, appointment: Appointment, staff_user_id: int
) -> None:
    """Money taken at the desk that settles the visit closes the fees still waiting for
    the client, so they cannot be paid twice (their pay links say so)."""
    account = await account_of(session, appointment)
    if account.balance_minor > 0:
        return
    for payment in account.payments:
        if payment.state is PaymentState.AWAITING_CLIENT:
            move(
                session,
                payment,
                PaymentState.CANCELLED,
                actor_user_id=staff_user_id,
                details={"reason": "paid at the desk"},
            )


async def refund_by_staff(
    db: Database, payment_id: int, amount_minor: int, *, note: str, staff_user_id: int
) -> int:
    """A refund the desk decides on; never more than is left on the payment. Money taken
    at the desk is handed back there (settled at once); card payments go to the provider."""
    if amount_minor <= 0 or amount_minor > MAX_AMOUNT:
        raise InvalidInput(
            "Check the refund.", field_errors={"amount": "Enter the amount to refund"}
        )

    async def attempt() -> int:
        async with db.transaction() as session:
            payment = await session.get(Payment, payment_id, with_for_update=True)
            if payment is None:
                raise NotFound("There is no such payment.")
            if amount_minor > payment.refundable_minor:
                raise InvalidInput(
                    "Check the refund.",
                    field_errors={"amount": "That is more than is left to refund on this payment"},
                )
            refund = add_refund(
                session,
                payment,
                amount_minor,
                RefundReason.STAFF,
                note=note,
                requested_by_user_id=staff_user_id,
                settled=payment.provider == DESK,
            )
            await session.flush()
            if refund.state is RefundState.SUCCEEDED:
                # Handed back at the desk: made already, so the client hears of it now.
                queue_refund_notice(session, refund)
            if payment.provider != DESK:
                # Made by the caller at once if it can; the worker retries it otherwise.
                enqueue(session, EXECUTE_REFUND, {"payment_id": payment.id})
            return refund.id

    return await with_retries(attempt)


@dataclass(frozen=True)
class Takings:
    day: date
    currency: str
    # Method -> (count, amount, tips), money in; refunds given out on the day by method.
    taken: dict[PaymentMethod, tuple[int, int, int]]
    refunded: dict[PaymentMethod, int]

    @property
    def total_minor(self) -> int:
        return sum(amount + tips for _, amount, tips in self.taken.values()) - sum(
            self.refunded.values()
        )


async def takings_on(session: AsyncSession, day: date, zone: ZoneInfo, currency: str) -> Takings:
    start, end = day_bounds(day, zone)
    taken: dict[PaymentMethod, tuple[int, int, int]] = {}
    rows = await session.execute(
        select(Payment.method, Payment.amount_minor, Payment.tip_minor).where(
            Payment.succeeded_at >= start,
            Payment.succeeded_at < end,
            Payment.state.in_((PaymentState.SUCCEEDED, PaymentState.REFUNDED)),
        )
    )
    for method, amount, tip in rows:
        count, total, tips = taken.get(method, (0, 0, 0))
        taken[method] = (count + 1, total + amount, tips + tip)
    refunded: dict[PaymentMethod, int] = {}
    refund_rows = await session.execute(
        select(Payment.method, Refund.amount_minor)
        .join(Payment, Payment.id == Refund.payment_id)
        .where(
            Refund.succeeded_at >= start,
            Refund.succeeded_at < end,
            Refund.state == RefundState.SUCCEEDED,
        )
    )
    for method, amount in refund_rows:
        refunded[method] = refunded.get(method, 0) + amount
    return Takings(day=day, currency=currency, taken=taken, refunded=refunded)
