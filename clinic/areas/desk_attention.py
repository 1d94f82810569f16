"""The front desk's "Needs attention" page (`/desk/attention`): booked visits that can no
longer go ahead as booked, with what to do. Reads only (clinic/desk/attention.py); the
fixes happen on each visit's panel."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from clinic.auth.models import Role
from clinic.auth.web import requires
from clinic.clock import now_utc
from clinic.desk.attention import ATTENTION_DAYS, needs_attention
from clinic.web.caching import no_store
from clinic.web.context import db_of, settings_of, templates_of


@requires(Role.FRONTDESK)
async def attention(request: Request) -> Response:
    now = now_utc()
    async with db_of(request).reading() as session:
        items = await needs_attention(session, now=now)
    return no_store(
        templates_of(request).TemplateResponse(
            request,
            "desk/attention.html",
            {"items": items, "zone": settings_of(request).zone, "now": now, "days": ATTENTION_DAYS},
        )
    )
