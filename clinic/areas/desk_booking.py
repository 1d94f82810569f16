"""The front desk books on a client's behalf: find the client (or add them), choose the
service, therapist and day, then a free time; or, with a reason that is audited, a time
outside the usual rules (outside working hours, inside the minimum notice, a walk-in).
The overlap guard, time off, closures, rooms and the training a client's care needs are
never set aside: every booking goes through `book_slot` and the database's guard.

The choosing form is a POST: the gate question (cancer or its treatment, ever) is a
health answer, and health answers never go in a URL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clinic.areas.desk import parse_day
from clinic.auth.models import Role
from clinic.auth.web import requires, signed_in_staff
from clinic.booking.bookings import Booked, book_slot
from clinic.booking.statuses import AppointmentSource, AppointmentStatus
from clinic.booking.taking import SlotRequest, SlotTaken
from clinic.booking.visits import check_in
from clinic.clients.directory import ClientExists, ClientMatch, add_client, find_clients
from clinic.clock import now_utc, today_in
from clinic.desk import booking as desk_booking
from clinic.desk import overrides
from clinic.desk.booking import Choices, DayTimes
from clinic.errors import ClinicError, InvalidInput
from clinic.scheduling.availability import NO_OVERRIDES, RuleOverrides
from clinic.web.caching import no_store
from clinic.web.context import db_of, settings_of, templates_of
from clinic.web.flash import flash
from clinic.web.formatting import clock_time, long_date
from clinic.web.ids import parse_id

CHOICE_FIELDS = ("service", "therapist", "day", "cancer")


def _carried(request: Request) -> dict[str, str]:
    """The day and therapist a "New appointment" link came with, kept through the steps."""
    carried = {}
    for name in ("day", "therapist"):
        value = request.query_params.get(name, "").strip()
        if value and len(value) <= 20:
            carried[name] = value
    return carried


# Step 1: the client


@requires(Role.FRONTDESK)
async def find_client(request: Request) -> Response:
    """`/desk/book?q=`: find the client to book for, or add a new one."""
    query = request.query_params.get("q", "").strip()[:100]
    return await _render_find(request, query=query, values={}, errors={})


async def _render_find(
    request: Request,
    *,
    query: str,
    values: dict[str, str],
    errors: dict[str, str],
    existing_client_id: int | None = None,
    status_code: int = 200,
) -> Response:
    matches: list[ClientMatch] = []
    more = False
    if query:
        async with db_of(request).reading() as session:
            matches, more = await find_clients(session, query)
    context: dict[str, Any] = {
        "query": query,
        "matches": matches,
        "more": more,
        "values": values,
        "errors": errors,
        "existing_client_id": existing_client_id,
        "carried": _carried(request),
        "carried_query": urlencode(_carried(request)),
    }
    response = templates_of(request).TemplateResponse(
        request, "desk/book_find.html", context, status_code=status_code
    )
    return no_store(response)


@requires(Role.FRONTDESK)
async def create_client(request: Request) -> Response:
    form = await request.form()
    values = {name: str(form.get(name, ""))[:300] for name in ("name", "email", "phone")}
    try:
        client_id = await add_client(
            db_of(request), **values, actor_user_id=signed_in_staff(request).user_id
        )
    except ClientExists as exists:
        return await _render_find(
            request,
            query="",
            values=values,
            errors=exists.field_errors,
            existing_client_id=exists.client_id,
            status_code=409,
        )
    except InvalidInput as invalid:
        return await _render_find(
            request, query="", values=values, errors=invalid.field_errors, status_code=422
        )
    flash(request, f"{values['name'].strip()} added. Now choose the visit.", "success")
    url = request.url_for("desk:book_client", client_id=client_id).path
    carried = urlencode(_carried(request))
    return RedirectResponse(f"{url}?{carried}" if carried else url, 303)


# Step 2: the visit


@requires(Role.FRONTDESK)
async def choose_visit(request: Request) -> Response:
    """The choosing form for one client, filled from a "New appointment" link."""
    zone = settings_of(request).zone
    carried = _carried(request)
    values = {
        "service": request.query_params.get("service", "")[:20],
        "therapist": carried.get("therapist", "any"),
        "day": carried.get("day", today_in(zone).isoformat()),
        "cancer": "",
    }
    return await _render_visit(request, values=values, errors={}, times=None)


@requires(Role.FRONTDESK)
async def show_times(request: Request) -> Response:
    form = await request.form()
    values = _choice_values(form)
    async with db_of(request).reading() as session:
        choices = await desk_booking.choices_for(session, _client_id(request))
    chosen, errors = _parse_choice(values, choices, today_in(settings_of(request).zone))
    if errors:
        return await _render_visit(
            request, values=values, errors=errors, times=None, choices=choices, status_code=422
        )
    times = await _times(request, choices, chosen)
    return await _render_visit(request, values=values, errors={}, times=times, choices=choices)


@requires(Role.FRONTDESK)
async def book_visit(request: Request) -> Response:
    """Book the chosen free time, a time outside the rules, or a walk-in (`mode`)."""
    form = await request.form()
    values = (
        _choice_values(form)
        | overrides.form_values(form)
        | {
            name: str(form.get(name, ""))[: overrides.REASON_LIMIT + 1]
            for name in ("walk_in_therapist", "walk_in_reason", "slot")
        }
    )
    values["walk_in_outside_hours"] = "1" if form.get("walk_in_outside_hours") else ""
    mode = str(form.get("mode", "slot"))
    db = db_of(request)
    zone = settings_of(request).zone
    async with db.reading() as session:
        choices = await desk_booking.choices_for(session, _client_id(request))
    chosen, errors = _parse_choice(values, choices, today_in(zone))
    if errors:
        return await _render_visit(
            request, values=values, errors=errors, times=None, choices=choices, status_code=422
        )
    if mode == "override":
        asked, errors = overrides.parse_override(
            values, {tid for tid, _ in choices.therapists}, chosen["day"], zone, now_utc()
        )
        wanted = Wanted(
            asked.start, asked.therapist_id, asked.overrides, asked.reason, "override_time"
        )
    elif mode == "walk_in":
        wanted, errors = _parse_walk_in(values, choices)
    else:
        wanted, errors = _parse_slot(values, choices)
    status_code = 422
    booked: Booked | None = None
    if not errors and wanted.start is not None:
        request_for = SlotRequest(
            service_id=chosen["service_id"],
            start=wanted.start,
            therapist_id=wanted.therapist_id,
            overrides=wanted.overrides,
        )
        try:
            booked = await book_slot(
                db,
                request_for,
                client=choices.client.client_id,
                source=AppointmentSource.DESK,
                currency=settings_of(request).currency,
                created_by_user_id=signed_in_staff(request).user_id,
                cancer_history=chosen["cancer_history"],
                override_reason=wanted.reason,
            )
        except SlotTaken:
            errors = {wanted.field: _not_free(mode)}
            status_code = 409
        except InvalidInput as invalid:
            errors = {
                _field_for(name, mode, wanted.field): message
                for name, message in invalid.field_errors.items()
            } or {wanted.field: invalid.message}
        except ClinicError as refused:
            errors = {wanted.field: refused.message}
            status_code = refused.status_code
    if booked is None:
        times = await _times(request, choices, chosen)
        return await _render_visit(
            request,
            values=values,
            errors=errors,
            times=times,
            choices=choices,
            status_code=status_code,
        )
    said = _booked_message(booked, choices, zone)
    if mode == "walk_in" and booked.status is AppointmentStatus.CONFIRMED:
        try:
            await check_in(
                db, booked.appointment_id, actor_user_id=signed_in_staff(request).user_id
            )
        except ClinicError as refused:
            said += f" Not checked in: {refused.message}"
        else:
            said += " Checked in."
    flash(request, said, "success")
    return RedirectResponse(
        request.url_for("desk:visit", appointment_id=booked.appointment_id).path, 303
    )


@dataclass(frozen=True)
class Wanted:
    """The time asked for, by any of the three forms, and the field its errors go beside."""

    start: datetime | None
    therapist_id: int | None
    overrides: RuleOverrides
    reason: str
    field: str


def _client_id(request: Request) -> int:
    return int(request.path_params["client_id"])


def _choice_values(form: FormData) -> dict[str, str]:
    return {name: str(form.get(name, "")).strip()[:20] for name in CHOICE_FIELDS}


def _parse_choice(
    values: dict[str, str], choices: Choices, today: date
) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    service_id = parse_id(values["service"])
    if choices.service(service_id) is None:
        errors["service"] = "Choose a service from the list"
    therapist_id: int | None = None
    if values["therapist"] not in ("", "any"):
        therapist_id = parse_id(values["therapist"])
        if therapist_id is None or not choices.therapist_name(therapist_id):
            errors["therapist"] = "Choose a therapist from the list, or anyone suitable"
    day = today
    try:
        day = parse_day(values["day"])
    except ValueError as bad:
        errors["day"] = str(bad)
    else:
        if day < today:
            errors["day"] = "Choose today or a later day"
    cancer_history: bool | None = None
    if not choices.has_intake:
        if values["cancer"] not in ("yes", "no"):
            errors["cancer"] = "Ask the client and choose yes or no"
        cancer_history = values["cancer"] == "yes"
    chosen = {
        "service_id": service_id,
        "therapist_id": therapist_id,
        "day": day,
        "cancer_history": cancer_history,
    }
    return chosen, errors


def _parse_slot(values: dict[str, str], choices: Choices) -> tuple[Wanted, dict[str, str]]:
    therapist_raw, _, start_raw = values["slot"].partition("|")
    therapist_id = parse_id(therapist_raw)
    start = _instant(start_raw)
    wanted = Wanted(start, therapist_id, NO_OVERRIDES, "", "slot")
    if therapist_id is None or start is None or not choices.therapist_name(therapist_id):
        return wanted, {"slot": "Choose one of the free times"}
    return wanted, {}


def _parse_walk_in(values: dict[str, str], choices: Choices) -> tuple[Wanted, dict[str, str]]:
    errors: dict[str, str] = {}
    therapist_id = parse_id(values["walk_in_therapist"])
    if therapist_id is None or not choices.therapist_name(therapist_id):
        errors["walk_in_therapist"] = "Choose the therapist"
    errors |= overrides.reason_problem(values["walk_in_reason"], "walk_in_reason")
    wanted = Wanted(
        desk_booking.walk_in_start(now_utc()),
        therapist_id,
        RuleOverrides(outside_hours=bool(values["walk_in_outside_hours"]), inside_notice=True),
        values["walk_in_reason"],
        "walk_in_therapist",
    )
    return wanted, errors


def _instant(raw: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _field_for(name: str, mode: str, fallback: str) -> str:
    """Where an error from the booking goes on this page."""
    if name == "override_reason":
        return "walk_in_reason" if mode == "walk_in" else "override_reason"
    if name in ("service_id", "service"):
        return "service"
    return fallback


def _not_free(mode: str) -> str:
    if mode == "slot":
        return "That time was taken a moment ago. Choose another from the fresh list."
    return overrides.NOT_FREE


async def _times(request: Request, choices: Choices, chosen: dict[str, Any]) -> DayTimes | str:
    """The day's free times, or a sentence saying why they cannot be listed."""
    db = db_of(request)
    try:
        care = await desk_booking.care_of(db, choices.client.client_id, chosen["cancer_history"])
        return await desk_booking.day_times(
            db,
            choices,
            service_id=chosen["service_id"],
            therapist_id=chosen["therapist_id"],
            day=chosen["day"],
            care=care,
        )
    except ClinicError as refused:
        return refused.message


