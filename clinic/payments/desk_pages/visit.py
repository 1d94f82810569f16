"""One visit's payments page (`desk:payments`) with its forms: take a payment at the desk
and mark a no-show. Money typed at the desk is read with Decimal in the currency's own
places; anything else is a field error, never a float or a 500."""

from __future__ import annotations

from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clinic.auth.models import Role
from clinic.auth.web import requires, signed_in_staff
from clinic.booking.bookings import mark_no_show
from clinic.booking.models import Appointment
from clinic.errors import ClinicError, Conflict, InvalidInput, NotFound
from clinic.payments.desk import DeskPayment, record_desk_payment
from clinic.payments.desk_pages.common import (
    DESK_CHOICES,
    METHOD_WORDS,
    provider_of,
    rate_words,
)
from clinic.payments.desk_pages.ledger import ledger_of
from clinic.payments.gateway import gateway_for
from clinic.payments.settlement import settle_appointment
from clinic.payments.states import DESK_METHODS, PaymentKind, PaymentMethod, PaymentState
from clinic.web.caching import no_store
from clinic.web.context import db_of, settings_of, templates_of
from clinic.web.flash import Category, flash
from clinic.web.formatting import money
from clinic.web.money_input import MoneyError, example_amount, major_units, parse_money

PAYMENT_FIELDS = ("method", "amount", "tip", "reference")


async def render_payments(
    request: Request,
    appointment_id: int,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with db_of(request).reading() as session:
        ledger = await ledger_of(session, appointment_id, provider=provider_of(request))
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
    return no_store(response)


def back_to_payments(
    request: Request, appointment_id: int, message: str, category: Category
) -> Response:
    flash(request, message, category)
    url = request.url_for("desk:payments", appointment_id=appointment_id).path
    return RedirectResponse(url, 303)


@requires(Role.FRONTDESK)
async def payments_page(request: Request) -> Response:
    return await render_payments(request, int(request.path_params["appointment_id"]))


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
            return back_to_payments(request, appointment_id, refused.message, "error")
        else:
            tip = f" with a tip of {money(taken.tip_minor, currency)}" if taken.tip_minor else ""
            message = (
                f"{METHOD_WORDS[taken.method]} payment of "
                f"{money(taken.amount_minor, currency)}{tip} recorded."
            )
            return back_to_payments(request, appointment_id, message, "success")
    return await render_payments(request, appointment_id, errors=errors, values=values, status=422)


@requires(Role.FRONTDESK)
async def no_show(request: Request) -> Response:
    appointment_id = int(request.path_params["appointment_id"])
    db = db_of(request)
    form = await request.form()
    waive = form.get("fee") == "waive"
    reason = str(form.get("waive_reason", "")).strip()[:500]
    if waive and not reason:
        # Back to the panel's form, the waiver still chosen, with what is missing.
        flash(request, "Enter the reason for waiving the no-show fee.", "error")
        panel = request.url_for("desk:visit", appointment_id=appointment_id).path
        return RedirectResponse(f"{panel}?fee=waive#no-show", 303)
    try:
        fee = await mark_no_show(
            db,
            appointment_id,
            actor_user_id=signed_in_staff(request).user_id,
            waive_reason=reason if waive else "",
        )
    except Conflict as refused:
        return back_to_payments(request, appointment_id, refused.message, "error")
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
        ledger = await ledger_of(session, appointment_id, provider=provider_of(request))
    currency = ledger.account.currency
    parts = [
        "Marked as a no-show. The fee is waived: anything paid is refunded."
        if waive
        else f"Marked as a no-show. The fee is {money(fee, currency)}."
    ]
    fees = [p for p in ledger.payments if p.payment.kind is PaymentKind.NO_SHOW_FEE]
    waiting = [p for p in fees if p.payment.state is PaymentState.AWAITING_CLIENT]
    if any(p.payment.state is PaymentState.SUCCEEDED for p in fees):
        parts.append("It was charged to the saved card.")
    elif waiting:
        category = "warning"
        parts.append(waiting[0].waiting_because)
    elif not retried and ledger.account.balance_minor:
        parts.append(f"{money(ledger.account.balance_minor, currency)} is due: take it below.")
    return back_to_payments(request, appointment_id, " ".join(parts) + retried, category)
