"""What every booking and manage page does with a request: read a form field, build a
link, redirect after a post (post-redirect-get), render with the pages' defaults."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clinic.booking.pages.choices import Clinic
from clinic.web.context import templates_of

Endpoint = Callable[[Request], Awaitable[Response]]

TOTAL_STEPS = 6
MAX_FIELD_CHARS = 500


def form_value(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip()[:MAX_FIELD_CHARS] if isinstance(value, str) else ""


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def page_url(
    request: Request, name: str, query: Mapping[str, object] | None = None, **path: str
) -> str:
    url = request.url_for(name, **path).path
    if query:
        url += "?" + urlencode({k: str(v) for k, v in query.items()})
    return url


def render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    defaults: dict[str, Any] = {"total_steps": TOTAL_STEPS, "errors": {}, "back_url": None}
    clinic = context.get("clinic")
    if isinstance(clinic, Clinic):
        defaults["clinic_name"] = clinic.name
    return templates_of(request).TemplateResponse(
        request, template, {**defaults, **context}, status_code=status
    )
