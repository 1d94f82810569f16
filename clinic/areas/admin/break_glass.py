"""Break-glass grants for admins to review (`/admin/break-glass`): who opened which visit's
health details outside their access, why, and until when. The reads made under each grant
are in the audit trail, linked by the grant's number."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response

from clinic.access.break_glass import recent_grants
from clinic.areas.admin.common import moment, render
from clinic.auth.models import Role
from clinic.auth.web import requires
from clinic.web.context import db_of, settings_of

REVIEW_DAYS = 90


@requires(Role.ADMIN)
async def break_glass_grants(request: Request) -> Response:
    now, _ = moment(request)
    async with db_of(request).reading() as session:
        grants = await recent_grants(session, since=now - timedelta(days=REVIEW_DAYS))
    return render(
        request,
        "admin/break_glass.html",
        {
            "grants": grants,
            "now": now,
            "days": REVIEW_DAYS,
            "zone": settings_of(request).zone,
        },
    )
