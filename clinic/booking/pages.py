"""The client's booking pages (/book...) and manage pages (/manage/{token}...).

One question per page: each GET shows a page, each POST checks it and redirects
(post-redirect-get), and all of it works with JavaScript off. The choices so far travel
in the query string (service, therapist or "any", date); once a time is chosen the hold
keeps it, its secret in the HttpOnly clinic_hold cookie, and the client's details wait
for the check page in a signed cookie. A random clinic_browser cookie keeps one live hold
per browser.

The manage token in a path is the client's credential: it never goes in a title, and a
token that matches nothing is the 404 page.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clinic.booking.bookings import (
    BookingView,
    ClientDetails,
    HoldGone,
    book_from_hold,
    booking_for_token,
    cancel_by_token,
    reschedule_by_token,
)
from clinic.booking.holds import TooManyHolds, owner_key, place_hold, token_hash
from clinic.booking.models import Appointment
from clinic.booking.policies import (
    OPTION_KEY,
    CancellationTerms,
    Policies,
    cancellation_terms,
    deposit_for,
    policies_from,
)
from clinic.booking.statuses import AppointmentSource, AppointmentStatus, CancelledBy
from clinic.booking.taking import SlotRequest, SlotTaken
from clinic.clock import now_utc
from clinic.db import Database
from clinic.errors import ClinicError, InvalidInput
from clinic.options import get_option
from clinic.scheduling.availability import Slot
from clinic.scheduling.models import Location, Service
from clinic.scheduling.service import free_times, primary_location, public_services
from clinic.scheduling.service import public_therapists as load_public_therapists
from clinic.settings import Settings
from clinic.staff.credentials import Qualification
from clinic.staff.models import Therapist
from clinic.web.context import db_of, settings_of, templates_of
from clinic.web.flash import flash
from clinic.web.formatting import clock_time, long_date, money, zone_label

HOLD_COOKIE = "clinic_hold"
BROWSER_COOKIE = "clinic_browser"
DETAILS_COOKIE = "clinic_details"
# The booking cookies go only to the booking pages.
COOKIE_PATH = "/book"
HOLD_COOKIE_SECONDS = 60 * 60
DETAILS_COOKIE_SECONDS = 60 * 60
BROWSER_COOKIE_SECONDS = 60 * 60 * 24 * 30
DETAILS_SALT = "clinic.booking.details"

ANY = "any"
TOTAL_STEPS = 6
WEEK_DAYS = 7
# "Next available" looks ahead this many days per query.
SEARCH_CHUNK_DAYS = 14
MAX_FIELD_CHARS = 500

CHOOSE_SERVICE = "Choose a service"
CHOOSE_THERAPIST = "Choose a therapist, or anyone suitable"
CHOOSE_TIME = "Choose a time"
# Whatever the service says, to the client a time we listed that cannot be had was taken.
TIME_TAKEN = "That time has just been booked. Choose another."
NO_HOLD = "We are not holding a time for you. Choose a service and a time to start again."
HOLD_ENDED = (
    "The time you chose is no longer held for you, and someone else may have booked it. "
    "Choose a time again."
)
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


# How dates and times read


def day_text(day: date) -> str:
    """Tuesday 14 May."""
    return f"{day:%A} {day.day} {day:%B}"


def short_day_text(day: date) -> str:
    """Tue 14 May."""
    return f"{day:%a} {day.day} {day:%b}"


def moment_text(instant: datetime, zone: ZoneInfo) -> str:
    """9:30am on Monday 13 May."""
    return f"{clock_time(instant, zone)} on {day_text(instant.astimezone(zone).date())}"


def time_range_text(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    """9:30am to 10:30am, New York time (EST)."""
    return f"{clock_time(start, zone)} to {clock_time(end, zone)}, {zone_label(zone, start)}"


def part_of_day(local: datetime) -> str:
    if local.hour < 12:
        return "Morning"
    if local.hour < 17:
        return "Afternoon"
    return "Evening"


def slot_value(start: datetime) -> str:
    """The exact instant a time radio sends back: ISO 8601 in UTC."""
    return start.astimezone(UTC).isoformat()


def parse_start(value: str) -> datetime | None:
    if not value or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def parse_day(value: str | None) -> date | None:
    if not value or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


# Small web helpers


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip()[:MAX_FIELD_CHARS] if isinstance(value, str) else ""


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _url(
    request: Request, name: str, query: Mapping[str, object] | None = None, **path: str
) -> str:
    url = request.url_for(name, **path).path
    if query:
        url += "?" + urlencode({k: str(v) for k, v in query.items()})
    return url


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _set_cookie(response: Response, settings: Settings, name: str, value: str, age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        path=COOKIE_PATH,
        secure=settings.uses_https,
        httponly=True,
        samesite="lax",
    )


def _clear_cookie(response: Response, settings: Settings, name: str) -> None:
    response.delete_cookie(
        name, path=COOKIE_PATH, secure=settings.uses_https, httponly=True, samesite="lax"
    )


def _details_serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=DETAILS_SALT)


def _read_details(request: Request) -> ClientDetails | None:
    raw = request.cookies.get(DETAILS_COOKIE)
    if not raw:
        return None
    try:
        data = _details_serializer(settings_of(request)).loads(raw, max_age=DETAILS_COOKIE_SECONDS)
    except BadSignature:
        return None
    if not isinstance(data, list) or len(data) != 3 or not all(isinstance(v, str) for v in data):
        return None
    return ClientDetails(name=data[0], email=data[1], phone=data[2])


def _render(
    request: Request, template: str, context: dict[str, Any], status: int = 200
) -> Response:
    defaults: dict[str, Any] = {"total_steps": TOTAL_STEPS, "errors": {}, "back_url": None}
    clinic = context.get("clinic")
    if isinstance(clinic, Clinic):
        defaults["clinic_name"] = clinic.name
    return templates_of(request).TemplateResponse(
        request, template, {**defaults, **context}, status_code=status
    )


# The clinic, the choices so far, the hold


@dataclass(frozen=True)
class Clinic:
    name: str
    address: str
    phone: str
    zone: ZoneInfo
    today: date
    # The last local date online bookings are open for.
    last_day: date
    policies: Policies


async def _clinic(session: AsyncSession, settings: Settings) -> Clinic:
    location = await primary_location(session)
    zone = ZoneInfo(location.timezone) if location else settings.zone
    policies = policies_from(await get_option(session, OPTION_KEY))
    now = now_utc()
    return Clinic(
        name=location.name if location else "Massage therapy",
        address=location.address if location else "",
        phone=location.phone if location else "",
        zone=zone,
        today=now.astimezone(zone).date(),
        last_day=(now + policies.booking_rules().booking_window).astimezone(zone).date(),
        policies=policies,
    )


def suits(qualification: Qualification, service: Service) -> bool:
    """Qualified for the service today (the reason one is not is never shown)."""
    if not qualification.bookable:
        return False
    level = qualification.oncology_level or 0
    if service.min_oncology_level is not None and level < service.min_oncology_level:
        return False
    return qualification.lymphedema or not service.needs_lymphedema


@dataclass(frozen=True)
class Choice:
    clinic: Clinic
    service: Service
    # Who offers the service and is qualified for it today.
    therapists: list[Therapist]
    # None: anyone suitable.
    therapist: Therapist | None
    # False when the query named a therapist who is not among `therapists`.
    therapist_valid: bool

    @property
    def therapist_key(self) -> str:
        return str(self.therapist.id) if self.therapist else ANY

    @property
    def therapist_id(self) -> int | None:
        return self.therapist.id if self.therapist else None


def _find_service(services: list[Service], raw: str | None) -> Service | None:
    if not raw or not raw.isdigit() or len(raw) > 10:
        return None
    return next((s for s in services if s.id == int(raw)), None)


async def _choice(
    request: Request, service_raw: str | None, therapist_raw: str | None
) -> Choice | None:
    """The choices named so far, or None when the service is not one bookable online."""
    async with db_of(request).reading() as session:
        clinic = await _clinic(session, settings_of(request))
        service = _find_service(await public_services(session), service_raw)
        if service is None:
            return None
        rows = await load_public_therapists(session, clinic.today)
    therapists = [
        row.therapist
        for row in rows
        if service.id in row.service_ids and suits(row.qualification, service)
    ]
    therapist: Therapist | None = None
    valid = True
    if therapist_raw and therapist_raw != ANY:
        therapist = next((t for t in therapists if str(t.id) == therapist_raw), None)
        valid = therapist is not None
    return Choice(clinic, service, therapists, therapist, valid)


@dataclass(frozen=True)
class HeldTime:
    """The time this browser holds, from its hold cookie."""

    status: AppointmentStatus
    service: Service
    therapist_id: int
    therapist_name: str
    therapist_chosen: bool
    start: datetime
    end: datetime
    expires_at: datetime | None
    price_minor: int
    currency: str
    zone: ZoneInfo
    clinic: Clinic

    @property
    def live(self) -> bool:
        return (
            self.status is AppointmentStatus.HELD
            and self.expires_at is not None
            and self.expires_at > now_utc()
        )

    @property
    def therapist_key(self) -> str:
        return str(self.therapist_id) if self.therapist_chosen else ANY

    @property
    def day(self) -> date:
        return self.start.astimezone(self.zone).date()


async def _held_time(request: Request) -> HeldTime | None:
    token = request.cookies.get(HOLD_COOKIE)
    if not token or len(token) > 200:
        return None
    async with db_of(request).reading() as session:
        row = (
            await session.execute(
                select(Appointment, Service, Therapist.display_name, Location.timezone)
                .join(Service, Service.id == Appointment.service_id)
                .join(Therapist, Therapist.id == Appointment.therapist_id)
                .join(Location, Location.id == Appointment.location_id)
                .where(
                    Appointment.hold_token_hash == token_hash(token),
                    Appointment.status.in_((AppointmentStatus.HELD, AppointmentStatus.EXPIRED)),
                )
            )
        ).one_or_none()
        if row is None:
            return None
        appointment, service, therapist_name, timezone = row
        clinic = await _clinic(session, settings_of(request))
    return HeldTime(
        status=appointment.status,
        service=service,
        therapist_id=appointment.therapist_id,
        therapist_name=therapist_name,
        therapist_chosen=appointment.therapist_chosen,
        start=appointment.starts_at,
        end=appointment.ends_at,
        expires_at=appointment.hold_expires_at,
        price_minor=appointment.price_minor,
        currency=appointment.currency,
        zone=ZoneInfo(timezone),
        clinic=clinic,
    )


def _no_hold(request: Request) -> Response:
    flash(request, NO_HOLD, "info")
    return _see_other(_url(request, "book:service"))


# The week of times (the booking time step and the manage "Change time" page share it)


@dataclass(frozen=True)
class DayCell:
    day: date
    short: str
    long: str
    count: int
    url: str
    current: bool


@dataclass(frozen=True)
class TimeOption:
    value: str
    label: str


@dataclass(frozen=True)
class TimeGroup:
    name: str
    options: list[TimeOption]


@dataclass(frozen=True)
class TimeGrid:
    zone: ZoneInfo
    day: date
    day_label: str
    # Noon on the chosen day: which abbreviation the zone has then (EST or EDT).
    on: datetime
    days: list[DayCell]
    groups: list[TimeGroup]
    earlier_url: str | None
    later_url: str | None
    next_label: str | None
    next_url: str | None
    selected: str | None = None
    week_label: str = ""
    option_count: int = field(default=0)


def _distinct(slots: list[Slot], skip: datetime | None) -> list[Slot]:
    """Each start once (for "anyone suitable" several therapists share one)."""
    seen: set[datetime] = set()
    kept = []
    for slot in slots:
        if slot.start in seen or slot.start == skip:
            continue
        seen.add(slot.start)
        kept.append(slot)
    return kept


async def _first_free(
    db: Database,
    *,
    service_id: int,
    therapist_id: int | None,
    first_day: date,
    last_day: date,
    ignoring: int | None,
    skip: datetime | None,
) -> Slot | None:
    day = first_day
    while day <= last_day:
        chunk_end = min(day + timedelta(days=SEARCH_CHUNK_DAYS - 1), last_day)
        found = await free_times(
            db,
            service_id=service_id,
            first_day=day,
            last_day=chunk_end,
            therapist_id=therapist_id,
            ignoring_appointment=ignoring,
        )
        if found is None:
            return None
        slots = _distinct(found.slots, skip)
        if slots:
            return slots[0]
        day = chunk_end + timedelta(days=1)
    return None


async def time_grid(
    db: Database,
    *,
    clinic: Clinic,
    service_id: int,
    therapist_id: int | None,
    day: date | None,
    day_url: Callable[[date], str],
    ignoring: int | None = None,
    skip: datetime | None = None,
    selected: str | None = None,
) -> TimeGrid:
    """The week around `day` (weeks counted from today) with a count of free times per
    day, and the day's times grouped by part of the day. No day given: the next day with
    a free time."""
    zone = clinic.zone

    async def first_free() -> Slot | None:
        return await _first_free(
            db,
            service_id=service_id,
            therapist_id=therapist_id,
            first_day=clinic.today,
            last_day=clinic.last_day,
            ignoring=ignoring,
            skip=skip,
        )

    next_slot: Slot | None = None
    searched = False
    if day is None:
        next_slot = await first_free()
        searched = True
        day = next_slot.start.astimezone(zone).date() if next_slot else clinic.today
    day = min(max(day, clinic.today), clinic.last_day)
    week_start = clinic.today + timedelta(days=WEEK_DAYS * ((day - clinic.today).days // WEEK_DAYS))
    week_end = min(week_start + timedelta(days=WEEK_DAYS - 1), clinic.last_day)
    found = await free_times(
        db,
        service_id=service_id,
        first_day=week_start,
        last_day=week_end,
        therapist_id=therapist_id,
        ignoring_appointment=ignoring,
    )
    if found is not None:
        zone = found.zone
    slots = _distinct(found.slots if found else [], skip)
    by_day: dict[date, list[Slot]] = {}
    for slot in slots:
        by_day.setdefault(slot.start.astimezone(zone).date(), []).append(slot)
    if not searched:
        if week_start == clinic.today and slots:
            next_slot = slots[0]
        else:
            next_slot = await first_free()
    days = []
    current = week_start
    while current <= week_end:
        days.append(
            DayCell(
                day=current,
                short=short_day_text(current),
                long=day_text(current),
                count=len(by_day.get(current, [])),
                url=day_url(current),
                current=current == day,
            )
        )
        current += timedelta(days=1)
    groups: dict[str, list[TimeOption]] = {}
    for slot in by_day.get(day, []):
        local = slot.start.astimezone(zone)
        groups.setdefault(part_of_day(local), []).append(
            TimeOption(slot_value(slot.start), clock_time(slot.start, zone))
        )
    earlier = week_start - timedelta(days=WEEK_DAYS)
    later = week_start + timedelta(days=WEEK_DAYS)
    next_day = next_slot.start.astimezone(zone).date() if next_slot else None
    return TimeGrid(
        zone=zone,
        day=day,
        day_label=day_text(day),
        on=datetime.combine(day, time(12), tzinfo=zone),
        days=days,
        groups=[
            TimeGroup(name, groups[name])
            for name in ("Morning", "Afternoon", "Evening")
            if name in groups
        ],
        earlier_url=day_url(max(earlier, clinic.today)) if week_start > clinic.today else None,
        later_url=day_url(later) if later <= clinic.last_day else None,
        next_label=(
            f"{short_day_text(next_day)}, {clock_time(next_slot.start, zone)}"
            if next_slot and next_day
            else None
        ),
        next_url=day_url(next_day) if next_day else None,
        selected=selected,
        week_label=f"{short_day_text(week_start)} to {short_day_text(week_end)}",
        option_count=sum(len(g) for g in groups.values()),
    )


# Summaries


@dataclass(frozen=True)
class Row:
    label: str
    lines: tuple[str, ...]
    change_url: str | None = None
    change_label: str = ""


def _cancel_text(view: BookingView, zone: ZoneInfo) -> str:
    """What cancelling costs now: the free-cancellation deadline, or the late fee."""
    terms = view.terms_now
    if not terms.late:
        return f"Free to cancel until {moment_text(terms.free_until, zone)}."
    hours = view.policies.cancellation_window_hours
    if terms.fee_minor:
        return (
            f"Your appointment is less than {hours} hours away, so cancelling now costs "
            f"{money(terms.fee_minor, view.currency)}."
        )
    return "Cancelling is free."


def _amount_due(view: BookingView) -> str:
    deposit = deposit_for(view.policies, view.price_minor)
    price = money(view.price_minor, view.currency)
    if deposit == 0:
        return f"{price}, paid at your visit"
    return f"{price}, with a deposit of {money(deposit, view.currency)}"


def _booking_rows(view: BookingView, zone: ZoneInfo) -> list[Row]:
    return [
        Row("Reference", (str(view.appointment_id),)),
        Row("Service", (view.service_name,)),
        Row("Therapist", (view.therapist_name,)),
        Row("Date", (long_date(view.start, zone),)),
        Row("Time", (time_range_text(view.start, view.end, zone),)),
        Row("Address", (view.location_name, *view.location_address.splitlines())),
        Row("Price", (money(view.price_minor, view.currency),)),
    ]


# 1. Service


async def _service_page(
    request: Request, chosen: str, errors: dict[str, str], status: int = 200
) -> Response:
    async with db_of(request).reading() as session:
        clinic = await _clinic(session, settings_of(request))
        services = await public_services(session)
    return _render(
        request,
        "book/service.html",
        {
            "clinic": clinic,
            "services": services,
            "currency": settings_of(request).currency,
            "chosen": chosen,
            "errors": errors,
            "back_url": _url(request, "public:home"),
        },
        status,
    )


async def service_form(request: Request) -> Response:
    return await _service_page(request, request.query_params.get("service", ""), {})


async def service_submit(request: Request) -> Response:
    form = await request.form()
    raw = _field(form, "service")
    async with db_of(request).reading() as session:
        service = _find_service(await public_services(session), raw)
    if service is None:
        return await _service_page(request, "", {"service": CHOOSE_SERVICE}, 422)
    return _see_other(_url(request, "book:therapist", {"service": service.id}))


# 2. Therapist


def _therapist_page(
    request: Request, choice: Choice, chosen: str, errors: dict[str, str], status: int = 200
) -> Response:
    return _render(
        request,
        "book/therapist.html",
        {
            "clinic": choice.clinic,
            "choice": choice,
            "chosen": chosen,
            "errors": errors,
            "back_url": _url(request, "book:service", {"service": choice.service.id}),
        },
        status,
    )


async def therapist_form(request: Request) -> Response:
    query = request.query_params
    choice = await _choice(request, query.get("service"), query.get("therapist"))
    if choice is None:
        return _see_other(_url(request, "book:service"))
    return _therapist_page(request, choice, choice.therapist_key, {})


async def therapist_submit(request: Request) -> Response:
    form = await request.form()
    raw = _field(form, "therapist")
    choice = await _choice(request, _field(form, "service"), raw)
    if choice is None:
        return _see_other(_url(request, "book:service"))
    if not raw or not choice.therapist_valid:
        return _therapist_page(request, choice, "", {"therapist": CHOOSE_THERAPIST}, 422)
    query = {"service": choice.service.id, "therapist": choice.therapist_key}
    return _see_other(_url(request, "book:time", query))


# 3. Date and time


def _book_time_url(request: Request, choice: Choice) -> Callable[[date], str]:
    def url(day: date) -> str:
        return _url(
            request,
            "book:time",
            {"service": choice.service.id, "therapist": choice.therapist_key, "date": day},
        )

    return url


async def _book_time_page(
    request: Request,
    choice: Choice,
    day: date | None,
    *,
    errors: dict[str, str],
    status: int = 200,
    selected: str | None = None,
) -> Response:
    grid = await time_grid(
        db_of(request),
        clinic=choice.clinic,
        service_id=choice.service.id,
        therapist_id=choice.therapist_id,
        day=day,
        day_url=_book_time_url(request, choice),
        selected=selected,
    )
    return _render(
        request,
        "book/time.html",
        {
            "clinic": choice.clinic,
            "choice": choice,
            "grid": grid,
            "errors": errors,
            "phone": choice.clinic.phone,
            "action": _url(request, "book:time_submit"),
            "hidden": {
                "service": choice.service.id,
                "therapist": choice.therapist_key,
                "date": grid.day.isoformat(),
            },
            "button_label": "Continue",
            "back_url": _url(
                request,
                "book:therapist",
                {"service": choice.service.id, "therapist": choice.therapist_key},
            ),
        },
        status,
    )


async def time_form(request: Request) -> Response:
    query = request.query_params
    choice = await _choice(request, query.get("service"), query.get("therapist") or ANY)
    if choice is None:
        return _see_other(_url(request, "book:service"))
    if not choice.therapist_valid:
        return _see_other(_url(request, "book:therapist", {"service": choice.service.id}))
    return await _book_time_page(request, choice, parse_day(query.get("date")), errors={})


async def time_submit(request: Request) -> Response:
    form = await request.form()
    choice = await _choice(request, _field(form, "service"), _field(form, "therapist") or ANY)
    if choice is None:
        return _see_other(_url(request, "book:service"))
    if not choice.therapist_valid:
        return _see_other(_url(request, "book:therapist", {"service": choice.service.id}))
    day = parse_day(_field(form, "date"))
    start = parse_start(_field(form, "start"))
    if start is None:
        return await _book_time_page(
            request, choice, day, errors={"start": CHOOSE_TIME}, status=422
        )
    day = start.astimezone(choice.clinic.zone).date()
    settings = settings_of(request)
    browser = request.cookies.get(BROWSER_COOKIE, "")
    new_browser = not (16 <= len(browser) <= 100)
    if new_browser:
        browser = secrets.token_urlsafe(24)
    response: Response
    try:
        hold = await place_hold(
            db_of(request),
            SlotRequest(choice.service.id, start, choice.therapist_id),
            owner=owner_key("browser", browser),
            address=_address(request),
            source=AppointmentSource.ONLINE,
            currency=settings.currency,
        )
    except SlotTaken:
        response = await _book_time_page(
            request, choice, day, errors={"start": TIME_TAKEN}, status=409
        )
    except (TooManyHolds, InvalidInput) as refused:
        response = await _book_time_page(
            request,
            choice,
            day,
            errors={"start": refused.message},
            status=refused.status_code,
            selected=slot_value(start),
        )
    else:
        response = _see_other(_url(request, "book:details"))
        _set_cookie(response, settings, HOLD_COOKIE, hold.token, HOLD_COOKIE_SECONDS)
    if new_browser:
        _set_cookie(response, settings, BROWSER_COOKIE, browser, BROWSER_COOKIE_SECONDS)
    return response


# 4. Your details


def _hold_text(held: HeldTime) -> str:
    start = clock_time(held.start, held.zone)
    if held.live and held.expires_at is not None:
        return f"We are holding {start} for you until {clock_time(held.expires_at, held.zone)}."
    return (
        f"We held {start} on {day_text(held.day)} for you for a few minutes. You can still book "
        "it if nobody else has taken it."
    )


def _held_time_url(request: Request, held: HeldTime) -> str:
    query = {"service": held.service.id, "therapist": held.therapist_key, "date": held.day}
    return _url(request, "book:time", query)


def _details_page(
    request: Request,
    held: HeldTime,
    values: ClientDetails,
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    return _render(
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


async def details_form(request: Request) -> Response:
    held = await _held_time(request)
    if held is None:
        return _no_hold(request)
    values = _read_details(request) or ClientDetails("", "", "")
    return _details_page(request, held, values, {})


async def details_submit(request: Request) -> Response:
    held = await _held_time(request)
    if held is None:
        return _no_hold(request)
    form = await request.form()
    details = ClientDetails(_field(form, "name"), _field(form, "email"), _field(form, "phone"))
    if errors := details.problems():
        return _details_page(request, held, details, errors, 422)
    response = _see_other(_url(request, "book:check"))
    settings = settings_of(request)
    value = _details_serializer(settings).dumps([details.name, details.email, details.phone])
    _set_cookie(response, settings, DETAILS_COOKIE, value, DETAILS_COOKIE_SECONDS)
    return response


# 5. Check your answers


def _check_rows(request: Request, held: HeldTime, details: ClientDetails) -> list[Row]:
    zone = held.zone
    service = held.service
    policies = held.clinic.policies
    deposit = deposit_for(policies, held.price_minor)
    therapist = held.therapist_name if held.therapist_chosen else "The clinic will choose"
    choose_query = {"service": service.id, "therapist": held.therapist_key}
    time_url = _held_time_url(request, held)
    return [
        Row(
            "Service",
            (service.name, f"{service.duration_minutes} minutes"),
            _url(request, "book:service", {"service": service.id}),
            "service",
        ),
        Row("Therapist", (therapist,), _url(request, "book:therapist", choose_query), "therapist"),
        Row("Date", (long_date(held.start, zone),), time_url, "date"),
        Row("Time", (time_range_text(held.start, held.end, zone),), time_url, "time"),
        Row("Price", (money(held.price_minor, held.currency),)),
        Row(
            "Paid now",
            ("Nothing now. Pay at your visit.",)
            if deposit == 0
            else (
                f"A deposit of {money(deposit, held.currency)}. The clinic will tell you how "
                "to pay it; the rest is paid at your visit.",
            ),
        ),
        Row(
            "Your details",
            (details.name, details.email, details.phone),
            _url(request, "book:details"),
            "your details",
        ),
    ]


def _terms_for(held: HeldTime) -> CancellationTerms:
    return cancellation_terms(
        held.clinic.policies,
        price_minor=held.price_minor,
        starts_at=held.start,
        now=now_utc(),
        cancelled_by=CancelledBy.CLIENT,
    )


def _cancellation_policy_text(held: HeldTime) -> list[str]:
    """The cancellation terms as the client agrees to them: the exact deadline, the fee."""
    policies = held.clinic.policies
    percent = policies.late_cancellation_fee_percent
    # What cancelling would cost once the free time has passed.
    late = cancellation_terms(
        policies,
        price_minor=held.price_minor,
        starts_at=held.start,
        now=held.start,
        cancelled_by=CancelledBy.CLIENT,
    )
    late_fee = f"{money(late.fee_minor, held.currency)} ({percent}% of the price)"
    if _terms_for(held).late:
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


async def check_page(request: Request) -> Response:
    held = await _held_time(request)
    if held is None:
        return _no_hold(request)
    details = _read_details(request)
    if details is None or details.problems():
        return _see_other(_url(request, "book:details"))
    return _render(
        request,
        "book/check.html",
        {
            "clinic": held.clinic,
            "rows": _check_rows(request, held, details),
            "cancellation": _cancellation_policy_text(held),
            "hold_text": _hold_text(held),
            "back_url": _url(request, "book:details"),
        },
    )


async def check_submit(request: Request) -> Response:
    held = await _held_time(request)
    token = request.cookies.get(HOLD_COOKIE, "")
    if held is None:
        return _no_hold(request)
    details = _read_details(request)
    if details is None:
        return _see_other(_url(request, "book:details"))
    settings = settings_of(request)
    try:
        booked = await book_from_hold(db_of(request), hold_token=token, client=details)
    except HoldGone:
        flash(request, HOLD_ENDED, "error")
        response = _see_other(_held_time_url(request, held))
        _clear_cookie(response, settings, HOLD_COOKIE)
        return response
    except InvalidInput:
        return _see_other(_url(request, "book:details"))
    response = _see_other(_url(request, "book:done", token=booked.manage_token))
    _clear_cookie(response, settings, HOLD_COOKIE)
    _clear_cookie(response, settings, DETAILS_COOKIE)
    return response


# 6. Confirmation


async def done_page(request: Request) -> Response:
    token = request.path_params["token"]
    view = await booking_for_token(db_of(request), token)
    if not view.is_active:
        return _see_other(_url(request, "manage:show", token=token))
    zone = ZoneInfo(view.timezone)
    rows = [row for row in _booking_rows(view, zone) if row.label not in ("Reference", "Price")]
    rows.append(Row("Amount due", (_amount_due(view),)))
    return _render(
        request,
        "book/done.html",
        {
            "clinic_name": view.location_name,
            "view": view,
            "pending": view.status is AppointmentStatus.PENDING_CLEARANCE,
            "rows": rows,
            "cancel_text": _cancel_text(view, zone),
            "manage_url": _url(request, "manage:show", token=token),
        },
    )


# Manage: 7. the appointment, change its time, cancel it


def _manage_context(request: Request, token: str, view: BookingView) -> dict[str, Any]:
    zone = ZoneInfo(view.timezone)
    return {
        "clinic_name": view.location_name,
        "phone": view.location_phone,
        "view": view,
        "zone": zone,
        "status_label": CLIENT_STATUS.get(view.status, view.status.value),
        "when": f"{clock_time(view.start, zone)} on {long_date(view.start, zone)}",
        "manage_url": _url(request, "manage:show", token=token),
    }


async def manage_page(request: Request) -> Response:
    token = request.path_params["token"]
    view = await booking_for_token(db_of(request), token)
    zone = ZoneInfo(view.timezone)
    return _render(
        request,
        "manage/show.html",
        {
            **_manage_context(request, token, view),
            "rows": _booking_rows(view, zone),
            "cancel_text": _cancel_text(view, zone),
            "fee": money(view.fee_minor, view.currency) if view.fee_minor else None,
            "time_url": _url(request, "manage:time", token=token),
            "cancel_url": _url(request, "manage:cancel", token=token),
        },
    )


async def _manage_time_page(
    request: Request,
    token: str,
    view: BookingView,
    day: date | None,
    *,
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    async with db_of(request).reading() as session:
        clinic = await _clinic(session, settings_of(request))

    def day_url(on: date) -> str:
        return _url(request, "manage:time", {"date": on}, token=token)

    grid = await time_grid(
        db_of(request),
        clinic=clinic,
        service_id=view.service_id,
        therapist_id=view.therapist_id if view.therapist_chosen else None,
        day=day,
        day_url=day_url,
        ignoring=view.appointment_id,
        skip=view.start,
    )
    return _render(
        request,
        "manage/time.html",
        {
            **_manage_context(request, token, view),
            "clinic": clinic,
            "grid": grid,
            "errors": errors,
            "action": _url(request, "manage:time_submit", token=token),
            "hidden": {"date": grid.day.isoformat()},
            "button_label": "Continue",
        },
        status,
    )


async def _changeable(request: Request, token: str) -> BookingView | Response:
    view = await booking_for_token(db_of(request), token)
    if not view.can_change:
        return _see_other(_url(request, "manage:show", token=token))
    return view


async def manage_time_form(request: Request) -> Response:
    token = request.path_params["token"]
    view = await _changeable(request, token)
    if isinstance(view, Response):
        return view
    day = parse_day(request.query_params.get("date"))
    return await _manage_time_page(request, token, view, day, errors={})


async def manage_time_submit(request: Request) -> Response:
    token = request.path_params["token"]
    view = await _changeable(request, token)
    if isinstance(view, Response):
        return view
    form = await request.form()
    start = parse_start(_field(form, "start"))
    if start is None:
        day = parse_day(_field(form, "date"))
        return await _manage_time_page(
            request, token, view, day, errors={"start": CHOOSE_TIME}, status=422
        )
    query = {"start": slot_value(start)}
    return _see_other(_url(request, "manage:confirm", query, token=token))


async def manage_confirm_form(request: Request) -> Response:
    token = request.path_params["token"]
    view = await _changeable(request, token)
    if isinstance(view, Response):
        return view
    start = parse_start(request.query_params.get("start", ""))
    if start is None:
        return _see_other(_url(request, "manage:time", token=token))
    zone = ZoneInfo(view.timezone)
    duration = view.end - view.start
    therapist = view.therapist_name if view.therapist_chosen else "The clinic will choose"
    return _render(
        request,
        "manage/confirm.html",
        {
            **_manage_context(request, token, view),
            "rows": [
                Row(
                    "Now",
                    (long_date(view.start, zone), time_range_text(view.start, view.end, zone)),
                ),
                Row(
                    "New time",
                    (long_date(start, zone), time_range_text(start, start + duration, zone)),
                ),
                Row("Therapist", (therapist,)),
            ],
            "start": slot_value(start),
            "back_url": _url(
                request, "manage:time", {"date": start.astimezone(zone).date()}, token=token
            ),
            "action": _url(request, "manage:confirm_submit", token=token),
        },
    )


async def manage_confirm_submit(request: Request) -> Response:
    token = request.path_params["token"]
    view = await _changeable(request, token)
    if isinstance(view, Response):
        return view
    form = await request.form()
    start = parse_start(_field(form, "start"))
    if start is None:
        return _see_other(_url(request, "manage:time", token=token))
    day = start.astimezone(ZoneInfo(view.timezone)).date()
    try:
        moved = await reschedule_by_token(db_of(request), token, start=start)
    except SlotTaken:
        return await _manage_time_page(
            request, token, view, day, errors={"start": TIME_TAKEN}, status=409
        )
    except InvalidInput as invalid:
        return await _manage_time_page(
            request, token, view, day, errors={"start": invalid.message}, status=422
        )
    except ClinicError as refused:
        flash(request, refused.message, "error")
        return _see_other(_url(request, "manage:show", token=token))
    zone = ZoneInfo(moved.timezone)
    flash(request, f"Your appointment is now at {moment_text(moved.start, zone)}.", "success")
    return _see_other(_url(request, "manage:show", token=token))


async def manage_cancel_form(request: Request) -> Response:
    token = request.path_params["token"]
    view = await _changeable(request, token)
    if isinstance(view, Response):
        return view
    zone = ZoneInfo(view.timezone)
    terms = view.terms_now
    return _render(
        request,
        "manage/cancel.html",
        {
            **_manage_context(request, token, view),
            "rows": _booking_rows(view, zone)[1:5],
            "fee": money(terms.fee_minor, view.currency) if terms.fee_minor else None,
            "free_until": moment_text(terms.free_until, zone),
            "late": terms.late,
            "window_hours": view.policies.cancellation_window_hours,
            "action": _url(request, "manage:cancel_submit", token=token),
        },
    )


async def manage_cancel_submit(request: Request) -> Response:
    token = request.path_params["token"]
    view = await _changeable(request, token)
    if isinstance(view, Response):
        return view
    form = await request.form()
    excused = _field(form, "medically_excused") == "yes"
    try:
        cancelled = await cancel_by_token(db_of(request), token, medically_excused=excused)
    except ClinicError as refused:
        flash(request, refused.message, "error")
        return _see_other(_url(request, "manage:show", token=token))
    message = "Your appointment is cancelled."
    if cancelled.fee_minor:
        message += (
            f" A late-cancellation fee of {money(cancelled.fee_minor, cancelled.currency)} applies."
        )
    flash(request, message, "success")
    return _see_other(_url(request, "manage:show", token=token))


__all__ = [
    "ANY",
    "BROWSER_COOKIE",
    "DETAILS_COOKIE",
    "HOLD_COOKIE",
    "check_page",
    "check_submit",
    "details_form",
    "details_submit",
    "done_page",
    "manage_cancel_form",
    "manage_cancel_submit",
    "manage_confirm_form",
    "manage_confirm_submit",
    "manage_page",
    "manage_time_form",
    "manage_time_submit",
    "service_form",
    "service_submit",
    "therapist_form",
    "therapist_submit",
    "time_form",
    "time_grid",
    "time_submit",
]
