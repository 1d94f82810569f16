"""Free appointment times: a pure function of hours, absences, bookings, rooms, the
service and each therapist's qualification on the date. No database; `now` is passed in.

The rules (the README repeats them for the clinic):

- A therapist's working hours are local wall times in the location's zone. On a local
  date, a working interval runs from the first instant the wall clock shows its start to
  the last instant it shows its end. A start or end that does not exist that day (inside
  a spring-forward gap) is taken as the moment the clocks jump.
- Slots are instants, generated over elapsed time: the first starts at the interval's
  start plus the service's before-buffer, then one every `slot_interval`, as long as the
  visit plus its after-buffer ends by the interval's end. So no slot ever falls in a
  spring-forward gap, every instant appears once, and in a repeated (fall-back) hour both
  occurrences are offered, each shown with its own offset. On ordinary days slots fall on
  the same wall-clock times week after week.
- Busy is exactly `[blocked_from, blocked_until)` of appointments in a blocking status,
  plus time off. A slot's blocked range (start minus the before-buffer to end plus the
  after-buffer) must not overlap any of the therapist's busy ranges, nor the chosen room's.
- A slot is offered only if it starts at least `minimum_notice` after `now` and no later
  than `booking_window` after `now`, and its local date is not a closure.
- The therapist must be qualified on the slot's local date: bookable (licence and
  insurance current), at least the required oncology level, and lymphedema-trained when
  needed. A licence that expires next week removes the slots from the day after expiry.
- A room is needed when the location has rooms: the first free room, among those with
  every attribute required, that has the fewest other attributes (specialised rooms stay
  free for those who need them), then the lowest id.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from clinic.staff.credentials import CredentialFacts, LevelRules, qualification_on

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class WorkingHours:
    weekday: int  # Monday is 0
    start: time
    end: time


@dataclass(frozen=True)
class TherapistCalendar:
    therapist_id: int
    hours: tuple[WorkingHours, ...]
    credentials: tuple[CredentialFacts, ...]
    oncology_sessions: int
    # Busy ranges in UTC: [blocked_from, blocked_until) of blocking appointments and
    # time off, in any order, possibly overlapping.
    busy: tuple[Interval, ...] = ()


@dataclass(frozen=True)
class RoomCalendar:
    room_id: int
    attributes: frozenset[str]
    busy: tuple[Interval, ...] = ()


@dataclass(frozen=True)
class Need:
    """What the visit needs: from the service, tightened later by a client's care plan."""

    duration: timedelta
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)
    min_oncology_level: int | None = None
    lymphedema: bool = False
    room_attributes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CareNeed:
    """What a client's care plan adds to a visit's needs (clinic/intake): the therapist's
    minimum oncology level, a lymphedema credential, room attributes, and a cap on the
    session's length."""

    min_oncology_level: int | None = None
    lymphedema: bool = False
    room_attributes: frozenset[str] = frozenset()
    session_cap_minutes: int | None = None

    def tighten(self, need: Need) -> Need:
        levels = [lv for lv in (need.min_oncology_level, self.min_oncology_level) if lv is not None]
        return replace(
            need,
            min_oncology_level=max(levels) if levels else None,
            lymphedema=need.lymphedema or self.lymphedema,
            room_attributes=need.room_attributes | self.room_attributes,
        )

    def allows(self, duration: timedelta) -> bool:
        cap = self.session_cap_minutes
        return cap is None or duration <= timedelta(minutes=cap)


@dataclass(frozen=True)
class BookingRules:
    slot_interval: timedelta = timedelta(minutes=15)
    minimum_notice: timedelta = timedelta(hours=2)
    booking_window: timedelta = timedelta(days=90)
    level_rules: LevelRules = field(default_factory=LevelRules)


