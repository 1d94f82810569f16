"""How money and clinic times read on a page: "$85.00", "Tuesday 14 May", "9:30am".

Times are always shown in a location's zone, never the viewer's: visits are in person.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.numbers import format_currency, get_currency_precision


def money(minor_units: int, currency: str) -> str:
    """Integer minor units as a price: money(8500, "usd") -> "$85.00"."""
    # Babel knows each currency's number of decimal places (JPY has none).
    precision = get_currency_precision(currency.upper())
    amount = minor_units / (10**precision)
    return format_currency(amount, currency.upper(), locale="en_US")


def clock_time(instant: datetime, zone: ZoneInfo) -> str:
    """9:30am, 2pm, midday, midnight."""
    local = instant.astimezone(zone)
    if local.minute == 0 and local.hour == 12:
        return "midday"
    if local.minute == 0 and local.hour == 0:
        return "midnight"
    hour = local.hour % 12 or 12
    suffix = "am" if local.hour < 12 else "pm"
    minutes = f":{local.minute:02d}" if local.minute else ""
    return f"{hour}{minutes}{suffix}"


def long_date(day: date | datetime, zone: ZoneInfo | None = None) -> str:
    """Tuesday 14 May 2026."""
    if isinstance(day, datetime):
        if zone is None:
            raise ValueError("a datetime needs the zone it is shown in")
        day = day.astimezone(zone).date()
    return f"{day:%A} {day.day} {day:%B %Y}"


def zone_label(zone: ZoneInfo, on: datetime) -> str:
    """The zone as a person reads it: "New York time (EST)"."""
    city = str(zone.key).rsplit("/", 1)[-1].replace("_", " ")
    return f"{city} time ({on.astimezone(zone).tzname()})"


def short_date(instant: datetime, zone: ZoneInfo) -> str:
    """Tue 14 May, for subject lines."""
    day = instant.astimezone(zone).date()
    return f"{day:%a} {day.day} {day:%b}"
