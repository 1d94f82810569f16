"""The first booking steps under /book: choose a service, then (after the health step,
clinic/booking/pages/health.py) a therapist or anyone suitable, then a time, which places
the hold. The choices so far travel in the query string; the care need of the signed
intake narrows the therapists and times offered."""

from __future__ import annotations

from datetime import date

from starlette.requests import Request
from starlette.responses import Response

from clinic.booking.holds import TooManyHolds, owner_key, place_hold
from clinic.booking.pages import care, times
from clinic.booking.pages.choices import ANY, Choice, find_service, load_choice, load_clinic
from clinic.booking.pages.cookies import (
    BROWSER_COOKIE,
    BROWSER_COOKIE_SECONDS,
    HOLD_COOKIE,
    HOLD_COOKIE_SECONDS,
    browser_id,
    set_cookie,
)
from clinic.booking.pages.forms import form_value, page_url, render, see_other
from clinic.booking.statuses import AppointmentSource
from clinic.booking.taking import SlotRequest, SlotTaken
from clinic.errors import InvalidInput
from clinic.scheduling.availability import CareNeed
from clinic.scheduling.service import public_services
from clinic.web.context import client_ip, db_of, settings_of

CHOOSE_SERVICE = "Choose a service"
CHOOSE_THERAPIST = "Choose a therapist, or anyone suitable"


def service_url(request: Request, service_id: int | None = None) -> str:
    return page_url(
        request, "book:service", {"service": service_id} if service_id is not None else None
    )


def therapist_url(request: Request, service_id: int, therapist: str | None = None) -> str:
    query: dict[str, object] = {"service": service_id}
    if therapist is not None:
        query["therapist"] = therapist
    return page_url(request, "book:therapist", query)


def time_url(request: Request, service_id: int, therapist: str, day: date | None = None) -> str:
    query: dict[str, object] = {"service": service_id, "therapist": therapist}
    if day is not None:
        query["date"] = day
    return page_url(request, "book:time", query)


async def _choice(
    request: Request, service_raw: str | None, therapist_raw: str | None
) -> Choice | Response:
    """The choices so far, under the client's care need; or back to the first step when
    the service is not bookable, or to the health step when it is not answered."""
    choice = await load_choice(request, service_raw, therapist_raw)
    if choice is None:
        return see_other(service_url(request))
    need = await care.listing_need(request, choice.service)
    if isinstance(need, Response):
        return need
    if need == CareNeed():
        return choice
    narrowed = await load_choice(request, service_raw, therapist_raw, need)
    return narrowed if narrowed is not None else see_other(service_url(request))


async def _time_choice(
    request: Request, service_raw: str | None, therapist_raw: str | None
) -> Choice | Response:
    """The time step's choices: a therapist named there must still be one who suits."""
    choice = await _choice(request, service_raw, therapist_raw or ANY)
    if isinstance(choice, Choice) and not choice.therapist_valid:
        return see_other(therapist_url(request, choice.service.id))
    return choice


async def _service_page(
    request: Request, chosen: str, errors: dict[str, str], status: int = 200
) -> Response:
    async with db_of(request).reading() as session:
        clinic = await load_clinic(session, settings_of(request))
        services = await public_services(session)
    service = find_service(services, chosen)
    if not errors and service is not None and (message := await care.cap_error(request, service)):
        # Sent back here because the chosen service is longer than the care plan allows.
        errors = {"service": message}
    return render(
        request,
        "book/service.html",
        {
            "clinic": clinic,
            "services": services,
            "currency": settings_of(request).currency,
            "chosen": chosen,
            "errors": errors,
            "back_url": page_url(request, "public:home"),
        },
        status,
    )


async def service_form(request: Request) -> Response:
    return await _service_page(request, request.query_params.get("service", ""), {})


async def service_submit(request: Request) -> Response:
    form = await request.form()
    raw = form_value(form, "service")
    async with db_of(request).reading() as session:
        service = find_service(await public_services(session), raw)
    if service is None:
        return await _service_page(request, "", {"service": CHOOSE_SERVICE}, 422)
    if message := await care.cap_error(request, service):
        return await _service_page(request, raw, {"service": message}, 422)
    return see_other(care.health_url(request, service.id))