@dataclass(frozen=True)
class RuleOverrides:
    """What the front desk may set aside for one booking, with a reason that is audited:
    the therapist's working hours and the minimum notice. Never the overlap guard, time
    off, closures, rooms or the training a client's care needs: those stay checked."""

    outside_hours: bool = False
    inside_notice: bool = False

    def __bool__(self) -> bool:
        return self.outside_hours or self.inside_notice

    @property
    def names(self) -> list[str]:
        return [name for name in ("outside_hours", "inside_notice") if getattr(self, name)]

    def relax(self, rules: BookingRules) -> BookingRules:
        # Any minute may be asked for: the desk types the time, it does not pick from a grid.
        return replace(
            rules,
            slot_interval=OVERRIDE_STEP,
            minimum_notice=timedelta(0) if self.inside_notice else rules.minimum_notice,
        )

    def widen(self, therapist: TherapistCalendar) -> TherapistCalendar:
        return replace(therapist, hours=WHOLE_DAY) if self.outside_hours else therapist


NO_OVERRIDES = RuleOverrides()
OVERRIDE_STEP = timedelta(minutes=1)
# "Outside working hours": any time of the local day (time off still blocks it).
WHOLE_DAY = tuple(WorkingHours(weekday, time(0, 0), time(23, 59)) for weekday in range(7))


@dataclass(frozen=True, order=True)
class Slot:
    start: datetime
    end: datetime
    therapist_id: int
    room_id: int | None


def available_slots(
    *,
    zone: ZoneInfo,
    need: Need,
    therapists: tuple[TherapistCalendar, ...],
    rooms: tuple[RoomCalendar, ...],
    closures: frozenset[date],
    first_day: date,
    last_day: date,
    now: datetime,
    rules: BookingRules,
) -> list[Slot]:
    """Every free slot on local dates first_day..last_day (inclusive), sorted by start,
    then therapist id. Slot times are in UTC: two slots in a repeated hour share a wall
    time, and only the instant (shown with its offset) tells them apart."""
    _check(need, rules, now)
    earliest = now.astimezone(UTC) + rules.minimum_notice
    latest = now.astimezone(UTC) + rules.booking_window
    fitting = _rooms_by_preference(rooms, need.room_attributes)
    if rooms and not fitting:
        return []
    room_busy = [(room.room_id, _Busy(room.busy)) for room in fitting]
    found: dict[tuple[datetime, int], Slot] = {}
    for therapist in therapists:
        busy = _Busy(therapist.busy)
        for offset in range((last_day - first_day).days + 1):
            day = first_day + timedelta(days=offset)
            # By the interval's date, which is its slots' local date unless the clocks go
            # back across midnight inside working hours (no zone does this today).
            if day in closures or not _qualified(therapist, day, need, rules.level_rules):
                continue
            for interval in _working_intervals(therapist, day, zone):
                for start in _starts(interval, need, rules.slot_interval, earliest, latest):
                    slot = _slot(start, therapist.therapist_id, need, busy, room_busy)
                    if slot is not None:
                        # Overlapping hours on one weekday must not offer an instant twice.
                        found.setdefault((start, therapist.therapist_id), slot)
    return sorted(found.values(), key=lambda slot: (slot.start, slot.therapist_id))


_MICROSECOND = timedelta(microseconds=1)


def _check(need: Need, rules: BookingRules, now: datetime) -> None:
    if now.utcoffset() is None:
        raise ValueError("`now` must be timezone-aware.")
    if rules.slot_interval <= timedelta(0):
        raise ValueError("The slot interval must be positive.")  # or the walk never ends
    if need.duration <= timedelta(0) or min(need.buffer_before, need.buffer_after) < timedelta(0):
        raise ValueError("A visit needs a positive duration and buffers of zero or more.")


def _qualified(therapist: TherapistCalendar, day: date, need: Need, rules: LevelRules) -> bool:
    found = qualification_on(
        therapist.credentials, day, oncology_sessions=therapist.oncology_sessions, rules=rules
    )
    if not found.bookable:
        return False
    level = found.oncology_level or 0
    if need.min_oncology_level is not None and level < need.min_oncology_level:
        return False
    return found.lymphedema or not need.lymphedema


