"""The desk's Move and Cancel pages for one visit (/desk/appointments/{id}/move, /cancel).
Thin handlers: the read models are clinic/desk/moves.py and cancels.py, and the changes are
`reschedule_appointment` and `cancel_appointment`, which audit them, email the client and
settle the money. The pages show schedule and money facts, never clinical ones."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clinic.areas.desk import LAST_DAY, parse_day
from clinic.auth.models import Role
from clinic.auth.web import requires, signed_in_staff
from clinic.booking.bookings import BookingView, cancel_appointment, reschedule_appointment
from clinic.booking.statuses import CancelledBy
from clinic.booking.taking import SlotTaken
from clinic.clock import now_utc, today_in
from clinic.desk import calendar, overrides
from clinic.desk.cancels import (
    REASON_MAX,
    WHO,
    as_charged,
    cancel_choices,
    why_not_cancellable,
)
from clinic.desk.cards import Card
from clinic.desk.moves import choice_value, move_choices, parse_choice, why_not_movable
from clinic.errors import Conflict, InvalidInput
from clinic.intake.service import Deferred
from clinic.web.caching import no_store
from clinic.web.context import db_of, settings_of, templates_of
from clinic.web.flash import flash
from clinic.web.formatting import clock_time, money, short_date
from clinic.web.ids import parse_id

CHOOSE_TIME = "Choose a new time"
TIME_TAKEN = "That time has just been taken. Choose another."
STALE = (
    "This visit was changed since the page was shown: it is now at {when} with {who}. "
    "Check the times again and choose one."
)
DEFERRED = (
    "The client's health form does not allow a visit on that date. Ask the clinical lead "
    "before moving it."
)


def _appointment_id(request: Request) -> int:
    return int(request.path_params["appointment_id"])


async def _card(request: Request) -> Card:
    """The visit as the desk's panel shows it (NotFound, the 404 page, when there is none)."""
    async with db_of(request).reading() as session:
        panel = await calendar.visit_panel(
            session, _appointment_id(request), settings_of(request).zone
        )
    return panel.card


def _panel_url(request: Request) -> str:
    return request.url_for("desk:visit", appointment_id=_appointment_id(request)).path


def _render(
    request: Request, template: str, context: dict[str, Any], status: int = 200
) -> Response:
    response = templates_of(request).TemplateResponse(
        request, template, context, status_code=status
    )
    return no_store(response)


# Move


async def _render_move(
    request: Request,
    *,
    day: date | None,
    therapist_id: int | None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    selected: str = "",
    raw_day: str = "",
    override_values: dict[str, str] | None = None,
) -> Response:
    zone = settings_of(request).zone
    now = now_utc()
    today = today_in(zone)
    card = await _card(request)
    context: dict[str, Any] = {
        "card": card,
        "zone": zone,
        "errors": errors or {},
        "panel_url": _panel_url(request),
    }
    refusal = why_not_movable(card.status, card.starts_at, now)
    if refusal is not None:
        return _render(request, "desk/move.html", {**context, "refusal": refusal}, 409)
    shown = day or max(card.on(zone), today)
    choices = await move_choices(
        db_of(request),
        card.appointment_id,
        day=shown,
        therapist_id=therapist_id,
        zone=zone,
        now=now,
    )
    async with db_of(request).reading() as session:
        everyone = await calendar.therapists(session)
    if therapist_id is not None and therapist_id not in dict(choices.therapists):
        context["errors"] = {**context["errors"], "therapist": "Choose a therapist from the list"}
        status = max(status, 400)
    context.update(
        {
            "refusal": None,
            "choices": choices,
            "raw_day": raw_day or shown.isoformat(),
            "therapist_filter": "any" if therapist_id is None else str(therapist_id),
            "previous": shown - timedelta(days=1) if shown > today else None,
            "next": shown + timedelta(days=1) if shown < LAST_DAY else None,
            "selected": selected if choices.offers(selected) else "",
            "was": choice_value(card.therapist_id, card.starts_at),
            # The "outside the usual rules" form: any active therapist, typed time.
            "everyone": [(tid, name) for tid, name in everyone if tid in choices.possible],
            "values": override_values or {},
        }
    )
    return _render(request, "desk/move.html", context, status)


