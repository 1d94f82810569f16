"""A therapist's own pages: only their own appointments."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from clinic.auth.models import Role
from clinic.auth.web import requires, signed_in_staff
from clinic.booking.service import ScheduledVisit, day_bounds, therapist_for_user, visits_between
from clinic.clock import now_utc, today_in
from clinic.errors import NotFound
from clinic.intake.care_sheet import care_sheet
from clinic.intake.summary import adaptations
from clinic.web.context import db_of, settings_of, templates_of


@requires(Role.THERAPIST)
async def today(request: Request) -> Response:
    staff = signed_in_staff(request)
    zone = settings_of(request).zone
    day = today_in(zone)
    start, end = day_bounds(day, zone)
    visits: list[ScheduledVisit] = []
    async with db_of(request).reading() as session:
        therapist = await therapist_for_user(session, staff.user_id)
        if therapist is not None:
            visits = await visits_between(session, start, end, therapist_id=therapist.id)
    return templates_of(request).TemplateResponse(
        request,
        "therapist/today.html",
        {"day": day, "zone": zone, "visits": visits, "therapist": therapist, "start": start},
    )


@requires(Role.THERAPIST)
async def appointment(request: Request) -> Response:
    """One of the therapist's own visits with its care plan and the client's answers."""
    staff = signed_in_staff(request)
    zone = settings_of(request).zone
    async with db_of(request).transaction() as session:
        therapist = await therapist_for_user(session, staff.user_id)
        if therapist is None:
            raise NotFound("Your account is not linked to a therapist profile.")
        sheet = await care_sheet(
            session,
            request.path_params["appointment_id"],
            therapist_id=therapist.id,
            user_id=staff.user_id,
            now=now_utc(),
        )
    response = templates_of(request).TemplateResponse(
        request,
        "therapist/appointment.html",
        {"sheet": sheet, "zone": zone, "adaptations": adaptations},
    )
    # Health details: never kept by a browser or a proxy.
    response.headers["cache-control"] = "no-store"
    return response
