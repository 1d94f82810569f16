"""Refunding one payment from the visit's payments page (`desk:refund`): money taken at
the desk is handed back there, a card refund goes to the provider now or to the worker's
retries. Errors re-render the payments page with the refund form's values kept."""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from clinic.auth.models import Role
from clinic.auth.web import requires, signed_in_staff
from clinic.errors import ClinicError, Conflict, InvalidInput, NotFound
from clinic.outbox.service import enqueue
from clinic.payments.desk import refund_by_staff
from clinic.payments.desk_pages.common import GIVE_BACK_WORDS
from clinic.payments.desk_pages.visit import back_to_payments, render_payments
from clinic.payments.events import EXECUTE_REFUND
from clinic.payments.gateway import gateway_for
from clinic.payments.models import Payment, Refund
from clinic.payments.settlement import DESK, execute_pending
from clinic.payments.states import RefundState
from clinic.web.context import db_of, settings_of
from clinic.web.formatting import money
from clinic.web.money_input import MoneyError, parse_money


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
            return back_to_payments(request, appointment_id, refused.message, "error")
        else:
            return await _after_refund(request, payment, refund_id, amount)
    return await render_payments(request, appointment_id, errors=errors, values=values, status=422)


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
        return back_to_payments(request, payment.appointment_id, message, "success")
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
        return back_to_payments(request, payment.appointment_id, message, "warning")
    async with db.reading() as session:
        state = await session.scalar(select(Refund.state).where(Refund.id == refund_id))
    if state is RefundState.SUCCEEDED:
        return back_to_payments(
            request, payment.appointment_id, f"Refund of {words} made to the card.", "success"
        )
    if state is RefundState.FAILED:
        message = (
            f"The card refund of {words} failed: the money is still with the clinic. "
            "Refund the client another way."
        )
        return back_to_payments(request, payment.appointment_id, message, "error")
    message = f"Refund of {words} sent to the card; the card's bank may take a few days."
    return back_to_payments(request, payment.appointment_id, message, "success")
