"""The desk's payment pages: one visit's account (charges with tax, payments, refunds,
balance) with the forms to take a payment, refund one and mark a no-show; the printable
receipt; and a day's takings by method. The desk sees payment and schedule facts here,
never clinical ones (no intake, no plan): the receipt goes to clients and insurers.

Money typed at the desk is read with Decimal in the currency's own number of places and
kept in minor units; anything else is a field error, never a float or a 500."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clinic.auth.models import Role, User
from clinic.auth.web import requires, signed_in_staff
from clinic.booking.bookings import mark_no_show
from clinic.booking.models import Appointment
from clinic.booking.policies import no_show_fee, policies_from
from clinic.booking.service import day_bounds
from clinic.booking.statuses import AppointmentStatus
from clinic.clients.models import Client
from clinic.clock import now_utc, today_in
from clinic.errors import ClinicError, Conflict, InvalidInput, NotFound
from clinic.options import get_option
from clinic.outbox.service import enqueue
from clinic.payments.desk import (
    Account,
    DeskPayment,
    Takings,
    account_of,
    receipt_settings,
    record_desk_payment,
    refund_by_staff,
    takings_on,
)
from clinic.payments.events import EXECUTE_REFUND
from clinic.payments.gateway import gateway_for
from clinic.payments.ledger import saved_card_of
from clinic.payments.models import Payment, Refund, SavedCard
from clinic.payments.pricing import ReceiptSettings
from clinic.payments.settlement import DESK, execute_pending, settle_appointment
from clinic.payments.states import (
    DESK_METHODS,
    PaymentKind,
    PaymentMethod,
    PaymentState,
    RefundReason,
    RefundState,
)
from clinic.scheduling.models import Location, Service
from clinic.staff.models import Credential, CredentialKind, Therapist
from clinic.web.context import db_of, settings_of, templates_of
from clinic.web.flash import Category, flash
from clinic.web.formatting import money
from clinic.web.money_input import MoneyError, example_amount, major_units, parse_money

# Words the pages use

METHOD_WORDS = {
    PaymentMethod.CASH: "Cash",
    PaymentMethod.TERMINAL: "Card machine",
    PaymentMethod.BANK_TRANSFER: "Bank transfer",
    PaymentMethod.CARD_ONLINE: "Card, online",
    PaymentMethod.CARD_SAVED: "Saved card",
}
# The desk form's choices, in the order the radios show them.
DESK_CHOICES = tuple((method, METHOD_WORDS[method]) for method in DESK_METHODS)
# How the desk hands money back, by the method it was taken with.
GIVE_BACK_WORDS = {
    PaymentMethod.CASH: "in cash",
    PaymentMethod.TERMINAL: "on the card machine",
    PaymentMethod.BANK_TRANSFER: "by bank transfer",
}
# Takings list methods in this order.
METHOD_ORDER = (*DESK_METHODS, PaymentMethod.CARD_ONLINE, PaymentMethod.CARD_SAVED)
KIND_WORDS = {
    PaymentKind.DEPOSIT: "Deposit",
    PaymentKind.FULL: "Paid in full when booking",
    PaymentKind.BALANCE: "Payment",
    PaymentKind.LATE_CANCELLATION_FEE: "Late cancellation fee",
    PaymentKind.NO_SHOW_FEE: "Missed appointment fee",
}
STATE_WORDS = {
    PaymentState.PENDING: "Being taken: not paid yet",
    PaymentState.SCHEDULED: "Card saved: charged once the visit is confirmed",
    PaymentState.AWAITING_CLIENT: "Awaiting the client: not paid",
    PaymentState.SUCCEEDED: "Paid",
    PaymentState.FAILED: "Failed: not paid",
    PaymentState.EXPIRED: "Checkout ran out: not paid",
    PaymentState.CANCELLED: "Not needed: nothing taken",
    PaymentState.REFUNDED: "Refunded in full",
}
# Why an off-session charge needs the client, as the desk can say it to them.
FAILURE_WORDS = {
    "card_declined": "the saved card was declined",
    "authentication_required": "the card's bank wants the client to confirm the charge",
    "no_saved_card": "there is no card on file",
}
REFUND_STATE_WORDS = {
    RefundState.PENDING: "Being sent back to the card",
    RefundState.SUCCEEDED: "Refunded",
    RefundState.FAILED: "Failed: the money stayed with the clinic",
}
REFUND_REASON_WORDS = {
    RefundReason.CANCELLATION: "Cancelled in time",
    RefundReason.CLINIC_CANCELLED: "The clinic cancelled",
    RefundReason.MEDICALLY_EXCUSED: "Fee waived",
    RefundReason.SLOT_LOST: "The time was taken before payment arrived",
    RefundReason.STAFF: "Refunded by the desk",
}
# A visit may be marked missed once it has started, from these statuses.
NO_SHOW_FROM = (AppointmentStatus.CONFIRMED, AppointmentStatus.CHECKED_IN)
FEE_LABELS = {
    AppointmentStatus.NO_SHOW: "Missed appointment fee",
    AppointmentStatus.CANCELLED: "Late cancellation fee",
}
PAYMENT_FIELDS = ("method", "amount", "tip", "reference")
# Takings can be asked for any day in this range (day_bounds needs the day after).
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)


def _no_store(response: Response) -> Response:
    # Names and money: never kept by a browser or a proxy.
    response.headers["cache-control"] = "no-store"
    return response


def rate_words(basis_points: int) -> str:
    """825 -> "8.25%", 800 -> "8%"."""
    text = f"{Decimal(basis_points).scaleb(-2):.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


# What the pages read


@dataclass(frozen=True)
class Visit:
    appointment: Appointment
    client_name: str
    # What was treated, for the receipt (insurers ask); the desk's pages show the neutral
    # public name, as the day grid does, since a name like "Oncology massage" discloses.
    service_name: str
    public_service_name: str
    therapist_id: int
    therapist_name: str


@dataclass(frozen=True)
class PaymentLine:
    payment: Payment
    kind: str
    method: str
    state: str
    # Why a saved-card charge waits for the client, in words ("" otherwise).
    waiting_because: str
    taken_by: str
    at: datetime

    @property
    def refundable_minor(self) -> int:
        return self.payment.refundable_minor


@dataclass(frozen=True)
class RefundLine:
    refund: Refund
    payment: Payment
    method: str
    state: str
    reason: str
    by: str
    at: datetime


@dataclass(frozen=True)
class Ledger:
    """One visit's account as the desk sees it."""

    visit: Visit
    account: Account
    payments: list[PaymentLine]
    refunds: list[RefundLine]
    settings: ReceiptSettings
    card_on_file: str
    # The fee a no-show would cost, when the visit may be marked one now.
    no_show_fee_minor: int | None
    no_show_percent: int

    @property
    def charge_label(self) -> str:
        return FEE_LABELS.get(self.visit.appointment.status, "Price")

    @property
    def is_fee(self) -> bool:
        return self.visit.appointment.status in FEE_LABELS

    @property
    def refundable(self) -> list[PaymentLine]:
        return [line for line in self.payments if line.refundable_minor > 0]

    @property
    def waiting(self) -> list[PaymentLine]:
        return [p for p in self.payments if p.payment.state is PaymentState.AWAITING_CLIENT]


