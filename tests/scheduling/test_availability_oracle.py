"""The availability engine against a brute-force oracle on a one-minute grid
(reliability.md T7), and what every offered slot must satisfy.

The oracle shares nothing with the engine but the credential rules (qualification_on): it
reads the local wall clock minute by minute, finds working hours by looking for their wall
times, and decides for every (therapist, UTC minute) with plain loops whether a slot starts.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinic.scheduling.availability import (
    BookingRules,
    Interval,
    Need,
    RoomCalendar,
    Slot,
    TherapistCalendar,
    WorkingHours,
    available_slots,
)
from clinic.staff.credentials import CredentialFacts, qualification_on
from clinic.staff.models import CredentialKind as K

ZONE_NAMES = ("America/New_York", "Europe/London", "Australia/Sydney", "Australia/Lord_Howe")
ROOM_ATTRIBUTES = tuple(
    frozenset(names)
    for names in ((), ("table",), ("sink",), ("table", "sink"), ("table", "hydraulic"))
)
NEEDED_ATTRIBUTES: tuple[frozenset[str], ...] = (
    *(frozenset(),) * 6,
    frozenset({"table"}),
    frozenset({"sink"}),
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
MARGIN = 15 * 60  # minutes: wider than any UTC offset, so the walk covers whole local days
# derandomize: the same examples on every run; the total across both tests is over 1,000.
EXAMPLES = settings(
    max_examples=1000,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Scenario:
    zone: ZoneInfo
    need: Need
    therapists: tuple[TherapistCalendar, ...]
    rooms: tuple[RoomCalendar, ...]
    closures: frozenset[date]
    first_day: date
    last_day: date
    now: datetime
    rules: BookingRules

    def run(self) -> list[Slot]:
        return available_slots(**{f.name: getattr(self, f.name) for f in fields(self)})

    def days(self) -> list[date]:
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + timedelta(days=n) for n in range(count)]


def minute_of(instant: datetime) -> int:
    return (instant - EPOCH) // MINUTE


def at_minute(minute: int) -> datetime:
    return EPOCH + minute * MINUTE


def grid_time(step: int) -> time:
    """Wall time of the `step`th five minutes of a day."""
    return time(step // 12, step % 12 * 5)


@cache
def clock_change_days(name: str) -> tuple[date, ...]:
    zone = ZoneInfo(name)
    days = (date(2026, 1, 1) + timedelta(days=n) for n in range(365))
    return tuple(
        day
        for day in days
        if datetime.combine(day, time(0), zone).utcoffset()
        != datetime.combine(day, time(23, 59), zone).utcoffset()
    )


# Strategies


def sometimes(chance_in: int) -> st.SearchStrategy[bool]:
    """True about once in `chance_in`; shrinks to False, the ordinary case."""
    return st.integers(0, chance_in - 1).map(lambda n: n == chance_in - 1)


@st.composite
def weekly_hours(draw: st.DrawFn, weekdays: list[int]) -> tuple[WorkingHours, ...]:
    hours = []
    for weekday in weekdays:
        end = -1
        for _ in range(draw(st.sampled_from([1, 2, 1, 0]))):
            shape = draw(st.integers(0, 3))
            if end >= 0 and shape == 0:  # a split shift: a break, then more hours
                start = min(287, end + draw(st.integers(0, 12)))
                end = min(287, start + draw(st.integers(-6, 120)))
            elif shape in {1, 2}:  # starting or ending in the night, when the clocks change
                start, end = draw(st.integers(0, 36)), draw(st.integers(12, 48))
            else:
                start = draw(st.integers(0, 287))
                end = max(0, min(287, start + draw(st.integers(-6, 120))))
            hours.append(WorkingHours(weekday, grid_time(start), grid_time(end)))
    return tuple(hours)


@st.composite
def busy_ranges(draw: st.DrawFn, low: int, high: int, most: int) -> tuple[Interval, ...]:
    ranges = []
    for _ in range(draw(st.integers(0, most))):
        start = draw(st.integers(low - 180, high + 60))
        if draw(st.booleans()):  # on the slot grid, so exact touching happens often
            start -= start % 5
        length = draw(st.integers(1, 1500) if draw(sometimes(6)) else st.integers(1, 180))
        ranges.append((at_minute(start), at_minute(start + length)))  # time off or a visit
    return tuple(ranges)


def fact(kind: K, hours: int | None = None, verified: bool = True) -> CredentialFacts:
    return CredentialFacts(kind, verified, None, None, hours, supervised_hands_on=True)


FOUNDATIONAL = fact(K.ONCOLOGY_FOUNDATIONAL, 24)
# What a therapist holds beyond licence and insurance, and their oncology sessions.
PROFILES: tuple[tuple[tuple[CredentialFacts, ...], int], ...] = (
    ((), 0),
    ((FOUNDATIONAL,), 0),
    ((FOUNDATIONAL, fact(K.ONCOLOGY_CE, 50)), 60),  # level 2
    ((FOUNDATIONAL, fact(K.ONCOLOGY_CE, 50)), 10),  # level 1: too few sessions
    ((FOUNDATIONAL, fact(K.ONCOLOGY_SPECIALTY_CERTIFICATE)), 0),
    ((fact(K.ONCOLOGY_FOUNDATIONAL, 16), fact(K.HOSPITAL_CREDENTIALING)), 0),  # level 0
    ((FOUNDATIONAL, fact(K.ONCOLOGY_EDUCATOR), fact(K.LYMPHEDEMA_MLD_CDT)), 0),
    ((fact(K.LYMPHEDEMA_MLD_CDT),), 0),
    ((fact(K.LYMPHEDEMA_MLD_CDT, verified=False),), 0),
)


@st.composite
def credentials(draw: st.DrawFn, first_day: date) -> tuple[tuple[CredentialFacts, ...], int]:
    """A profile, and now and then one credential that starts, ends or fails during the range."""
    extras, sessions = draw(st.sampled_from(PROFILES))
    held = [fact(K.MASSAGE_LICENCE), fact(K.LIABILITY_INSURANCE), *extras]
    if draw(sometimes(4)):
        index = draw(st.integers(0, len(held) - 1))
        day = first_day + timedelta(days=draw(st.integers(-1, 2)))
        change = draw(st.sampled_from(["expires", "issued", "unverified", "missing"]))
        if change == "missing":
            del held[index]
        else:
            held[index] = replace(
                held[index],
                expires_on=day if change == "expires" else None,
                issued_on=day if change == "issued" else None,
                verified=change != "unverified",
            )
    return tuple(held), sessions


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    name = draw(st.sampled_from(ZONE_NAMES))
    zone = ZoneInfo(name)
    if draw(st.booleans()):  # a range of one or two days holding a clock change
        change = draw(st.sampled_from(clock_change_days(name)))
        first_day = change - timedelta(days=draw(st.integers(0, 1)))
        last_day = max(change, first_day + timedelta(days=draw(st.integers(0, 1))))
    else:
        first_day = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 364)))
        last_day = first_day + timedelta(days=draw(st.integers(0, 1)))
    weekdays = sorted({first_day.weekday(), last_day.weekday()})
    low = minute_of(datetime.combine(first_day, time(0), zone))
    high = minute_of(datetime.combine(last_day + timedelta(days=1), time(0), zone))
    therapist_ids = draw(st.lists(st.integers(1, 9), min_size=1, max_size=3, unique=True))
    therapists = []
    for therapist_id in therapist_ids:
        weekly = draw(weekly_hours(weekdays))
        held, sessions = draw(credentials(first_day))
        busy = draw(busy_ranges(low, high, 3))
        therapists.append(TherapistCalendar(therapist_id, weekly, held, sessions, busy))
    room_ids = draw(st.lists(st.integers(1, 9), max_size=3, unique=True))
    rooms = tuple(
        RoomCalendar(
            room_id,
            draw(st.sampled_from(ROOM_ATTRIBUTES)),
            draw(busy_ranges(low, high, 2)),
        )
        for room_id in room_ids
    )
    buffers = st.sampled_from([0, 5, 10, 15]).map(lambda n: n * MINUTE)
    need = Need(
        duration=draw(st.integers(1, 24)) * 5 * MINUTE,
        buffer_before=draw(buffers),
        buffer_after=draw(buffers),
        min_oncology_level=draw(st.integers(0, 4)) if draw(sometimes(8)) else None,
        lymphedema=draw(sometimes(8)),
        room_attributes=draw(st.sampled_from(NEEDED_ATTRIBUTES)),
    )
    if draw(sometimes(3)):  # the notice or the window ends inside the range
        notice = draw(st.sampled_from([30, 120, 1440]))
        window = draw(st.sampled_from([360, 1440, 2880]))
        edge = draw(st.integers(0, high - low))
        seconds = 60 * (edge - (window if draw(st.booleans()) else notice))
    else:
        notice, window = draw(st.sampled_from([120, 0])), 90 * 1440
        seconds = -draw(st.integers(0, 86400))
    rules = BookingRules(
        slot_interval=draw(st.sampled_from([5, 10, 15, 30])) * MINUTE,
        minimum_notice=notice * MINUTE,
        booking_window=window * MINUTE,
    )
    if not draw(sometimes(4)):  # on the slot grid, so `now` plus notice or window can hit a slot
        seconds -= seconds % draw(st.sampled_from([300, 60]))
    now = at_minute(low) + timedelta(seconds=seconds)
    return Scenario(
        zone=zone,
        need=need,
        therapists=tuple(therapists),
        rooms=rooms,
        closures=frozenset(day for day in {first_day, last_day} if draw(sometimes(10))),
        first_day=first_day,
        last_day=last_day,
        now=now.astimezone(zone) if draw(st.booleans()) else now,
        rules=rules,
    )


# The oracle


@lru_cache(maxsize=32)
def wall_clock(
    name: str, first_day: date, last_day: date
) -> tuple[int, list[datetime], dict[datetime, list[int]], list[int]]:
    """Minute by minute over the range and a margin: the first UTC minute, the local wall
    time at each minute, the minutes showing each wall time, and the minutes whose local
    date is in the range."""
    zone = ZoneInfo(name)
    low = minute_of(datetime.combine(first_day, time(0), UTC)) - MARGIN
    high = minute_of(datetime.combine(last_day + timedelta(days=1), time(0), UTC)) + MARGIN
    walls = [at_minute(m).astimezone(zone).replace(tzinfo=None) for m in range(low, high)]
    shown: dict[datetime, list[int]] = {}
    for offset, wall in enumerate(walls):
        shown.setdefault(wall, []).append(low + offset)
    in_range = [low + i for i, wall in enumerate(walls) if first_day <= wall.date() <= last_day]
    return low, walls, shown, in_range


def first_shown_at_or_after(walls: list[datetime], low: int, wanted: datetime) -> int:
    """For a wall time the clock skips: the first minute it shows a later time."""
    return next(low + offset for offset, wall in enumerate(walls) if wall >= wanted)


def oracle(s: Scenario) -> set[Slot]:
    low, walls, shown, in_range = wall_clock(s.zone.key, s.first_day, s.last_day)
    step = s.rules.slot_interval // MINUTE
    before, duration = s.need.buffer_before // MINUTE, s.need.duration // MINUTE
    after = s.need.buffer_after // MINUTE
    # Elapsed time: `now` may carry the clinic's zone, where `+` would add wall-clock time.
    earliest = s.now.astimezone(UTC) + s.rules.minimum_notice
    latest = s.now.astimezone(UTC) + s.rules.booking_window
    found = set()
    for therapist in s.therapists:
        intervals = []
        for day in s.days():
            for hours in therapist.hours:
                if hours.weekday == day.weekday():
                    start = datetime.combine(day, hours.start)
                    end = datetime.combine(day, hours.end)
                    first = shown[start][0] if start in shown else None
                    last = shown[end][-1] if end in shown else None
                    if first is None:
                        first = first_shown_at_or_after(walls, low, start)
                    if last is None:
                        last = first_shown_at_or_after(walls, low, end)
                    intervals.append((first, last))
        busy = [(minute_of(a), minute_of(b)) for a, b in therapist.busy]
        for m in in_range:
            for first, last in intervals:
                fits = first + before <= m and m + duration + after <= last
                if fits and (m - first - before) % step == 0:
                    break
            else:
                continue
            day = walls[m - low].date()
            if day in s.closures or not earliest <= at_minute(m) <= latest:
                continue
            if not oracle_qualified(s, therapist, day):
                continue
            blocked_from, blocked_until = m - before, m + duration + after
            if any(a < blocked_until and b > blocked_from for a, b in busy):
                continue
            best: tuple[int, int] | None = None
            for room in s.rooms:
                if not s.need.room_attributes <= room.attributes:
                    continue
                room_busy = [(minute_of(a), minute_of(b)) for a, b in room.busy]
                if any(a < blocked_until and b > blocked_from for a, b in room_busy):
                    continue
                preference = (len(room.attributes) - len(s.need.room_attributes), room.room_id)
                if best is None or preference < best:
                    best = preference
            if s.rooms and best is None:
                continue
            room_id = None if best is None else best[1]
            found.add(Slot(at_minute(m), at_minute(m + duration), therapist.therapist_id, room_id))
    return found


def oracle_qualified(s: Scenario, therapist: TherapistCalendar, day: date) -> bool:
    found = qualification_on(
        therapist.credentials,
        day,
        oncology_sessions=therapist.oncology_sessions,
        rules=s.rules.level_rules,
    )
    if not found.bookable or (s.need.lymphedema and not found.lymphedema):
        return False
    level = found.oncology_level
    return s.need.min_oncology_level is None or (
        level is not None and level >= s.need.min_oncology_level
    )


@EXAMPLES
@given(scenarios())
def test_engine_matches_brute_force_oracle(s: Scenario) -> None:
    slots = s.run()
    assert slots == sorted(slots, key=lambda slot: (slot.start, slot.therapist_id))
    assert len(set(slots)) == len(slots)
    assert set(slots) == oracle(s)


# What every offered slot must satisfy


def blocked(slot: Slot, need: Need) -> Interval:
    return slot.start - need.buffer_before, slot.end + need.buffer_after


def overlaps(a: Interval, b: Interval) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def book(s: Scenario, slot: Slot) -> Scenario:
    """The scenario after `slot` is booked: its blocked range is busy for therapist and room."""
    taken = blocked(slot, s.need)

    therapists = tuple(
        replace(t, busy=(*t.busy, taken)) if t.therapist_id == slot.therapist_id else t
        for t in s.therapists
    )
    rooms = tuple(
        replace(r, busy=(*r.busy, taken)) if r.room_id == slot.room_id else r for r in s.rooms
    )
    return replace(s, therapists=therapists, rooms=rooms)


@settings(EXAMPLES, max_examples=300)
@given(scenarios(), st.data())
def test_every_offered_slot_could_be_booked(s: Scenario, data: st.DataObject) -> None:
    slots = s.run()
    keys = [(slot.start, slot.therapist_id) for slot in slots]
    assert len(set(keys)) == len(keys)  # one therapist is never offered one instant twice
    therapists = {t.therapist_id: t for t in s.therapists}
    rooms = {r.room_id: r for r in s.rooms}
    now = s.now.astimezone(UTC)
    for slot in slots:
        taken = blocked(slot, s.need)
        assert now + s.rules.minimum_notice <= slot.start <= now + s.rules.booking_window
        assert not any(overlaps(taken, busy) for busy in therapists[slot.therapist_id].busy)
        if not rooms:
            assert slot.room_id is None
            continue
        assert slot.room_id is not None
        room = rooms[slot.room_id]
        assert s.need.room_attributes <= room.attributes
        assert not any(overlaps(taken, busy) for busy in room.busy)
    if not slots:
        return
    booked = data.draw(st.sampled_from(slots), label="booked")
    taken = blocked(booked, s.need)
    after = book(s, booked).run()
    assert {(slot.start, slot.therapist_id) for slot in after} <= set(keys)  # nothing appears
    for slot in after:
        shares = slot.therapist_id == booked.therapist_id or (
            slot.room_id is not None and slot.room_id == booked.room_id
        )
        assert not (shares and overlaps(blocked(slot, s.need), taken))
    for slot in slots:
        shares = slot.therapist_id == booked.therapist_id or (
            slot.room_id is not None and slot.room_id == booked.room_id
        )
        if not (shares and overlaps(blocked(slot, s.need), taken)):
            assert slot in after  # a booking leaves the slots it cannot touch alone
