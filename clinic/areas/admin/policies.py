"""The clinic's policies: a summary card per section (booking, payments, screening) and a
short form per section. Thin: the reading, checking and saving are in clinic/admin/."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clinic.admin import policies as policies_admin
from clinic.admin.forms import form_values
from clinic.areas.admin.common import actor, currency, render
from clinic.auth.models import Role
from clinic.auth.second_factor_policy import requirement as second_factor_requirement
from clinic.auth.web import requires
from clinic.errors import InvalidInput
from clinic.web.context import db_of
from clinic.web.flash import flash


@requires(Role.ADMIN)
async def policies(request: Request) -> Response:
    summaries = await policies_admin.policies_page(db_of(request), currency=currency(request))
    # The second-factor card (templates/auth/_second_factor_policy_card.html).
    second_factor = await second_factor_requirement(db_of(request))
    return render(
        request,
        "admin/policies.html",
        {"summaries": summaries, "second_factor_requirement": second_factor},
    )


async def _form_page(
    request: Request,
    form: policies_admin.SectionForm,
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    return render(
        request,
        "admin/policies_form.html",
        {
            "form": form,
            "section": form.section,
            "values": form.values,
            "errors": errors,
            "currency": currency(request),
            "deposit_words": policies_admin.DEPOSIT_WORDS,
        },
        status=status,
    )


@requires(Role.ADMIN)
async def policy_section(request: Request) -> Response:
    section = policies_admin.section_named(request.path_params["section"])
    form = await policies_admin.section_form(db_of(request), section, currency=currency(request))
    return await _form_page(request, form, {})


@requires(Role.ADMIN)
async def policy_section_save(request: Request) -> Response:
    section = policies_admin.section_named(request.path_params["section"])
    db = db_of(request)
    values = form_values(await request.form(), *section.fields)
    try:
        typed = policies_admin.read_section(section, values, currency=currency(request))
        changes = await policies_admin.save_section(
            db, section, typed, actor_user_id=actor(request), currency=currency(request)
        )
    except InvalidInput as invalid:
        form = policies_admin.SectionForm(
            section, values, await policies_admin.last_change_of(db, section)
        )
        return await _form_page(request, form, invalid.field_errors, status=422)
    if changes:
        flash(request, f"Saved the {section.noun}.", "success")
    else:
        flash(request, f"Nothing to save: the {section.noun} are as they were.", "success")
    return RedirectResponse(request.url_for("admin:policies").path + f"#{section.slug}", 303)
