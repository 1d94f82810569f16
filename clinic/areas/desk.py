"""The front desk's pages: the day calendar (`/desk/`, `/desk/YYYY-MM-DD`), a therapist's
week, and one visit's panel with check-in and the undos. The desk sees schedule, contact
and payment facts and the intake's flags, never clinical details.

Marking a no-show, taking payment and chasing a clearance have their own pages
(clinic/payments/desk_pages/, clinic/clearance/pages.py); the panel links or posts to
them, as it links to moving and cancelling (clinic/areas/desk_visits.py)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clinic.auth.models import DeskDensity, Role
from clinic.auth.web import requires, signed_in_staff
from clinic.booking.statuses import AppointmentStatus
from clinic.booking.visits import (
    CHECK_IN_OPENS,
    VisitMoved,
    check_in,
    check_in_opens,
    may_check_in,
    undo_check_in,
    undo_no_show,
)
from clinic.clearance.pages import CHASE_LABELS
from clinic.clock import now_utc, today_in
from clinic.db import Database
from clinic.desk import calendar
from clinic.desk.cancels import may_cancel
from clinic.desk.cards import FLAG_KEY, LOOKS
from clinic.desk.chasing import open_clearance
from clinic.desk.moves import may_move
from clinic.desk.preferences import set_desk_density
from clinic.errors import Conflict, InvalidInput
from clinic.payments.desk_pages import NO_SHOW_FROM
from clinic.web.caching import no_store
from clinic.web.context import db_of, settings_of, templates_of
from clinic.web.flash import flash
from clinic.web.ids import parse_id
from clinic.web.templating import block_response

# The calendar shows days in this range (day_bounds needs the day after the last).
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
DAY_FORMAT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
# The order the key lists statuses in.
KEY_ORDER = ("confirmed", "pending_clearance", "checked_in", "completed", "no_show")
KEY_LOOKS = tuple(LOOKS[key] for key in (*KEY_ORDER, "late_cancel", "cancelled"))
# The id of the grid and to-do list that the day page's poll asks for (templates/desk/day.html).
LIVE_TARGET = "desk-live"
# Where the density switch may send the desk back to: a day page, with its filters.
RETURN_PATH = re.compile(
    r"/desk/(?:[0-9]{4}-[0-9]{2}-[0-9]{2})?(?:\?[a-z]+=1(?:&[a-z]+=1)?)?", re.ASCII
)


class DayInPath(Convertor[str]):
    """`/desk/{day:desk_day}`: anything that starts like a date (a digit), so that
    `/desk/week` and `/desk/takings` never reach the day page and a mistyped date gets
    the day page's clear 400 rather than a 404. The page parses it strictly."""

    regex = "[0-9][0-9-]{0,20}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return str(value)


register_url_convertor("desk_day", DayInPath())


def parse_day(raw: str) -> date:
    """A date written YYYY-MM-DD, and nothing else; ValueError says what to type."""
    text = raw.strip()
    if not DAY_FORMAT.fullmatch(text):
        raise ValueError("Enter the date like 2026-11-27 (year, month, day)")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError("Enter a real date, like 2026-11-27") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"Enter a date between {FIRST_DAY.year} and {LAST_DAY.year}")
    return day


def _filters(request: Request) -> dict[str, bool]:
    return {
        "show_all": request.query_params.get("all") == "1",
        "show_cancelled": request.query_params.get("cancelled") == "1",
    }


def _query(*, show_all: bool, show_cancelled: bool) -> str:
    params = {"all": "1"} if show_all else {}
    if show_cancelled:
        params["cancelled"] = "1"
    return f"?{urlencode(params)}" if params else ""


# The day


@requires(Role.FRONTDESK)
async def today(request: Request) -> Response:
    """Today's calendar; `?day=YYYY-MM-DD` (the date field's Go) goes to that day's page."""
    raw = request.query_params.get("day")
    if raw is not None:
        try:
            chosen = parse_day(raw)
        except ValueError as bad:
            return _bad_day(request, raw, str(bad))
        url = request.url_for("desk:day", day=chosen.isoformat()).path
        return RedirectResponse(url + _query(**_filters(request)), 303)
    return await _render_day(request, today_in(settings_of(request).zone))


