"""The account security pages every staff member has: an overview, the second factor
(set up, confirm, move to a new phone, new recovery codes, turn off), password and e-mail.
Thin: each change is one use case in clinic/auth/account.py, which asks for the password
again. A form with bad input comes back with its errors and values (never the passwords).
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clinic.auth import account, second_factor
from clinic.auth.models import Role
from clinic.auth.service import TooManyAttempts
from clinic.auth.web import landing_route, requires, secret_box, signed_in_staff
from clinic.errors import Conflict, InvalidInput
from clinic.web.caching import no_store
from clinic.web.context import client_ip, db_of, settings_of, templates_of
from clinic.web.flash import flash

EVERY_ROLE = tuple(Role)

# The second-factor page's forms each have their own password field; a problem with
# "password" is shown beside the field of the form that was sent.
PASSWORD_FIELDS = {"start": "password", "codes": "codes-password", "off": "off-password"}


def _render(
    request: Request, template: str, context: Mapping[str, object], status: int = 200
) -> Response:
    return no_store(
        templates_of(request).TemplateResponse(request, template, dict(context), status_code=status)
    )


async def _security(request: Request) -> account.AccountSecurity:
    settings = settings_of(request)
    return await account.account_security(
        db_of(request),
        signed_in_staff(request).user_id,
        secret_box(settings.secret_key),
        issuer=second_factor.issuer_from(settings.mail_from),
    )


def _refused(blocked: TooManyAttempts, field: str) -> tuple[dict[str, str], int]:
    return {field: blocked.message}, 429


@requires(*EVERY_ROLE)
async def overview(request: Request) -> Response:
    return _render(request, "account/security.html", {"security": await _security(request)})


# The second factor


async def _password_refused(
    request: Request, form: str, refused: InvalidInput | TooManyAttempts
) -> Response:
    """The second-factor page again, with why the password sent with `form` ("start",
    "codes" or "off") was refused beside that form's field."""
    field = PASSWORD_FIELDS[form]
    if isinstance(refused, TooManyAttempts):
        errors, status = _refused(refused, field)
        return await _second_factor_page(request, errors=errors, status=status)
    message = refused.field_errors.get("password", str(refused))
    return await _second_factor_page(request, errors={field: message}, status=422)


