"""The client's manage pages (/manage/{token}...): see the booking, move it, cancel it,
turn reminder emails off or on, and fill in a missing health form (manage_intake.py). The
token in the path is the client's credential: it never goes in a title, and a token that
matches nothing is the 404 page."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from clinic.booking.bookings import (
    BookingView,
    booking_for_token,
    cancel_by_token,
    reschedule_by_token,
)
from clinic.booking.pages import times
from clinic.booking.pages.choices import load_clinic
from clinic.booking.pages.forms import Endpoint, form_value, page_url, render, see_other
from clinic.booking.pages.wording import (
    Row,
    booking_rows,
    cancel_text,
    moment_text,
    therapist_text,
    when_lines,
)
from clinic.booking.reminders import reminders_wanted, set_reminders
from clinic.booking.statuses import AppointmentStatus
from clinic.booking.taking import SlotTaken
from clinic.db import Database
from clinic.errors import ClinicError, InvalidInput
from clinic.intake.models import AppointmentIntake, IntakeState
from clinic.intake.service import care_need, gate_need
from clinic.intake.summary import plan_from_json
from clinic.payments.desk import has_saved_card, money_after_cancelling, paid_towards
from clinic.scheduling.availability import CareNeed
from clinic.web.context import db_of, settings_of
from clinic.web.flash import Category, flash
from clinic.web.formatting import clock_time, long_date, money

CLIENT_STATUS = {
    AppointmentStatus.CONFIRMED: "Booked",
    AppointmentStatus.PENDING_CLEARANCE: "Request received",
    AppointmentStatus.CHECKED_IN: "Arrived",
    AppointmentStatus.COMPLETED: "Completed",
    AppointmentStatus.NO_SHOW: "Missed",
    AppointmentStatus.CANCELLED: "Cancelled",
    AppointmentStatus.HELD: "Held",
    AppointmentStatus.EXPIRED: "Expired",
}


# A booking whose health form can still be filled in (intake_for_booking's rule).
OPEN_STATUSES = frozenset({AppointmentStatus.CONFIRMED, AppointmentStatus.PENDING_CLEARANCE})


def show_url(request: Request, token: str) -> str:
    return page_url(request, "manage:show", token=token)


def _time_url(request: Request, token: str, day: date | None = None) -> str:
    return page_url(request, "manage:time", {"date": day} if day is not None else None, token=token)


async def booking_in_path(request: Request) -> tuple[str, BookingView]:
    """The path's manage token and its booking (NotFound, the 404 page, when none)."""
    token: str = request.path_params["token"]
    return token, await booking_for_token(db_of(request), token)


def _back_to_show(request: Request, token: str, message: str, category: Category) -> Response:
    flash(request, message, category)
    return see_other(show_url(request, token))


def _while_changeable(page: Callable[[Request, str, BookingView], Awaitable[Response]]) -> Endpoint:
    """The change-time and cancel pages: once the booking can no longer change online,
    each goes back to the appointment."""

    @functools.wraps(page)
    async def endpoint(request: Request) -> Response:
        token, view = await booking_in_path(request)
        if not view.can_change:
            return see_other(show_url(request, token))
        return await page(request, token, view)

    return endpoint


async def intake_link(db: Database, appointment_id: int) -> AppointmentIntake | None:
    """What the booking knows of its health form (None: booked before forms were asked)."""
    async with db.reading() as session:
        link: AppointmentIntake | None = await session.scalar(
            select(AppointmentIntake).where(AppointmentIntake.appointment_id == appointment_id)
        )
    return link


def _booked_need(link: AppointmentIntake | None) -> CareNeed | None:
    """What the plan the booking was made on asks of a new time (its gate answer alone
    when it has no plan), so "Change time" lists only times a move can take."""
    if link is None:
        return None
    if link.plan is not None:
        return care_need(plan_from_json(link.plan))
    return gate_need(link.cancer_history)


async def _intake_missing(db: Database, view: BookingView) -> bool:
    if view.status not in OPEN_STATUSES:
        return False
    link = await intake_link(db, view.appointment_id)
    # No form, or one the pre-visit check reopened (its link to the old form is cleared).
    return link is None or link.state is IntakeState.MISSING or link.intake_id is None