@requires(Role.FRONTDESK)
async def day(request: Request) -> Response:
    raw = str(request.path_params["day"])
    try:
        shown = parse_day(raw)
    except ValueError as bad:
        return _bad_day(request, raw, str(bad))
    return await _render_day(request, shown)


def _bad_day(request: Request, raw: str, message: str) -> Response:
    response = templates_of(request).TemplateResponse(
        request,
        "desk/day.html",
        {
            "view": None,
            "errors": {"day": message},
            "raw_day": raw,
            "zone": settings_of(request).zone,
            "filters": _filters(request),
            "compact": _compact(request),
        },
        status_code=400,
    )
    return no_store(response)


async def _render_day(request: Request, day: date) -> Response:
    zone = settings_of(request).zone
    filters = _filters(request)
    async with db_of(request).reading() as session:
        view = await calendar.day_view(session, day, zone, now=now_utc(), **filters)
    today_is = today_in(zone)
    previous = day - timedelta(days=1) if day > FIRST_DAY else None
    following = day + timedelta(days=1) if day < LAST_DAY else None
    context: dict[str, Any] = {
        "view": view,
        "zone": zone,
        "errors": {},
        "filters": filters,
        "is_today": day == today_is,
        "previous": previous,
        "next": following,
        "keep": _query(**filters),
        "toggle_all": _query(
            show_all=not filters["show_all"], show_cancelled=filters["show_cancelled"]
        ),
        "toggle_cancelled": _query(
            show_all=filters["show_all"], show_cancelled=not filters["show_cancelled"]
        ),
        "week_start": day - timedelta(days=day.weekday()),
        "looks": KEY_LOOKS,
        "flag_key": FLAG_KEY,
        "attention_days": calendar.CHASE_DAYS,
        "here": request.url_for("desk:day", day=day.isoformat()).path + _query(**filters),
        "compact": _compact(request),
        "now_line": _now_line(view),
    }
    headers = request.headers
    if headers.get("hx-request") == "true" and headers.get("hx-target") == LIVE_TARGET:
        # Only the grid and the to-do list, read exactly as for the whole page.
        response: Response = block_response(
            templates_of(request), request, "desk/day.html", "live", context
        )
    else:
        response = templates_of(request).TemplateResponse(request, "desk/day.html", context)
    # The same address answers the whole page or, to the poll, its live part.
    response.headers["vary"] = "HX-Request, HX-Target"
    return no_store(response)


def _compact(request: Request) -> bool:
    return signed_in_staff(request).desk_density is DeskDensity.COMPACT


def _now_line(view: calendar.DayView) -> dict[str, int] | None:
    """What static/desk.js needs to move the now line each minute without trusting the
    browser's clock zone: the server's now, the grid's first and last instants (epoch
    seconds) and the clinic's UTC offset in minutes."""
    if view.now is None:
        return None
    offset = view.now.astimezone(view.zone).utcoffset() or timedelta(0)
    return {
        "at": int(view.now.timestamp()),
        "start": int(view.start.timestamp()),
        "end": int(view.end.timestamp()),
        "offset": int(offset.total_seconds()) // 60,
    }


@requires(Role.FRONTDESK)
async def density(request: Request) -> Response:
    """Comfortable or compact rows on the day grid, for this member of staff on every
    device; back to the day page they were on."""
    form = await request.form()
    try:
        chosen = DeskDensity(str(form.get("density", "")))
    except ValueError:
        raise InvalidInput(
            "Choose comfortable or compact rows.",
            field_errors={"density": "Choose comfortable or compact rows."},
        ) from None
    await set_desk_density(db_of(request), signed_in_staff(request).user_id, chosen)
    flash(request, f"The day's rows are now {chosen.value}.", "success")
    back = str(form.get("next", ""))
    url = back if RETURN_PATH.fullmatch(back) else request.url_for("desk:today").path
    return RedirectResponse(url, 303)


# A therapist's week


