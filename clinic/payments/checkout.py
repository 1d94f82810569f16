"""Online payment at booking: the client's held time is kept for them while they pay a
deposit or the full price on the provider's hosted checkout page (or, for a visit that
waits for a physician's clearance, only save their card: nothing is charged until the
visit is confirmed). The booking itself is made by the payment's event
(clinic/payments/events.py), whichever of the webhook and the client's return comes first."""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from clinic.booking.bookings import ClientDetails, reserve_hold
from clinic.booking.models import Appointment
from clinic.booking.policy_store import stored_policies
from clinic.booking.statuses import AppointmentStatus
from clinic.clients.models import Client, Consent, ConsentKind
from clinic.clock import now_utc
from clinic.db import Database
from clinic.errors import ClinicError, Conflict, NotFound
from clinic.options import get_option
from clinic.payments.ledger import FEE_KINDS, audit_new, move, new_key
from clinic.payments.models import Payment, PaymentCustomer
from clinic.payments.port import (
    Checkout,
    CheckoutRequest,
    Customer,
    GatewayUnavailable,
    PaymentGateway,
)
from clinic.payments.pricing import (
    RECEIPT_OPTION,
    OnlinePayment,
    online_payment,
    receipt_settings_from,
    tax_lines,
)
from clinic.payments.states import PaymentKind, PaymentMethod, PaymentState
from clinic.scheduling.models import Service
from clinic.tokens import token_hash

# Stripe accepts 30 minutes to 24 hours; 32 leaves room for clock drift. The hold is kept
# five minutes past the page's end, so a payment made in its last second still finds it.
CHECKOUT_LIFETIME = timedelta(minutes=32)
HOLD_AFTER_CHECKOUT = timedelta(minutes=5)
CARD_TERMS_VERSION = "card-on-file-1"

KIND_WORDS = {
    PaymentKind.DEPOSIT: "Deposit",
    PaymentKind.FULL: "Payment",
    PaymentKind.BALANCE: "Balance",
    PaymentKind.LATE_CANCELLATION_FEE: "Late cancellation fee",
    PaymentKind.NO_SHOW_FEE: "Missed appointment fee",
}


async def online_payment_for_hold(db: Database, hold_token: str) -> OnlinePayment | None:
    """What the client pays online for the time they hold (None: pay at the visit)."""
    async with db.reading() as session:
        row = (
            await session.execute(
                select(Appointment.price_minor, Appointment.currency, Service)
                .join(Service, Service.id == Appointment.service_id)
                .where(Appointment.hold_token_hash == token_hash(hold_token))
            )
        ).one_or_none()
        if row is None:
            return None
        price, currency, service = row
        policies = await stored_policies(session)
        receipt = receipt_settings_from(await get_option(session, RECEIPT_OPTION))
    return online_payment(
        policies,
        price_minor=tax_lines(price, receipt).gross_minor,
        currency=currency,
        service_kind=service.deposit_kind,
        service_value=service.deposit_value,
    )


@dataclass(frozen=True)
class Started:
    checkout: Checkout
    payment_id: int


async def start_booking_checkout(
    db: Database,
    gateway: PaymentGateway,
    *,
    hold_token: str,
    client: ClientDetails,
    due: OnlinePayment,
    base_url: str,
    intake_token: str | None = None,
    cancer_history: bool | None = None,
) -> Started:
    """Keep the held time for the client and open a checkout page for what is due. The
    client has agreed to the fee terms and to their card being kept for them."""
    now = now_utc()
    expires_at = now + CHECKOUT_LIFETIME
    reserved = await reserve_hold(
        db,
        hold_token=hold_token,
        client=client,
        hold_until=expires_at + HOLD_AFTER_CHECKOUT,
        intake_token=intake_token,
        cancer_history=cancer_history,
    )
    waits_for_clearance = reserved.books_as is AppointmentStatus.PENDING_CLEARANCE
    return_token = secrets.token_urlsafe(32)
    async with db.transaction() as session:
        appointment = await session.get(Appointment, reserved.appointment_id)
        assert appointment is not None
        # A checkout started earlier for this hold is given up (the client came back).
        earlier = list(
            await session.scalars(
                select(Payment)
                .where(
                    Payment.appointment_id == appointment.id,
                    Payment.state == PaymentState.PENDING,
                )
                .with_for_update()
            )
        )
        for payment in earlier:
            move(session, payment, PaymentState.CANCELLED, actor_label="client")
        session.add(
            Consent(
                client_id=reserved.client_id,
                kind=ConsentKind.CARD_ON_FILE,
                terms_version=CARD_TERMS_VERSION,
                given_at=now,
            )
        )
        payment = Payment(
            appointment_id=appointment.id,
            client_id=reserved.client_id,
            kind=due.kind,
            method=PaymentMethod.CARD_ONLINE,
            state=PaymentState.PENDING,
            amount_minor=due.amount_minor,
            currency=appointment.currency,
            provider=gateway.provider,
            idempotency_key=new_key(),
            save_card=True,
            card_only=waits_for_clearance,
            return_token_hash=token_hash(return_token),
            checkout_expires_at=expires_at,
        )
        session.add(payment)
        await session.flush()
        audit_new(session, payment, actor_label="client")
        service_name = await session.scalar(
            select(Service.public_name).where(Service.id == appointment.service_id)
        )
        earlier_checkouts = [p.checkout_id for p in earlier if p.checkout_id]
        payment_id, key, currency = payment.id, payment.key("checkout"), payment.currency
    for checkout_id in earlier_checkouts:
        # Should it still be paid, its event refunds it (the payment is cancelled).
        with contextlib.suppress(ClinicError):
            await gateway.expire_checkout(checkout_id)
    description = f"{KIND_WORDS[due.kind]}: {service_name}"
    request = CheckoutRequest(
        payment_id=payment_id,
        appointment_id=reserved.appointment_id,
        idempotency_key=key,
        mode="setup" if waits_for_clearance else "payment",
        amount_minor=due.amount_minor,
        currency=currency,
        description=description,
        customer_id="",
        save_card=True,
        success_url=f"{base_url}/book/paid/{return_token}?session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{base_url}/book/check",
        expires_at=expires_at,
    )
    return Started(await _open_checkout(db, gateway, request, reserved.client_id), payment_id)


