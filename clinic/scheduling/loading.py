"""Loading everything the availability engine needs for one service, in three statements
whatever the number of therapists or days: the service and its location; the standing
facts (therapists, hours, credentials, rooms, closures); and the busy ranges.

Busy ranges are found through the indexes on (therapist_id, blocked_until) and
(room_id, blocked_until), so the cost follows the future, not the length of history.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    CompoundSelect,
    Date,
    Integer,
    Select,
    String,
    Text,
    Time,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.booking.models import Appointment
from clinic.booking.policies import OPTION_KEY as POLICY_OPTION
from clinic.booking.statuses import BLOCKING_STATUSES, AppointmentStatus
from clinic.options import ClinicOption
from clinic.scheduling.availability import (
    Interval,
    Need,
    RoomCalendar,
    TherapistCalendar,
    WorkingHours,
)
from clinic.scheduling.models import (
    Closure,
    Location,
    Room,
    Service,
    TimeOff,
    WeeklyHours,
    service_therapist,
)
from clinic.staff.credentials import CredentialFacts
from clinic.staff.models import Credential, CredentialKind, Therapist, therapist_location


@dataclass(frozen=True)
class AvailabilityInput:
    service: Service
    location: Location
    # The clinic's stored booking policies (a JSON object), or None for the defaults.
    policy_values: dict[str, Any] | None
    zone: ZoneInfo
    need: Need
    therapists: tuple[TherapistCalendar, ...]
    rooms: tuple[RoomCalendar, ...]
    closures: frozenset[date]


def need_of(service: Service) -> Need:
    return Need(
        duration=timedelta(minutes=service.duration_minutes),
        buffer_before=timedelta(minutes=service.buffer_before_minutes),
        buffer_after=timedelta(minutes=service.buffer_after_minutes),
        min_oncology_level=service.min_oncology_level,
        lymphedema=service.needs_lymphedema,
        room_attributes=frozenset(service.room_attributes),
    )


def _primary_location_id() -> Any:
    return select(func.min(Location.id)).where(Location.active.is_(True)).scalar_subquery()


def _offering_therapists(service_id: int, therapist_id: int | None) -> Any:
    query = (
        select(service_therapist.c.therapist_id)
        .join(Therapist, Therapist.id == service_therapist.c.therapist_id)
        .join(therapist_location, therapist_location.c.therapist_id == Therapist.id)
        .where(
            service_therapist.c.service_id == service_id,
            Therapist.active.is_(True),
            therapist_location.c.location_id == _primary_location_id(),
        )
    )
    if therapist_id is not None:
        query = query.where(service_therapist.c.therapist_id == therapist_id)
    return query


FACT_COLUMNS = {
    "owner": Integer,
    "ref": Integer,
    "number": Integer,
    "flag": Boolean,
    "text": Text,
    "day1": Date,
    "day2": Date,
    "time1": Time,
    "time2": Time,
}


def _column(value: Any, type_: Any, name: str) -> Any:
    # NULL placeholders need a real CAST so that PostgreSQL can type the union; real
    # columns must not be CAST, because SQLite would turn "09:00:00" into 9 (TIME has
    # numeric affinity there).
    if value is None:
        return cast(null(), type_).label(name)
    return type_coerce(value, type_).label(name)


def _facts_row(kind: str, **values: Any) -> list[Any]:
    """One SELECT list of the standing-facts union, every column typed alike."""
    return [literal(kind, String).label("kind")] + [
        _column(values.get(name), type_, name) for name, type_ in FACT_COLUMNS.items()
    ]


def _standing_facts(
    service_id: int, therapist_id: int | None, first_day: date, last_day: date
) -> CompoundSelect[*tuple[Any, ...]]:
    offering = _offering_therapists(service_id, therapist_id)
    location_id = _primary_location_id()
    sessions = Therapist.oncology_sessions_elsewhere + Therapist.oncology_sessions_here
    therapists = select(*_facts_row("therapist", owner=Therapist.id, number=sessions)).where(
        Therapist.id.in_(offering)
    )
    hours = select(
        *_facts_row(
            "hours",
            owner=WeeklyHours.therapist_id,
            number=WeeklyHours.weekday,
            time1=WeeklyHours.start_time,
            time2=WeeklyHours.end_time,
        )
    ).where(WeeklyHours.therapist_id.in_(offering), WeeklyHours.location_id == location_id)
    credentials = select(
        *_facts_row(
            "credential",
            owner=Credential.therapist_id,
            ref=case((Credential.supervised_hands_on, 1), else_=0),
            number=Credential.hours,
            flag=Credential.verified_at.is_not(None),
            text=cast(Credential.kind, String),
            day1=Credential.issued_on,
            day2=Credential.expires_on,
        )
    ).where(Credential.therapist_id.in_(offering))
    rooms = select(*_facts_row("room", ref=Room.id, text=cast(Room.attributes, Text))).where(
        Room.location_id == location_id, Room.active.is_(True)
    )
    closures = select(*_facts_row("closure", day1=Closure.on_date)).where(
        Closure.location_id == location_id,
        Closure.on_date.between(first_day - timedelta(days=1), last_day + timedelta(days=1)),
    )
    return union_all(therapists, hours, credentials, rooms, closures)


def _range_overlap(start: datetime, end: datetime, dialect: str) -> list[Any]:
    if dialect != "postgresql":
        return []
    blocked = func.tstzrange(Appointment.blocked_from, Appointment.blocked_until, "[)")
    return [blocked.op("&&")(func.tstzrange(start, end, "[)"))]


def _busy_ranges(
    service_id: int,
    therapist_id: int | None,
    start: datetime,
    end: datetime,
    *,
    dialect: str,
    now: datetime,
    ignoring: int | None = None,
) -> CompoundSelect[*tuple[Any, ...]]:
    """Blocking appointments of the offering therapists, those in the location's rooms, and
    time off. One branch per index: an OR across therapist and room would defeat both.

    On PostgreSQL the range-overlap operator lets the exclusion constraints' GiST indexes
    (therapist or room, blocked range) find exactly the overlapping rows; on SQLite the
    (therapist_id, blocked_until) and (room_id, blocked_until) indexes start at `start`.
    Either way, past appointments are never read. `ignoring` leaves one appointment out
    (the one being moved: it must not block its own new time)."""
    offering = _offering_therapists(service_id, therapist_id)
    location_rooms = select(Room.id).where(Room.location_id == _primary_location_id())

    def appointments(owner: Any) -> Select[*tuple[Any, ...]]:
        return select(
            literal("appointment", String).label("kind"),
            Appointment.therapist_id.label("therapist_id"),
            Appointment.room_id.label("room_id"),
            Appointment.blocked_from.label("starts"),
            Appointment.blocked_until.label("ends"),
        ).where(
            owner,
            Appointment.blocked_until > start,
            Appointment.blocked_from < end,
            Appointment.status.in_(BLOCKING_STATUSES),
            # An expired hold never blocks anyone, swept or not.
            or_(Appointment.status != AppointmentStatus.HELD, Appointment.hold_expires_at > now),
            Appointment.id != (ignoring or 0),
            *_range_overlap(start, end, dialect),
        )

    time_off = select(
        literal("time_off", String),
        TimeOff.therapist_id,
        cast(null(), Integer),
        TimeOff.starts_at,
        TimeOff.ends_at,
    ).where(TimeOff.therapist_id.in_(offering), TimeOff.ends_at > start, TimeOff.starts_at < end)
    return union_all(
        appointments(Appointment.therapist_id.in_(offering)),
        appointments(Appointment.room_id.in_(location_rooms)),
        time_off,
    )


async def load_availability_input(
    session: AsyncSession,
    *,
    service_id: int,
    first_day: date,
    last_day: date,
    now: datetime,
    therapist_id: int | None = None,
    ignoring_appointment: int | None = None,
) -> AvailabilityInput | None:
    """Everything the engine needs for `service_id` at the primary location, or None when
    the service or the location does not exist."""
    policies = select(ClinicOption.value).where(ClinicOption.key == POLICY_OPTION).scalar_subquery()
    found = (
        await session.execute(
            select(Service, Location, policies)
            .join(Location, Location.id == _primary_location_id())
            .where(Service.id == service_id, Service.active.is_(True))
        )
    ).one_or_none()
    if found is None:
        return None
    service, location, policy_values = found
    facts = (
        await session.execute(_standing_facts(service_id, therapist_id, first_day, last_day))
    ).all()
    # A day's margin either side covers every zone's offset from UTC.
    start = datetime.combine(first_day - timedelta(days=1), time(0), tzinfo=UTC)
    end = datetime.combine(last_day + timedelta(days=2), time(0), tzinfo=UTC)
    dialect = session.get_bind().dialect.name
    busy_query = _busy_ranges(
        service_id,
        therapist_id,
        start,
        end,
        dialect=dialect,
        now=now,
        ignoring=ignoring_appointment,
    )
    busy = (await session.execute(busy_query)).all()
    return _assemble(service, location, policy_values, facts, busy)


def _assemble(
    service: Service,
    location: Location,
    policy_values: Any,
    facts: Sequence[Any],
    busy: Sequence[Any],
) -> AvailabilityInput:
    sessions: dict[int, int] = {}
    hours: defaultdict[int, list[WorkingHours]] = defaultdict(list)
    credentials: defaultdict[int, list[CredentialFacts]] = defaultdict(list)
    room_attributes: dict[int, frozenset[str]] = {}
    closures: set[date] = set()
    for row in facts:
        if row.kind == "therapist":
            sessions[row.owner] = row.number
        elif row.kind == "hours":
            hours[row.owner].append(WorkingHours(row.number, row.time1, row.time2))
        elif row.kind == "credential":
            credentials[row.owner].append(
                CredentialFacts(
                    kind=CredentialKind(row.text),
                    verified=bool(row.flag),
                    issued_on=row.day1,
                    expires_on=row.day2,
                    hours=row.number,
                    supervised_hands_on=bool(row.ref),
                )
            )
        elif row.kind == "room":
            room_attributes[row.ref] = frozenset(json.loads(row.text))
        elif row.kind == "closure":
            closures.add(row.day1)
    therapist_busy: defaultdict[int, list[Interval]] = defaultdict(list)
    room_busy: defaultdict[int, list[Interval]] = defaultdict(list)
    for row in busy:
        therapist_busy[row.therapist_id].append((row.starts, row.ends))
        if row.room_id is not None:
            room_busy[row.room_id].append((row.starts, row.ends))
    therapists = tuple(
        TherapistCalendar(
            therapist_id=therapist_id,
            hours=tuple(hours[therapist_id]),
            credentials=tuple(credentials[therapist_id]),
            oncology_sessions=count,
            busy=tuple(therapist_busy[therapist_id]),
        )
        for therapist_id, count in sorted(sessions.items())
    )
    rooms = tuple(
        RoomCalendar(room_id=room_id, attributes=attributes, busy=tuple(room_busy[room_id]))
        for room_id, attributes in sorted(room_attributes.items())
    )
    return AvailabilityInput(
        service=service,
        location=location,
        policy_values=policy_values if isinstance(policy_values, dict) else None,
        zone=ZoneInfo(location.timezone),
        need=need_of(service),
        therapists=therapists,
        rooms=rooms,
        closures=frozenset(closures),
    )


__all__ = ["AvailabilityInput", "load_availability_input", "need_of"]
