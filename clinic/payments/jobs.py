"""What the worker does for payments: settle an appointment's payments after it is
cancelled, missed or confirmed; make refunds promised by an event; send the pay link of a
charge that needs the client, and the notice of a payment that came after its time was
taken; and, every few minutes, close checkouts that have run out without word from the
provider (the demo's, or Stripe's when a notice was lost)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select

from clinic.booking.jobs import email_context
from clinic.clock import now_utc
from clinic.outbox.models import OutboxMessage
from clinic.outbox.registry import HandlerContext, handles, periodic
from clinic.payments import SETTLE_PAYMENTS
from clinic.payments.checkout import HOLD_AFTER_CHECKOUT, KIND_WORDS
from clinic.payments.events import EXECUTE_REFUND, PAY_LINK_EMAIL, SLOT_LOST_EMAIL, apply_event
from clinic.payments.gateway import gateway_for
from clinic.payments.models import Payment
from clinic.payments.settlement import execute_pending, settle_appointment
from clinic.payments.states import PaymentState
from clinic.tokens import token_hash
from clinic.web.formatting import money

# Stripe sends its own notice when a checkout expires; ask only once it is overdue.
_GRACE = HOLD_AFTER_CHECKOUT / 5


@handles(SETTLE_PAYMENTS)
async def settle(ctx: HandlerContext, message: OutboxMessage) -> None:
    gateway = gateway_for(ctx.settings, ctx.db)
    await settle_appointment(ctx.db, gateway, int(message.payload["appointment_id"]))


@handles(EXECUTE_REFUND)
async def make_refunds(ctx: HandlerContext, message: OutboxMessage) -> None:
    async with ctx.db.reading() as session:
        appointment_id = await session.scalar(
            select(Payment.appointment_id).where(Payment.id == int(message.payload["payment_id"]))
        )
    if appointment_id is not None:
        await execute_pending(ctx.db, gateway_for(ctx.settings, ctx.db), appointment_id)


async def _payment_email(
    ctx: HandlerContext, message: OutboxMessage, template: str, *, pay_link: bool
) -> None:
    payment_id = int(message.payload["payment_id"])
    token = secrets.token_urlsafe(32) if pay_link else None
    async with ctx.db.transaction() as session:
        payment = await session.get(Payment, payment_id, with_for_update=True)
        if payment is None:
            return
        if pay_link:
            if payment.state is not PaymentState.AWAITING_CLIENT:
                # Paid or waived meanwhile: no link to send.
                return
            assert token is not None
            payment.pay_token_hash = token_hash(token)
        appointment_id = payment.appointment_id
        amount = money(payment.amount_minor, payment.currency)
        what = KIND_WORDS[payment.kind]
    context = await email_context(ctx, appointment_id, with_link=False)
    if context is None:
        return
    context.update(
        {
            "amount": amount,
            "what": what.lower(),
            "pay_url": f"{ctx.settings.base_url}/pay/{token}" if token else None,
        }
    )
    await ctx.send_email(message, to=context["to"], template=template, context=context)


@handles(PAY_LINK_EMAIL)
async def send_pay_link(ctx: HandlerContext, message: OutboxMessage) -> None:
    await _payment_email(ctx, message, "payment_link", pay_link=True)


@handles(SLOT_LOST_EMAIL)
async def send_slot_lost(ctx: HandlerContext, message: OutboxMessage) -> None:
    await _payment_email(ctx, message, "payment_slot_lost", pay_link=False)


@periodic("payments.close_checkouts", every=timedelta(minutes=2))
async def close_run_out_checkouts(ctx: HandlerContext) -> int:
    """Checkouts past their end with no word: ask the provider what became of each."""
    gateway = gateway_for(ctx.settings, ctx.db)
    async with ctx.db.reading() as session:
        rows = list(
            await session.execute(
                select(Payment.checkout_id).where(
                    Payment.state == PaymentState.PENDING,
                    Payment.provider == gateway.provider,
                    Payment.checkout_id.is_not(None),
                    Payment.checkout_expires_at <= now_utc() - _GRACE,
                )
            )
        )
    closed = 0
    for (checkout_id,) in rows:
        assert checkout_id is not None
        event = await gateway.checkout_result(checkout_id)
        if event is not None:
            await apply_event(ctx.db, event, gateway.provider)
            closed += 1
    return closed
