"""The client's payment pages and Stripe's webhook: the return from a checkout page (which
books the held time if the webhook has not yet), the pay link of a fee a saved card could
not pay, the offline demo's checkout page, and /payments/stripe/webhook."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from clinic.booking.bookings import new_manage_link
from clinic.booking.models import Appointment
from clinic.booking.pages.choices import load_clinic
from clinic.booking.pages.cookies import DETAILS_COOKIE, HOLD_COOKIE, INTAKE_COOKIE, clear_cookie
from clinic.booking.pages.forms import page_url, render, see_other
from clinic.booking.statuses import AppointmentStatus
from clinic.clock import now_utc
from clinic.errors import ClinicError, NotFound
from clinic.payments.checkout import (
    KIND_WORDS,
    payment_for_return,
    start_pay_link_checkout,
)
from clinic.payments.events import apply_event
from clinic.payments.gateway import gateway_for
from clinic.payments.ledger import BOOKING_KINDS
from clinic.payments.models import Payment
from clinic.payments.offline import DEMO_CARDS, card_method_id, new_id
from clinic.payments.port import BadSignature, Card, EventKind, GatewayEvent, PaymentGateway
from clinic.payments.states import PaymentState
from clinic.scheduling.models import Location, Service
from clinic.settings import PaymentsMode
from clinic.tokens import token_hash
from clinic.web.context import db_of, settings_of
from clinic.web.errors import problem
from clinic.web.formatting import long_date, money

# Stripe's events are a few kilobytes; anything far larger is not from Stripe.
MAX_WEBHOOK_BYTES = 256 * 1024
BOOKED = (
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.PENDING_CLEARANCE,
    AppointmentStatus.CHECKED_IN,
    AppointmentStatus.COMPLETED,
)


def gateway_of(request: Request) -> PaymentGateway:
    return gateway_for(settings_of(request), db_of(request))


# --- Stripe's webhook -----------------------------------------------------------------


async def stripe_webhook(request: Request) -> Response:
    """Verified over the raw body; an event is applied once, whatever the order or the
    number of deliveries. 400 for a bad signature, 200 for events the clinic ignores,
    503 (Stripe retries) when the database is busy."""
    if settings_of(request).payments is not PaymentsMode.STRIPE:
        return problem(404, "This clinic does not take payments through Stripe.")
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_WEBHOOK_BYTES:
        return problem(413, "A payment notice is never this large.")
    body = await request.body()
    gateway = gateway_of(request)
    try:
        event = await gateway.read_webhook(body, request.headers)
    except BadSignature as bad:
        return problem(400, bad.message, title=bad.title)
    if event is None:
        return JSONResponse({"received": True, "outcome": "ignored"})
    applied = await apply_event(db_of(request), event, gateway.provider)
    return JSONResponse({"received": True, "outcome": applied.outcome})


# --- The client's return from a checkout page -----------------------------------------


async def _catch_up(request: Request, payment: Payment) -> Payment:
    """Ask the provider what became of a checkout the webhook has not reported yet, and
    apply it through the same path (whichever comes second does nothing)."""
    if payment.state is PaymentState.PENDING and payment.checkout_id:
        gateway = gateway_of(request)
        try:
            event = await gateway.checkout_result(payment.checkout_id)
        except ClinicError:
            event = None
        if event is not None:
            await apply_event(db_of(request), event, gateway.provider)
    async with db_of(request).reading() as session:
        fresh = await session.get(Payment, payment.id)
    assert fresh is not None
    return fresh


async def _page(
    request: Request, template: str, context: dict[str, Any], status: int = 200
) -> Response:
    """A payment page in the client pages' frame, named for the clinic."""
    async with db_of(request).reading() as session:
        clinic = await load_clinic(session, settings_of(request))
    return render(request, template, {"clinic": clinic, **context}, status)


async def _message(
    request: Request, heading: str, lines: list[str], *, status: int = 200, **extra: Any
) -> Response:
    context = {"page_heading": heading, "lines": lines, "again_url": None, "restart_url": None}
    return await _page(request, "payments/message.html", {**context, **extra}, status)