async def _second_factor_page(
    request: Request,
    *,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    return _render(
        request,
        "account/second_factor.html",
        {
            "security": await _security(request),
            "errors": dict(errors or {}),
            "values": dict(values or {}),
            "must_set_up": signed_in_staff(request).must_set_up_second_factor,
        },
        status,
    )


@requires(*EVERY_ROLE, open_before_set_up=True)
async def second_factor_page(request: Request) -> Response:
    return await _second_factor_page(request)


@requires(*EVERY_ROLE, open_before_set_up=True)
async def second_factor_start(request: Request) -> Response:
    form = await request.form()
    try:
        await account.start_set_up(
            db_of(request),
            secret_box(settings_of(request).secret_key),
            signed_in_staff(request),
            str(form.get("password", "")),
            ip_address=client_ip(request),
        )
    except (InvalidInput, TooManyAttempts) as refused:
        return await _password_refused(request, "start", refused)
    return RedirectResponse(request.url_for("account:second_factor").path + "#scan", 303)


@requires(*EVERY_ROLE, open_before_set_up=True)
async def second_factor_confirm(request: Request) -> Response:
    form = await request.form()
    code = str(form.get("code", "")).strip()
    staff = signed_in_staff(request)
    try:
        shown = await account.confirm_set_up(
            db_of(request),
            secret_box(settings_of(request).secret_key),
            staff,
            code,
            ip_address=client_ip(request),
        )
    except InvalidInput as invalid:
        return await _second_factor_page(
            request, errors=invalid.field_errors, values={"code": code}, status=422
        )
    except account.SetUpExpired as expired:
        return await _second_factor_page(
            request, errors={PASSWORD_FIELDS["start"]: expired.message}, status=409
        )
    except TooManyAttempts as blocked:
        errors, status = _refused(blocked, "code")
        return await _second_factor_page(request, errors=errors, status=status)
    # Shown once, in this response: never in a redirect, a cookie or a log.
    return _recovery_codes_page(request, shown, just_set_up=True)


def _recovery_codes_page(request: Request, shown: list[str], *, just_set_up: bool) -> Response:
    staff = signed_in_staff(request)
    return _render(
        request,
        "account/recovery_codes.html",
        {
            "codes": shown,
            "just_set_up": just_set_up,
            "continue_to": request.url_for(landing_route(staff.roles)).path,
        },
    )


@requires(*EVERY_ROLE)
async def recovery_codes(request: Request) -> Response:
    form = await request.form()
    try:
        shown = await account.replace_recovery_codes(
            db_of(request),
            secret_box(settings_of(request).secret_key),
            signed_in_staff(request),
            str(form.get("password", "")),
            ip_address=client_ip(request),
        )
    except (InvalidInput, TooManyAttempts) as refused:
        return await _password_refused(request, "codes", refused)
    return _recovery_codes_page(request, shown, just_set_up=False)


@requires(*EVERY_ROLE)
async def second_factor_off(request: Request) -> Response:
    form = await request.form()
    try:
        await account.turn_off(
            db_of(request),
            signed_in_staff(request),
            str(form.get("password", "")),
            ip_address=client_ip(request),
        )
    except (InvalidInput, TooManyAttempts) as refused:
        return await _password_refused(request, "off", refused)
    flash(request, "Two-step sign-in is off. Signing in now needs only your password.", "success")
    return RedirectResponse(request.url_for("account:security").path, 303)


# Password


def _password_page(
    request: Request, errors: Mapping[str, str] | None = None, status: int = 200
) -> Response:
    return _render(request, "account/password.html", {"errors": dict(errors or {})}, status)


@requires(*EVERY_ROLE)
async def password_form(request: Request) -> Response:
    return _password_page(request)


@requires(*EVERY_ROLE)
async def password_save(request: Request) -> Response:
    form = await request.form()
    try:
        ended = await account.change_password(
            db_of(request),
            signed_in_staff(request),
            # Passwords are taken as typed: spaces are part of them.
            current=str(form.get("current_password", "")),
            new=str(form.get("new_password", "")),
            confirm=str(form.get("confirm_password", "")),
            ip_address=client_ip(request),
        )
    except InvalidInput as invalid:
        return _password_page(request, invalid.field_errors, status=422)
    except TooManyAttempts as blocked:
        errors, status = _refused(blocked, "current_password")
        return _password_page(request, errors, status=status)
    elsewhere = ""
    if ended:
        elsewhere = (
            " You were signed out on the other device."
            if ended == 1
            else f" You were signed out on {ended} other devices."
        )
    flash(request, "Your password has been changed." + elsewhere, "success")
    return RedirectResponse(request.url_for("account:security").path, 303)


# E-mail


def _email_page(
    request: Request,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    return _render(
        request,
        "account/email.html",
        {"errors": dict(errors or {}), "values": dict(values or {})},
        status,
    )


@requires(*EVERY_ROLE)
async def email_form(request: Request) -> Response:
    return _email_page(request)


@requires(*EVERY_ROLE)
async def email_save(request: Request) -> Response:
    form = await request.form()
    new_email = str(form.get("email", "")).strip()
    values = {"email": new_email}
    try:
        stored = await account.change_email(
            db_of(request),
            signed_in_staff(request),
            password=str(form.get("password", "")),
            new_email=new_email,
            ip_address=client_ip(request),
        )
    except InvalidInput as invalid:
        return _email_page(request, invalid.field_errors, values, status=422)
    except Conflict as taken:
        return _email_page(request, {"email": taken.message}, values, status=409)
    except TooManyAttempts as blocked:
        errors, status = _refused(blocked, "password")
        return _email_page(request, errors, values, status=status)
    flash(request, f"You now sign in with {stored}.", "success")
    return RedirectResponse(request.url_for("account:security").path, 303)