async def _open_checkout(
    db: Database, gateway: PaymentGateway, request: CheckoutRequest, client_id: int
) -> Checkout:
    """Open the provider's page; a provider that cannot be reached leaves nothing open."""
    try:
        customer_id = await customer_for(db, gateway, client_id)
        checkout = await gateway.start_checkout(
            CheckoutRequest(**{**request.__dict__, "customer_id": customer_id})
        )
    except ClinicError:
        async with db.transaction() as session:
            payment = await session.get(Payment, request.payment_id, with_for_update=True)
            if payment is not None:
                payment.failure_code = "provider_unavailable"
                back = (
                    PaymentState.AWAITING_CLIENT
                    if payment.kind in FEE_KINDS or payment.kind is PaymentKind.BALANCE
                    else PaymentState.CANCELLED
                )
                move(session, payment, back, details={"reason": "provider unavailable"})
        raise
    async with db.transaction() as session:
        payment = await session.get(Payment, request.payment_id, with_for_update=True)
        assert payment is not None
        payment.checkout_id = checkout.checkout_id
        payment.checkout_url = checkout.url
        payment.checkout_expires_at = checkout.expires_at
    return checkout


async def customer_for(db: Database, gateway: PaymentGateway, client_id: int) -> str:
    """The client's customer at the provider, created once per client and account mode."""
    async with db.reading() as session:
        existing = await session.scalar(
            select(PaymentCustomer.customer_id).where(
                PaymentCustomer.client_id == client_id,
                PaymentCustomer.provider == gateway.provider,
                PaymentCustomer.mode == gateway.account_mode,
            )
        )
        if existing is not None:
            return existing
        client = await session.get(Client, client_id)
        if client is None:
            raise NotFound("There is no such client.")
        customer = Customer(client_id=client_id, email=client.email or "", name=client.name)
    customer_id = await gateway.ensure_customer(customer, existing_id=None)
    try:
        async with db.transaction() as session:
            session.add(
                PaymentCustomer(
                    client_id=client_id,
                    provider=gateway.provider,
                    mode=gateway.account_mode,
                    customer_id=customer_id,
                )
            )
    except IntegrityError:
        # Another request made it first (the provider gave it the same customer).
        async with db.reading() as session:
            stored = await session.scalar(
                select(PaymentCustomer.customer_id).where(
                    PaymentCustomer.client_id == client_id,
                    PaymentCustomer.provider == gateway.provider,
                    PaymentCustomer.mode == gateway.account_mode,
                )
            )
        if stored is None:
            raise
        return stored
    return customer_id


async def start_pay_link_checkout(
    db: Database, gateway: PaymentGateway, *, pay_token: str, base_url: str
) -> Checkout:
    """The client opened the pay link of a fee or balance their saved card could not
    pay: a new checkout page for it (a new attempt, so a new idempotency key)."""
    async with db.transaction() as session:
        payment = await session.scalar(
            select(Payment).where(Payment.pay_token_hash == token_hash(pay_token)).with_for_update()
        )
        if payment is None:
            raise NotFound("We could not find that payment. The link may be old: call the clinic.")
        if payment.state is PaymentState.PENDING and payment.checkout_url:
            expires = payment.checkout_expires_at
            if expires is not None and expires > now_utc() + timedelta(minutes=2):
                return Checkout(payment.checkout_id or "", payment.checkout_url, expires)
        if payment.state not in (PaymentState.AWAITING_CLIENT, PaymentState.PENDING):
            raise Conflict("This has been paid or is no longer due. Thank you.")
        move(session, payment, PaymentState.PENDING, actor_label="client")
        payment.attempts += 1
        # Paid by hand this time: the card used is not kept.
        payment.save_card = False
        expires_at = now_utc() + CHECKOUT_LIFETIME
        payment.checkout_expires_at = expires_at
        service_name = await session.scalar(
            select(Service.public_name)
            .join(Appointment, Appointment.service_id == Service.id)
            .where(Appointment.id == payment.appointment_id)
        )
        client_id = payment.client_id
        request = CheckoutRequest(
            payment_id=payment.id,
            appointment_id=payment.appointment_id,
            idempotency_key=payment.key("checkout"),
            mode="payment",
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            description=f"{KIND_WORDS[payment.kind]}: {service_name}",
            customer_id="",
            save_card=False,
            success_url=f"{base_url}/pay/{pay_token}/return",
            cancel_url=f"{base_url}/pay/{pay_token}",
            expires_at=expires_at,
        )
    if client_id is None:
        raise GatewayUnavailable()
    return await _open_checkout(db, gateway, request, client_id)


async def payment_for_return(db: Database, token: str) -> Payment | None:
    async with db.reading() as session:
        return await session.scalar(
            select(Payment).where(Payment.return_token_hash == token_hash(token))
        )
