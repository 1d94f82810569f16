"""The front desk's pages. The desk sees schedule, contact and payment facts, never
clinical details."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from clinic.auth.models import Role
from clinic.auth.web import requires
from clinic.booking.service import day_bounds, visits_between
from clinic.booking.statuses import AppointmentStatus
from clinic.clearance.pages import clearance_deadline
from clinic.clock import today_in
from clinic.intake.service import clinic_screening
from clinic.web.context import db_of, settings_of, templates_of


@requires(Role.FRONTDESK)
async def today(request: Request) -> Response:
    zone = settings_of(request).zone
    day = today_in(zone)
    start, end = day_bounds(day, zone)
    async with db_of(request).reading() as session:
        visits = await visits_between(session, start, end)
        hours = (await clinic_screening(session)).rules.clearance_deadline_hours
    # Visits waiting for a clearance: when they are released if none is recorded.
    deadlines = {
        v.appointment_id: clearance_deadline(v.starts_at, hours)
        for v in visits
        if v.status is AppointmentStatus.PENDING_CLEARANCE
    }
    return templates_of(request).TemplateResponse(
        request,
        "desk/today.html",
        {"day": day, "zone": zone, "visits": visits, "start": start, "deadlines": deadlines},
    )