def _therapist_filter(raw: str) -> tuple[int | None, bool]:
    """The filter's therapist (None: any suitable) and whether `raw` was understood."""
    if raw in ("", "any"):
        return None, True
    therapist_id = parse_id(raw)
    return therapist_id, therapist_id is not None


@requires(Role.FRONTDESK)
async def move_page(request: Request) -> Response:
    """`?day=YYYY-MM-DD&therapist=ID|any`: that day's free times, from one therapist or any
    suitable one; without a day, the visit's own day."""
    raw_day = request.query_params.get("day", "").strip()
    raw_therapist = request.query_params.get("therapist", "").strip()
    errors: dict[str, str] = {}
    day = None
    if raw_day:
        try:
            day = parse_day(raw_day)
        except ValueError as bad:
            errors["day"] = str(bad)
    therapist_id, understood = _therapist_filter(raw_therapist)
    if not understood:
        errors["therapist"] = "Choose a therapist from the list"
    return await _render_move(
        request,
        day=day,
        therapist_id=therapist_id,
        errors=errors,
        status=400 if errors else 200,
        raw_day=raw_day if "day" in errors else "",
    )


@requires(Role.FRONTDESK)
async def move_submit(request: Request) -> Response:
    zone = settings_of(request).zone
    card = await _card(request)
    form = await request.form()
    raw_choice = str(form.get("choice", "")).strip()
    therapist_filter, _ = _therapist_filter(str(form.get("therapist", "")).strip())
    try:
        day: date | None = parse_day(str(form.get("day", "")))
    except ValueError:
        day = None
    if why_not_movable(card.status, card.starts_at, now_utc()) is not None:
        return await _render_move(request, day=day, therapist_id=therapist_filter)
    if str(form.get("mode", "")) == "override":
        return await _move_outside_rules(
            request, card, overrides.form_values(form), day or card.on(zone), therapist_filter
        )
    chosen = parse_choice(raw_choice)
    if chosen is None:
        return await _render_move(
            request,
            day=day,
            therapist_id=therapist_filter,
            errors={"choice": CHOOSE_TIME},
            status=422,
        )
    therapist_id, start = chosen
    chosen_day = start.astimezone(zone).date()

    async def again(message: str, status: int) -> Response:
        """The move page again on the chosen day, with fresh times and the error."""
        return await _render_move(
            request,
            day=chosen_day,
            therapist_id=therapist_filter,
            errors={"choice": message},
            status=status,
            selected=raw_choice,
        )

    was = str(form.get("was", "")).strip()
    if was and was != choice_value(card.therapist_id, card.starts_at):
        who = card.therapist_name
        when = f"{short_date(card.starts_at, zone)}, {clock_time(card.starts_at, zone)}"
        return await again(STALE.format(when=when, who=who), 409)
    try:
        moved = await reschedule_appointment(
            db_of(request),
            card.appointment_id,
            start=start,
            therapist_id=therapist_id,
            actor_user_id=signed_in_staff(request).user_id,
        )
    except SlotTaken:
        return await again(TIME_TAKEN, 409)
    except Deferred:
        return await again(DEFERRED, 422)
    except InvalidInput as invalid:
        return await again(next(iter(invalid.field_errors.values()), invalid.message), 422)
    except Conflict as refused:
        # Cancelled or moved by someone else meanwhile: the page says which.
        return await again(refused.message, 409)
    return _moved(request, moved)


def _moved(request: Request, moved: BookingView) -> Response:
    zone = settings_of(request).zone
    when = f"{short_date(moved.start, zone)}, {clock_time(moved.start, zone)}"
    flash(
        request,
        f"Moved: {moved.client_name} is now {when} with {moved.therapist_name}.",
        "success",
    )
    return RedirectResponse(_panel_url(request), 303)


