"""What every admin page shares: the frame it renders in, who is acting, and now."""

from __future__ import annotations

from datetime import date, datetime

from starlette.requests import Request
from starlette.responses import Response

from clinic.auth.models import Role
from clinic.auth.web import signed_in_staff
from clinic.clock import now_utc
from clinic.web.caching import no_store
from clinic.web.context import settings_of, templates_of

ROLE_LABELS = {
    Role.ADMIN: "Admin",
    Role.FRONTDESK: "Front desk",
    Role.THERAPIST: "Therapist",
    Role.CLINICAL_LEAD: "Clinical lead",
}


def render(
    request: Request, template: str, context: dict[str, object], status: int = 200
) -> Response:
    return no_store(
        templates_of(request).TemplateResponse(
            request, template, {"role_labels": ROLE_LABELS, **context}, status_code=status
        )
    )


def actor(request: Request) -> int:
    return signed_in_staff(request).user_id


def moment(request: Request) -> tuple[datetime, date]:
    """Now, and today's date in the clinic's zone."""
    now = now_utc()
    return now, now.astimezone(settings_of(request).zone).date()


def currency(request: Request) -> str:
    return settings_of(request).currency


def visits_phrase(count: int) -> str:
    return "1 visit" if count == 1 else f"{count} visits"
