"""Sign-in and sign-out pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clinic.auth.service import TooManyAttempts, WrongCredentials, sign_in, sign_out
from clinic.auth.sessions import end_session, session_id_for
from clinic.auth.web import (
    clear_session_cookie,
    landing_route,
    session_cookie_name,
    set_session_cookie,
    staff_of,
)
from clinic.web.context import db_of, settings_of, templates_of
from clinic.web.flash import flash


def _safe_next(value: str | None) -> str | None:
    """Only a path on this site: never //other.example or https://other.example."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


def _form(
    request: Request, *, email: str = "", error: str | None = None, status: int = 200
) -> Response:
    return templates_of(request).TemplateResponse(
        request,
        "auth/login.html",
        {"email": email, "error": error, "next": _safe_next(request.query_params.get("next"))},
        status_code=status,
    )


async def login_form(request: Request) -> Response:
    staff = staff_of(request)
    if staff is not None:
        return RedirectResponse(request.url_for(landing_route(staff.roles)).path, 303)
    return _form(request)


async def login(request: Request) -> Response:
    form = await request.form()
    email = str(form.get("email", "")).strip()
    password = str(form.get("password", ""))
    if not email or not password:
        return _form(request, email=email, error="Enter your email address and password.")
    client = request.client.host if request.client else "unknown"
    try:
        result = await sign_in(
            db_of(request),
            email=email,
            password=password,
            ip_address=client,
            user_agent=request.headers.get("user-agent", ""),
        )
    except WrongCredentials as failed:
        return _form(request, email=email, error=failed.message)
    except TooManyAttempts as blocked:
        response = _form(request, email=email, error=blocked.message, status=429)
        response.headers["retry-after"] = str(blocked.retry_after_seconds)
        return response
    # A session that was already on this browser ends: the new one has a fresh id.
    settings = settings_of(request)
    previous = request.cookies.get(session_cookie_name(settings))
    if previous:
        await end_session(db_of(request), session_id_for(previous))
    target = _safe_next(request.query_params.get("next")) or str(
        request.url_for(landing_route(result.roles)).path
    )
    response = RedirectResponse(target, 303)
    set_session_cookie(response, settings, result.token)
    return response


async def logout(request: Request) -> Response:
    staff = staff_of(request)
    if staff is not None:
        await sign_out(db_of(request), staff)
    flash(request, "You have signed out.", "success")
    response = RedirectResponse(request.url_for("auth:login").path, 303)
    clear_session_cookie(response.headers, settings_of(request))
    return response