async def _after_booking_checkout(request: Request, payment: Payment) -> Response:
    """Where a client lands once a booking's checkout is over: their booking, or what
    happened instead."""
    db = db_of(request)
    async with db.transaction() as session:
        appointment = await session.get(Appointment, payment.appointment_id)
        assert appointment is not None
        phone = await session.scalar(
            select(Location.phone).where(Location.id == appointment.location_id)
        )
        booked = appointment.status in BOOKED and payment.state in (
            PaymentState.SUCCEEDED,
            PaymentState.SCHEDULED,
        )
        token = new_manage_link(session, appointment.id) if booked else None
    call = f" Call us on {phone} if you have any questions." if phone else ""
    response: Response
    if token is not None:
        response = see_other(page_url(request, "book:done", token=token))
    elif payment.state is PaymentState.PENDING:
        return await _message(
            request,
            "We are waiting for your payment to be confirmed",
            [
                "Your card company has not confirmed the payment yet. This usually takes "
                "a few seconds.",
                "Your time is still held for you. We will email you as soon as it is booked.",
            ],
            status=202,
            again_url=request.url.path,
        )
    elif payment.state in (PaymentState.REFUNDED, PaymentState.CANCELLED) or (
        payment.state is PaymentState.SUCCEEDED and appointment.status not in BOOKED
    ):
        response = await _message(
            request,
            "Your time was taken before your payment arrived",
            [
                "Someone else booked the time while your payment was on its way, so we could "
                "not book it for you.",
                "Any money taken is being refunded in full to your card. Nothing else is due."
                + call,
            ],
            status=409,
            restart_url=page_url(request, "book:service"),
        )
    else:
        response = await _message(
            request,
            "Your payment did not go through",
            [
                "Nothing was charged, and the time is no longer held for you. Choose a time "
                "again to book." + call
            ],
            status=409,
            restart_url=page_url(request, "book:service"),
        )
    settings = settings_of(request)
    for cookie in (HOLD_COOKIE, DETAILS_COOKIE, INTAKE_COOKIE):
        clear_cookie(response, settings, cookie)
    return response


async def booking_paid(request: Request) -> Response:
    payment = await payment_for_return(db_of(request), request.path_params["token"])
    if payment is None:
        raise NotFound(
            "We could not find that payment. If you paid, check your email for the "
            "confirmation, or call the clinic."
        )
    payment = await _catch_up(request, payment)
    return await _after_booking_checkout(request, payment)


# --- The pay link of a fee or balance --------------------------------------------------


async def _payment_by_pay_token(request: Request) -> Payment:
    token = request.path_params["token"]
    async with db_of(request).reading() as session:
        payment = await session.scalar(
            select(Payment).where(Payment.pay_token_hash == token_hash(token))
        )
    if payment is None:
        raise NotFound(
            "We could not find that payment. The link may be incomplete or replaced by a "
            "newer one: call the clinic and we will help."
        )
    return payment


async def _pay_page(
    request: Request, payment: Payment, *, error: str = "", status: int = 200
) -> Response:
    async with db_of(request).reading() as session:
        row = (
            await session.execute(
                select(Appointment.starts_at, Service.public_name, Location)
                .join(Service, Service.id == Appointment.service_id)
                .join(Location, Location.id == Appointment.location_id)
                .where(Appointment.id == payment.appointment_id)
            )
        ).one()
    starts_at, service_name, location = row
    zone = ZoneInfo(location.timezone)
    kind = KIND_WORDS[payment.kind]
    return render(
        request,
        "payments/pay_link.html",
        {
            "clinic_name": location.name,
            "page_heading": f"Pay your {kind.lower()}",
            "what": f"{kind} for {service_name} on {long_date(starts_at, zone)}",
            "amount": money(payment.amount_minor, payment.currency),
            "paid": payment.state is PaymentState.SUCCEEDED,
            "closed": payment.state
            not in (
                PaymentState.AWAITING_CLIENT,
                PaymentState.PENDING,
                PaymentState.SUCCEEDED,
            ),
            "phone": location.phone,
            "pay_url": page_url(request, "pay:start", token=request.path_params["token"]),
            "errors": {"payment": error} if error else {},
        },
        status,
    )