async def _render_visit(
    request: Request,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    times: DayTimes | str | None,
    choices: Choices | None = None,
    status_code: int = 200,
) -> Response:
    zone = settings_of(request).zone
    if choices is None:
        async with db_of(request).reading() as session:
            choices = await desk_booking.choices_for(session, _client_id(request))
    today = today_in(zone)
    context: dict[str, Any] = {
        "choices": choices,
        "client": choices.client,
        "values": values,
        "errors": errors,
        "times": times if isinstance(times, DayTimes) else None,
        "times_problem": times if isinstance(times, str) else None,
        "zone": zone,
        "today": today,
        "walk_in_at": desk_booking.walk_in_start(now_utc()),
        "shown_day": _shown_day(values),
    }
    response = templates_of(request).TemplateResponse(
        request, "desk/book_visit.html", context, status_code=status_code
    )
    return no_store(response)


def _shown_day(values: dict[str, str]) -> date | None:
    try:
        return parse_day(values.get("day", ""))
    except ValueError:
        return None


def _booked_message(booked: Booked, choices: Choices, zone: ZoneInfo) -> str:
    when = f"{long_date(booked.start, zone)}, {clock_time(booked.start, zone)}"
    name = choices.therapist_name(booked.therapist_id)
    said = f"Booked: {choices.client.name}, {when} with {name}."
    if booked.status is AppointmentStatus.PENDING_CLEARANCE:
        said += " It waits for a medical clearance before it is confirmed."
    return said
