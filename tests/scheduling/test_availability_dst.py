"""Availability across the 2026 clock changes (reliability.md T9): no slot in a gap, both
instants of a repeated hour, weekly slots keep their wall time, and slot counts follow
elapsed time. The clock-change days are found from the zone data, not typed in."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from itertools import pairwise
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pytest

from clinic.scheduling.availability import (
    BookingRules,
    Need,
    Slot,
    TherapistCalendar,
    WorkingHours,
    available_slots,
)
from clinic.staff.credentials import CredentialFacts
from clinic.staff.models import CredentialKind as K

ZONES = ("America/New_York", "Europe/London", "Australia/Sydney", "Australia/Lord_Howe")
MINUTE = timedelta(minutes=1)
BOOKABLE = tuple(
    CredentialFacts(kind=kind, verified=True, issued_on=None, expires_on=None)
    for kind in (K.MASSAGE_LICENCE, K.LIABILITY_INSURANCE)
)


class Change(NamedTuple):
    day: date
    instant: datetime  # UTC: the first instant on the new offset
    wall_before: time  # what the clock would show next without the change
    wall_after: time  # what it shows at `instant`
    shift: timedelta  # new offset minus old: positive in spring, negative in autumn


@cache
def changes_2026(name: str) -> tuple[Change, Change]:
    """(spring forward, fall back) in 2026, by scanning the zone minute by minute."""
    zone = ZoneInfo(name)
    found = []
    day = date(2026, 1, 1)
    while day.year == 2026:
        midnight = datetime.combine(day, time(0), zone)
        if midnight.utcoffset() != datetime.combine(day, time(23, 59), zone).utcoffset():
            instant = midnight.astimezone(UTC)
            while instant.astimezone(zone).utcoffset() == midnight.utcoffset():
                instant += MINUTE
            before = (instant - MINUTE).astimezone(zone) + MINUTE  # wall-clock arithmetic
            after = instant.astimezone(zone)
            shift = after.utcoffset() - midnight.utcoffset()  # type: ignore[operator]
            found.append(Change(day, instant, before.time(), after.time(), shift))
        day += timedelta(days=1)
    spring = [change for change in found if change.shift > timedelta(0)]
    autumn = [change for change in found if change.shift < timedelta(0)]
    assert len(spring) == len(autumn) == 1, found
    return spring[0], autumn[0]


def slots_on(
    name: str,
    first_day: date,
    last_day: date,
    weekly: tuple[WorkingHours, ...],
    *,
    step: int = 15,
    need: Need | None = None,
    now: datetime | None = None,
) -> list[Slot]:
    return available_slots(
        zone=ZoneInfo(name),
        need=need or Need(duration=step * MINUTE),
        therapists=(TherapistCalendar(1, weekly, BOOKABLE, oncology_sessions=0),),
        rooms=(),
        closures=frozenset(),
        first_day=first_day,
        last_day=last_day,
        now=now or datetime(2025, 12, 1, tzinfo=UTC),
        rules=BookingRules(slot_interval=step * MINUTE, booking_window=timedelta(days=400)),
    )


def hours(day: date, start: time, end: time) -> tuple[WorkingHours, ...]:
    return (WorkingHours(day.weekday(), start, end),)


def wall(slot: Slot, name: str) -> time:
    return slot.start.astimezone(ZoneInfo(name)).time()


def elapsed(name: str, day: date, start: time, end: time) -> timedelta:
    """Real time from the first `start` to the last `end` on `day` (both exist)."""
    zone = ZoneInfo(name)
    first = datetime.combine(day, start, zone).astimezone(UTC)
    last = datetime.combine(day, end, zone).replace(fold=1).astimezone(UTC)
    return last - first


@pytest.mark.parametrize("name", ZONES)
def test_2026_clock_changes_are_what_the_tests_assume(name: str) -> None:
    known = {
        "America/New_York": (date(2026, 3, 8), date(2026, 11, 1), 60),
        "Europe/London": (date(2026, 3, 29), date(2026, 10, 25), 60),
        "Australia/Sydney": (date(2026, 10, 4), date(2026, 4, 5), 60),
        "Australia/Lord_Howe": (date(2026, 10, 4), date(2026, 4, 5), 30),
    }
    spring, autumn = changes_2026(name)
    assert (spring.day, autumn.day, spring.shift // MINUTE) == known[name]
    assert autumn.shift == -spring.shift
    zone = ZoneInfo(name)
    for change in (spring, autumn):
        assert change.day.weekday() == 6  # all four change on a Sunday
        assert (change.instant - MINUTE).astimezone(zone).utcoffset() != change.instant.astimezone(
            zone
        ).utcoffset()


@pytest.mark.parametrize("name", ZONES)
def test_no_slot_in_spring_forward_gap(name: str) -> None:
    spring, _ = changes_2026(name)
    slots = slots_on(name, spring.day, spring.day, hours(spring.day, time(0), time(5)), step=5)
    walls = [wall(slot, name) for slot in slots]
    assert not [w for w in walls if spring.wall_before <= w < spring.wall_after]
    assert spring.instant in {slot.start for slot in slots}  # the jump itself is a slot
    assert all(b.start - a.start == 5 * MINUTE for a, b in pairwise(slots))
    working = elapsed(name, spring.day, time(0), time(5))
    assert working == timedelta(hours=5) - spring.shift
    assert len(slots) == working // (5 * MINUTE)


@pytest.mark.parametrize("name", ZONES)
def test_fall_back_repeated_hour_offered_twice(name: str) -> None:
    _, autumn = changes_2026(name)
    zone = ZoneInfo(name)
    slots = slots_on(name, autumn.day, autumn.day, hours(autumn.day, time(0), time(4)), step=5)
    starts = [slot.start for slot in slots]
    assert len(starts) == len(set(starts))
    working = elapsed(name, autumn.day, time(0), time(4))
    assert working == timedelta(hours=4) - autumn.shift
    assert len(slots) == working // (5 * MINUTE)
    repeated = [s for s in slots if autumn.wall_after <= wall(s, name) < autumn.wall_before]
    assert len(repeated) == 2 * (-autumn.shift // (5 * MINUTE))
    by_wall: dict[time, set[timedelta | None]] = {}
    for slot in repeated:
        by_wall.setdefault(wall(slot, name), set()).add(slot.start.astimezone(zone).utcoffset())
    assert all(len(offsets) == 2 for offsets in by_wall.values())  # each shown with its offset


@pytest.mark.parametrize("season", ["spring", "autumn"])
@pytest.mark.parametrize("name", ZONES)
def test_monday_nine_stays_nine_across_the_change(name: str, season: str) -> None:
    change = changes_2026(name)[season == "autumn"]
    before, after = change.day - timedelta(days=6), change.day + timedelta(days=1)
    assert before.weekday() == after.weekday() == 0
    weekly = hours(before, time(9), time(10))
    slots = slots_on(name, before, after, weekly, step=60)
    assert [wall(slot, name) for slot in slots] == [time(9), time(9)]
    assert [slot.start for slot in slots] == [
        datetime.combine(monday, time(9), ZoneInfo(name)).astimezone(UTC)
        for monday in (before, after)
    ]
    assert slots[1].start - slots[0].start == timedelta(days=7) - change.shift


NEEDS = [
    pytest.param(Need(duration=15 * MINUTE), id="plain"),
    pytest.param(
        Need(duration=30 * MINUTE, buffer_before=5 * MINUTE, buffer_after=10 * MINUTE),
        id="buffered",
    ),
]


@pytest.mark.parametrize("need", NEEDS)
@pytest.mark.parametrize("season", ["spring", "autumn"])
@pytest.mark.parametrize("name", ZONES)
def test_days_around_the_change_follow_elapsed_time(name: str, season: str, need: Need) -> None:
    change = changes_2026(name)[season == "autumn"]
    days = [change.day + timedelta(days=offset) for offset in (-1, 0, 1)]
    start, end = time(0), time(23, 45)
    weekly = tuple(WorkingHours(day.weekday(), start, end) for day in days)
    slots = slots_on(name, days[0], days[-1], weekly, need=need)
    step = 15 * MINUTE
    occupied = need.buffer_before + need.duration + need.buffer_after
    expected = []
    for day in days:
        working = elapsed(name, day, start, end)
        ordinary = timedelta(hours=23, minutes=45)
        assert working == (ordinary - change.shift if day == change.day else ordinary)
        first = datetime.combine(day, start, ZoneInfo(name)).astimezone(UTC) + need.buffer_before
        count = (working - occupied) // step + 1
        expected += [first + k * step for k in range(count)]
    assert [slot.start for slot in slots] == expected
    if need.duration == step:
        # T9: the count is the working minutes divided by the slot length.
        day_counts = [
            sum(s.start.astimezone(ZoneInfo(name)).date() == d for s in slots) for d in days
        ]
        assert day_counts == [elapsed(name, day, start, end) // step for day in days]


def inside_repeated_hour(autumn: Change) -> time:
    return (datetime.combine(autumn.day, autumn.wall_after) - autumn.shift / 2).time()


@pytest.mark.parametrize("name", ZONES)
def test_hours_starting_in_the_repeated_hour_start_at_its_first_occurrence(name: str) -> None:
    _, autumn = changes_2026(name)
    inside = inside_repeated_hour(autumn)
    slots = slots_on(name, autumn.day, autumn.day, hours(autumn.day, inside, time(6)), step=5)
    first = datetime.combine(autumn.day, inside, ZoneInfo(name)).astimezone(UTC)  # fold=0
    assert first < autumn.instant  # before the clocks go back
    assert slots[0].start == first


@pytest.mark.parametrize("name", ZONES)
def test_hours_ending_in_the_repeated_hour_end_at_its_second_occurrence(name: str) -> None:
    _, autumn = changes_2026(name)
    inside = inside_repeated_hour(autumn)
    slots = slots_on(name, autumn.day, autumn.day, hours(autumn.day, time(0), inside), step=5)
    last = datetime.combine(autumn.day, inside, ZoneInfo(name)).replace(fold=1).astimezone(UTC)
    assert last > autumn.instant  # after the clocks went back
    assert slots[-1].end == last


@pytest.mark.parametrize("name", ZONES)
def test_hours_starting_in_the_gap_start_at_the_jump(name: str) -> None:
    spring, _ = changes_2026(name)
    gap = spring.shift
    inside = (datetime.combine(spring.day, spring.wall_before) + gap / 2).time()
    weekly = hours(spring.day, inside, time(6))
    slots = slots_on(name, spring.day, spring.day, weekly)
    assert slots[0].start == spring.instant
    buffered = Need(duration=15 * MINUTE, buffer_before=10 * MINUTE)
    slots = slots_on(name, spring.day, spring.day, weekly, need=buffered)
    assert slots[0].start == spring.instant + 10 * MINUTE


@pytest.mark.parametrize("name", ZONES)
def test_hours_ending_in_the_gap_end_at_the_jump(name: str) -> None:
    spring, _ = changes_2026(name)
    inside = (datetime.combine(spring.day, spring.wall_before) + spring.shift / 2).time()
    slots = slots_on(name, spring.day, spring.day, hours(spring.day, time(0), inside))
    assert slots[-1].end == spring.instant


@pytest.mark.parametrize("now_zone", ["utc", "local"])
@pytest.mark.parametrize("name", ZONES)
def test_minimum_notice_is_elapsed_time_across_the_jump(name: str, now_zone: str) -> None:
    spring, _ = changes_2026(name)
    now = spring.instant - timedelta(hours=1)
    # A `now` in the clinic's zone must not turn the notice into wall-clock time.
    given_now = now.astimezone(ZoneInfo(name)) if now_zone == "local" else now
    weekly = hours(spring.day, time(0), time(12))
    slots = slots_on(name, spring.day, spring.day, weekly, now=given_now)
    assert slots[0].start == now + timedelta(hours=2)  # BookingRules' default notice
