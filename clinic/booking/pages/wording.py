"""How dates, times, therapists and cancellation costs read to the client, and the summary
rows that the check, confirmation and manage pages show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from clinic.booking.bookings import BookingView
from clinic.web.formatting import clock_time, long_date, money, zone_label


def day_text(day: date) -> str:
    """Tuesday 14 May."""
    return f"{day:%A} {day.day} {day:%B}"


def short_day_text(day: date) -> str:
    """Tue 14 May."""
    return f"{day:%a} {day.day} {day:%b}"


def moment_text(instant: datetime, zone: ZoneInfo) -> str:
    """9:30am on Monday 13 May."""
    return f"{clock_time(instant, zone)} on {day_text(instant.astimezone(zone).date())}"


def time_range_text(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    """9:30am to 10:30am, New York time (EST)."""
    return f"{clock_time(start, zone)} to {clock_time(end, zone)}, {zone_label(zone, start)}"


def when_lines(start: datetime, end: datetime, zone: ZoneInfo) -> tuple[str, str]:
    """Tuesday 14 May 2026, then 9:30am to 10:30am, New York time (EST)."""
    return long_date(start, zone), time_range_text(start, end, zone)


def therapist_text(name: str, chosen: bool) -> str:
    """Who the client sees named: for "anyone suitable" nobody until the booking is made."""
    return name if chosen else "The clinic will choose"


@dataclass(frozen=True)
class Row:
    label: str
    lines: tuple[str, ...]
    change_url: str | None = None
    change_label: str = ""


def date_time_rows(
    start: datetime, end: datetime, zone: ZoneInfo, change_url: str | None = None
) -> list[Row]:
    day, hours = when_lines(start, end, zone)
    return [Row("Date", (day,), change_url, "date"), Row("Time", (hours,), change_url, "time")]


def booking_rows(view: BookingView, zone: ZoneInfo) -> list[Row]:
    return [
        Row("Reference", (str(view.appointment_id),)),
        Row("Service", (view.service_name,)),
        Row("Therapist", (view.therapist_name,)),
        *date_time_rows(view.start, view.end, zone),
        Row("Address", (view.location_name, *view.location_address.splitlines())),
        Row("Price", (money(view.price_minor, view.currency),)),
    ]


def cancel_text(view: BookingView, zone: ZoneInfo) -> str:
    """What cancelling costs now: the free-cancellation deadline, or the late fee."""
    terms = view.terms_now
    if not terms.late:
        return f"Free to cancel until {moment_text(terms.free_until, zone)}."
    hours = view.policies.cancellation_window_hours
    if terms.fee_minor:
        return (
            f"Your appointment is less than {hours} hours away, so cancelling now costs "
            f"{money(terms.fee_minor, view.currency)}."
        )
    return "Cancelling is free."
