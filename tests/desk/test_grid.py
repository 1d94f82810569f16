"""Placing a day on the desk's grid, without a database: 15-minute rows from the first whole
hour, overlapping cards side by side, the time outside the hours hatched and labelled, and
days when the clocks change."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from clinic.booking.statuses import AppointmentStatus
from clinic.desk.cards import LOOKS, Card
from clinic.desk.grid import Grid, blocks, column_state, grid_for, lanes, working_intervals

ZONE = ZoneInfo("America/New_York")
FRIDAY = date(2026, 11, 27)


def _at(hour: int, minute: int = 0, day: date = FRIDAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE).astimezone(UTC)


def _card(appointment_id: int, start: datetime, minutes: int = 60) -> Card:
    return Card(
        appointment_id=appointment_id,
        client_name="Sam Lee",
        therapist_id=1,
        therapist_name="Dana Payton",
        service_name="Massage, 60 min",
        starts_at=start,
        ends_at=start + timedelta(minutes=minutes),
        room_name=None,
        status=AppointmentStatus.CONFIRMED,
        look=LOOKS["confirmed"],
        payment="Unpaid",
        balance_minor=9500,
        currency="usd",
        price_minor=9500,
        fee_minor=0,
        flags=(),
        clearance_deadline=None,
    )


def test_a_card_covers_every_row_it_touches() -> None:
    grid = Grid(_at(8), _at(18))
    assert grid.rows == 40
    assert grid.place(_at(9), _at(10)) == "desk-at-5 desk-span-4"
    assert grid.place(_at(9, 10), _at(10, 10)) == "desk-at-5 desk-span-5"
    assert grid.place(_at(17, 45), _at(18, 45)) == "desk-at-40 desk-span-1"
    assert grid.place(_at(7), _at(8, 30)) == "desk-at-1 desk-span-2"


def test_overlapping_cards_sit_side_by_side() -> None:
    grid = Grid(_at(8), _at(18))
    placed = lanes([_card(2, _at(9, 30)), _card(1, _at(9)), _card(3, _at(13))], grid)
    assert [c.appointment_id for c in placed] == [1, 2, 3]
    assert [c.place.split(" ", 2)[2] for c in placed] == [
        "desk-lane-1 desk-lanes-2",
        "desk-lane-2 desk-lanes-2",
        "desk-lane-1 desk-lanes-1",
    ]


def test_time_outside_the_hours_is_blocked_and_labelled() -> None:
    hours = working_intervals([(time(9), time(13)), (time(14), time(18))], FRIDAY, ZONE)
    off = [(_at(15), _at(16)), (_at(20), _at(21))]
    grid = grid_for(FRIDAY, ZONE, hours, [])
    assert (grid.start, grid.end) == (_at(9), _at(18))
    found = [(b.kind, b.label, b.starts_at, b.ends_at) for b in blocks(hours, off, "working", grid)]
    assert found == [
        ("break", "Break", _at(13), _at(14)),
        ("time_off", "Time off", _at(15), _at(16)),
    ]
    wider = Grid(_at(8), _at(19))
    kinds = [(b.kind, b.place) for b in blocks(hours, off, "working", wider)]
    assert ("off", "desk-at-1 desk-span-4") in kinds
    assert ("off", "desk-at-41 desk-span-4") in kinds
    [closed] = blocks((), (), "closed", wider)
    assert (closed.kind, closed.label) == ("day", "Clinic closed")


def test_a_column_is_working_off_or_closed() -> None:
    hours = working_intervals([(time(9), time(17))], FRIDAY, ZONE)
    assert column_state(hours, [], closed=False) == "working"
    assert column_state(hours, [(_at(0), _at(23))], closed=False) == "time_off"
    assert column_state(hours, [(_at(12), _at(13))], closed=False) == "working"
    assert column_state((), [], closed=False) == "not_working"
    assert column_state(hours, [], closed=True) == "closed"


def test_an_empty_day_shows_nine_to_five() -> None:
    grid = grid_for(FRIDAY, ZONE, [], [])
    assert (grid.start, grid.end, grid.rows) == (_at(9), _at(17), 32)


def test_the_grid_starts_and_ends_on_whole_local_hours() -> None:
    grid = grid_for(FRIDAY, ZONE, [], [_card(1, _at(8, 40)), _card(2, _at(17, 50), 45)])
    assert (grid.start, grid.end) == (_at(8), _at(19))


def test_rows_follow_elapsed_time_when_the_clocks_change() -> None:
    # Clocks go back at 2am on 1 November 2026: 1am to 3am is three hours.
    back = date(2026, 11, 1)
    hours = working_intervals([(time(1), time(3))], back, ZONE)
    grid = grid_for(back, ZONE, hours, [])
    assert grid.end - grid.start == timedelta(hours=3)
    assert grid.rows == 12
    # Clocks go forward at 2am on 8 March 2026: 1am to 4am is two hours.
    forward = date(2026, 3, 8)
    hours = working_intervals([(time(1), time(4))], forward, ZONE)
    grid = grid_for(forward, ZONE, hours, [])
    assert grid.rows == 8