async def _move_outside_rules(
    request: Request,
    card: Card,
    values: dict[str, str],
    day: date,
    therapist_filter: int | None,
) -> Response:
    """A typed time outside working hours or inside the notice, with a reason; the
    overlap guard, time off and the client's care still decide."""
    zone = settings_of(request).zone
    async with db_of(request).reading() as session:
        everyone = {therapist_id for therapist_id, _ in await calendar.therapists(session)}
    asked, errors = overrides.parse_override(values, everyone, day, zone, now_utc())
    status = 422
    if not errors and asked.start is not None:
        try:
            moved = await reschedule_appointment(
                db_of(request),
                card.appointment_id,
                start=asked.start,
                therapist_id=asked.therapist_id,
                actor_user_id=signed_in_staff(request).user_id,
                overrides=asked.overrides,
                override_reason=asked.reason,
            )
        except SlotTaken:
            errors, status = {"override_time": overrides.NOT_FREE}, 409
        except Deferred:
            errors = {"override_time": DEFERRED}
        except InvalidInput as invalid:
            errors = {"override_time": next(iter(invalid.field_errors.values()), invalid.message)}
        except Conflict as refused:
            errors, status = {"override_time": refused.message}, 409
        else:
            return _moved(request, moved)
    return await _render_move(
        request,
        day=day,
        therapist_id=therapist_filter,
        errors=errors,
        status=status,
        override_values=values,
    )


# Cancel


async def _render_cancel(
    request: Request,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
    refusal: str | None = None,
) -> Response:
    zone = settings_of(request).zone
    card = await _card(request)
    context: dict[str, Any] = {
        "card": card,
        "zone": zone,
        "errors": errors or {},
        "values": values or {},
        "panel_url": _panel_url(request),
        "reason_max": REASON_MAX,
        "refusal": refusal or why_not_cancellable(card.status),
    }
    if context["refusal"] is not None:
        return _render(request, "desk/cancel.html", context, 409)
    context["choices"] = await cancel_choices(
        db_of(request), card.appointment_id, now=now_utc(), zone=zone
    )
    return _render(request, "desk/cancel.html", context, status)


@requires(Role.FRONTDESK)
async def cancel_page(request: Request) -> Response:
    return await _render_cancel(request)


def _cancel_problems(values: dict[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if values["cancelled_by"] not in WHO:
        errors["cancelled_by"] = "Choose who is cancelling: the client or the clinic"
    if not values["reason"]:
        errors["reason"] = "Enter why the visit is cancelled"
    elif len(values["reason"]) > REASON_MAX:
        errors["reason"] = f"The reason must be {REASON_MAX} characters or fewer"
    return errors


@requires(Role.FRONTDESK)
async def cancel_submit(request: Request) -> Response:
    zone = settings_of(request).zone
    card = await _card(request)
    if why_not_cancellable(card.status) is not None:
        return await _render_cancel(request)
    form = await request.form()
    values = {
        "cancelled_by": str(form.get("cancelled_by", "")).strip(),
        "medically_excused": "yes" if form.get("medically_excused") == "yes" else "",
        "reason": str(form.get("reason", "")).strip(),
    }
    if errors := _cancel_problems(values):
        return await _render_cancel(request, errors=errors, values=values, status=422)
    cancelled_by = WHO[values["cancelled_by"]]
    excused = bool(values["medically_excused"]) and cancelled_by is CancelledBy.CLIENT
    choices = await cancel_choices(db_of(request), card.appointment_id, now=now_utc(), zone=zone)
    outcome = choices.chosen(cancelled_by, excused)
    if form.get("late_shown") == "no" and outcome.fee_minor:
        # The page promised a free cancellation and the window has closed since.
        fee = money(outcome.fee_minor, choices.currency)
        message = (
            f"The free cancellation time has just passed: cancelling now costs {fee}. "
            "Check what happens to the money and cancel again."
        )
        return await _render_cancel(
            request, errors={"cancelled_by": message}, values=values, status=409
        )
    try:
        cancelled = await cancel_appointment(
            db_of(request),
            card.appointment_id,
            cancelled_by=cancelled_by,
            reason=values["reason"],
            medically_excused=excused,
            actor_user_id=signed_in_staff(request).user_id,
        )
    except Conflict as refused:
        return await _render_cancel(request, refusal=refused.message)
    outcome = as_charged(outcome, fee_minor=cancelled.fee_minor, choices=choices)
    when = f"{short_date(card.starts_at, zone)} at {clock_time(card.starts_at, zone)}"
    flash(
        request,
        f"Cancelled: {card.client_name}, {when}. {outcome.fee_words}. {outcome.money}",
        "success",
    )
    url = request.url_for("desk:day", day=card.on(zone).isoformat()).path
    return RedirectResponse(url, 303)


__all__ = ["cancel_page", "cancel_submit", "move_page", "move_submit"]
