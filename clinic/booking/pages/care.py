"""What the client's health step asks of the later booking steps: the care need of the
intake this browser signed (matched therapists and rooms, a session cap), and where a step
sends the client when there is none yet, when it defers, or when the service is too long.
It never says why a therapist is missing."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response

from clinic.booking.pages.cookies import INTAKE_COOKIE, clear_cookie, intake_token
from clinic.booking.pages.forms import page_url, see_other
from clinic.booking.taking import over_session_cap
from clinic.intake.service import Deferred, UnknownIntake, listing_care
from clinic.scheduling.availability import CareNeed
from clinic.scheduling.models import Service
from clinic.web.context import db_of, settings_of


def health_url(request: Request, service_id: int, *, again: bool = False) -> str:
    """The health step: the gate question (or, with a signed intake, "anything changed?";
    `again` asks the gate question anyway)."""
    query: dict[str, object] = {"service": service_id}
    if again:
        query["again"] = 1
    return page_url(request, "book:health", query)


def health_form_url(request: Request, service_id: int) -> str:
    return page_url(request, "book:health_form", {"service": service_id})


def plan_url(request: Request, service_id: int) -> str:
    return page_url(request, "book:health_plan", {"service": service_id})


def fits(need: CareNeed, service: Service) -> bool:
    """Whether the service is within the plan's session cap."""
    return need.allows(timedelta(minutes=service.duration_minutes))


def cap_message(need: CareNeed) -> str:
    return over_session_cap(need).field_errors["service_id"]


async def browser_need(request: Request) -> CareNeed | None:
    """The standing care need of the intake this browser signed, or None (none signed, or
    one that cannot be used: the health step then says what to do)."""
    token = intake_token(request)
    if token is None:
        return None
    try:
        async with db_of(request).reading() as session:
            need = await listing_care(session, intake_token=token, cancer_history=None)
    except (UnknownIntake, Deferred):
        return None
    return need or CareNeed()


async def cap_error(request: Request, service: Service) -> str | None:
    """The service step's error when the service is longer than this browser's plan allows."""
    need = await browser_need(request)
    if need is None or fits(need, service):
        return None
    return cap_message(need)


async def listing_need(request: Request, service: Service) -> CareNeed | Response:
    """The care need the therapist and time steps list under, or where to go instead: the
    health step when no intake is signed (or its token is unknown), the plan page when the
    plan defers, the service step when the service is longer than the plan allows."""
    token = intake_token(request)
    if token is None:
        return see_other(health_url(request, service.id))
    try:
        async with db_of(request).reading() as session:
            need = await listing_care(session, intake_token=token, cancer_history=None)
    except UnknownIntake:
        response = see_other(health_url(request, service.id))
        clear_cookie(response, settings_of(request), INTAKE_COOKIE)
        return response
    except Deferred:
        return see_other(plan_url(request, service.id))
    need = need or CareNeed()
    if not fits(need, service):
        return see_other(page_url(request, "book:service", {"service": service.id}))
    return need
