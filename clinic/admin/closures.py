"""Clinic-wide closures: whole local dates on which nobody can be booked at a location.

Closing a day over visits already booked cancels none of them: the admin sees them before
confirming, and the desk moves them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit
from clinic.admin.common import Visits, flush_or_refuse, visits_in
from clinic.admin.forms import Checker, date_fields
from clinic.db import Database
from clinic.errors import InvalidInput, NotFound
from clinic.scheduling.models import Closure, Location

FIELDS = (*date_fields("day"), "reason", "location_id")
ALREADY_CLOSED = "The clinic is already closed that day"


@dataclass(frozen=True)
class ClosureRequest:
    on_date: date
    reason: str
    location_id: int | None


def read_closure(values: Mapping[str, str], *, today: date) -> ClosureRequest:
    check = Checker()
    on_date = check.day(values, "day", what="date", required=True)
    reason = check.text(
        values, "reason", missing="Enter a reason, like Public holiday", label="The reason"
    )
    raw_location = values.get("location_id", "").strip()
    location_id: int | None = None
    if raw_location:
        if raw_location.isascii() and raw_location.isdigit() and len(raw_location) <= 9:
            location_id = int(raw_location)
        else:
            check.fail("location_id", "Choose a location from the list")
    if on_date is not None and on_date < today:
        check.fail("day-day", "That day has passed: enter today or a later date")
    check.done()
    assert on_date is not None
    return ClosureRequest(on_date=on_date, reason=reason, location_id=location_id)


@dataclass(frozen=True)
class ClosureRow:
    closure: Closure
    location: Location


@dataclass(frozen=True)
class ClosuresPage:
    locations: list[Location]
    upcoming: list[ClosureRow]


async def closures_page(db: Database, *, today: date) -> ClosuresPage:
    async with db.reading() as session:
        locations = list(
            await session.scalars(
                select(Location).where(Location.active.is_(True)).order_by(Location.id)
            )
        )
        rows = (
            await session.execute(
                select(Closure, Location)
                .join(Location, Location.id == Closure.location_id)
                .where(Closure.on_date >= today)
                .order_by(Closure.on_date, Location.id)
            )
        ).all()
    return ClosuresPage(locations, [ClosureRow(c, loc) for c, loc in rows])


async def _location(session: AsyncSession, wanted: int | None) -> Location:
    query = select(Location).where(Location.active.is_(True)).order_by(Location.id).limit(1)
    if wanted is not None:
        query = query.where(Location.id == wanted)
    location = await session.scalar(query)
    if location is None:
        raise InvalidInput(
            "Check the highlighted answers.",
            field_errors={"location_id": "Choose a location from the list"},
        )
    return location


def day_bounds(on_date: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The local day as UTC instants [start, next day's start)."""
    start = datetime.combine(on_date, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(on_date + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


@dataclass(frozen=True)
class ClosurePreview:
    location: Location
    zone: ZoneInfo
    visits: Visits


async def preview_closure(db: Database, wanted: ClosureRequest, *, now: datetime) -> ClosurePreview:
    """The visits still to come at the location on that day; refuses a day already closed."""
    async with db.reading() as session:
        location = await _location(session, wanted.location_id)
        await _refuse_if_closed(session, location, wanted.on_date)
        zone = ZoneInfo(location.timezone)
        start, end = day_bounds(wanted.on_date, zone)
        visits = await visits_in(session, now=now, location_id=location.id, start=start, end=end)
    return ClosurePreview(location, zone, visits)


async def _refuse_if_closed(session: AsyncSession, location: Location, on_date: date) -> None:
    closed = await session.scalar(
        select(func.count()).where(Closure.location_id == location.id, Closure.on_date == on_date)
    )
    if closed:
        raise InvalidInput(
            "Check the highlighted answers.",
            field_errors={"day-day": ALREADY_CLOSED},
        )


async def add_closure(
    db: Database, wanted: ClosureRequest, *, actor_user_id: int, now: datetime
) -> tuple[Closure, int]:
    """Close the day; returns the closure and how many visits that day still need moving."""
    async with db.transaction() as session:
        location = await _location(session, wanted.location_id)
        await _refuse_if_closed(session, location, wanted.on_date)
        closure = Closure(location_id=location.id, on_date=wanted.on_date, reason=wanted.reason)
        session.add(closure)
        await flush_or_refuse(session, "day-day", ALREADY_CLOSED)
        start, end = day_bounds(wanted.on_date, ZoneInfo(location.timezone))
        visits = await visits_in(session, now=now, location_id=location.id, start=start, end=end)
        audit.record(
            session,
            "closure.added",
            actor_user_id=actor_user_id,
            subject_type="closure",
            subject_id=closure.id,
            details={
                "location_id": location.id,
                "on_date": wanted.on_date.isoformat(),
                "visits_that_day": visits.total,
            },
        )
    return closure, visits.total


async def remove_closure(db: Database, closure_id: int, *, actor_user_id: int) -> Closure:
    async with db.transaction() as session:
        closure = await session.get(Closure, closure_id)
        if closure is None:
            raise NotFound("There is no such closure.")
        await session.delete(closure)
        audit.record(
            session,
            "closure.removed",
            actor_user_id=actor_user_id,
            subject_type="closure",
            subject_id=closure_id,
            details={"location_id": closure.location_id, "on_date": closure.on_date.isoformat()},
        )
    return closure
