"""The week of free times that the booking time step and the manage "Change time" page
share: the grid, its page, and reading the time the client chose."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from clinic.booking.pages.choices import Clinic
from clinic.booking.pages.forms import form_value, render
from clinic.booking.pages.wording import day_text, short_day_text
from clinic.booking.taking import SlotTaken, plausible_start
from clinic.db import Database
from clinic.errors import ClinicError
from clinic.scheduling.availability import CareNeed, Slot
from clinic.scheduling.service import free_times
from clinic.web.formatting import clock_time

WEEK_DAYS = 7
# "Next available" looks ahead this many days per query.
SEARCH_CHUNK_DAYS = 14

CHOOSE_TIME = "Choose a time"
# Whatever the service says, to the client a time we listed that cannot be had was taken.
TIME_TAKEN = "That time has just been booked. Choose another."


def part_of_day(local: datetime) -> str:
    if local.hour < 12:
        return "Morning"
    if local.hour < 17:
        return "Afternoon"
    return "Evening"


def slot_value(start: datetime) -> str:
    """The exact instant a time radio sends back: ISO 8601 in UTC."""
    return start.astimezone(UTC).isoformat()


def parse_start(value: str) -> datetime | None:
    if not value or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    # A time no visit could have is no choice (and would overflow the page's date sums).
    return parsed if parsed.tzinfo is not None and plausible_start(parsed) else None


def parse_day(value: str | None) -> date | None:
    if not value or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def posted_start(form: FormData) -> datetime | None:
    return parse_start(form_value(form, "start"))


def start_errors(refused: ClinicError) -> dict[str, str]:
    """The error beside the times when the chosen one could not be had."""
    return {"start": TIME_TAKEN if isinstance(refused, SlotTaken) else refused.message}


@dataclass(frozen=True)
class DayCell:
    day: date
    short: str
    long: str
    count: int
    url: str
    current: bool


@dataclass(frozen=True)
class TimeOption:
    value: str
    label: str


@dataclass(frozen=True)
class TimeGroup:
    name: str
    options: list[TimeOption]


@dataclass(frozen=True)
class TimeGrid:
    zone: ZoneInfo
    day: date
    day_label: str
    # Noon on the chosen day: which abbreviation the zone has then (EST or EDT).
    on: datetime
    days: list[DayCell]
    groups: list[TimeGroup]
    earlier_url: str | None
    later_url: str | None
    next_label: str | None
    next_url: str | None
    selected: str | None = None
    week_label: str = ""
    option_count: int = field(default=0)


def _distinct(slots: list[Slot], skip: datetime | None) -> list[Slot]:
    """Each start once (for "anyone suitable" several therapists share one)."""
    seen: set[datetime] = set()
    kept = []
    for slot in slots:
        if slot.start in seen or slot.start == skip:
            continue
        seen.add(slot.start)
        kept.append(slot)
    return kept


async def _first_free(
    db: Database,
    *,
    service_id: int,
    therapist_id: int | None,
    first_day: date,
    last_day: date,
    ignoring: int | None,
    skip: datetime | None,
    care: CareNeed | None,
) -> Slot | None:
    day = first_day
    while day <= last_day:
        chunk_end = min(day + timedelta(days=SEARCH_CHUNK_DAYS - 1), last_day)
        found = await free_times(
            db,
            service_id=service_id,
            first_day=day,
            last_day=chunk_end,
            therapist_id=therapist_id,
            ignoring_appointment=ignoring,
            care=care,
        )
        if found is None:
            return None
        slots = _distinct(found.slots, skip)
        if slots:
            return slots[0]
        day = chunk_end + timedelta(days=1)
    return None


async def time_grid(
    db: Database,
    *,
    clinic: Clinic,
    service_id: int,
    therapist_id: int | None,
    day: date | None,
    day_url: Callable[[date], str],
    ignoring: int | None = None,
    skip: datetime | None = None,
    selected: str | None = None,
    care: CareNeed | None = None,
) -> TimeGrid:
    """The week around `day` (weeks counted from today) with a count of free times per
    day, and the day's times grouped by part of the day. No day given: the next day with
    a free time. `care`: the client's care need, which narrows the times."""
    zone = clinic.zone

    async def first_free() -> Slot | None:
        return await _first_free(
            db,
            service_id=service_id,
            therapist_id=therapist_id,
            first_day=clinic.today,
            last_day=clinic.last_day,
            ignoring=ignoring,
            skip=skip,
            care=care,
        )

    next_slot: Slot | None = None
    searched = False
    if day is None:
        next_slot = await first_free()
        searched = True
        day = next_slot.start.astimezone(zone).date() if next_slot else clinic.today
    day = min(max(day, clinic.today), clinic.last_day)
    week_start = clinic.today + timedelta(days=WEEK_DAYS * ((day - clinic.today).days // WEEK_DAYS))
    week_end = min(week_start + timedelta(days=WEEK_DAYS - 1), clinic.last_day)
    found = await free_times(
        db,
        service_id=service_id,
        first_day=week_start,
        last_day=week_end,
        therapist_id=therapist_id,
        ignoring_appointment=ignoring,
        care=care,
    )
    if found is not None:
        zone = found.zone
    slots = _distinct(found.slots if found else [], skip)
    by_day: dict[date, list[Slot]] = {}
    for slot in slots:
        by_day.setdefault(slot.start.astimezone(zone).date(), []).append(slot)
    if not searched:
        if week_start == clinic.today and slots:
            next_slot = slots[0]
        else:
            next_slot = await first_free()
    days = []
    current = week_start
    while current <= week_end:
        days.append(
            DayCell(
                day=current,
                short=short_day_text(current),
                long=day_text(current),
                count=len(by_day.get(current, [])),
                url=day_url(current),
                current=current == day,
            )
        )
        current += timedelta(days=1)
    groups: dict[str, list[TimeOption]] = {}
    for slot in by_day.get(day, []):
        local = slot.start.astimezone(zone)
        groups.setdefault(part_of_day(local), []).append(
            TimeOption(slot_value(slot.start), clock_time(slot.start, zone))
        )
    earlier = week_start - timedelta(days=WEEK_DAYS)
    later = week_start + timedelta(days=WEEK_DAYS)
    next_day = next_slot.start.astimezone(zone).date() if next_slot else None
    return TimeGrid(
        zone=zone,
        day=day,
        day_label=day_text(day),
        on=datetime.combine(day, time(12), tzinfo=zone),
        days=days,
        groups=[
            TimeGroup(name, groups[name])
            for name in ("Morning", "Afternoon", "Evening")
            if name in groups
        ],
        earlier_url=day_url(max(earlier, clinic.today)) if week_start > clinic.today else None,
        later_url=day_url(later) if later <= clinic.last_day else None,
        next_label=(
            f"{short_day_text(next_day)}, {clock_time(next_slot.start, zone)}"
            if next_slot and next_day
            else None
        ),
        next_url=day_url(next_day) if next_day else None,
        selected=selected,
        week_label=f"{short_day_text(week_start)} to {short_day_text(week_end)}",
        option_count=sum(len(g) for g in groups.values()),
    )


def time_page(
    request: Request,
    template: str,
    grid: TimeGrid,
    context: dict[str, Any],
    *,
    action: str,
    hidden: Mapping[str, object],
    errors: dict[str, str],
    status: int,
) -> Response:
    """Either flow's time page: its form posts the chosen start with `hidden` and the day
    shown."""
    return render(
        request,
        template,
        {
            **context,
            "grid": grid,
            "errors": errors,
            "action": action,
            "hidden": {**hidden, "date": grid.day.isoformat()},
            "button_label": "Continue",
        },
        status,
    )
