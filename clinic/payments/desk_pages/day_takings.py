"""A day's takings by payment method (`desk:takings`, `?day=YYYY-MM-DD`): counts, amounts,
tips and refunds, read only. A mistyped day is a field error on the page, never a 500."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response

from clinic.auth.models import Role
from clinic.auth.web import requires
from clinic.booking.service import day_bounds
from clinic.clock import today_in
from clinic.payments.desk import Takings, takings_on
from clinic.payments.desk_pages.common import METHOD_ORDER, METHOD_WORDS
from clinic.web.caching import no_store
from clinic.web.context import db_of, settings_of, templates_of

# Takings can be asked for any day in this range (day_bounds needs the day after).
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)


@dataclass(frozen=True)
class TakingsRow:
    method: str
    count: int
    amount_minor: int
    tips_minor: int
    refunded_minor: int

    @property
    def net_minor(self) -> int:
        return self.amount_minor + self.tips_minor - self.refunded_minor


def takings_rows(takings: Takings) -> list[TakingsRow]:
    rows = []
    for method in METHOD_ORDER:
        count, amount, tips = takings.taken.get(method, (0, 0, 0))
        refunded = takings.refunded.get(method, 0)
        if count or refunded:
            rows.append(TakingsRow(METHOD_WORDS[method], count, amount, tips, refunded))
    return rows


def parse_day(raw: str) -> date:
    """The day ?day=YYYY-MM-DD names; ValueError says what to type instead."""
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError("Enter the day as a date, like 2026-11-27") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"Enter a day between {FIRST_DAY.year} and {LAST_DAY.year}")
    return day


@requires(Role.FRONTDESK)
async def takings(request: Request) -> Response:
    settings = settings_of(request)
    zone: ZoneInfo = settings.zone
    today = today_in(zone)
    raw = request.query_params.get("day", "")
    errors: dict[str, str] = {}
    day = today
    if raw.strip():
        try:
            day = parse_day(raw)
        except ValueError as bad:
            errors["day"] = str(bad)
    context: dict[str, Any] = {
        "zone": zone,
        "today": today,
        "errors": errors,
        "raw_day": raw,
        "currency": settings.currency,
    }
    if errors:
        return templates_of(request).TemplateResponse(
            request, "desk/takings.html", {**context, "day": None}, status_code=400
        )
    async with db_of(request).reading() as session:
        summary = await takings_on(session, day, zone, settings.currency)
    rows = takings_rows(summary)
    context.update(
        {
            "day": day,
            "start": day_bounds(day, zone)[0],
            "rows": rows,
            "takings": summary,
            "totals": TakingsRow(
                "Total",
                sum(r.count for r in rows),
                sum(r.amount_minor for r in rows),
                sum(r.tips_minor for r in rows),
                sum(r.refunded_minor for r in rows),
            ),
            "previous": day - timedelta(days=1) if day > FIRST_DAY else None,
            "next": day + timedelta(days=1) if day < LAST_DAY else None,
        }
    )
    return no_store(templates_of(request).TemplateResponse(request, "desk/takings.html", context))
