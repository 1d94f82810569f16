"""The last booking steps under /book: the client's details (kept in a signed cookie until
the check page), check your answers, which books the held time, and the confirmation."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response

from clinic.booking.bookings import (
    BookingView,
    ClientDetails,
    HoldDoesNotFit,
    HoldGone,
    book_from_hold,
)
from clinic.booking.pages import care
from clinic.booking.pages.choices import HeldTime, held_time
from clinic.booking.pages.choose import service_url, therapist_url, time_url
from clinic.booking.pages.cookies import (
    DETAILS_COOKIE,
    HOLD_COOKIE,
    INTAKE_COOKIE,
    clear_cookie,
    intake_token,
    keep_details,
    read_details,
)
from clinic.booking.pages.forms import Endpoint, form_value, page_url, render, see_other
from clinic.booking.pages.manage import booking_in_path, show_url
from clinic.booking.pages.wording import (
    Row,
    booking_rows,
    cancel_text,
    date_time_rows,
    day_text,
    moment_text,
    therapist_text,
)
from clinic.booking.policies import CancellationTerms, cancellation_terms
from clinic.booking.statuses import AppointmentStatus, CancelledBy
from clinic.clock import now_utc
from clinic.errors import InvalidInput
from clinic.intake.service import Deferred, UnknownIntake
from clinic.payments.checkout import online_payment_for_hold, start_booking_checkout
from clinic.payments.desk import paid_towards
from clinic.payments.port import GatewayRefused, GatewayUnavailable
from clinic.payments.pricing import OnlinePayment
from clinic.payments.states import PaymentKind
from clinic.payments.web import gateway_of
from clinic.web.context import db_of, settings_of
from clinic.web.flash import flash
from clinic.web.formatting import clock_time, money

NO_HOLD = "We are not holding a time for you. Choose a service and a time to start again."
HOLD_ENDED = (
    "The time you chose is no longer held for you, and someone else may have booked it. "
    "Choose a time again."
)
CARD_CONSENT_NEEDED = (
    "Tick the box to agree to the fee terms and to your card being kept for them, or call "
    "the clinic to book"
)
INTAKE_GONE = "We could not find your health form. Fill it in again."
INTAKE_NOT_YOURS = (
    "The health form in this browser was filled in for someone else. Fill it in for yourself."
)


def _held_time_url(request: Request, held: HeldTime) -> str:
    return time_url(request, held.service.id, held.therapist_key, held.day)


def _with_hold(page: Callable[[Request, HeldTime], Awaitable[Response]]) -> Endpoint:
    """The details and check steps need the time this browser holds; without one they
    start again."""

    @functools.wraps(page)
    async def endpoint(request: Request) -> Response:
        held = await held_time(request)
        if held is None:
            flash(request, NO_HOLD, "info")
            return see_other(service_url(request))
        return await page(request, held)

    return endpoint


def _hold_text(held: HeldTime) -> str:
    start = clock_time(held.start, held.zone)
    if held.live and held.expires_at is not None:
        return f"We are holding {start} for you until {clock_time(held.expires_at, held.zone)}."
    return (
        f"We held {start} on {day_text(held.day)} for you for a few minutes. You can still book "
        "it if nobody else has taken it."
    )


def _details_page(
    request: Request,
    held: HeldTime,
    values: ClientDetails,
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    return render(
        request,
        "book/details.html",
        {
            "clinic": held.clinic,
            "hold_text": _hold_text(held),
            "values": values,
            "errors": errors,
            "back_url": _held_time_url(request, held),
        },
        status,
    )


@_with_hold
async def details_form(request: Request, held: HeldTime) -> Response:
    values = read_details(request) or ClientDetails("", "", "")
    return _details_page(request, held, values, {})


@_with_hold
async def details_submit(request: Request, held: HeldTime) -> Response:
    form = await request.form()
    details = ClientDetails(
        form_value(form, "name"), form_value(form, "email"), form_value(form, "phone")
    )
    if errors := details.problems():
        return _details_page(request, held, details, errors, 422)
    response = see_other(page_url(request, "book:check"))
    keep_details(response, settings_of(request), details)
    return response


def _paid_now(held: HeldTime, due: OnlinePayment | None) -> tuple[str, ...]:
    if due is None:
        return ("Nothing now. Pay at your visit.",)
    amount = money(due.amount_minor, held.currency)
    if due.kind is PaymentKind.FULL:
        return (f"The full price, {amount}, by card on the next page.",)
    return (f"A deposit of {amount}, by card on the next page. The rest is paid at your visit.",)


def _check_rows(
    request: Request, held: HeldTime, details: ClientDetails, due: OnlinePayment | None
) -> list[Row]:
    service = held.service
    therapist = therapist_text(held.therapist_name, held.therapist_chosen)
    return [
        Row(
            "Service",
            (service.name, f"{service.duration_minutes} minutes"),
            service_url(request, service.id),
            "service",
        ),
        Row(
            "Therapist",
            (therapist,),
            therapist_url(request, service.id, held.therapist_key),
            "therapist",
        ),
        *date_time_rows(held.start, held.end, held.zone, _held_time_url(request, held)),
        Row("Price", (money(held.price_minor, held.currency),)),
        Row("Paid now", _paid_now(held, due)),
        Row(
            "Your details",
            (details.name, details.email, details.phone),
            page_url(request, "book:details"),
            "your details",
        ),
    ]


def _cancellation_policy_text(held: HeldTime) -> list[str]:
    """The cancellation terms as the client agrees to them: the exact deadline, the fee."""
    policies = held.clinic.policies

    def terms_at(now: datetime) -> CancellationTerms:
        return cancellation_terms(
            policies,
            price_minor=held.price_minor,
            starts_at=held.start,
            now=now,
            cancelled_by=CancelledBy.CLIENT,
        )

    # What cancelling would cost once the free time has passed.
    late = terms_at(held.start)
    percent = policies.late_cancellation_fee_percent
    late_fee = f"{money(late.fee_minor, held.currency)} ({percent}% of the price)"
    if terms_at(now_utc()).late:
        if not late.fee_minor:
            return ["Cancelling is free."]
        hours = policies.cancellation_window_hours
        return [
            f"This appointment is less than {hours} hours away, so cancelling it would cost "
            f"{late_fee}."
        ]
    lines = [f"Free to cancel until {moment_text(late.free_until, held.zone)}."]
    if late.fee_minor:
        lines.append(f"After that, cancelling costs {late_fee}.")
    return lines


def _check_page(
    request: Request,
    held: HeldTime,
    details: ClientDetails,
    due: OnlinePayment | None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "book/check.html",
        {
            "clinic": held.clinic,
            "rows": _check_rows(request, held, details, due),
            "cancellation": _cancellation_policy_text(held),
            "hold_text": _hold_text(held),
            "back_url": page_url(request, "book:details"),
            "due": due,
            "errors": errors or {},
        },
        status,
    )


@_with_hold
async def check_page(request: Request, held: HeldTime) -> Response:
    details = read_details(request)
    if details is None or details.problems():
        return see_other(page_url(request, "book:details"))
    due = await online_payment_for_hold(db_of(request), held.token)
    return _check_page(request, held, details, due)


async def _pay_online(
    request: Request, held: HeldTime, details: ClientDetails, due: OnlinePayment
) -> Response:
    """Keep the time for the client and send them to the checkout page; the payment's
    event books it (clinic/payments/events.py)."""
    form = await request.form()
    if form.get("card_consent") != "yes":
        return _check_page(request, held, details, due, {"card_consent": CARD_CONSENT_NEEDED}, 422)
    settings = settings_of(request)
    started = await start_booking_checkout(
        db_of(request),
        gateway_of(request),
        hold_token=held.token,
        client=details,
        due=due,
        base_url=settings.base_url,
        intake_token=intake_token(request),
    )
    return see_other(started.checkout.url)


@_with_hold
async def check_submit(request: Request, held: HeldTime) -> Response:
    details = read_details(request)
    if details is None:
        return see_other(page_url(request, "book:details"))
    settings = settings_of(request)
    due = await online_payment_for_hold(db_of(request), held.token)
    try:
        if due is not None:
            return await _pay_online(request, held, details, due)
        booked = await book_from_hold(
            db_of(request),
            hold_token=held.token,
            client=details,
            intake_token=intake_token(request),
        )
    except (GatewayUnavailable, GatewayRefused) as unavailable:
        assert due is not None
        return _check_page(request, held, details, due, {"payment": unavailable.message}, 503)
    except (HoldGone, HoldDoesNotFit) as refused:
        flash(request, HOLD_ENDED if isinstance(refused, HoldGone) else refused.message, "error")
        response = see_other(_held_time_url(request, held))
        clear_cookie(response, settings, HOLD_COOKIE)
        return response
    except Deferred as deferred:
        return render(
            request,
            "book/contact.html",
            {
                "clinic": held.clinic,
                "page_heading": deferred.title,
                "message": deferred.message,
                "phone": held.clinic.phone,
                "back_url": page_url(request, "book:check"),
            },
            deferred.status_code,
        )
    except InvalidInput as invalid:
        if "intake_token" not in invalid.field_errors:
            return see_other(page_url(request, "book:details"))
        # The health form is unknown, or was signed by someone else: fill it in again.
        flash(
            request,
            INTAKE_GONE if isinstance(invalid, UnknownIntake) else INTAKE_NOT_YOURS,
            "error",
        )
        response = see_other(care.health_url(request, held.service.id))
        clear_cookie(response, settings, INTAKE_COOKIE)
        return response
    response = see_other(page_url(request, "book:done", token=booked.manage_token))
    clear_cookie(response, settings, HOLD_COOKIE)
    clear_cookie(response, settings, DETAILS_COOKIE)
    # Health answers stay reachable from this browser only while booking: a shared
    # computer must not show the next person the plan.
    clear_cookie(response, settings, INTAKE_COOKIE)
    return response


def _amount_due(view: BookingView, paid_minor: int) -> str:
    price = money(view.price_minor, view.currency)
    if paid_minor <= 0:
        return f"{price}, paid at your visit"
    if paid_minor >= view.price_minor:
        return f"{price}, paid in full. Thank you."
    left = money(view.price_minor - paid_minor, view.currency)
    return f"{price}. You paid {money(paid_minor, view.currency)}; {left} is paid at your visit."


async def done_page(request: Request) -> Response:
    token, view = await booking_in_path(request)
    if not view.is_active:
        return see_other(show_url(request, token))
    zone = ZoneInfo(view.timezone)
    rows = [row for row in booking_rows(view, zone) if row.label not in ("Reference", "Price")]
    rows.append(
        Row(
            "Amount due",
            (_amount_due(view, await paid_towards(db_of(request), view.appointment_id)),),
        )
    )
    return render(
        request,
        "book/done.html",
        {
            "clinic_name": view.location_name,
            "view": view,
            "pending": view.status is AppointmentStatus.PENDING_CLEARANCE,
            "rows": rows,
            "cancel_text": cancel_text(view, zone),
            "manage_url": show_url(request, token),
        },
    )