def manage_context(request: Request, token: str, view: BookingView) -> dict[str, Any]:
    zone = ZoneInfo(view.timezone)
    return {
        "clinic_name": view.location_name,
        "phone": view.location_phone,
        "view": view,
        "zone": zone,
        "status_label": CLIENT_STATUS.get(view.status, view.status.value),
        "when": f"{clock_time(view.start, zone)} on {long_date(view.start, zone)}",
        "manage_url": show_url(request, token),
    }


@dataclass(frozen=True)
class ReminderChoice:
    wanted: bool
    # "the day before, at the same time", "2 days before, at the same time", "3 hours before"
    lead: str
    action: str


def reminder_lead_words(hours: int) -> str:
    days, rest = divmod(hours, 24)
    if rest == 0:
        return (
            "the day before, at the same time"
            if days == 1
            else f"{days} days before, at the same time"
        )
    return f"{hours} hour{'' if hours == 1 else 's'} before"


async def _reminder_choice(
    request: Request, token: str, view: BookingView
) -> ReminderChoice | None:
    """The page's reminder form; None when there is nothing to choose (the clinic sends
    no reminders, or this visit is no longer booked)."""
    hours = view.policies.reminder_hours_before
    if hours == 0 or view.status not in OPEN_STATUSES:
        return None
    async with db_of(request).reading() as session:
        wanted = await reminders_wanted(session, view.client_id)
    action = page_url(request, "manage:reminders", token=token)
    return ReminderChoice(wanted, reminder_lead_words(hours), action)


REMINDER_CHOICES = {"off": False, "on": True}


async def manage_reminders_submit(request: Request) -> Response:
    """Reminder emails off, or on again, for all the client's visits (only reminders: a
    booking, a change or a cancellation is still emailed). The form is one button, so a bad
    value comes only from a crafted post: a message, and nothing changes."""
    token, _view = await booking_in_path(request)
    form = await request.form()
    wanted = REMINDER_CHOICES.get(form_value(form, "reminders"))
    if wanted is None:
        flash(request, "Choose whether to get reminder emails.", "error")
    else:
        await set_reminders(db_of(request), token, wanted=wanted)
        flash(
            request,
            "Reminder emails are on."
            if wanted
            else "Reminder emails are off. We still email you when a visit is booked, "
            "changed or cancelled.",
            "success",
        )
    return see_other(show_url(request, token) + "#reminders")


async def manage_page(request: Request) -> Response:
    token, view = await booking_in_path(request)
    zone = ZoneInfo(view.timezone)
    return render(
        request,
        "manage/show.html",
        {
            **manage_context(request, token, view),
            "rows": booking_rows(view, zone),
            "cancel_text": cancel_text(view, zone),
            "fee": money(view.fee_minor, view.currency) if view.fee_minor else None,
            "time_url": _time_url(request, token),
            "cancel_url": page_url(request, "manage:cancel", token=token),
            "intake_url": (
                page_url(request, "manage:intake", token=token)
                if await _intake_missing(db_of(request), view)
                else None
            ),
            "reminders": await _reminder_choice(request, token, view),
        },
    )


