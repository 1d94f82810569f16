"""What the clinic offers and where: services, rooms and closures."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clinic.admin import closures as closures_admin
from clinic.admin import rooms as rooms_admin
from clinic.admin import services as services_admin
from clinic.admin.forms import checked, form_values
from clinic.admin.policies import deposit_words
from clinic.areas.admin.common import actor, currency, moment, render, visits_phrase
from clinic.auth.models import Role
from clinic.auth.web import requires
from clinic.booking.policy_store import load_policies
from clinic.errors import InvalidInput
from clinic.payments.settings_store import FOLLOW_CLINIC
from clinic.web.context import db_of
from clinic.web.flash import flash
from clinic.web.formatting import long_date

# Services


@requires(Role.ADMIN)
async def services(request: Request) -> Response:
    return render(
        request,
        "admin/services.html",
        {
            "services": await services_admin.list_services(db_of(request)),
            "currency": currency(request),
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
    clinic_rule = await load_policies(db_of(request))
    return render(
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
            "currency": currency(request),
            "clinic_deposit": deposit_words(
                clinic_rule.deposit_kind, clinic_rule.deposit_value, currency(request)
            ),
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
        values={
            "buffer_before": "0",
            "buffer_after": "15",
            "active": "yes",
            "deposit_rule": FOLLOW_CLINIC,
        },
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
            currency=currency(request),
        )
        service = await services_admin.create_service(
            db_of(request), new, actor_user_id=actor(request)
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
        values=services_admin.service_values(service, currency(request)),
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
            currency=currency(request),
        )
        service = await services_admin.update_service(
            db, service_id, new, actor_user_id=actor(request)
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
    return render(
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
    return render(
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
        room = await rooms_admin.create_room(db_of(request), new, actor_user_id=actor(request))
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
    now, _ = moment(request)
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
        room = await rooms_admin.update_room(db, room_id, new, actor_user_id=actor(request))
    except InvalidInput as invalid:
        now, _ = moment(request)
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
    _, today = moment(request)
    page = await closures_admin.closures_page(db_of(request), today=today)
    return render(
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
    now, today = moment(request)
    try:
        wanted = closures_admin.read_closure(values, today=today)
        if form.get("confirmed") != "yes":
            preview = await closures_admin.preview_closure(db, wanted, now=now)
            if preview.visits.total:
                return render(
                    request,
                    "admin/closure_confirm.html",
                    {"preview": preview, "values": values, "on_date": wanted.on_date},
                )
        closure, inside = await closures_admin.add_closure(
            db, wanted, actor_user_id=actor(request), now=now
        )
    except InvalidInput as invalid:
        return await _closures_page(request, values=values, errors=invalid.field_errors, status=422)
    message = f"Closed on {long_date(closure.on_date)}: nobody can book that day."
    if inside:
        message += f" {visits_phrase(inside)} that day still need moving: they were not cancelled."
    flash(request, message, "success")
    return RedirectResponse(request.url_for("admin:closures").path, 303)


@requires(Role.ADMIN)
async def closure_remove(request: Request) -> Response:
    closure = await closures_admin.remove_closure(
        db_of(request), int(request.path_params["closure_id"]), actor_user_id=actor(request)
    )
    flash(request, f"Open again on {long_date(closure.on_date)}.", "success")
    return RedirectResponse(request.url_for("admin:closures").path, 303)