def _working_intervals(
    therapist: TherapistCalendar, day: date, zone: ZoneInfo
) -> Iterator[Interval]:
    """The day's working hours as UTC intervals; the pieces of a split shift stay apart."""
    for hours in therapist.hours:
        if hours.weekday == day.weekday():
            start = _instant(day, hours.start, zone, last=False)
            end = _instant(day, hours.end, zone, last=True)
            if start < end:
                yield start, end


def _instant(day: date, wall: time, zone: ZoneInfo, *, last: bool) -> datetime:
    """The first (or last) instant the clock shows `wall` on `day`, in UTC.

    PEP 495: fold=0 is the earlier of two repeated instants, fold=1 the later. A wall time
    inside a spring-forward gap does not survive a round trip through UTC; the rule makes
    it the moment the clocks jump.
    """
    local = datetime.combine(day, wall, tzinfo=zone).replace(fold=int(last))
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    # In a gap, fold=1 reads the wall time with the offset after the jump (an instant
    # before it) and fold=0 with the offset before it (an instant after it).
    before = local.replace(fold=1).astimezone(UTC)
    after = local.replace(fold=0).astimezone(UTC)
    return _jump(before, after, zone)


def _jump(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The first instant in (before, after] whose offset in `zone` differs from `before`'s."""
    offset = before.astimezone(zone).utcoffset()
    low, high = 0, (after - before) // _MICROSECOND
    while high - low > 1:  # `low` is before the jump, `high` at or after it
        middle = (low + high) // 2
        if (before + middle * _MICROSECOND).astimezone(zone).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return before + high * _MICROSECOND


def _starts(
    interval: Interval, need: Need, step: timedelta, earliest: datetime, latest: datetime
) -> Iterator[datetime]:
    """Slot starts over elapsed time (UTC), within the notice and the booking window."""
    first = interval[0] + need.buffer_before
    last = min(interval[1] - need.duration - need.buffer_after, latest)
    # Jump straight to the first start the notice allows: ceil((earliest - first) / step).
    start = first + max(0, -((first - earliest) // step)) * step
    while start <= last:
        yield start
        start += step


def _slot(
    start: datetime,
    therapist_id: int,
    need: Need,
    busy: _Busy,
    rooms: list[tuple[int, _Busy]],
) -> Slot | None:
    """The slot at `start`, or None when the therapist or every fitting room is busy."""
    blocked_from = start - need.buffer_before
    blocked_until = start + need.duration + need.buffer_after
    if busy.overlaps(blocked_from, blocked_until):
        return None
    room_id = None
    if rooms:
        free = (
            room for room, room_busy in rooms if not room_busy.overlaps(blocked_from, blocked_until)
        )
        room_id = next(free, None)
        if room_id is None:
            return None
    return Slot(start=start, end=start + need.duration, therapist_id=therapist_id, room_id=room_id)


def rooms_in_preference_order(rooms: Iterable[RoomCalendar], need: Need) -> list[int]:
    """The ids of the rooms that fit `need`, in the order the engine tries them."""
    return [room.room_id for room in _rooms_by_preference(rooms, need.room_attributes)]


def _rooms_by_preference(
    rooms: Iterable[RoomCalendar], required: frozenset[str]
) -> list[RoomCalendar]:
    """Rooms with every required attribute, fewest extra attributes first (specialised rooms
    stay free for the visits that need them), then lowest id."""
    fitting = [room for room in rooms if required <= room.attributes]
    return sorted(fitting, key=lambda room: (len(room.attributes - required), room.room_id))


class _Busy:
    """Busy ranges merged and sorted once, so each overlap test is one bisection."""

    def __init__(self, ranges: Iterable[Interval]) -> None:
        self._starts: list[datetime] = []
        self._ends: list[datetime] = []
        for start, end in sorted(r for r in ranges if r[0] < r[1]):
            if self._ends and start <= self._ends[-1]:
                self._ends[-1] = max(self._ends[-1], end)
            else:
                self._starts.append(start)
                self._ends.append(end)

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """Whether [start, end) meets a busy range; touching ends do not count (half-open)."""
        i = bisect_right(self._ends, start)  # the first range that ends after `start`
        return i < len(self._starts) and self._starts[i] < end
