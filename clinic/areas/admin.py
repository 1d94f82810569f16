"""Admin pages: staff accounts and their roles; therapists with their details, services,
weekly hours, time off and credentials; credentials about to expire; services, rooms and
closures. Thin: each page reads its form, calls one use case in clinic/admin/, and renders
or redirects. A form with bad input comes back with 422, its values kept and each message
beside its field."""

from __future__ import annotations

from datetime import date, datetime

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clinic.admin import closures as closures_admin
from clinic.admin import credentials_admin, offering, time_off
from clinic.admin import rooms as rooms_admin
from clinic.admin import services as services_admin
from clinic.admin import therapists as therapists_admin
from clinic.admin.credential_status import KIND_LABELS, WARN_DAYS, level_words
from clinic.admin.forms import checked, form_values
from clinic.admin.hours import WEEKDAYS, form_rows, posted_rows, time_words
from clinic.admin.record import therapist_record
from clinic.admin.time_off import describe as describe_time_off
from clinic.auth.models import Role
from clinic.auth.service import create_user, get_account, list_accounts, update_account
from clinic.auth.web import requires, signed_in_staff
from clinic.clock import now_utc
from clinic.errors import ClinicError, InvalidInput
from clinic.web.context import db_of, settings_of, templates_of
from clinic.web.flash import flash
from clinic.web.formatting import long_date

ROLE_LABELS = {
    Role.ADMIN: "Admin",
    Role.FRONTDESK: "Front desk",
    Role.THERAPIST: "Therapist",
    Role.CLINICAL_LEAD: "Clinical lead",
}


def _roles(form: FormData) -> list[Role]:
    chosen = set(form.getlist("roles"))
    return [role for role in Role if role.value in chosen]


def _render(
    request: Request, template: str, context: dict[str, object], status: int = 200
) -> Response:
    return templates_of(request).TemplateResponse(
        request, template, {"role_labels": ROLE_LABELS, **context}, status_code=status
    )


@requires(Role.ADMIN)
async def users(request: Request) -> Response:
    return _render(request, "admin/users.html", {"accounts": await list_accounts(db_of(request))})


