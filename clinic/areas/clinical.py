"""The clinical lead's review area."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response

from clinic.auth.models import Role
from clinic.auth.web import requires
from clinic.booking.service import visits_between
from clinic.booking.statuses import AppointmentStatus
from clinic.clearance.pages import clearances_to_record
from clinic.clock import now_utc
from clinic.intake.models import IntakeState
from clinic.intake.service import review_reasons_of
from clinic.web.context import db_of, settings_of, templates_of

REVIEW_HORIZON = timedelta(days=60)


@requires(Role.CLINICAL_LEAD)
async def review(request: Request) -> Response:
    now = now_utc()
    async with db_of(request).reading() as session:
        waiting = await visits_between(
            session, now, now + REVIEW_HORIZON, statuses=(AppointmentStatus.PENDING_CLEARANCE,)
        )
        upcoming = await visits_between(session, now, now + REVIEW_HORIZON)
        in_review = [v for v in upcoming if v.intake_state is IntakeState.REVIEW]
        reasons = await review_reasons_of(session, [v.appointment_id for v in in_review])
        # Names and statuses only: each clearance's details are read (and audited) on its page.
        to_record = await clearances_to_record(session)
    return templates_of(request).TemplateResponse(
        request,
        "clinical/review.html",
        {
            "waiting": waiting,
            "in_review": in_review,
            "reasons": reasons,
            "to_record": to_record,
            "zone": settings_of(request).zone,
        },
    )