async def pay_link_page(request: Request) -> Response:
    return await _pay_page(request, await _payment_by_pay_token(request))


async def pay_link_submit(request: Request) -> Response:
    payment = await _payment_by_pay_token(request)
    try:
        checkout = await start_pay_link_checkout(
            db_of(request),
            gateway_of(request),
            pay_token=request.path_params["token"],
            base_url=settings_of(request).base_url,
        )
    except ClinicError as refused:
        return await _pay_page(request, payment, error=refused.message, status=refused.status_code)
    return see_other(checkout.url)


async def pay_link_return(request: Request) -> Response:
    payment = await _catch_up(request, await _payment_by_pay_token(request))
    return await _pay_page(request, payment)


# --- The offline demo's checkout page -------------------------------------------------


async def _demo_payment(request: Request) -> Payment:
    if settings_of(request).payments is not PaymentsMode.OFFLINE:
        raise NotFound("There is no such page.")
    checkout_id = request.path_params["checkout_id"]
    async with db_of(request).reading() as session:
        payment = await session.scalar(select(Payment).where(Payment.checkout_id == checkout_id))
    if payment is None:
        raise NotFound("There is no such checkout.")
    return payment


def _demo_open(payment: Payment) -> bool:
    expires = payment.checkout_expires_at
    return payment.state is PaymentState.PENDING and (expires is None or expires > now_utc())


async def _demo_page(
    request: Request,
    payment: Payment,
    *,
    card: str = "4242",
    error: str = "",
    authenticate: bool = False,
    status: int = 200,
) -> Response:
    return await _page(
        request,
        "payments/demo_checkout.html",
        {
            "page_heading": "Demo checkout",
            "payment": payment,
            "amount": money(payment.amount_minor, payment.currency),
            "open": _demo_open(payment),
            "cards": DEMO_CARDS,
            "card": card,
            "authenticate": authenticate,
            "errors": {"card": error} if error else {},
        },
        status,
    )


async def demo_checkout_page(request: Request) -> Response:
    payment = await _demo_payment(request)
    return await _demo_page(request, payment, status=200 if _demo_open(payment) else 410)


async def demo_checkout_submit(request: Request) -> Response:
    """Pay, decline or ask for authentication as Stripe's test cards do, then report it
    through the same path as Stripe's webhook."""
    payment = await _demo_payment(request)
    if not _demo_open(payment):
        return await _demo_page(request, payment, status=410)
    form = await request.form()
    card = str(form.get("card", ""))
    if card not in DEMO_CARDS:
        return await _demo_page(request, payment, error="Choose a test card", status=422)
    if card == "0002":
        return await _demo_page(
            request,
            payment,
            card=card,
            error="Your card was declined. Choose another card.",
            status=402,
        )
    if card == "3184":
        answer = form.get("authenticated")
        if answer is None:
            return await _demo_page(request, payment, card=card, authenticate=True)
        if answer != "yes":
            return await _demo_page(
                request,
                payment,
                card=card,
                error="The payment was not authenticated. Try again or choose another card.",
                status=402,
            )
    now = datetime.now(UTC)
    event = GatewayEvent(
        event_id=new_id("evt"),
        kind=EventKind.CHECKOUT_CARD_SAVED if payment.card_only else EventKind.CHECKOUT_PAID,
        created=now_utc(),
        payment_id=payment.id,
        checkout_id=payment.checkout_id,
        provider_payment_id=None if payment.card_only else new_id("pi"),
        amount_minor=payment.amount_minor,
        card=Card(card_method_id(card), "demo", card, 12, now.year + 3),
    )
    await apply_event(db_of(request), event, gateway_of(request).provider)
    async with db_of(request).reading() as session:
        fresh = await session.get(Payment, payment.id)
    assert fresh is not None
    if fresh.kind in BOOKING_KINDS:
        return await _after_booking_checkout(request, fresh)
    return await _message(
        request,
        "Payment received",
        [f"Thank you: {money(fresh.amount_minor, fresh.currency)} has been paid."],
    )
