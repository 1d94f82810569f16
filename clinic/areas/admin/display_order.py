"""The order of services and therapists in online booking and on the desk: one page with
Move up and Move down buttons. Thin: the moves are in clinic/admin/display_order.py."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clinic.admin import display_order as order_admin
from clinic.areas.admin.common import actor, render
from clinic.auth.models import Role
from clinic.auth.web import requires
from clinic.web.context import db_of
from clinic.web.flash import flash


@requires(Role.ADMIN)
async def display_order(request: Request) -> Response:
    page = await order_admin.order_page(db_of(request))
    return render(request, "admin/display_order.html", {"page": page})


def _back(request: Request, anchor: str) -> Response:
    return RedirectResponse(request.url_for("admin:display_order").path + f"#{anchor}", 303)


def _said(name: str, direction: order_admin.Direction, done: bool) -> str:
    if not done:
        return f"{name} is already {'first' if direction is order_admin.Direction.UP else 'last'}."
    return f"Moved {name} {direction.value}."


@requires(Role.ADMIN)
async def service_move(request: Request) -> Response:
    direction = order_admin.read_direction(str((await request.form()).get("direction", "")))
    service, done = await order_admin.move_service(
        db_of(request),
        int(request.path_params["service_id"]),
        direction,
        actor_user_id=actor(request),
    )
    flash(request, _said(service.name, direction, done), "success")
    return _back(request, f"service-{service.id}")


@requires(Role.ADMIN)
async def therapist_move(request: Request) -> Response:
    direction = order_admin.read_direction(str((await request.form()).get("direction", "")))
    therapist, done = await order_admin.move_therapist(
        db_of(request),
        int(request.path_params["therapist_id"]),
        direction,
        actor_user_id=actor(request),
    )
    flash(request, _said(therapist.display_name, direction, done), "success")
    return _back(request, f"therapist-{therapist.id}")