def _therapist_page(
    request: Request, choice: Choice, chosen: str, errors: dict[str, str], status: int = 200
) -> Response:
    return render(
        request,
        "book/therapist.html",
        {
            "clinic": choice.clinic,
            "choice": choice,
            "chosen": chosen,
            "errors": errors,
            "back_url": care.plan_url(request, choice.service.id),
        },
        status,
    )


async def therapist_form(request: Request) -> Response:
    query = request.query_params
    choice = await _choice(request, query.get("service"), query.get("therapist"))
    if isinstance(choice, Response):
        return choice
    return _therapist_page(request, choice, choice.therapist_key, {})


async def therapist_submit(request: Request) -> Response:
    form = await request.form()
    raw = form_value(form, "therapist")
    choice = await _choice(request, form_value(form, "service"), raw)
    if isinstance(choice, Response):
        return choice
    if not raw or not choice.therapist_valid:
        return _therapist_page(request, choice, "", {"therapist": CHOOSE_THERAPIST}, 422)
    return see_other(time_url(request, choice.service.id, choice.therapist_key))


async def _time_page(
    request: Request,
    choice: Choice,
    day: date | None,
    *,
    errors: dict[str, str],
    status: int = 200,
    selected: str | None = None,
) -> Response:
    def day_url(on: date) -> str:
        return time_url(request, choice.service.id, choice.therapist_key, on)

    grid = await times.time_grid(
        db_of(request),
        clinic=choice.clinic,
        service_id=choice.service.id,
        therapist_id=choice.therapist_id,
        day=day,
        day_url=day_url,
        selected=selected,
        care=choice.care,
    )
    return times.time_page(
        request,
        "book/time.html",
        grid,
        {
            "clinic": choice.clinic,
            "choice": choice,
            "phone": choice.clinic.phone,
            "back_url": therapist_url(request, choice.service.id, choice.therapist_key),
        },
        action=page_url(request, "book:time_submit"),
        hidden={"service": choice.service.id, "therapist": choice.therapist_key},
        errors=errors,
        status=status,
    )


async def time_form(request: Request) -> Response:
    query = request.query_params
    choice = await _time_choice(request, query.get("service"), query.get("therapist"))
    if isinstance(choice, Response):
        return choice
    return await _time_page(request, choice, times.parse_day(query.get("date")), errors={})


async def time_submit(request: Request) -> Response:
    form = await request.form()
    choice = await _time_choice(request, form_value(form, "service"), form_value(form, "therapist"))
    if isinstance(choice, Response):
        return choice
    start = times.posted_start(form)
    if start is None:
        day = times.parse_day(form_value(form, "date"))
        return await _time_page(
            request, choice, day, errors={"start": times.CHOOSE_TIME}, status=422
        )
    day = start.astimezone(choice.clinic.zone).date()
    settings = settings_of(request)
    browser, new_browser = browser_id(request)
    response: Response
    try:
        hold = await place_hold(
            db_of(request),
            SlotRequest(choice.service.id, start, choice.therapist_id, care=choice.care),
            owner=owner_key("browser", browser),
            address=client_ip(request),
            source=AppointmentSource.ONLINE,
            currency=settings.currency,
        )
    except (SlotTaken, TooManyHolds, InvalidInput) as refused:
        # A taken time has left the list; after any other refusal it stays chosen.
        response = await _time_page(
            request,
            choice,
            day,
            errors=times.start_errors(refused),
            status=refused.status_code,
            selected=None if isinstance(refused, SlotTaken) else times.slot_value(start),
        )
    else:
        response = see_other(page_url(request, "book:details"))
        set_cookie(response, settings, HOLD_COOKIE, hold.token, HOLD_COOKIE_SECONDS)
    if new_browser:
        set_cookie(response, settings, BROWSER_COOKIE, browser, BROWSER_COOKIE_SECONDS)
    return response