@requires(Role.FRONTDESK)
async def week(request: Request) -> Response:
    """`/desk/week?therapist=ID&start=YYYY-MM-DD`: seven days from `start` (this week's
    Monday when not given), each a list. Without a therapist: the list to choose from."""
    zone = settings_of(request).zone
    today_is = today_in(zone)
    raw_therapist = request.query_params.get("therapist", "").strip()
    raw_start = request.query_params.get("start", "").strip()
    errors: dict[str, str] = {}
    therapist_id = parse_id(raw_therapist) if raw_therapist else None
    if raw_therapist and therapist_id is None:
        errors["therapist"] = "Choose a therapist from the list"
    start = today_is - timedelta(days=today_is.weekday())
    if raw_start:
        try:
            start = parse_day(raw_start)
        except ValueError as bad:
            errors["start"] = str(bad)
        else:
            start = min(start, LAST_DAY - timedelta(days=6))
    context: dict[str, Any] = {
        "zone": zone,
        "errors": errors,
        "view": None,
        "choices": [],
        "raw_start": raw_start,
    }
    async with db_of(request).reading() as session:
        if therapist_id is None or errors:
            context["choices"] = await calendar.therapists(session)
        else:
            context["view"] = await calendar.week_view(session, therapist_id, start, zone)
    context.update(
        {
            "start": start,
            "today": today_is,
            "previous": start - timedelta(days=7)
            if start - timedelta(days=7) >= FIRST_DAY
            else None,
            "next": start + timedelta(days=7) if start + timedelta(days=13) <= LAST_DAY else None,
            "this_week": today_is - timedelta(days=today_is.weekday()),
        }
    )
    response = templates_of(request).TemplateResponse(
        request, "desk/week.html", context, status_code=400 if errors else 200
    )
    return no_store(response)


# One visit's panel


@requires(Role.FRONTDESK)
async def visit_panel(request: Request) -> Response:
    """The side panel as a full page: the visit and what the desk can do about it now."""
    appointment_id = int(request.path_params["appointment_id"])
    zone = settings_of(request).zone
    async with db_of(request).reading() as session:
        panel = await calendar.visit_panel(session, appointment_id, zone)
        chase = await open_clearance(session, appointment_id)
    card = panel.card
    now = now_utc()
    context = {
        "panel": panel,
        "card": card,
        "zone": zone,
        "day": card.on(zone),
        "may_check_in": may_check_in(card.status, card.starts_at, now),
        "check_in_opens": check_in_opens(card.starts_at),
        "check_in_minutes": int(CHECK_IN_OPENS.total_seconds() // 60),
        "may_no_show": card.status in NO_SHOW_FROM and card.starts_at <= now,
        # Back from a waiver without its reason: the waiver stays chosen.
        "waive_chosen": request.query_params.get("fee") == "waive",
        "clearance_relevant": card.status is AppointmentStatus.PENDING_CLEARANCE
        or any(flag.key in ("clearance", "expiring") for flag in card.flags),
        "week_start": card.on(zone) - timedelta(days=card.on(zone).weekday()),
        "may_move": may_move(card.status, card.starts_at, now),
        "may_cancel": may_cancel(card.status),
        "open_clearance": chase,
        "chase_labels": CHASE_LABELS,
    }
    response = templates_of(request).TemplateResponse(request, "desk/visit.html", context)
    return no_store(response)


Move = Callable[..., Awaitable[VisitMoved]]


async def _move(request: Request, move: Move, said: Callable[[VisitMoved], str]) -> Response:
    """Make a move, then back to the panel with what happened (or why it could not)."""
    appointment_id = int(request.path_params["appointment_id"])
    db: Database = db_of(request)
    try:
        moved = await move(db, appointment_id, actor_user_id=signed_in_staff(request).user_id)
    except Conflict as refused:
        flash(request, refused.message, "error")
    else:
        flash(request, said(moved), "success")
    url = request.url_for("desk:visit", appointment_id=appointment_id).path
    return RedirectResponse(url, 303)


@requires(Role.FRONTDESK)
async def check_in_visit(request: Request) -> Response:
    return await _move(request, check_in, lambda moved: f"{moved.client_name} checked in.")


@requires(Role.FRONTDESK)
async def undo_check_in_visit(request: Request) -> Response:
    return await _move(
        request,
        undo_check_in,
        lambda moved: f"Check-in undone: {moved.client_name} is booked again.",
    )


@requires(Role.FRONTDESK)
async def undo_no_show_visit(request: Request) -> Response:
    return await _move(
        request,
        undo_no_show,
        lambda moved: (
            f"No-show undone: {moved.client_name} is booked again and the no-show fee is dropped."
        ),
    )
