"""What the desk's Move page offers for one visit: the free times of a chosen day grouped
by therapist, from the therapists the engine offers for the visit's care need and nobody
else. Reads only: the move is `booking.bookings.reschedule_appointment`, which checks again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.booking.transitions import WORDS
from clinic.db import Database
from clinic.desk.overrides import possible_therapists
from clinic.errors import NotFound
from clinic.intake.service import BookingCare, Deferred, care_for_appointment
from clinic.scheduling.availability import Slot
from clinic.scheduling.service import free_times
from clinic.staff.models import Therapist
from clinic.web.formatting import clock_time

# Only a visit still to come in one of these may move (reschedule_appointment's rule).
BOOKED = (AppointmentStatus.CONFIRMED, AppointmentStatus.PENDING_CLEARANCE)
# The therapist filter lists whoever has a free time in the week from the day shown, so
# that it stays steady while the desk steps from day to day.
SUITABLE_DAYS = 7


def why_not_movable(status: AppointmentStatus, starts_at: datetime, now: datetime) -> str | None:
    """The sentence the page shows when this visit cannot move, or None when it can."""
    if status not in BOOKED:
        return f"This visit is {WORDS[status]}, so it cannot be moved."
    if starts_at <= now:
        return "This visit has already started, so it cannot be moved."
    return None


def may_move(status: AppointmentStatus, starts_at: datetime, now: datetime) -> bool:
    return why_not_movable(status, starts_at, now) is None


def choice_value(therapist_id: int, start: datetime) -> str:
    """What a time's radio sends back: the therapist and the exact instant in UTC, so that
    the two 1:30ams of the night the clocks go back are two different values."""
    return f"{therapist_id}@{start.astimezone(UTC).isoformat()}"


def parse_choice(raw: str) -> tuple[int, datetime] | None:
    """(therapist id, start) from a radio's value, or None when it is not one of ours."""
    therapist, at, instant = raw.strip().partition("@")
    if not at or not therapist.isdigit() or len(therapist) > 9 or len(instant) > 64:
        return None
    try:
        start = datetime.fromisoformat(instant)
    except ValueError:
        return None
    if start.tzinfo is None:
        return None
    return int(therapist), start.astimezone(UTC)


@dataclass(frozen=True)
class TimeChoice:
    value: str
    # "2pm"; "1:30am (EDT)" on a day the clocks change.
    label: str


@dataclass(frozen=True)
class TherapistTimes:
    therapist_id: int
    name: str
    # The visit's own therapist, listed first.
    current: bool
    choices: tuple[TimeChoice, ...]


@dataclass(frozen=True)
class MoveChoices:
    day: date
    zone: ZoneInfo
    # Midday on the day shown: which abbreviation the zone has then (EST or EDT).
    on: datetime
    # The clocks change on the day shown: each time names its abbreviation.
    clocks_change: bool
    # The therapist filter's choices: (id, name), the visit's own therapist first.
    therapists: tuple[tuple[int, str], ...]
    # The filter: None is "any suitable therapist".
    therapist_id: int | None
    groups: tuple[TherapistTimes, ...]
    # The service is longer than the client's plan allows a session to be.
    over_session_cap: bool = False
    # The client's health form does not allow a visit on this day.
    deferred: bool = False
    # Who the "outside the usual rules" form offers (clinic/desk/overrides.py).
    possible: frozenset[int] = frozenset()

    @property
    def count(self) -> int:
        return sum(len(group.choices) for group in self.groups)

    def offers(self, value: str) -> bool:
        return any(choice.value == value for group in self.groups for choice in group.choices)


def _clocks_change(day: date, zone: ZoneInfo) -> bool:
    midnight = datetime.combine(day, time(0), tzinfo=zone)
    next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return midnight.utcoffset() != next_midnight.utcoffset()


def _label(start: datetime, zone: ZoneInfo, clocks_change: bool) -> str:
    words = clock_time(start, zone)
    return f"{words} ({start.astimezone(zone).tzname()})" if clocks_change else words


async def move_choices(
    db: Database,
    appointment_id: int,
    *,
    day: date,
    therapist_id: int | None,
    zone: ZoneInfo,
    now: datetime,
) -> MoveChoices:
    """The free times on `day` (a local date) that the visit could move to, grouped by
    therapist; its own time with its own therapist is left out. `therapist_id` narrows the
    groups to one therapist, not the filter's list."""
    on = datetime.combine(day, time(12), tzinfo=zone)
    clocks_change = _clocks_change(day, zone)
    async with db.reading() as session:
        appointment = await session.get(Appointment, appointment_id)
        if appointment is None:
            raise NotFound("There is no such appointment.")
        try:
            # Screened for a visit on the day shown, as the move itself will be.
            care: BookingCare | None = await care_for_appointment(
                session, appointment_id, start=on.astimezone(UTC), now=now
            )
        except Deferred:
            care = None
    if care is None:
        return MoveChoices(day, zone, on, clocks_change, (), therapist_id, (), deferred=True)
    found = await free_times(
        db,
        service_id=appointment.service_id,
        first_day=day,
        last_day=day + timedelta(days=SUITABLE_DAYS - 1),
        ignoring_appointment=appointment_id,
        care=care.need,
    )
    slots: list[Slot] = [] if found is None else found.slots
    own = (appointment.therapist_id, appointment.starts_at)
    suitable = {slot.therapist_id for slot in slots}
    if therapist_id is not None and found is not None and therapist_id in found.therapist_ids:
        suitable.add(therapist_id)
    names = await _names(db, suitable)
    order = sorted(
        names, key=lambda tid: (tid != appointment.therapist_id, names[tid].casefold(), tid)
    )
    by_therapist: dict[int, dict[datetime, TimeChoice]] = {tid: {} for tid in order}
    for slot in slots:
        if slot.start.astimezone(zone).date() != day or (slot.therapist_id, slot.start) == own:
            continue
        if therapist_id is not None and slot.therapist_id != therapist_id:
            continue
        # One choice per therapist and start: the room is the engine's to pick again.
        by_therapist[slot.therapist_id].setdefault(
            slot.start,
            TimeChoice(
                choice_value(slot.therapist_id, slot.start),
                _label(slot.start, zone, clocks_change),
            ),
        )
    groups = tuple(
        TherapistTimes(tid, names[tid], tid == appointment.therapist_id, tuple(choices.values()))
        for tid in order
        if (choices := by_therapist[tid])
    )
    return MoveChoices(
        day=day,
        zone=zone,
        on=on,
        clocks_change=clocks_change,
        therapists=tuple((tid, names[tid]) for tid in order),
        therapist_id=therapist_id,
        groups=groups,
        over_session_cap=found is not None and found.over_session_cap,
        possible=frozenset(
            await possible_therapists(
                db,
                service_id=appointment.service_id,
                day=day,
                care=care.need,
                ignoring_appointment=appointment_id,
            )
        ),
    )


async def _names(db: Database, therapist_ids: set[int]) -> dict[int, str]:
    if not therapist_ids:
        return {}
    async with db.reading() as session:
        rows = await session.execute(
            select(Therapist.id, Therapist.display_name).where(Therapist.id.in_(therapist_ids))
        )
        return dict(rows.all())