async def _visit(session: AsyncSession, appointment_id: int) -> Visit:
    row = (
        await session.execute(
            select(
                Appointment,
                Client.name,
                Service.name,
                Service.public_name,
                Therapist.id,
                Therapist.display_name,
            )
            .outerjoin(Client, Client.id == Appointment.client_id)
            .join(Therapist, Therapist.id == Appointment.therapist_id)
            .join(Service, Service.id == Appointment.service_id)
            .where(Appointment.id == appointment_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound("There is no such appointment.")
    appointment, client_name, service_name, public_name, therapist_id, therapist_name = row
    return Visit(
        appointment,
        client_name or "No client",
        service_name,
        public_name,
        therapist_id,
        therapist_name,
    )


async def _names(session: AsyncSession, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(User.id, User.name).where(User.id.in_(wanted)))
    return {int(row[0]): str(row[1]) for row in rows}


def _card_words(card: SavedCard) -> str:
    return f"{card.brand.title()} ending {card.last4}"


async def _saved_cards(session: AsyncSession, ids: Iterable[int | None]) -> dict[int, SavedCard]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {
        c.id: c for c in await session.scalars(select(SavedCard).where(SavedCard.id.in_(wanted)))
    }


async def _card_on_file(session: AsyncSession, client_id: int | None, provider: str) -> str:
    card = await saved_card_of(session, client_id, provider)
    return _card_words(card) if card is not None else ""


def _method_words(payment: Payment, cards: dict[int, SavedCard]) -> str:
    words = METHOD_WORDS[payment.method]
    card = cards.get(payment.saved_card_id) if payment.saved_card_id is not None else None
    if card is not None:
        words = f"{words} ({_card_words(card)})"
    return words


def _state_words(payment: Payment) -> str:
    words = STATE_WORDS[payment.state]
    if payment.state is PaymentState.SUCCEEDED and payment.refunded_minor:
        words = "Paid, partly refunded"
    return words


def _waiting_because(payment: Payment) -> str:
    if payment.state is not PaymentState.AWAITING_CLIENT:
        return ""
    reason = FAILURE_WORDS.get(payment.failure_code, "the charge needs the client")
    return f"{reason[0].upper()}{reason[1:]}. The client has been sent a link to pay."


async def ledger_of(session: AsyncSession, appointment_id: int, *, provider: str) -> Ledger:
    visit = await _visit(session, appointment_id)
    appointment = visit.appointment
    account = await account_of(session, appointment)
    settings = await receipt_settings(session)
    names = await _names(
        session,
        [p.recorded_by_user_id for p in account.payments]
        + [r.requested_by_user_id for r in account.refunds],
    )
    cards = await _saved_cards(session, [p.saved_card_id for p in account.payments])
    payments = [
        PaymentLine(
            payment=p,
            kind=KIND_WORDS[p.kind],
            method=_method_words(p, cards),
            state=_state_words(p),
            waiting_because=_waiting_because(p),
            taken_by=(
                names.get(p.recorded_by_user_id, "Staff")
                if p.recorded_by_user_id is not None
                else ("The client, online" if p.method is PaymentMethod.CARD_ONLINE else "")
            ),
            at=p.succeeded_at or p.created_at,
        )
        for p in account.payments
    ]
    by_id = {p.id: p for p in account.payments}
    refunds = [
        RefundLine(
            refund=r,
            payment=by_id[r.payment_id],
            method=_method_words(by_id[r.payment_id], cards),
            state=REFUND_STATE_WORDS[r.state],
            reason=REFUND_REASON_WORDS[r.reason],
            by=names.get(r.requested_by_user_id, "Staff")
            if r.requested_by_user_id is not None
            else "Automatic",
            at=r.succeeded_at or r.created_at,
        )
        for r in account.refunds
    ]
    policies = policies_from(await get_option(session, "booking.policies"))
    may_miss = appointment.status in NO_SHOW_FROM and appointment.starts_at <= now_utc()
    return Ledger(
        visit=visit,
        account=account,
        payments=payments,
        refunds=refunds,
        settings=settings,
        card_on_file=await _card_on_file(session, appointment.client_id, provider),
        no_show_fee_minor=no_show_fee(policies, appointment.price_minor) if may_miss else None,
        no_show_percent=policies.no_show_fee_percent,
    )


# The visit's payments page and its forms


def _provider(request: Request) -> str:
    return gateway_for(settings_of(request), db_of(request)).provider


async def _render_payments(
    request: Request,
    appointment_id: int,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with db_of(request).reading() as session:
        ledger = await ledger_of(session, appointment_id, provider=_provider(request))
    currency = ledger.account.currency
    shown = dict(values or {})
    shown.setdefault(
        "amount",
        major_units(ledger.account.balance_minor, currency) if ledger.account.balance_minor else "",
    )
    response = templates_of(request).TemplateResponse(
        request,
        "desk/payments.html",
        {
            "ledger": ledger,
            "visit": ledger.visit,
            "account": ledger.account,
            "currency": currency,
            "zone": settings_of(request).zone,
            "errors": errors or {},
            "values": shown,
            "choices": DESK_CHOICES,
            "rate": rate_words(ledger.settings.tax_rate_basis_points),
            "example": example_amount(currency),
        },
        status_code=status,
    )
    return _no_store(response)


def _back(request: Request, appointment_id: int, message: str, category: Category) -> Response:
    flash(request, message, category)
    url = request.url_for("desk:payments", appointment_id=appointment_id).path
    return RedirectResponse(url, 303)


@requires(Role.FRONTDESK)
async def payments_page(request: Request) -> Response:
    return await _render_payments(request, int(request.path_params["appointment_id"]))


async def _currency_of(request: Request, appointment_id: int) -> str:
    async with db_of(request).reading() as session:
        currency = await session.scalar(
            select(Appointment.currency).where(Appointment.id == appointment_id)
        )
    if currency is None:
        raise NotFound("There is no such appointment.")
    return currency


def desk_payment_from(form: FormData, currency: str) -> tuple[DeskPayment | None, dict[str, str]]:
    """The payment the form describes, or its field errors (the service's rules too)."""
    values = {name: str(form.get(name, "")) for name in PAYMENT_FIELDS}
    errors: dict[str, str] = {}
    amount = tip = 0
    if not values["amount"].strip():
        errors["amount"] = f"Enter the amount taken for the visit, like {example_amount(currency)}"
    else:
        try:
            amount = parse_money(values["amount"], currency)
        except MoneyError as bad:
            errors["amount"] = str(bad)
    if values["tip"].strip():
        try:
            tip = parse_money(values["tip"], currency, what="the tip")
        except MoneyError as bad:
            errors["tip"] = str(bad)
    method = (
        PaymentMethod(values["method"])
        if values["method"] in {m.value for m in DESK_METHODS}
        else PaymentMethod.CARD_ONLINE  # not a desk method: the service's rule names it
    )
    taken = DeskPayment(
        amount_minor=amount if "amount" not in errors else 1,
        tip_minor=tip,
        method=method,
        reference=values["reference"],
    )
    for name, message in taken.problems().items():
        errors.setdefault(name, message)
    ordered = {name: errors[name] for name in PAYMENT_FIELDS if name in errors}
    return (None if ordered else taken), ordered


@requires(Role.FRONTDESK)
async def record_payment(request: Request) -> Response:
    appointment_id = int(request.path_params["appointment_id"])
    form = await request.form()
    values = {name: str(form.get(name, "")) for name in PAYMENT_FIELDS}
    currency = await _currency_of(request, appointment_id)
    taken, errors = desk_payment_from(form, currency)
    if taken is not None:
        try:
            await record_desk_payment(
                db_of(request),
                appointment_id,
                taken,
                staff_user_id=signed_in_staff(request).user_id,
            )
        except InvalidInput as invalid:
            errors = invalid.field_errors
        except Conflict as refused:
            return _back(request, appointment_id, refused.message, "error")
        else:
            tip = f" with a tip of {money(taken.tip_minor, currency)}" if taken.tip_minor else ""
            message = (
                f"{METHOD_WORDS[taken.method]} payment of "
                f"{money(taken.amount_minor, currency)}{tip} recorded."
            )
            return _back(request, appointment_id, message, "success")
    return await _render_payments(request, appointment_id, errors=errors, values=values, status=422)


def refund_field(payment_id: int, name: str) -> str:
    """A refund form's field name: one form per payment, so each carries the payment id."""
    return f"refund_{name}_{payment_id}"


@requires(Role.FRONTDESK)
async def refund(request: Request) -> Response:
    payment_id = int(request.path_params["payment_id"])
    async with db_of(request).reading() as session:
        payment = await session.get(Payment, payment_id)
    if payment is None:
        raise NotFound("There is no such payment.")
    appointment_id = payment.appointment_id
    form = await request.form()
    amount_field, note_field = refund_field(payment_id, "amount"), refund_field(payment_id, "note")
    values = {
        amount_field: str(form.get("amount", "")),
        note_field: str(form.get("note", "")),
    }
    errors: dict[str, str] = {}
    amount = 0
    if not values[amount_field].strip():
        errors[amount_field] = "Enter the amount to refund"
    else:
        try:
            amount = parse_money(
                values[amount_field], payment.currency, what="the amount to refund"
            )
        except MoneyError as bad:
            errors[amount_field] = str(bad)
        else:
            if amount == 0:
                errors[amount_field] = "Enter an amount to refund of more than 0"
    if len(values[note_field]) > 500:
        errors[note_field] = "The reason must be 500 characters or fewer"
    if not errors:
        try:
            refund_id = await refund_by_staff(
                db_of(request),
                payment_id,
                amount,
                note=values[note_field],
                staff_user_id=signed_in_staff(request).user_id,
            )
        except InvalidInput as invalid:
            errors = {
                refund_field(payment_id, name): message
                for name, message in invalid.field_errors.items()
            } or {amount_field: invalid.message}
        except Conflict as refused:
            return _back(request, appointment_id, refused.message, "error")
        else:
            return await _after_refund(request, payment, refund_id, amount)
    return await _render_payments(request, appointment_id, errors=errors, values=values, status=422)


async def _after_refund(
    request: Request, payment: Payment, refund_id: int, amount: int
) -> Response:
    """Money taken at the desk is handed back there; a card refund goes to the provider
    now, or to the worker's retries when the provider cannot be reached."""
    words = money(amount, payment.currency)
    if payment.provider == DESK:
        how = GIVE_BACK_WORDS.get(payment.method, "")
        message = f"Refund of {words} recorded. Give it back to the client {how}.".replace(
            " .", "."
        )
        return _back(request, payment.appointment_id, message, "success")
    db = db_of(request)
    try:
        await execute_pending(db, gateway_for(settings_of(request), db), payment.appointment_id)
    except ClinicError:
        async with db.transaction() as session:
            enqueue(session, EXECUTE_REFUND, {"payment_id": payment.id})
        message = (
            f"Refund of {words} recorded, but the payment service did not answer: "
            "the refund will be retried automatically."
        )
        return _back(request, payment.appointment_id, message, "warning")
    async with db.reading() as session:
        state = await session.scalar(select(Refund.state).where(Refund.id == refund_id))
    if state is RefundState.SUCCEEDED:
        return _back(
            request, payment.appointment_id, f"Refund of {words} made to the card.", "success"
        )
    if state is RefundState.FAILED:
        message = (
            f"The card refund of {words} failed: the money is still with the clinic. "
            "Refund the client another way."
        )
        return _back(request, payment.appointment_id, message, "error")
    message = f"Refund of {words} sent to the card; the card's bank may take a few days."
    return _back(request, payment.appointment_id, message, "success")


@requires(Role.FRONTDESK)
async def no_show(request: Request) -> Response:
    appointment_id = int(request.path_params["appointment_id"])
    db = db_of(request)
    try:
        fee = await mark_no_show(db, appointment_id, actor_user_id=signed_in_staff(request).user_id)
    except Conflict as refused:
        return _back(request, appointment_id, refused.message, "error")
    category: Category = "success"
    retried = ""
    try:
        await settle_appointment(db, gateway_for(settings_of(request), db), appointment_id)
    except ClinicError:
        category = "warning"
        retried = (
            " The payment service did not answer: the fee will be settled automatically shortly."
        )
    async with db.reading() as session:
        ledger = await ledger_of(session, appointment_id, provider=_provider(request))
    currency = ledger.account.currency
    parts = [f"Marked as a no-show. The fee is {money(fee, currency)}."]
    fees = [p for p in ledger.payments if p.payment.kind is PaymentKind.NO_SHOW_FEE]
    waiting = [p for p in fees if p.payment.state is PaymentState.AWAITING_CLIENT]
    if any(p.payment.state is PaymentState.SUCCEEDED for p in fees):
        parts.append("It was charged to the saved card.")
    elif waiting:
        category = "warning"
        parts.append(waiting[0].waiting_because)
    elif not retried and ledger.account.balance_minor:
        parts.append(f"{money(ledger.account.balance_minor, currency)} is due: take it below.")
    return _back(request, appointment_id, " ".join(parts) + retried, category)


# The receipt


@dataclass(frozen=True)
class Business:
    name: str
    address: str
    phone: str
    tax_id: str


def best_licence(credentials: list[Credential], on: date) -> str:
    """The licence number to print: verified and current on the visit's day first."""
    numbered = [c for c in credentials if c.number.strip()]
    if not numbered:
        return ""

    def rank(c: Credential) -> tuple[bool, bool, date]:
        current = c.expires_on is None or c.expires_on >= on
        return (c.verified_at is not None and current, current, c.expires_on or date.max)

    return max(numbered, key=rank).number.strip()


async def _licence_number(session: AsyncSession, therapist_id: int, on: date) -> str:
    credentials = list(
        await session.scalars(
            select(Credential).where(
                Credential.therapist_id == therapist_id,
                Credential.kind == CredentialKind.MASSAGE_LICENCE,
            )
        )
    )
    return best_licence(credentials, on)


async def _business(session: AsyncSession, location_id: int, settings: ReceiptSettings) -> Business:
    location = await session.get(Location, location_id)
    return Business(
        name=settings.legal_name.strip() or (location.name if location is not None else ""),
        address=location.address if location is not None else "",
        phone=location.phone if location is not None else "",
        tax_id=settings.tax_id.strip(),
    )


@requires(Role.FRONTDESK)
async def receipt(request: Request) -> Response:
    appointment_id = int(request.path_params["appointment_id"])
    zone = settings_of(request).zone
    async with db_of(request).reading() as session:
        ledger = await ledger_of(session, appointment_id, provider=_provider(request))
        visit = ledger.visit
        visit_day = visit.appointment.starts_at.astimezone(zone).date()
        business = await _business(session, visit.appointment.location_id, ledger.settings)
        licence = await _licence_number(session, visit.therapist_id, visit_day)
    response = templates_of(request).TemplateResponse(
        request,
        "desk/receipt.html",
        {
            "ledger": ledger,
            "visit": visit,
            "account": ledger.account,
            "currency": ledger.account.currency,
            "business": business,
            "licence": licence,
            "zone": zone,
            "rate": rate_words(ledger.settings.tax_rate_basis_points),
            "issued_at": now_utc(),
            "paid_lines": [
                p
                for p in ledger.payments
                if p.payment.state in (PaymentState.SUCCEEDED, PaymentState.REFUNDED)
            ],
        },
    )
    return _no_store(response)


# The day's takings


@dataclass(frozen=True)
class TakingsRow:
    method: str
    count: int
    amount_minor: int
    tips_minor: int
    refunded_minor: int

    @property
    def net_minor(self) -> int:
        return self.amount_minor + self.tips_minor - self.refunded_minor


def takings_rows(takings: Takings) -> list[TakingsRow]:
    rows = []
    for method in METHOD_ORDER:
        count, amount, tips = takings.taken.get(method, (0, 0, 0))
        refunded = takings.refunded.get(method, 0)
        if count or refunded:
            rows.append(TakingsRow(METHOD_WORDS[method], count, amount, tips, refunded))
    return rows


def parse_day(raw: str) -> date:
    """The day ?day=YYYY-MM-DD names; ValueError says what to type instead."""
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError("Enter the day as a date, like 2026-11-27") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"Enter a day between {FIRST_DAY.year} and {LAST_DAY.year}")
    return day


@requires(Role.FRONTDESK)
async def takings(request: Request) -> Response:
    settings = settings_of(request)
    zone: ZoneInfo = settings.zone
    today = today_in(zone)
    raw = request.query_params.get("day", "")
    errors: dict[str, str] = {}
    day = today
    if raw.strip():
        try:
            day = parse_day(raw)
        except ValueError as bad:
            errors["day"] = str(bad)
    context: dict[str, Any] = {
        "zone": zone,
        "today": today,
        "errors": errors,
        "raw_day": raw,
        "currency": settings.currency,
    }
    if errors:
        return templates_of(request).TemplateResponse(
            request, "desk/takings.html", {**context, "day": None}, status_code=400
        )
    async with db_of(request).reading() as session:
        summary = await takings_on(session, day, zone, settings.currency)
    rows = takings_rows(summary)
    context.update(
        {
            "day": day,
            "start": day_bounds(day, zone)[0],
            "rows": rows,
            "takings": summary,
            "totals": TakingsRow(
                "Total",
                sum(r.count for r in rows),
                sum(r.amount_minor for r in rows),
                sum(r.tips_minor for r in rows),
                sum(r.refunded_minor for r in rows),
            ),
            "previous": day - timedelta(days=1) if day > FIRST_DAY else None,
            "next": day + timedelta(days=1) if day < LAST_DAY else None,
        }
    )
    return _no_store(templates_of(request).TemplateResponse(request, "desk/takings.html", context))
