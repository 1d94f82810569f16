"""Therapists: details, services offered, weekly hours, time off, credentials and their
expiry, deactivating and reactivating."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clinic.admin import credentials_admin, offering, time_off
from clinic.admin import therapists as therapists_admin
from clinic.admin.credential_status import KIND_LABELS, WARN_DAYS, level_words
from clinic.admin.forms import checked, form_values
from clinic.admin.hours import WEEKDAYS, form_rows, posted_rows, time_words
from clinic.admin.record import therapist_record
from clinic.admin.time_off import describe as describe_time_off
from clinic.areas.admin.common import actor, moment, render, visits_phrase
from clinic.auth.models import Role
from clinic.auth.web import requires
from clinic.errors import InvalidInput
from clinic.web.context import db_of, settings_of
from clinic.web.flash import flash


def _fields(form: FormData) -> dict[str, str]:
    """Every posted field as stripped text (the last value of a repeated name)."""
    return {key: value.strip() for key, value in form.multi_items() if isinstance(value, str)}


def _therapist_id(request: Request) -> int:
    return int(request.path_params["therapist_id"])


def _record_url(request: Request, therapist_id: int) -> str:
    return request.url_for("admin:therapist", therapist_id=therapist_id).path


@requires(Role.ADMIN)
async def therapists(request: Request) -> Response:
    _, today = moment(request)
    rows = await therapists_admin.list_therapists(db_of(request), today=today)
    return render(
        request,
        "admin/therapists.html",
        {
            "rows": rows,
            "warnings": sum(row.warnings for row in rows if row.therapist.active),
            "level_words": level_words,
        },
    )


async def _details_page(
    request: Request,
    template: str,
    *,
    therapist_id: int | None,
    values: dict[str, str],
    chosen: list[str],
    errors: dict[str, str],
    status: int = 200,
    therapist: object = None,
) -> Response:
    choices = await therapists_admin.details_choices(db_of(request), therapist_id)
    if not chosen and therapist_id is None and len(choices.locations) == 1 and not errors:
        chosen = [str(choices.locations[0].id)]
    return render(
        request,
        template,
        {
            "choices": choices,
            "values": values,
            "chosen": chosen,
            "errors": errors,
            "therapist": therapist,
        },
        status=status,
    )


@requires(Role.ADMIN)
async def therapist_new_form(request: Request) -> Response:
    return await _details_page(
        request,
        "admin/therapist_new.html",
        therapist_id=None,
        values={"sessions_elsewhere": "0"},
        chosen=[],
        errors={},
    )


@requires(Role.ADMIN)
async def therapist_create(request: Request) -> Response:
    form = await request.form()
    values = form_values(form, *therapists_admin.DETAIL_FIELDS)
    chosen = [str(v) for v in form.getlist("locations")]
    try:
        details = therapists_admin.read_details(values, chosen)
        therapist = await therapists_admin.create_therapist(
            db_of(request), details, actor_user_id=actor(request)
        )
    except InvalidInput as invalid:
        return await _details_page(
            request,
            "admin/therapist_new.html",
            therapist_id=None,
            values=values,
            chosen=chosen,
            errors=invalid.field_errors,
            status=422,
        )
    flash(
        request,
        f"{therapist.display_name} added. Next add their credentials, services and weekly "
        "hours: the checklist below says what is still missing before clients can book them.",
        "success",
    )
    return RedirectResponse(_record_url(request, therapist.id), 303)


@requires(Role.ADMIN)
async def therapist_page(request: Request) -> Response:
    now, today = moment(request)
    record = await therapist_record(
        db_of(request),
        _therapist_id(request),
        today=today,
        now=now,
        fallback_zone=settings_of(request).zone,
    )
    return render(
        request,
        "admin/therapist.html",
        {
            "record": record,
            "today": today,
            "weekdays": WEEKDAYS,
            "time_words": time_words,
            "describe_time_off": describe_time_off,
            "level_words": level_words,
            "kind_labels": KIND_LABELS,
        },
    )


@requires(Role.ADMIN)
async def therapist_details_form(request: Request) -> Response:
    therapist_id = _therapist_id(request)
    record = await therapists_admin.details_of(db_of(request), therapist_id)
    return await _details_page(
        request,
        "admin/therapist_details.html",
        therapist_id=therapist_id,
        values=record.values,
        chosen=record.chosen,
        errors={},
        therapist=record.therapist,
    )


@requires(Role.ADMIN)
async def therapist_details_save(request: Request) -> Response:
    therapist_id = _therapist_id(request)
    db = db_of(request)
    form = await request.form()
    values = form_values(form, *therapists_admin.DETAIL_FIELDS)
    chosen = [str(v) for v in form.getlist("locations")]
    try:
        details = therapists_admin.read_details(values, chosen)
        therapist = await therapists_admin.update_details(
            db, therapist_id, details, actor_user_id=actor(request)
        )
    except InvalidInput as invalid:
        record = await therapists_admin.details_of(db, therapist_id)
        return await _details_page(
            request,
            "admin/therapist_details.html",
            therapist_id=therapist_id,
            values=values,
            chosen=chosen,
            errors=invalid.field_errors,
            status=422,
            therapist=record.therapist,
        )
    flash(request, f"Saved {therapist.display_name}'s details.", "success")
    return RedirectResponse(_record_url(request, therapist_id), 303)


async def _services_page(
    request: Request, *, chosen: frozenset[int] | None, errors: dict[str, str], status: int = 200
) -> Response:
    page = await offering.services_form(db_of(request), _therapist_id(request))
    return render(
        request,
        "admin/therapist_services.html",
        {
            "page": page,
            "chosen": page.offered if chosen is None else chosen,
            "errors": errors,
        },
        status=status,
    )


@requires(Role.ADMIN)
async def therapist_services_form(request: Request) -> Response:
    return await _services_page(request, chosen=None, errors={})


@requires(Role.ADMIN)
async def therapist_services_save(request: Request) -> Response:
    therapist_id = _therapist_id(request)
    form = await request.form()
    raw = [str(v) for v in form.getlist("services")]
    try:
        chosen = offering.read_service_ids(raw)
        therapist = await offering.set_services(
            db_of(request), therapist_id, chosen, actor_user_id=actor(request)
        )
    except InvalidInput as invalid:
        kept = frozenset(int(v) for v in raw if v.isascii() and v.isdigit() and len(v) <= 9)
        return await _services_page(request, chosen=kept, errors=invalid.field_errors, status=422)
    flash(request, f"Saved the services {therapist.display_name} offers.", "success")
    return RedirectResponse(_record_url(request, therapist_id), 303)


async def _hours_page(
    request: Request,
    *,
    rows: dict[int, list[dict[str, str]]] | None,
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    page = await offering.hours_form(db_of(request), _therapist_id(request))
    return render(
        request,
        "admin/therapist_hours.html",
        {
            "page": page,
            "rows": form_rows(page.shifts) if rows is None else rows,
            "weekdays": WEEKDAYS,
            "errors": errors,
        },
        status=status,
    )


@requires(Role.ADMIN)
async def therapist_hours_form(request: Request) -> Response:
    return await _hours_page(request, rows=None, errors={})


@requires(Role.ADMIN)
async def therapist_hours_save(request: Request) -> Response:
    therapist_id = _therapist_id(request)
    values = _fields(await request.form())
    try:
        await offering.set_hours(db_of(request), therapist_id, values, actor_user_id=actor(request))
    except InvalidInput as invalid:
        return await _hours_page(
            request, rows=posted_rows(values), errors=invalid.field_errors, status=422
        )
    flash(request, "Saved the weekly hours.", "success")
    return RedirectResponse(_record_url(request, therapist_id), 303)


async def _time_off_page(
    request: Request, *, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    now, _ = moment(request)
    page = await time_off.time_off_page(
        db_of(request), _therapist_id(request), now=now, fallback_zone=settings_of(request).zone
    )
    return render(
        request,
        "admin/therapist_time_off.html",
        {"page": page, "values": values, "errors": errors, "describe": describe_time_off},
        status=status,
    )


@requires(Role.ADMIN)
async def therapist_time_off(request: Request) -> Response:
    return await _time_off_page(request, values={}, errors={})


@requires(Role.ADMIN)
async def therapist_time_off_add(request: Request) -> Response:
    """Add time off. When visits still to come fall inside it, first show them and ask
    to confirm: they are not cancelled, and the desk will need to move them."""
    therapist_id = _therapist_id(request)
    db = db_of(request)
    form = await request.form()
    values = form_values(form, *time_off.FIELDS)
    now, _ = moment(request)
    page = await time_off.time_off_page(
        db, therapist_id, now=now, fallback_zone=settings_of(request).zone
    )
    try:
        wanted = time_off.read_time_off(values, zone=page.zone, now=now)
    except InvalidInput as invalid:
        return await _time_off_page(request, values=values, errors=invalid.field_errors, status=422)
    if form.get("confirmed") != "yes":
        inside = await time_off.visits_during(db, therapist_id, wanted, now=now)
        if inside.total:
            return render(
                request,
                "admin/time_off_confirm.html",
                {
                    "therapist": page.therapist,
                    "zone": page.zone,
                    "values": values,
                    "visits": inside,
                    "when": describe_time_off(wanted.starts_at, wanted.ends_at, page.zone),
                },
            )
    _, inside_count = await time_off.add_time_off(
        db, therapist_id, wanted, actor_user_id=actor(request), now=now
    )
    message = f"Time off added for {page.therapist.display_name}."
    if inside_count:
        message += (
            f" {visits_phrase(inside_count)} inside it still need moving: they were not cancelled."
        )
    flash(request, message, "success")
    return RedirectResponse(_record_url(request, therapist_id), 303)


@requires(Role.ADMIN)
async def therapist_time_off_remove(request: Request) -> Response:
    therapist_id = _therapist_id(request)
    await time_off.remove_time_off(
        db_of(request),
        therapist_id,
        int(request.path_params["time_off_id"]),
        actor_user_id=actor(request),
    )
    flash(request, "Time off removed.", "success")
    return RedirectResponse(
        request.url_for("admin:therapist_time_off", therapist_id=therapist_id).path, 303
    )


async def _credential_page(
    request: Request, *, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    therapist = await credentials_admin.credential_form(db_of(request), _therapist_id(request))
    return render(
        request,
        "admin/credential_new.html",
        {
            "therapist": therapist,
            "values": values,
            "errors": errors,
            "kinds": list(KIND_LABELS.items()),
        },
        status=status,
    )


@requires(Role.ADMIN)
async def credential_new_form(request: Request) -> Response:
    return await _credential_page(request, values={}, errors={})


@requires(Role.ADMIN)
async def credential_create(request: Request) -> Response:
    therapist_id = _therapist_id(request)
    form = await request.form()
    values = form_values(form, *credentials_admin.FIELDS, "supervised", "verified")
    try:
        new = credentials_admin.read_credential(
            values,
            supervised_hands_on=checked(form, "supervised"),
            verified=checked(form, "verified"),
        )
        now, _ = moment(request)
        await credentials_admin.add_credential(
            db_of(request), therapist_id, new, actor_user_id=actor(request), now=now
        )
    except InvalidInput as invalid:
        return await _credential_page(
            request, values=values, errors=invalid.field_errors, status=422
        )
    verified = "" if new.verified else " Verify it once you have seen the original."
    flash(request, f"{KIND_LABELS[new.kind]} added.{verified}", "success")
    return RedirectResponse(_record_url(request, therapist_id) + "#credentials", 303)


@requires(Role.ADMIN)
async def credential_verify(request: Request) -> Response:
    therapist_id = _therapist_id(request)
    now, _ = moment(request)
    credential, changed = await credentials_admin.verify_credential(
        db_of(request),
        therapist_id,
        int(request.path_params["credential_id"]),
        actor_user_id=actor(request),
        now=now,
    )
    label = KIND_LABELS[credential.kind]
    if changed:
        flash(request, f"{label} verified: it now counts towards bookability.", "success")
    else:
        flash(request, f"{label} was already verified.", "info")
    return RedirectResponse(_record_url(request, therapist_id) + "#credentials", 303)


@requires(Role.ADMIN)
async def therapist_deactivate_form(request: Request) -> Response:
    now, _ = moment(request)
    preview = await therapists_admin.deactivation_preview(
        db_of(request), _therapist_id(request), now=now, fallback_zone=settings_of(request).zone
    )
    return render(request, "admin/therapist_deactivate.html", {"preview": preview})


@requires(Role.ADMIN)
async def therapist_deactivate(request: Request) -> Response:
    return await _set_active(request, active=False)


@requires(Role.ADMIN)
async def therapist_reactivate(request: Request) -> Response:
    return await _set_active(request, active=True)


async def _set_active(request: Request, *, active: bool) -> Response:
    therapist_id = _therapist_id(request)
    now, _ = moment(request)
    therapist, upcoming = await therapists_admin.set_active(
        db_of(request), therapist_id, active=active, actor_user_id=actor(request), now=now
    )
    name = therapist.display_name
    if active:
        flash(request, f"{name} is active again and can be booked when qualified.", "success")
    else:
        moving = (
            f" {visits_phrase(upcoming)} still to come need another therapist: they were not"
            " cancelled."
            if upcoming
            else ""
        )
        flash(request, f"{name} deactivated: no longer offered for booking.{moving}", "success")
    return RedirectResponse(_record_url(request, therapist_id), 303)


@requires(Role.ADMIN)
async def expiring(request: Request) -> Response:
    now, today = moment(request)
    page = await credentials_admin.expiring_soon(
        db_of(request), today=today, now=now, fallback_zone=settings_of(request).zone
    )
    return render(
        request, "admin/expiring.html", {"page": page, "today": today, "warn_days": WARN_DAYS}
    )
