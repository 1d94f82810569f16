"""The Jinja2 environment: template folders, filters for money and clinic time, globals."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from starlette.requests import Request
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


def _request_context(request: Request) -> dict[str, Any]:
    """What every page may use: its flash messages, who is signed in, the CSRF token."""
    flashes = consume_flashes(request) if hasattr(request.state, "flash_incoming") else []
    return {
        "flashes": flashes,
        "staff": getattr(request.state, "staff", None),
        "csrf_token": lambda: csrf_token(request),
    }


def make_templates(default_zone: str) -> Jinja2Templates:
    clinic_zone = ZoneInfo(default_zone)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(PROJECT_ROOT / "templates"),
        autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
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
