"""A therapist's time off: ranges of local dates and times with a reason.

Time off over visits already booked does not cancel them: they stay on the desk's
calendar to be moved, and the admin sees which they are before confirming.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from clinic import audit
from clinic.admin.common import Visits, get_therapist, therapist_locations, visits_in, zone_of
from clinic.admin.forms import Checker, date_fields
from clinic.db import Database
from clinic.errors import NotFound
from clinic.scheduling.models import TimeOff
from clinic.staff.models import Therapist
from clinic.web.formatting import clock_time, long_date

LONGEST = timedelta(days=366)
FIELDS = (
    *date_fields("from"),
    "from-time",
    *date_fields("to"),
    "to-time",
    "reason",
)


@dataclass(frozen=True)
class TimeOffRequest:
    starts_at: datetime
    ends_at: datetime
    reason: str


def _instant(day: date, moment: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)


def read_time_off(values: Mapping[str, str], *, zone: ZoneInfo, now: datetime) -> TimeOffRequest:
    """From a first day (and time, else the start of the day) to a last day (and time,
    else the end of that day), local to `zone`."""
    check = Checker()
    first = check.day(values, "from", what="first day", required=True)
    start_time = check.clock(values, "from-time", what="start time")
    last = check.day(values, "to", what="last day", required=True)
    end_time = check.clock(values, "to-time", what="end time")
    reason = check.text(
        values,
        "reason",
        missing="Enter a reason, like Holiday or Training",
        label="The reason",
    )
    check.done()
    assert first is not None
    assert last is not None
    starts_at = _instant(first, start_time or time(0), zone)
    ends_at = (
        _instant(last, end_time, zone)
        if end_time is not None
        else _instant(last + timedelta(days=1), time(0), zone)
    )
    if ends_at <= starts_at:
        check.fail("to-day", "The end must be after the start")
    elif ends_at - starts_at > LONGEST:
        check.fail("to-day", "Time off can be at most a year at a time: add it in parts")
    elif ends_at <= now:
        check.fail("to-day", "That time has passed: enter time off that ends in the future")
    check.done()
    return TimeOffRequest(starts_at=starts_at, ends_at=ends_at, reason=reason)


def describe(starts_at: datetime, ends_at: datetime, zone: ZoneInfo) -> str:
    """ "Monday 7 December 2026 to Friday 11 December 2026 (whole days)", or with times."""
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    if start.time() == time(0) and end.time() == time(0):
        last = (end - timedelta(hours=12)).date()
        if last == start.date():
            return f"{long_date(start.date())} (whole day)"
        return f"{long_date(start.date())} to {long_date(last)} (whole days)"
    if start.date() == end.date():
        return (
            f"{long_date(start.date())}, {clock_time(starts_at, zone)} to "
            f"{clock_time(ends_at, zone)}"
        )
    return (
        f"{long_date(start.date())}, {clock_time(starts_at, zone)} to "
        f"{long_date(end.date())}, {clock_time(ends_at, zone)}"
    )


@dataclass(frozen=True)
class TimeOffPage:
    therapist: Therapist
    zone: ZoneInfo
    entries: list[TimeOff]


async def time_off_page(
    db: Database, therapist_id: int, *, now: datetime, fallback_zone: ZoneInfo
) -> TimeOffPage:
    async with db.reading() as session:
        therapist = await get_therapist(session, therapist_id)
        locations = await therapist_locations(session, therapist_id)
        entries = list(
            await session.scalars(
                select(TimeOff)
                .where(TimeOff.therapist_id == therapist_id, TimeOff.ends_at > now)
                .order_by(TimeOff.starts_at, TimeOff.id)
            )
        )
    return TimeOffPage(therapist, zone_of(locations, fallback_zone), entries)


async def visits_during(
    db: Database, therapist_id: int, request: TimeOffRequest, *, now: datetime
) -> Visits:
    """The therapist's visits still to come that the time off would overlap."""
    async with db.reading() as session:
        return await visits_in(
            session,
            now=now,
            therapist_id=therapist_id,
            start=request.starts_at,
            end=request.ends_at,
        )


async def add_time_off(
    db: Database,
    therapist_id: int,
    request: TimeOffRequest,
    *,
    actor_user_id: int,
    now: datetime,
) -> tuple[TimeOff, int]:
    """Record the time off; returns it and how many visits inside it still need moving."""
    async with db.transaction() as session:
        await get_therapist(session, therapist_id, lock=True)
        entry = TimeOff(
            therapist_id=therapist_id,
            starts_at=request.starts_at,
            ends_at=request.ends_at,
            reason=request.reason,
        )
        session.add(entry)
        await session.flush()
        inside = await visits_in(
            session,
            now=now,
            therapist_id=therapist_id,
            start=request.starts_at,
            end=request.ends_at,
        )
        # The reason is free text about a member of staff: it stays out of the trail.
        audit.record(
            session,
            "therapist.time_off_added",
            actor_user_id=actor_user_id,
            subject_type="therapist",
            subject_id=therapist_id,
            details={"time_off_id": entry.id, "visits_inside": inside.total},
        )
    return entry, inside.total


async def remove_time_off(
    db: Database, therapist_id: int, time_off_id: int, *, actor_user_id: int
) -> TimeOff:
    async with db.transaction() as session:
        await get_therapist(session, therapist_id, lock=True)
        entry = await session.get(TimeOff, time_off_id)
        if entry is None or entry.therapist_id != therapist_id:
            raise NotFound("That time off is not on this therapist's record.")
        await session.delete(entry)
        audit.record(
            session,
            "therapist.time_off_removed",
            actor_user_id=actor_user_id,
            subject_type="therapist",
            subject_id=therapist_id,
            details={"time_off_id": time_off_id},
        )
    return entry
