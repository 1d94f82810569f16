"""The client's receipt for each payment that succeeds and notice of each refund that is
made. Both are queued by the ledger in the transaction that moved the money
(`ledger.queue_receipt`, `ledger.queue_refund_notice`), so each goes out once per payment or
refund, whichever path moved it: Stripe's webhooks, the return from a checkout, the demo
checkout, an off-session charge, or the desk.

They say what is true when they are sent: the amount, what it paid for (the service's
public name, the visit's date and time in the location's zone), the method in plain words
with at most a saved card's brand and last four digits, what is left to pay, and the
clinic's address and phone. Nothing clinical: no intake, no plan, no clearance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from clinic.booking.jobs import email_context
from clinic.booking.models import Appointment
from clinic.outbox.models import OutboxMessage
from clinic.outbox.registry import HandlerContext, handles
from clinic.payments.checkout import KIND_WORDS
from clinic.payments.desk import PAYABLE, account_of
from clinic.payments.ledger import RECEIPT_EMAIL, REFUND_EMAIL
from clinic.payments.models import Payment, Refund, SavedCard
from clinic.payments.states import CAPTURED, PaymentMethod, RefundState
from clinic.scheduling.models import Location
from clinic.web.formatting import clock_time, long_date, money

# How the client paid, in their words.
PAID_WITH = {
    PaymentMethod.CARD_ONLINE: "Card, paid online",
    PaymentMethod.CARD_SAVED: "Your saved card",
    PaymentMethod.CASH: "Cash, at the clinic",
    PaymentMethod.TERMINAL: "Card, at the clinic",
    PaymentMethod.BANK_TRANSFER: "Bank transfer",
}
CARD_TIME = (
    "Card refunds usually reach your account in 5 to 10 business days, depending on your bank."
)


@dataclass(frozen=True)
class RefundRoute:
    # Where the money went: "to the card you paid with".
    to: str
    # How long it usually takes to arrive.
    takes: str


REFUND_ROUTES = {
    PaymentMethod.CARD_ONLINE: RefundRoute("to the card you paid with", CARD_TIME),
    PaymentMethod.CARD_SAVED: RefundRoute("to the card you paid with", CARD_TIME),
    PaymentMethod.TERMINAL: RefundRoute("to the card you paid with at the clinic", CARD_TIME),
    PaymentMethod.CASH: RefundRoute("in cash at the clinic", "It was handed back to you there."),
    PaymentMethod.BANK_TRANSFER: RefundRoute(
        "by bank transfer", "A bank transfer usually arrives in 1 to 3 business days."
    ),
}


def card_words(card: SavedCard | None) -> str:
    """ "Visa ending 4242", or nothing: never more of a card than its brand and last four."""
    if card is None:
        return ""
    return f"{card.brand.title()} ending {card.last4[-4:]}"


@dataclass(frozen=True)
class _Facts:
    payment: Payment
    card: SavedCard | None
    zone: ZoneInfo
    # What is left to pay for the visit (or its fee), when the visit is one money is due on.
    left_minor: int | None


async def _facts(ctx: HandlerContext, payment_id: int) -> _Facts | None:
    async with ctx.db.reading() as session:
        row = (
            await session.execute(
                select(Payment, Appointment, Location.timezone)
                .join(Appointment, Appointment.id == Payment.appointment_id)
                .join(Location, Location.id == Appointment.location_id)
                .where(Payment.id == payment_id)
            )
        ).one_or_none()
        if row is None:
            return None
        payment, appointment, timezone = row
        card = (
            await session.get(SavedCard, payment.saved_card_id)
            if payment.saved_card_id is not None
            else None
        )
        left = None
        if appointment.status in PAYABLE:
            # A time lost before the payment came is not a visit anything is due on.
            left = (await account_of(session, appointment)).balance_minor
    return _Facts(payment, card, ZoneInfo(timezone), left)


def _method_words(facts: _Facts) -> str:
    words = PAID_WITH[facts.payment.method]
    card = card_words(facts.card)
    return f"{words} ({card})" if card else words


async def _visit_context(ctx: HandlerContext, facts: _Facts) -> dict[str, Any] | None:
    """The visit's words (service, date, time, zone, place, phone) and the payment's."""
    context = await email_context(ctx, facts.payment.appointment_id, with_link=False)
    if context is None:
        return None
    payment = facts.payment
    context.update(
        {
            "what": KIND_WORDS[payment.kind],
            "method": _method_words(facts),
            "receipt_number": payment.id,
        }
    )
    return context


@handles(RECEIPT_EMAIL)
async def send_receipt(ctx: HandlerContext, message: OutboxMessage) -> None:
    facts = await _facts(ctx, int(message.payload["payment_id"]))
    if facts is None or facts.payment.state not in CAPTURED:
        return
    context = await _visit_context(ctx, facts)
    if context is None:
        return
    payment, currency = facts.payment, facts.payment.currency
    paid_at = payment.succeeded_at or payment.created_at
    context.update(
        {
            "amount": money(payment.amount_minor + payment.tip_minor, currency),
            "tip": money(payment.tip_minor, currency) if payment.tip_minor else None,
            "paid_on": f"{long_date(paid_at, facts.zone)} at {clock_time(paid_at, facts.zone)}",
            "left_to_pay": (money(facts.left_minor, currency) if facts.left_minor else None),
            "paid_up": facts.left_minor == 0,
        }
    )
    await ctx.send_email(message, to=context["to"], template="payment_receipt", context=context)


@handles(REFUND_EMAIL)
async def send_refund_notice(ctx: HandlerContext, message: OutboxMessage) -> None:
    async with ctx.db.reading() as session:
        refund = await session.get(Refund, int(message.payload["refund_id"]))
    if refund is None or refund.state is not RefundState.SUCCEEDED:
        # Failed since it was made: the desk sorts that out with the client.
        return
    facts = await _facts(ctx, refund.payment_id)
    if facts is None:
        return
    context = await _visit_context(ctx, facts)
    if context is None:
        return
    route = REFUND_ROUTES[facts.payment.method]
    card = card_words(facts.card)
    made_at = refund.succeeded_at or refund.created_at
    context.update(
        {
            "amount": money(refund.amount_minor, facts.payment.currency),
            "paid": money(
                facts.payment.amount_minor + facts.payment.tip_minor, facts.payment.currency
            ),
            "refund_to": f"{route.to} ({card})" if card else route.to,
            "takes": route.takes,
            "refunded_on": long_date(made_at, facts.zone),
        }
    )
    await ctx.send_email(message, to=context["to"], template="refund_notice", context=context)
