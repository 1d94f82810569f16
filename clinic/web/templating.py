"""The Jinja2 environment: template folders, filters for money and clinic time, globals."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from clinic.clock import now_utc
from clinic.settings import PROJECT_ROOT
from clinic.web.flash import consume_flashes
from clinic.web.formatting import clock_time, long_date, money, zone_label


def _flash_context(request: Request) -> dict[str, Any]:
    if not hasattr(request.state, "flash_incoming"):
        return {"flashes": []}
    return {"flashes": consume_flashes(request)}


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

    def _zone(zone: ZoneInfo | None) -> ZoneInfo:
        return zone or clinic_zone

    env.filters["money"] = money
    env.filters["clock_time"] = lambda dt, zone=None: clock_time(dt, _zone(zone))
    env.filters["long_date"] = lambda d, zone=None: long_date(d, _zone(zone))
    env.filters["zone_label"] = lambda zone, on=None: zone_label(
        _zone(zone), on if isinstance(on, datetime) else now_utc()
    )
    return Jinja2Templates(env=env, context_processors=[_flash_context])
