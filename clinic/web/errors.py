"""Error responses in one place: an HTML page from templates/errors/, or for the JSON API
an application/problem+json body (RFC 9457). A 500 never shows a traceback."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from jinja2 import TemplateNotFound
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from clinic.errors import ClinicError
from clinic.web.context import templates_of
from clinic.web.security import apply_security_headers

log = logging.getLogger("clinic.errors")

API_PREFIX = "/api/"


class ProblemResponse(JSONResponse):
    media_type = "application/problem+json"


def wants_problem_json(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def problem_body(exc: ClinicError) -> dict[str, Any]:
    return {
        "type": "about:blank",
        "title": exc.title,
        "status": exc.status_code,
        "detail": exc.message,
        **exc.problem_extra(),
    }


def problem(
    status: int, detail: str, *, title: str | None = None, extra: dict[str, Any] | None = None
) -> ProblemResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    body.update(extra or {})
    return ProblemResponse(body, status_code=status)


def error_page(
    request: Request, status: int, message: str, *, title: str | None = None
) -> Response:
    templates = templates_of(request)
    context = {"status": status, "message": message, "title": title or HTTPStatus(status).phrase}
    try:
        return templates.TemplateResponse(request, f"errors/{status}.html", context, status)
    except TemplateNotFound:
        return templates.TemplateResponse(request, "errors/generic.html", context, status)


DEFAULT_MESSAGES = {
    400: "The request could not be understood. Go back and try again.",
    403: "You do not have access to this page.",
    404: "We could not find that page. Check the address, or start again from the home page.",
    405: "That action is not available on this page.",
    409: "Someone else changed this just now. Reload the page and try again.",
    413: "That upload is too large.",
    429: "Too many attempts. Wait a minute and try again.",
}


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = DEFAULT_MESSAGES.get(exc.status_code, HTTPStatus(exc.status_code).description)
    if exc.detail and exc.detail != HTTPStatus(exc.status_code).phrase:
        message = exc.detail
    if wants_problem_json(request):
        response: Response = problem(exc.status_code, message)
    else:
        response = error_page(request, exc.status_code, message)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def clinic_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ClinicError)
    if wants_problem_json(request):
        return problem(exc.status_code, exc.message, title=exc.title, extra=exc.problem_extra())
    return error_page(request, exc.status_code, exc.message, title=exc.title)


async def server_error(request: Request, exc: Exception) -> Response:
    request_id = getattr(request.state, "request_id", None)
    log.error(
        "unhandled error on %s %s",
        request.method,
        request.url.path,
        exc_info=exc,
        extra={"fields": {"request_id": request_id}},
    )
    message = "Something went wrong on our side. Please try again in a moment."
    response: Response
    if wants_problem_json(request):
        response = problem(500, message)
    else:
        try:
            response = error_page(request, 500, message)
        except Exception:  # the page itself failed: fall back to plain text
            response = Response(message, status_code=500, media_type="text/plain")
    # This handler runs outside the middleware stack, so the headers are added here.
    apply_security_headers(response.headers, https=request.app.state.settings.uses_https)
    if request_id:
        response.headers["x-request-id"] = request_id
    return response


EXCEPTION_HANDLERS = {
    HTTPException: http_exception,
    ClinicError: clinic_error,
    Exception: server_error,
}
