"""Weekly hours from the admin form: start and end pairs per weekday, several a day.

Pure: no database. Each pair must end after it starts, lie within 5am to 11pm, and not
overlap another pair on the same weekday (at any location: a therapist is in one place at
a time). Pairs that only touch (one ends at 1pm, the next starts at 1pm) are allowed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import time
from itertools import pairwise

from clinic.admin.forms import Checker, clock_text

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EARLIEST = time(5, 0)
LATEST = time(23, 0)
# Rows a day may have on the form: blank rows to fill, and a bound on what is read.
MAX_ROWS = 6


@dataclass(frozen=True, order=True)
class Shift:
    weekday: int  # Monday is 0
    start: time
    end: time
    location_id: int


def field(weekday: int, row: int, part: str) -> str:
    """The input's name and id: hours-0-1-start is Monday's second start."""
    return f"hours-{weekday}-{row}-{part}"


def _time_words(moment: time) -> str:
    hour = moment.hour % 12 or 12
    minutes = f":{moment.minute:02d}" if moment.minute else ""
    if moment == time(12, 0):
        return "midday"
    return f"{hour}{minutes}{'am' if moment.hour < 12 else 'pm'}"


def rows_on_form(form: Mapping[str, str], weekday: int) -> int:
    """How many rows the posted form had for `weekday` (within MAX_ROWS)."""
    rows = 0
    for row in range(MAX_ROWS):
        if field(weekday, row, "start") in form or field(weekday, row, "end") in form:
            rows = row + 1
    return rows


def read_shifts(
    values: Mapping[str, str], *, location_ids: Iterable[int], default_location: int
) -> list[Shift]:
    """The shifts a posted hours form describes; InvalidInput names each bad field."""
    allowed = set(location_ids)
    check = Checker()
    shifts: list[tuple[int, Shift]] = []
    for weekday, day_name in enumerate(WEEKDAYS):
        for row in range(MAX_ROWS):
            start_field, end_field = field(weekday, row, "start"), field(weekday, row, "end")
            if not values.get(start_field, "").strip() and not values.get(end_field, "").strip():
                continue
            start = check.clock(values, start_field, what=f"{day_name} start time")
            end = check.clock(values, end_field, what=f"{day_name} end time")
            if start_field not in check.errors and start is None:
                check.fail(start_field, f"Enter a start time for {day_name}, like 9:00")
            if end_field not in check.errors and end is None:
                check.fail(end_field, f"Enter an end time for {day_name}, like 17:00")
            if start is None or end is None:
                continue
            if start < EARLIEST:
                check.fail(start_field, f"{day_name}'s hours must start at 5am or later")
                continue
            if end > LATEST:
                check.fail(end_field, f"{day_name}'s hours must end by 11pm")
                continue
            if end <= start:
                check.fail(end_field, f"{day_name}'s end time must be after its start time")
                continue
            location_field = field(weekday, row, "location")
            raw_location = values.get(location_field, "").strip()
            location = default_location
            if raw_location:
                if (
                    not (raw_location.isascii() and raw_location.isdigit())
                    or len(raw_location) > 9
                    or int(raw_location) not in allowed
                ):
                    check.fail(location_field, "Choose one of the therapist's locations")
                    continue
                location = int(raw_location)
            shifts.append((row, Shift(weekday, start, end, location)))
    by_day: dict[int, list[tuple[int, Shift]]] = {}
    for row, shift in shifts:
        by_day.setdefault(shift.weekday, []).append((row, shift))
    for weekday, day_shifts in by_day.items():
        ordered = sorted(day_shifts, key=lambda item: (item[1].start, item[1].end))
        for (_, earlier), (row, later) in pairwise(ordered):
            if later.start < earlier.end:
                check.fail(
                    field(weekday, row, "start"),
                    f"{WEEKDAYS[weekday]}'s hours overlap: {_time_words(earlier.start)} to "
                    f"{_time_words(earlier.end)} and {_time_words(later.start)} to "
                    f"{_time_words(later.end)}. Change one so they do not",
                )
    check.done()
    return sorted(shift for _, shift in shifts)


def form_rows(shifts: Iterable[Shift], *, blank_rows: int = 1) -> dict[int, list[dict[str, str]]]:
    """Rows to show per weekday for saved shifts: each shift, then blank rows to add more
    (at least two rows a day, at most MAX_ROWS)."""
    rows: dict[int, list[dict[str, str]]] = {weekday: [] for weekday in range(7)}
    for shift in sorted(shifts):
        rows[shift.weekday].append(
            {
                "start": clock_text(shift.start),
                "end": clock_text(shift.end),
                "location": str(shift.location_id),
            }
        )
    for day_rows in rows.values():
        wanted = min(MAX_ROWS, max(2, len(day_rows) + blank_rows))
        day_rows.extend(
            {"start": "", "end": "", "location": ""} for _ in range(wanted - len(day_rows))
        )
    return rows


def posted_rows(values: Mapping[str, str]) -> dict[int, list[dict[str, str]]]:
    """The rows as posted, to show again beside their errors."""
    rows: dict[int, list[dict[str, str]]] = {}
    for weekday in range(7):
        count = max(2, rows_on_form(values, weekday))
        rows[weekday] = [
            {
                part: values.get(field(weekday, row, part), "")
                for part in ("start", "end", "location")
            }
            for row in range(count)
        ]
    return rows


def time_words(moment: time) -> str:
    """9am, 5:30pm, midday: how hours read on the record page."""
    return _time_words(moment)