@requires(Role.ADMIN)
async def new_user_form(request: Request) -> Response:
    return _render(request, "admin/user_new.html", {"values": {}, "errors": {}, "roles": []})


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
        return _render(
            request,
            "admin/user_new.html",
            {"values": values, "errors": invalid.field_errors, "roles": roles},
            status=422,
        )
    except ClinicError as refused:
        return _render(
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
    return _render(request, "admin/user_edit.html", {"account": account, "errors": {}})


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
        return _render(
            request,
            "admin/user_edit.html",
            {"account": account, "errors": invalid.field_errors},
            status=422,
        )
    flash(request, f"Saved the changes to {user.name}'s account.", "success")
    return RedirectResponse(request.url_for("admin:users").path, 303)


# Therapists


def _fields(form: FormData) -> dict[str, str]:
    """Every posted field as stripped text (the last value of a repeated name)."""
    return {key: value.strip() for key, value in form.multi_items() if isinstance(value, str)}


def _therapist_id(request: Request) -> int:
    return int(request.path_params["therapist_id"])


def _actor(request: Request) -> int:
    return signed_in_staff(request).user_id


def _moment(request: Request) -> tuple[datetime, date]:
    """Now, and today's date in the clinic's zone."""
    now = now_utc()
    return now, now.astimezone(settings_of(request).zone).date()


def _record_url(request: Request, therapist_id: int) -> str:
    return request.url_for("admin:therapist", therapist_id=therapist_id).path


@requires(Role.ADMIN)
async def therapists(request: Request) -> Response:
    _, today = _moment(request)
    rows = await therapists_admin.list_therapists(db_of(request), today=today)
    return _render(
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
    return _render(
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
            db_of(request), details, actor_user_id=_actor(request)
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
    now, today = _moment(request)
    record = await therapist_record(
        db_of(request),
        _therapist_id(request),
        today=today,
        now=now,
        fallback_zone=settings_of(request).zone,
    )
    return _render(
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
            db, therapist_id, details, actor_user_id=_actor(request)
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
    return _render(
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
            db_of(request), therapist_id, chosen, actor_user_id=_actor(request)
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
    return _render(
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
        await offering.set_hours(
            db_of(request), therapist_id, values, actor_user_id=_actor(request)
        )
    except InvalidInput as invalid:
        return await _hours_page(
            request, rows=posted_rows(values), errors=invalid.field_errors, status=422
        )
    flash(request, "Saved the weekly hours.", "success")
    return RedirectResponse(_record_url(request, therapist_id), 303)


async def _time_off_page(
    request: Request, *, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    now, _ = _moment(request)
    page = await time_off.time_off_page(
        db_of(request), _therapist_id(request), now=now, fallback_zone=settings_of(request).zone
    )
    return _render(
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
    now, _ = _moment(request)
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
            return _render(
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
        db, therapist_id, wanted, actor_user_id=_actor(request), now=now
    )
    message = f"Time off added for {page.therapist.display_name}."
    if inside_count:
        message += (
            f" {_visits_phrase(inside_count)} inside it still need moving: they were not cancelled."
        )
    flash(request, message, "success")
    return RedirectResponse(_record_url(request, therapist_id), 303)


def _visits_phrase(count: int) -> str:
    return "1 visit" if count == 1 else f"{count} visits"


@requires(Role.ADMIN)
async def therapist_time_off_remove(request: Request) -> Response:
    therapist_id = _therapist_id(request)
    await time_off.remove_time_off(
        db_of(request),
        therapist_id,
        int(request.path_params["time_off_id"]),
        actor_user_id=_actor(request),
    )
    flash(request, "Time off removed.", "success")
    return RedirectResponse(
        request.url_for("admin:therapist_time_off", therapist_id=therapist_id).path, 303
    )


async def _credential_page(
    request: Request, *, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    therapist = await credentials_admin.credential_form(db_of(request), _therapist_id(request))
    return _render(
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
        now, _ = _moment(request)
        await credentials_admin.add_credential(
            db_of(request), therapist_id, new, actor_user_id=_actor(request), now=now
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
    now, _ = _moment(request)
    credential, changed = await credentials_admin.verify_credential(
        db_of(request),
        therapist_id,
        int(request.path_params["credential_id"]),
        actor_user_id=_actor(request),
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
    now, _ = _moment(request)
    preview = await therapists_admin.deactivation_preview(
        db_of(request), _therapist_id(request), now=now, fallback_zone=settings_of(request).zone
    )
    return _render(request, "admin/therapist_deactivate.html", {"preview": preview})


@requires(Role.ADMIN)
async def therapist_deactivate(request: Request) -> Response:
    return await _set_active(request, active=False)


@requires(Role.ADMIN)
async def therapist_reactivate(request: Request) -> Response:
    return await _set_active(request, active=True)


async def _set_active(request: Request, *, active: bool) -> Response:
    therapist_id = _therapist_id(request)
    now, _ = _moment(request)
    therapist, upcoming = await therapists_admin.set_active(
        db_of(request), therapist_id, active=active, actor_user_id=_actor(request), now=now
    )
    name = therapist.display_name
    if active:
        flash(request, f"{name} is active again and can be booked when qualified.", "success")
    else:
        moving = (
            f" {_visits_phrase(upcoming)} still to come need another therapist: they were not"
            " cancelled."
            if upcoming
            else ""
        )
        flash(request, f"{name} deactivated: no longer offered for booking.{moving}", "success")
    return RedirectResponse(_record_url(request, therapist_id), 303)


@requires(Role.ADMIN)
async def expiring(request: Request) -> Response:
    now, today = _moment(request)
    page = await credentials_admin.expiring_soon(
        db_of(request), today=today, now=now, fallback_zone=settings_of(request).zone
    )
    return _render(
        request, "admin/expiring.html", {"page": page, "today": today, "warn_days": WARN_DAYS}
    )


# Services


def _currency(request: Request) -> str:
    return settings_of(request).currency


@requires(Role.ADMIN)
async def services(request: Request) -> Response:
    return _render(
        request,
        "admin/services.html",
        {
            "services": await services_admin.list_services(db_of(request)),
            "currency": _currency(request),
        },
    )


async def _service_page(
    request: Request,
    *,
    page: services_admin.ServicePage | None,
    values: dict[str, str],
    flags: dict[str, bool],
    attributes: list[str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    return _render(
        request,
        "admin/service_form.html",
        {
            "page": page,
            "values": values,
            "flags": flags,
            "attributes": attributes,
            "errors": errors,
            "levels": services_admin.LEVEL_CHOICES,
            "attribute_labels": services_admin.ROOM_ATTRIBUTE_LABELS,
            "currency": _currency(request),
        },
        status=status,
    )


async def _read_service_form(
    request: Request,
) -> tuple[dict[str, str], dict[str, bool], list[str], FormData]:
    form = await request.form()
    values = form_values(form, *services_admin.FIELDS)
    flags = {"lymphedema": checked(form, "lymphedema"), "online": checked(form, "online")}
    attributes = [str(v) for v in form.getlist("room_attributes")]
    return values, flags, attributes, form


@requires(Role.ADMIN)
async def service_new_form(request: Request) -> Response:
    return await _service_page(
        request,
        page=None,
        values={"buffer_before": "0", "buffer_after": "15", "active": "yes"},
        flags={"lymphedema": False, "online": True},
        attributes=["massage_table"],
        errors={},
    )


@requires(Role.ADMIN)
async def service_create(request: Request) -> Response:
    values, flags, attributes, _ = await _read_service_form(request)
    try:
        new = services_admin.read_service(
            values,
            attributes=attributes,
            lymphedema=flags["lymphedema"],
            online=flags["online"],
            currency=_currency(request),
        )
        service = await services_admin.create_service(
            db_of(request), new, actor_user_id=_actor(request)
        )
    except InvalidInput as invalid:
        return await _service_page(
            request,
            page=None,
            values=values,
            flags=flags,
            attributes=attributes,
            errors=invalid.field_errors,
            status=422,
        )
    flash(
        request,
        f"{service.name} added. Choose who offers it on each therapist's Services page.",
        "success",
    )
    return RedirectResponse(request.url_for("admin:services").path, 303)


@requires(Role.ADMIN)
async def service_page(request: Request) -> Response:
    page = await services_admin.get_service(db_of(request), int(request.path_params["service_id"]))
    service = page.service
    return await _service_page(
        request,
        page=page,
        values=services_admin.service_values(service, _currency(request)),
        flags={"lymphedema": service.needs_lymphedema, "online": service.bookable_online},
        attributes=list(service.room_attributes),
        errors={},
    )


@requires(Role.ADMIN)
async def service_save(request: Request) -> Response:
    service_id = int(request.path_params["service_id"])
    db = db_of(request)
    values, flags, attributes, _ = await _read_service_form(request)
    try:
        new = services_admin.read_service(
            values,
            attributes=attributes,
            lymphedema=flags["lymphedema"],
            online=flags["online"],
            currency=_currency(request),
        )
        service = await services_admin.update_service(
            db, service_id, new, actor_user_id=_actor(request)
        )
    except InvalidInput as invalid:
        return await _service_page(
            request,
            page=await services_admin.get_service(db, service_id),
            values=values,
            flags=flags,
            attributes=attributes,
            errors=invalid.field_errors,
            status=422,
        )
    flash(request, f"Saved {service.name}.", "success")
    return RedirectResponse(request.url_for("admin:services").path, 303)


# Rooms


@requires(Role.ADMIN)
async def rooms(request: Request) -> Response:
    return _render(
        request,
        "admin/rooms.html",
        {
            "rows": await rooms_admin.list_rooms(db_of(request)),
            "attribute_labels": services_admin.ROOM_ATTRIBUTE_LABELS,
        },
    )


async def _room_page(
    request: Request,
    *,
    page: rooms_admin.RoomPage | None,
    values: dict[str, str],
    attributes: list[str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    return _render(
        request,
        "admin/room_form.html",
        {
            "page": page,
            "values": values,
            "attributes": attributes,
            "errors": errors,
            "locations": await rooms_admin.active_locations(db_of(request)),
            "attribute_labels": services_admin.ROOM_ATTRIBUTE_LABELS,
        },
        status=status,
    )


@requires(Role.ADMIN)
async def room_new_form(request: Request) -> Response:
    return await _room_page(
        request, page=None, values={"active": "yes"}, attributes=["massage_table"], errors={}
    )


@requires(Role.ADMIN)
async def room_create(request: Request) -> Response:
    form = await request.form()
    values = form_values(form, "name", "location_id", "active")
    attributes = [str(v) for v in form.getlist("attributes")]
    try:
        new = rooms_admin.read_room(values, attributes=attributes)
        room = await rooms_admin.create_room(db_of(request), new, actor_user_id=_actor(request))
    except InvalidInput as invalid:
        return await _room_page(
            request,
            page=None,
            values=values,
            attributes=attributes,
            errors=invalid.field_errors,
            status=422,
        )
    flash(request, f"{room.name} added.", "success")
    return RedirectResponse(request.url_for("admin:rooms").path, 303)


@requires(Role.ADMIN)
async def room_page(request: Request) -> Response:
    now, _ = _moment(request)
    page = await rooms_admin.get_room(db_of(request), int(request.path_params["room_id"]), now=now)
    return await _room_page(
        request,
        page=page,
        values={"name": page.room.name, "active": "yes" if page.room.active else "no"},
        attributes=list(page.room.attributes),
        errors={},
    )


@requires(Role.ADMIN)
async def room_save(request: Request) -> Response:
    room_id = int(request.path_params["room_id"])
    db = db_of(request)
    form = await request.form()
    values = form_values(form, "name", "active")
    attributes = [str(v) for v in form.getlist("attributes")]
    try:
        new = rooms_admin.read_room(values, attributes=attributes)
        room = await rooms_admin.update_room(db, room_id, new, actor_user_id=_actor(request))
    except InvalidInput as invalid:
        now, _ = _moment(request)
        return await _room_page(
            request,
            page=await rooms_admin.get_room(db, room_id, now=now),
            values=values,
            attributes=attributes,
            errors=invalid.field_errors,
            status=422,
        )
    flash(request, f"Saved {room.name}.", "success")
    return RedirectResponse(request.url_for("admin:rooms").path, 303)


# Closures


async def _closures_page(
    request: Request, *, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    _, today = _moment(request)
    page = await closures_admin.closures_page(db_of(request), today=today)
    return _render(
        request,
        "admin/closures.html",
        {"page": page, "values": values, "errors": errors},
        status=status,
    )


@requires(Role.ADMIN)
async def closures(request: Request) -> Response:
    return await _closures_page(request, values={}, errors={})


@requires(Role.ADMIN)
async def closure_add(request: Request) -> Response:
    """Close a day. When visits still to come are booked that day, first show them and
    ask to confirm: closing cancels none of them."""
    db = db_of(request)
    form = await request.form()
    values = form_values(form, *closures_admin.FIELDS)
    now, today = _moment(request)
    try:
        wanted = closures_admin.read_closure(values, today=today)
        if form.get("confirmed") != "yes":
            preview = await closures_admin.preview_closure(db, wanted, now=now)
            if preview.visits.total:
                return _render(
                    request,
                    "admin/closure_confirm.html",
                    {"preview": preview, "values": values, "on_date": wanted.on_date},
                )
        closure, inside = await closures_admin.add_closure(
            db, wanted, actor_user_id=_actor(request), now=now
        )
    except InvalidInput as invalid:
        return await _closures_page(request, values=values, errors=invalid.field_errors, status=422)
    message = f"Closed on {long_date(closure.on_date)}: nobody can book that day."
    if inside:
        message += f" {_visits_phrase(inside)} that day still need moving: they were not cancelled."
    flash(request, message, "success")
    return RedirectResponse(request.url_for("admin:closures").path, 303)


@requires(Role.ADMIN)
async def closure_remove(request: Request) -> Response:
    closure = await closures_admin.remove_closure(
        db_of(request), int(request.path_params["closure_id"]), actor_user_id=_actor(request)
    )
    flash(request, f"Open again on {long_date(closure.on_date)}.", "success")
    return RedirectResponse(request.url_for("admin:closures").path, 303)
