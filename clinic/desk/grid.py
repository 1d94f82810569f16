"""Placing a day on the desk's grid: pure time arithmetic, no database, no clock.

Rows are 15 minutes of elapsed time from the first local hour shown, so a day with a clock
change has a row for each quarter hour that exists. Placement is carried as class names
(`desk-at-N desk-span-N`, `desk-lane-N desk-lanes-N`, `desk-nudge-N`) that
static/clinic.css defines: the CSP's `style-src 'self'` forbids inline style attributes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from clinic.booking.service import day_bounds
from clinic.desk.cards import Card

SLOT = timedelta(minutes=15)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
# The hours a day shows when nobody works and nothing is booked.
DEFAULT_HOURS = (time(9), time(17))
# Overlapping cards (a late cancellation and the visit booked into its time) sit side by
# side, in at most this many lanes.
MAX_LANES = 3

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Block:
    """Time in a column that is not for booking: outside hours, a break, time off."""

    # "off" (outside the hours: hatched in the grid, left out of the list on a phone),
    # "break", "time_off", or "day" (the whole day: not working, time off, closed).
    kind: str
    label: str
    starts_at: datetime
    ends_at: datetime
    place: str = ""


def _instant(day: date, wall: time, zone: ZoneInfo, *, last: bool) -> datetime:
    """A local wall time on `day` as UTC: the first occurrence for a start, the last for an
    end (a repeated hour when clocks go back)."""
    return datetime.combine(day, wall, tzinfo=zone).replace(fold=int(last)).astimezone(UTC)


def working_intervals(
    hours: Iterable[tuple[time, time]], day: date, zone: ZoneInfo
) -> tuple[Interval, ...]:
    """A day's working hours (local wall times) as UTC intervals, in order."""
    intervals = [
        (_instant(day, start, zone, last=False), _instant(day, end, zone, last=True))
        for start, end in hours
    ]
    return tuple(sorted((s, e) for s, e in intervals if s < e))


def subtract(intervals: Iterable[Interval], cuts: Iterable[Interval]) -> list[Interval]:
    pieces = list(intervals)
    for cut_start, cut_end in cuts:
        kept: list[Interval] = []
        for start, end in pieces:
            if cut_end <= start or cut_start >= end:
                kept.append((start, end))
                continue
            if start < cut_start:
                kept.append((start, cut_start))
            if cut_end < end:
                kept.append((cut_end, end))
        pieces = kept
    return pieces


def intersect(intervals: Iterable[Interval], others: Iterable[Interval]) -> list[Interval]:
    others = list(others)
    found = []
    for start, end in intervals:
        for other_start, other_end in others:
            low, high = max(start, other_start), min(end, other_end)
            if low < high:
                found.append((low, high))
    return sorted(found)


def _floor_hour(instant: datetime, zone: ZoneInfo) -> datetime:
    local = instant.astimezone(zone)
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def _ceil_hour(instant: datetime, zone: ZoneInfo) -> datetime:
    floored = _floor_hour(instant, zone)
    return floored if floored == instant else floored + HOUR


def _slots(span: timedelta) -> int:
    return max(1, -(-span // SLOT))


@dataclass(frozen=True)
class Grid:
    start: datetime
    end: datetime

    @property
    def rows(self) -> int:
        return _slots(self.end - self.start)

    def place(self, start: datetime, end: datetime) -> str:
        start, end = max(start, self.start), min(end, self.end)
        row = (start - self.start) // SLOT + 1
        # A visit from 9:10 to 9:40 covers the 9:00 and 9:15 and 9:30 rows.
        last = -(-(end - self.start) // SLOT)
        return f"desk-at-{row} desk-span-{max(1, last - row + 1)}"

    def holds(self, start: datetime, end: datetime) -> bool:
        return start < self.end and end > self.start


def lanes(cards: list[Card], grid: Grid) -> list[Card]:
    """Place each card (setting its `place`); overlapping ones side by side, in lanes."""
    placed: list[Card] = []
    cluster: list[tuple[Card, int]] = []
    cluster_end: datetime | None = None

    def flush() -> None:
        count = min(max((lane for _, lane in cluster), default=0) + 1, MAX_LANES)
        for card, lane in cluster:
            where = grid.place(card.starts_at, card.ends_at)
            where += f" desk-lane-{min(lane + 1, MAX_LANES)} desk-lanes-{count}"
            card.place = where
            placed.append(card)

    for card in sorted(cards, key=lambda c: (c.starts_at, c.appointment_id)):
        if cluster_end is not None and card.starts_at >= cluster_end:
            flush()
            cluster, cluster_end = [], None
        busy = {lane for other, lane in cluster if other.ends_at > card.starts_at}
        lane = next(n for n in range(len(cluster) + 1) if n not in busy)
        cluster.append((card, lane))
        cluster_end = card.ends_at if cluster_end is None else max(cluster_end, card.ends_at)
    if cluster:
        flush()
    return placed


def blocks(
    hours: Sequence[Interval], off: Sequence[Interval], state: str, grid: Grid
) -> list[Block]:
    """The column's time that is not for booking, as blocks placed on the grid."""
    if state != "working":
        label = {"closed": "Clinic closed", "time_off": "Time off"}.get(state, "Not working")
        return [Block("day", label, grid.start, grid.end, grid.place(grid.start, grid.end))]
    spans: list[tuple[str, str, datetime, datetime]] = []
    spans.append(("off", "Not working", grid.start, hours[0][0]))
    for (_, end), (next_start, _) in itertools.pairwise(hours):
        spans.append(("break", "Break", end, next_start))
    spans.append(("off", "Not working", hours[-1][1], grid.end))
    spans.extend(("time_off", "Time off", s, e) for s, e in intersect(hours, off))
    return [
        Block(kind, label, start, end, grid.place(start, end))
        for kind, label, start, end in spans
        if start < end and grid.holds(start, end)
    ]


def column_state(hours: Sequence[Interval], off: Sequence[Interval], closed: bool) -> str:
    """ "working", "time_off" (all of the hours), "closed" or "not_working"."""
    if closed:
        return "closed"
    if not hours:
        return "not_working"
    if not subtract(hours, off):
        return "time_off"
    return "working"


def grid_for(day: date, zone: ZoneInfo, hours: Iterable[Interval], cards: Iterable[Card]) -> Grid:
    """Whole local hours from the first start to the last end shown (9am to 5pm when
    there is nothing), within the day."""
    day_start, day_end = day_bounds(day, zone)
    starts = [s for s, _ in hours] + [c.starts_at for c in cards]
    ends = [e for _, e in hours] + [c.ends_at for c in cards]
    if not starts:
        starts = [_instant(day, DEFAULT_HOURS[0], zone, last=False)]
        ends = [_instant(day, DEFAULT_HOURS[1], zone, last=True)]
    start = max(_floor_hour(min(starts), zone), day_start)
    end = min(_ceil_hour(max(ends), zone), day_end)
    return Grid(start, max(end, start + HOUR))
