"""The front desk's calendar: a day with every therapist who works it as a column, a
therapist's week, and one visit's panel. Each reads in a fixed number of SELECTs whatever
the number of therapists or appointments, and writes nothing.

The statements of a day:

1. the clinic's stored settings (receipt, screening, booking policies);
2. the roster: active therapists of the clinic's location with their hours that weekday;
3. time off overlapping the day;
4. closures of the location;
5. the appointments, with everything a card shows (clinic/desk/cards.py);
6. their payments, summed per appointment, kind and state;
7. the visits still waiting for a clearance over the next two weeks (the to-do list);
8. and 9. the booked visits that need attention, and their therapists' credentials
   (clinic/desk/attention.py; the page shows how many).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from clinic.booking.models import Appointment
from clinic.booking.policies import Policies, no_show_fee
from clinic.booking.service import day_bounds
from clinic.booking.statuses import AppointmentStatus
from clinic.clearance.pages import clearance_deadline
from clinic.clients.models import Client
from clinic.desk.attention import needs_attention
from clinic.desk.cards import Card, desk_settings, load_cards, primary_location_id
from clinic.desk.cards import shown as shown_where
from clinic.desk.grid import (
    HOUR,
    MINUTE,
    SLOT,
    Block,
    Interval,
    blocks,
    column_state,
    grid_for,
    lanes,
    working_intervals,
)
from clinic.errors import NotFound
from clinic.scheduling.models import Closure, TimeOff, WeeklyHours
from clinic.staff.models import Therapist, therapist_location

# Pending clearances listed on the to-do list: from the day shown, this many days ahead.
CHASE_DAYS = 14
CHASE_LIMIT = 100


@dataclass(frozen=True)
class Column:
    therapist_id: int
    name: str
    # The day's working hours (UTC), time off left in.
    hours: tuple[Interval, ...]
    # "working", "time_off", "closed" or "not_working".
    state: str
    items: tuple[Card | Block, ...]

    @property
    def cards(self) -> list[Card]:
        return [item for item in self.items if isinstance(item, Card)]


@dataclass(frozen=True)
class ChaseItem:
    appointment_id: int
    client_name: str
    therapist_name: str
    starts_at: datetime
    deadline: datetime


@dataclass(frozen=True)
class Todo:
    # Visits waiting for a clearance (not tomorrow's), soonest deadline first.
    to_chase: tuple[ChaseItem, ...]
    # Tomorrow's visits still waiting for a clearance.
    tomorrow: tuple[ChaseItem, ...]
    # Finished visits with money still due.
    unpaid: tuple[Card, ...]

    @property
    def empty(self) -> bool:
        return not (self.to_chase or self.tomorrow or self.unpaid)


@dataclass(frozen=True)
class TimeLabel:
    at: datetime
    place: str


@dataclass(frozen=True)
class DayView:
    day: date
    zone: ZoneInfo
    # The first and last instants the grid shows, and its number of 15-minute rows.
    start: datetime
    end: datetime
    rows: int
    times: tuple[TimeLabel, ...]
    columns: tuple[Column, ...]
    # Active therapists not shown (not working, nothing booked) unless asked for.
    hidden: int
    closed: bool
    now: datetime | None
    now_place: str
    todo: Todo
    # How many booked visits of the next CHASE_DAYS can no longer go ahead as booked
    # (`/desk/attention`).
    attention: int = 0

    @property
    def cards(self) -> list[Card]:
        return sorted(
            (card for column in self.columns for card in column.cards),
            key=lambda c: (c.starts_at, c.therapist_name),
        )


@dataclass(frozen=True)
class WeekDay:
    day: date
    hours: tuple[Interval, ...]
    state: str
    cards: tuple[Card, ...]


@dataclass(frozen=True)
class WeekView:
    therapist_id: int
    name: str
    start: date
    days: tuple[WeekDay, ...]


@dataclass(frozen=True)
class Panel:
    card: Card
    zone: ZoneInfo
    no_show_fee_minor: int
    policies: Policies


@dataclass
class _Roster:
    names: dict[int, str] = field(default_factory=dict)
    # therapist id -> weekday -> [(start, end)] wall times
    hours: dict[int, dict[int, list[tuple[time, time]]]] = field(default_factory=dict)

    def on(self, therapist_id: int, day: date, zone: ZoneInfo) -> tuple[Interval, ...]:
        return working_intervals(self.hours.get(therapist_id, {}).get(day.weekday(), []), day, zone)


# Loading

# Any of a therapist's hours at the location. Made once, like cards._EARLIER.
_ANY_HOURS = aliased(WeeklyHours, name="any_hours")


async def _roster(
    session: AsyncSession, *, weekday: int | None, therapist_id: int | None
) -> _Roster:
    """Active therapists of the location (linked to it, or with hours there), or the one
    therapist asked for, with their hours there on `weekday` (every weekday when None)."""
    location_id = primary_location_id()
    hours_on = [WeeklyHours.weekday == weekday] if weekday is not None else []
    linked = exists().where(
        therapist_location.c.therapist_id == Therapist.id,
        therapist_location.c.location_id == location_id,
    )
    works_here = exists().where(
        _ANY_HOURS.therapist_id == Therapist.id, _ANY_HOURS.location_id == location_id
    )
    query = (
        select(
            Therapist.id,
            Therapist.display_name,
            WeeklyHours.weekday,
            WeeklyHours.start_time,
            WeeklyHours.end_time,
        )
        .outerjoin(
            WeeklyHours,
            and_(
                WeeklyHours.therapist_id == Therapist.id,
                WeeklyHours.location_id == location_id,
                *hours_on,
            ),
        )
        .order_by(
            Therapist.display_order, Therapist.display_name, Therapist.id, WeeklyHours.start_time
        )
    )
    if therapist_id is not None:
        # One therapist's week: theirs whether or not they still work here.
        query = query.where(Therapist.id == therapist_id)
    else:
        query = query.where(Therapist.active.is_(True), or_(linked, works_here))
    roster = _Roster()
    for tid, name, day, start, end in await session.execute(query):
        roster.names[tid] = name
        by_day = roster.hours.setdefault(tid, {})
        if day is not None:
            by_day.setdefault(day, []).append((start, end))
    return roster


async def _time_off(
    session: AsyncSession, start: datetime, end: datetime, therapist_id: int | None
) -> dict[int, list[Interval]]:
    query = select(TimeOff.therapist_id, TimeOff.starts_at, TimeOff.ends_at).where(
        TimeOff.ends_at > start, TimeOff.starts_at < end
    )
    if therapist_id is not None:
        query = query.where(TimeOff.therapist_id == therapist_id)
    found: dict[int, list[Interval]] = defaultdict(list)
    for tid, off_start, off_end in await session.execute(query):
        found[tid].append((off_start, off_end))
    return found


async def _closures(session: AsyncSession, first: date, last: date) -> set[date]:
    return set(
        await session.scalars(
            select(Closure.on_date).where(
                Closure.location_id == primary_location_id(),
                Closure.on_date >= first,
                Closure.on_date <= last,
            )
        )
    )


async def visits_waiting_for_clearance(
    session: AsyncSession, start: datetime, end: datetime, deadline_hours: int
) -> list[ChaseItem]:
    """Visits from `start` to `end` waiting for a clearance, soonest first (at most
    CHASE_LIMIT): the day page's to-do list and the desk's daily digest."""
    rows = await session.execute(
        select(Appointment.id, Appointment.starts_at, Client.name, Therapist.display_name)
        .join(Client, Client.id == Appointment.client_id)
        .join(Therapist, Therapist.id == Appointment.therapist_id)
        .where(
            Appointment.status == AppointmentStatus.PENDING_CLEARANCE,
            Appointment.starts_at >= start,
            Appointment.starts_at < end,
        )
        .order_by(Appointment.starts_at, Appointment.id)
        .limit(CHASE_LIMIT)
    )
    return [
        ChaseItem(aid, client, therapist, starts, clearance_deadline(starts, deadline_hours))
        for aid, starts, client, therapist in rows
    ]


# The pages' read models


async def day_view(
    session: AsyncSession,
    day: date,
    zone: ZoneInfo,
    *,
    now: datetime,
    show_all: bool = False,
    show_cancelled: bool = False,
) -> DayView:
    """The day in columns, in nine statements whatever the number of therapists or
    appointments."""
    day_start, day_end = day_bounds(day, zone)
    settings = await desk_settings(session)
    roster = await _roster(session, weekday=day.weekday(), therapist_id=None)
    time_off = await _time_off(session, day_start, day_end, None)
    closed = day in await _closures(session, day, day)
    cards = await load_cards(
        session,
        [
            Appointment.starts_at < day_end,
            Appointment.ends_at > day_start,
            shown_where(show_cancelled),
        ],
        settings=settings,
        zone=zone,
    )
    tomorrow_start, tomorrow_end = day_bounds(day + timedelta(days=1), zone)
    chases = await visits_waiting_for_clearance(
        session, day_start, day_start + timedelta(days=CHASE_DAYS), settings.deadline_hours
    )
    # The next two weeks only: the page and its minute poll stay cheap however far ahead
    # the clinic books; the list itself looks 90 days ahead.
    attention = await needs_attention(session, now=now, days=CHASE_DAYS)

    by_therapist: dict[int, list[Card]] = defaultdict(list)
    for card in cards:
        by_therapist[card.therapist_id].append(card)
    names = dict(roster.names)
    for card in cards:
        names.setdefault(card.therapist_id, card.therapist_name)
    facts: dict[int, tuple[tuple[Interval, ...], str]] = {}
    for tid in names:
        hours = () if closed else roster.on(tid, day, zone)
        facts[tid] = (hours, column_state(hours, time_off.get(tid, []), closed))
    shown = [tid for tid in names if show_all or by_therapist[tid] or facts[tid][1] == "working"]
    grid = grid_for(
        day,
        zone,
        [interval for tid in shown for interval in facts[tid][0]],
        [card for tid in shown for card in by_therapist[tid]],
    )
    columns = []
    for tid in shown:
        hours, state = facts[tid]
        items: list[Card | Block] = [
            *blocks(hours, time_off.get(tid, []), state, grid),
            *lanes(by_therapist[tid], grid),
        ]
        items.sort(key=lambda item: (item.starts_at, isinstance(item, Card)))
        columns.append(Column(tid, names[tid], hours, state, tuple(items)))

    now_shown = grid.start <= now < grid.end and day_start <= now < day_end
    now_place = ""
    if now_shown:
        offset = now - grid.start
        now_place = f"desk-at-{offset // SLOT + 1} desk-nudge-{(offset % SLOT) // MINUTE}"
    times = []
    moment = grid.start
    while moment < grid.end:
        times.append(TimeLabel(moment, grid.place(moment, min(moment + HOUR, grid.end))))
        moment += HOUR
    todo = Todo(
        to_chase=tuple(c for c in chases if not tomorrow_start <= c.starts_at < tomorrow_end),
        tomorrow=tuple(c for c in chases if tomorrow_start <= c.starts_at < tomorrow_end),
        unpaid=tuple(
            c for c in cards if c.status is AppointmentStatus.COMPLETED and c.balance_minor > 0
        ),
    )
    return DayView(
        day=day,
        zone=zone,
        start=grid.start,
        end=grid.end,
        rows=grid.rows,
        times=tuple(times),
        columns=tuple(columns),
        hidden=len(names) - len(shown),
        closed=closed,
        now=now if now_shown else None,
        now_place=now_place,
        todo=todo,
        attention=len(attention),
    )


async def week_view(
    session: AsyncSession,
    therapist_id: int,
    start: date,
    zone: ZoneInfo,
    *,
    show_cancelled: bool = False,
) -> WeekView:
    """One therapist's seven days from `start`, each a list, in six statements."""
    last = start + timedelta(days=6)
    week_start, week_end = day_bounds(start, zone)[0], day_bounds(last, zone)[1]
    settings = await desk_settings(session)
    roster = await _roster(session, weekday=None, therapist_id=therapist_id)
    time_off = (await _time_off(session, week_start, week_end, therapist_id)).get(therapist_id, [])
    closures = await _closures(session, start, last)
    cards = await load_cards(
        session,
        [
            Appointment.therapist_id == therapist_id,
            Appointment.starts_at < week_end,
            Appointment.ends_at > week_start,
            shown_where(show_cancelled),
        ],
        settings=settings,
        zone=zone,
    )
    name = roster.names.get(therapist_id)
    if name is None:
        raise NotFound("There is no such therapist.")
    days = []
    for offset in range(7):
        day = start + timedelta(days=offset)
        closed = day in closures
        hours = () if closed else roster.on(therapist_id, day, zone)
        days.append(
            WeekDay(
                day=day,
                hours=hours,
                state=column_state(hours, time_off, closed),
                cards=tuple(c for c in cards if c.starts_at.astimezone(zone).date() == day),
            )
        )
    return WeekView(therapist_id, name, start, tuple(days))


async def therapists(session: AsyncSession) -> list[tuple[int, str]]:
    """The location's active therapists, for the week view's chooser."""
    roster = await _roster(session, weekday=None, therapist_id=None)
    return sorted(roster.names.items(), key=lambda item: (item[1].casefold(), item[0]))


async def visit_panel(session: AsyncSession, appointment_id: int, zone: ZoneInfo) -> Panel:
    """One visit as the desk's panel shows it, in three statements."""
    settings = await desk_settings(session)
    cards = await load_cards(
        session, [Appointment.id == appointment_id], settings=settings, zone=zone
    )
    if not cards:
        raise NotFound("There is no such appointment.")
    card = cards[0]
    return Panel(
        card=card,
        zone=zone,
        no_show_fee_minor=no_show_fee(settings.policies, card.price_minor),
        policies=settings.policies,
    )


__all__ = [
    "Block",
    "Card",
    "ChaseItem",
    "Column",
    "DayView",
    "Panel",
    "Todo",
    "WeekDay",
    "WeekView",
    "day_view",
    "therapists",
    "visit_panel",
    "week_view",
]
