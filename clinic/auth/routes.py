"""Sign-in and sign-out pages, and the code step of signing in with a second factor."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clinic.auth import account
from clinic.auth.service import TooManyAttempts, WrongCredentials, sign_in, sign_out
from clinic.auth.sessions import end_session, session_id_for
from clinic.auth.web import (
    challenge_cookie_name,
    clear_challenge_cookie,
    clear_session_cookie,
    landing_route,
    secret_box,
    session_cookie_name,
    set_challenge_cookie,
    set_session_cookie,
    staff_of,
)
from clinic.errors import InvalidInput
from clinic.web.caching import no_store
from clinic.web.context import client_ip, db_of, settings_of, templates_of
from clinic.web.flash import flash

# From this many recovery codes left, signing in with one says to make new ones.
LOW_ON_RECOVERY_CODES = 3


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
    settings = settings_of(request)
    try:
        result = await sign_in(
            db_of(request),
            email=email,
            password=password,
            ip_address=client_ip(request),
            user_agent=request.headers.get("user-agent", ""),
            box=secret_box(settings.secret_key),
        )
    except WrongCredentials as failed:
        return _form(request, email=email, error=failed.message)
    except TooManyAttempts as blocked:
        response = _form(request, email=email, error=blocked.message, status=429)
        response.headers["retry-after"] = str(blocked.retry_after_seconds)
        return response
    next_path = _safe_next(request.query_params.get("next"))
    if result.outcome == "code_needed":
        # No session yet: only the code step reads this cookie.
        code_url = request.url_for("auth:code").path
        if next_path:
            code_url += "?" + urlencode({"next": next_path})
        response = RedirectResponse(code_url, 303)
        set_challenge_cookie(response, settings, result.token)
        return response
    if result.outcome == "set_up_needed":
        flash(request, "Your role requires two-step sign-in. Set it up to continue.", "info")
        return await _signed_in(
            request, result.token, request.url_for("account:second_factor").path
        )
    target = next_path or str(request.url_for(landing_route(result.roles)).path)
    return await _signed_in(request, result.token, target)


async def _signed_in(request: Request, token: str, target: str) -> Response:
    """Send a newly signed-in member on, with their session cookie. A session that was
    already on this browser ends: the new one has a fresh id."""
    settings = settings_of(request)
    previous = request.cookies.get(session_cookie_name(settings))
    if previous:
        await end_session(db_of(request), session_id_for(previous))
    response = RedirectResponse(target, 303)
    set_session_cookie(response, settings, token)
    return response


def _code_form(
    request: Request, *, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    return no_store(
        templates_of(request).TemplateResponse(
            request,
            "auth/code.html",
            {"errors": errors or {}, "next": _safe_next(request.query_params.get("next"))},
            status_code=status,
        )
    )


def _back_to_sign_in(request: Request) -> Response:
    flash(request, "Your sign-in took too long or has ended. Sign in again.", "info")
    response = RedirectResponse(request.url_for("auth:login").path, 303)
    clear_challenge_cookie(response.headers, settings_of(request))
    return response


async def code_form(request: Request) -> Response:
    """The second step of signing in: the code from the authenticator (or a recovery
    code). Without an open challenge it is back to the password."""
    if staff_of(request) is not None:
        return RedirectResponse(request.url_for("auth:login").path, 303)
    token = request.cookies.get(challenge_cookie_name(settings_of(request)))
    if not token or not await account.challenge_is_open(db_of(request), token):
        return _back_to_sign_in(request)
    return _code_form(request)


async def code_submit(request: Request) -> Response:
    settings = settings_of(request)
    token = request.cookies.get(challenge_cookie_name(settings))
    if not token:
        return _back_to_sign_in(request)
    form = await request.form()
    try:
        passed = await account.pass_challenge(
            db_of(request),
            secret_box(settings.secret_key),
            token,
            str(form.get("code", "")),
            ip_address=client_ip(request),
            user_agent=request.headers.get("user-agent", ""),
        )
    except account.ChallengeEnded:
        return _back_to_sign_in(request)
    except InvalidInput as invalid:
        return _code_form(request, errors=invalid.field_errors)
    except TooManyAttempts as blocked:
        response = _code_form(request, errors={"code": blocked.message}, status=429)
        response.headers["retry-after"] = str(blocked.retry_after_seconds)
        return response
    left = passed.recovery_codes_left
    if left is not None:
        words = "1 recovery code" if left == 1 else f"{left} recovery codes"
        message = f"You signed in with a recovery code. You have {words} left."
        if left <= LOW_ON_RECOVERY_CODES:
            flash(request, message + " Make new ones on your account page.", "warning")
        else:
            flash(request, message, "info")
    target = _safe_next(request.query_params.get("next")) or str(
        request.url_for(landing_route(passed.result.roles)).path
    )
    response = await _signed_in(request, passed.result.token, target)
    clear_challenge_cookie(response.headers, settings)
    return response


async def logout(request: Request) -> Response:
    staff = staff_of(request)
    if staff is not None:
        await sign_out(db_of(request), staff)
    settings = settings_of(request)
    challenge = request.cookies.get(challenge_cookie_name(settings))
    if challenge:
        # Signing out from the code step abandons the halfway sign-in too.
        await account.abandon_challenge(db_of(request), challenge)
    flash(request, "You have signed out.", "success")
    response = RedirectResponse(request.url_for("auth:login").path, 303)
    clear_session_cookie(response.headers, settings)
    if challenge:
        clear_challenge_cookie(response.headers, settings)
    return response
