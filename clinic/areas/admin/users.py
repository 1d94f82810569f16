"""Staff accounts and their roles."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clinic.areas.admin.common import render
from clinic.auth.account import reset_second_factor
from clinic.auth.models import Role
from clinic.auth.service import create_user, get_account, list_accounts, update_account
from clinic.auth.web import requires, signed_in_staff
from clinic.errors import ClinicError, InvalidInput
from clinic.web.context import db_of
from clinic.web.flash import flash


def _roles(form: FormData) -> list[Role]:
    chosen = set(form.getlist("roles"))
    return [role for role in Role if role.value in chosen]


@requires(Role.ADMIN)
async def users(request: Request) -> Response:
    return render(request, "admin/users.html", {"accounts": await list_accounts(db_of(request))})


@requires(Role.ADMIN)
async def new_user_form(request: Request) -> Response:
    return render(request, "admin/user_new.html", {"values": {}, "errors": {}, "roles": []})


@requires(Role.ADMIN)
async def new_user(request: Request) -> Response:
    form = await request.form()
    values = {k: str(form.get(k, "")) for k in ("email", "name")}
    roles = _roles(form)
    staff = signed_in_staff(request)
    try:
        user = await create_user(
            db_of(request),
            email=values["email"],
            name=values["name"],
            password=str(form.get("password", "")),
            roles=roles,
            actor_user_id=staff.user_id,
        )
    except InvalidInput as invalid:
        return render(
            request,
            "admin/user_new.html",
            {"values": values, "errors": invalid.field_errors, "roles": roles},
            status=422,
        )
    except ClinicError as refused:
        return render(
            request,
            "admin/user_new.html",
            {"values": values, "errors": {"email": refused.message}, "roles": roles},
            status=409,
        )
    flash(request, f"Account created for {user.name}.", "success")
    return RedirectResponse(request.url_for("admin:users").path, 303)


@requires(Role.ADMIN)
async def user_detail(request: Request) -> Response:
    account = await get_account(db_of(request), int(request.path_params["user_id"]))
    return render(request, "admin/user_edit.html", {"account": account, "errors": {}})


@requires(Role.ADMIN)
async def change_user(request: Request) -> Response:
    user_id = int(request.path_params["user_id"])
    form = await request.form()
    staff = signed_in_staff(request)
    try:
        user = await update_account(
            db_of(request),
            user_id,
            roles=_roles(form),
            active=form.get("active") == "yes",
            unlock=form.get("unlock") == "yes",
            actor=staff,
        )
    except InvalidInput as invalid:
        account = await get_account(db_of(request), user_id)
        return render(
            request,
            "admin/user_edit.html",
            {"account": account, "errors": invalid.field_errors},
            status=422,
        )
    flash(request, f"Saved the changes to {user.name}'s account.", "success")
    return RedirectResponse(request.url_for("admin:users").path, 303)


@requires(Role.ADMIN)
async def user_second_factor_reset(request: Request) -> Response:
    """Clear a member's second factor (a lost phone and lost recovery codes); audited."""
    account = await get_account(db_of(request), int(request.path_params["user_id"]))
    had_one = await reset_second_factor(
        db_of(request), account.user.email, actor_user_id=signed_in_staff(request).user_id
    )
    if had_one:
        flash(
            request,
            f"Cleared {account.user.name}'s two-step sign-in: they sign in with their password "
            "and set it up again if their role requires it.",
            "success",
        )
    else:
        flash(request, f"{account.user.name} had no two-step sign-in to clear.", "info")
    return RedirectResponse(request.url_for("admin:user", user_id=account.user.id).path, 303)
