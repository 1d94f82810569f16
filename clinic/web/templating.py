"""The Jinja2 environment: template folders, filters for money and clinic time, globals."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, NoMatchFound, Router
from starlette.templating import Jinja2Templates

from clinic.booking.service import short_name
from clinic.clock import now_utc
from clinic.settings import PROJECT_ROOT
from clinic.web.csrf import csrf_token
from clinic.web.flash import consume_flashes
from clinic.web.formatting import clock_time, long_date, money, zone_label

STATUS_LABELS = {
    "held": "Held",
    "pending_clearance": "Awaiting clearance",
    "confirmed": "Booked",
    "checked_in": "Arrived",
    "completed": "Done",
    "no_show": "No-show",
    "cancelled": "Cancelled",
    "expired": "Expired",
}


def _page_context(request: Request, flashes: list[Any]) -> dict[str, Any]:
    return {
        "flashes": flashes,
        "staff": getattr(request.state, "staff", None),
        "csrf_token": lambda: csrf_token(request),
    }


def _request_context(request: Request) -> dict[str, Any]:
    """What every page may use: its flash messages, who is signed in, the CSRF token."""
    flashes = consume_flashes(request) if hasattr(request.state, "flash_incoming") else []
    return _page_context(request, flashes)


def block_response(
    templates: Jinja2Templates, request: Request, name: str, block: str, context: dict[str, Any]
) -> HTMLResponse:
    """One block of a page (what an htmx poll asks for), with the page's context but for
    its flash messages: a block shows none, so they wait for the next whole page."""
    template = templates.get_template(name)
    values = {**context, **_page_context(request, []), "request": request}
    return HTMLResponse("".join(template.blocks[block](template.new_context(values))))


# Each router's routes by name, kept on the router: a page with a hundred cards asks for
# hundreds of links, and Starlette's own lookup tries every route in turn for each
# (clinic/routes.py has ~150).
_INDEX = "_clinic_routes_by_name"


def _route_named(router: Router, name: str) -> BaseRoute | None:
    index: dict[str, BaseRoute] | None = getattr(router, _INDEX, None)
    if index is None:
        index = {}
        for route in router.routes:
            route_name = getattr(route, "name", None)
            if isinstance(route_name, str):
                index.setdefault(route_name, route)
        setattr(router, _INDEX, index)
    return index.get(name)


class LinkPath(str):
    """A link as pages write it: the path from the site's root, so that it holds behind
    any proxy whatever Host it forwards (and `.path`, as Starlette's URL has)."""

    __slots__ = ()

    @property
    def path(self) -> str:
        return str(self)


@jinja2.pass_context
def _url_for(context: Mapping[str, Any], name: str, /, **path_params: Any) -> LinkPath:
    """Pages' `url_for`: the route found through the index, or (a mounted app's own
    routes) Starlette's way."""
    request: Request = context["request"]
    router = request.scope.get("router")
    route = _route_named(router, name) if isinstance(router, Router) else None
    try:
        if route is None:
            raise NoMatchFound(name, path_params)
        path = route.url_path_for(name, **path_params)
    except NoMatchFound:
        return LinkPath(request.url_for(name, **path_params).path)
    return LinkPath(request.scope.get("root_path", "") + path)


def make_templates(default_zone: str) -> Jinja2Templates:
    clinic_zone = ZoneInfo(default_zone)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(PROJECT_ROOT / "templates"),
        autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals["url_for"] = _url_for
    env.globals["clinic_zone"] = clinic_zone
    env.globals["status_labels"] = STATUS_LABELS
    env.globals["short_name"] = short_name

    def _zone(zone: ZoneInfo | None) -> ZoneInfo:
        return zone or clinic_zone

    env.filters["money"] = money
    env.filters["clock_time"] = lambda dt, zone=None: clock_time(dt, _zone(zone))
    env.filters["long_date"] = lambda d, zone=None: long_date(d, _zone(zone))
    env.filters["zone_label"] = lambda zone, on=None: zone_label(
        _zone(zone), on if isinstance(on, datetime) else now_utc()
    )
    return Jinja2Templates(env=env, context_processors=[_request_context])