async def _time_page(
    request: Request,
    token: str,
    view: BookingView,
    day: date | None,
    *,
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    async with db_of(request).reading() as session:
        clinic = await load_clinic(session, settings_of(request))
    link = await intake_link(db_of(request), view.appointment_id)

    def day_url(on: date) -> str:
        return _time_url(request, token, on)

    # The booking's own appointment blocks nothing, and its time is not offered again.
    grid = await times.time_grid(
        db_of(request),
        clinic=clinic,
        service_id=view.service_id,
        therapist_id=view.therapist_id if view.therapist_chosen else None,
        day=day,
        day_url=day_url,
        ignoring=view.appointment_id,
        skip=view.start,
        care=_booked_need(link),
    )
    return times.time_page(
        request,
        "manage/time.html",
        grid,
        {**manage_context(request, token, view), "clinic": clinic},
        action=page_url(request, "manage:time_submit", token=token),
        hidden={},
        errors=errors,
        status=status,
    )


@_while_changeable
async def manage_time_form(request: Request, token: str, view: BookingView) -> Response:
    day = times.parse_day(request.query_params.get("date"))
    return await _time_page(request, token, view, day, errors={})


@_while_changeable
async def manage_time_submit(request: Request, token: str, view: BookingView) -> Response:
    form = await request.form()
    start = times.posted_start(form)
    if start is None:
        day = times.parse_day(form_value(form, "date"))
        return await _time_page(
            request, token, view, day, errors={"start": times.CHOOSE_TIME}, status=422
        )
    query = {"start": times.slot_value(start)}
    return see_other(page_url(request, "manage:confirm", query, token=token))


@_while_changeable
async def manage_confirm_form(request: Request, token: str, view: BookingView) -> Response:
    start = times.parse_start(request.query_params.get("start", ""))
    if start is None:
        return see_other(_time_url(request, token))
    zone = ZoneInfo(view.timezone)
    end = start + (view.end - view.start)
    therapist = therapist_text(view.therapist_name, view.therapist_chosen)
    return render(
        request,
        "manage/confirm.html",
        {
            **manage_context(request, token, view),
            "rows": [
                Row("Now", when_lines(view.start, view.end, zone)),
                Row("New time", when_lines(start, end, zone)),
                Row("Therapist", (therapist,)),
            ],
            "start": times.slot_value(start),
            "back_url": _time_url(request, token, start.astimezone(zone).date()),
            "action": page_url(request, "manage:confirm_submit", token=token),
        },
    )


@_while_changeable
async def manage_confirm_submit(request: Request, token: str, view: BookingView) -> Response:
    form = await request.form()
    start = times.posted_start(form)
    if start is None:
        return see_other(_time_url(request, token))
    try:
        moved = await reschedule_by_token(db_of(request), token, start=start)
    except (SlotTaken, InvalidInput) as refused:
        day = start.astimezone(ZoneInfo(view.timezone)).date()
        return await _time_page(
            request,
            token,
            view,
            day,
            errors=times.start_errors(refused),
            status=refused.status_code,
        )
    except ClinicError as refused:
        return _back_to_show(request, token, refused.message, "error")
    when = moment_text(moved.start, ZoneInfo(moved.timezone))
    return _back_to_show(request, token, f"Your appointment is now at {when}.", "success")


async def _money_words(request: Request, view: BookingView, fee_minor: int) -> list[str]:
    """What cancelling with this fee does to what the client has paid."""
    db = db_of(request)
    return money_after_cancelling(
        paid_minor=await paid_towards(db, view.appointment_id),
        fee_minor=fee_minor,
        currency=view.currency,
        has_card=await has_saved_card(db, view.client_id),
    )


@_while_changeable
async def manage_cancel_form(request: Request, token: str, view: BookingView) -> Response:
    zone = ZoneInfo(view.timezone)
    terms = view.terms_now
    return render(
        request,
        "manage/cancel.html",
        {
            **manage_context(request, token, view),
            # Service, therapist, date and time.
            "rows": booking_rows(view, zone)[1:5],
            "fee": money(terms.fee_minor, view.currency) if terms.fee_minor else None,
            "free_until": moment_text(terms.free_until, zone),
            "late": terms.late,
            "window_hours": view.policies.cancellation_window_hours,
            "money_words": await _money_words(request, view, terms.fee_minor),
            "excused_words": await _money_words(request, view, 0),
            "action": page_url(request, "manage:cancel_submit", token=token),
        },
    )


@_while_changeable
async def manage_cancel_submit(request: Request, token: str, view: BookingView) -> Response:
    form = await request.form()
    excused = form_value(form, "medically_excused") == "yes"
    try:
        cancelled = await cancel_by_token(db_of(request), token, medically_excused=excused)
    except ClinicError as refused:
        return _back_to_show(request, token, refused.message, "error")
    message = "Your appointment is cancelled."
    if cancelled.fee_minor:
        fee = money(cancelled.fee_minor, cancelled.currency)
        message += f" A late-cancellation fee of {fee} applies."
    for words in await _money_words(request, cancelled, cancelled.fee_minor):
        message += f" {words}"
    return _back_to_show(request, token, message, "success")
