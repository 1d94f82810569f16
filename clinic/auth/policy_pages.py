"""The admin's choice of roles that must use a second factor: a card on the policies page
(`templates/auth/_second_factor_policy_card.html`, given `second_factor_requirement`)
and a short form of its own."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clinic.areas.admin.common import render
from clinic.auth import second_factor_policy
from clinic.auth.models import Role
from clinic.auth.web import requires, signed_in_staff
from clinic.errors import InvalidInput
from clinic.web.context import db_of
from clinic.web.flash import flash


async def _form(
    request: Request,
    chosen: frozenset[Role],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    return render(
        request,
        "auth/second_factor_policy.html",
        {
            "requirement": await second_factor_policy.requirement(db_of(request)),
            "chosen": chosen,
            "errors": errors,
        },
        status=status,
    )


@requires(Role.ADMIN)
async def second_factor_form(request: Request) -> Response:
    current = await second_factor_policy.requirement(db_of(request))
    return await _form(request, current.roles, {})


@requires(Role.ADMIN)
async def second_factor_save(request: Request) -> Response:
    form = await request.form()
    values = [str(v) for v in form.getlist("roles")]
    try:
        roles = second_factor_policy.roles_from_form(values)
    except InvalidInput as invalid:
        return await _form(request, frozenset(), invalid.field_errors, status=422)
    staff = signed_in_staff(request)
    changed = await second_factor_policy.save_requirement(
        db_of(request), roles, actor_user_id=staff.user_id
    )
    if not changed:
        flash(request, "Nothing to save: two-step sign-in is required as it was.", "success")
    elif roles & staff.roles and not staff.has_second_factor:
        flash(
            request,
            "Saved. Your own role now requires two-step sign-in: set it up to continue.",
            "success",
        )
    else:
        flash(request, "Saved which roles must use two-step sign-in.", "success")
    return RedirectResponse(request.url_for("admin:policies").path + "#second-factor", 303)
