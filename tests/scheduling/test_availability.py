"""Table tests for the availability rules (clinic/scheduling/availability.py), one rule a row.

Times are written as local wall times in New York in June 2026, far from any clock change;
the DST rules have their own file.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

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
from clinic.staff.credentials import CredentialFacts
from clinic.staff.models import CredentialKind as K

ZONE = ZoneInfo("America/New_York")
MON, TUE, WED = date(2026, 6, 8), date(2026, 6, 9), date(2026, 6, 10)
FRI = date(2026, 6, 12)
NOW = datetime(2026, 6, 1, 8, 0, tzinfo=ZONE)  # a week ahead: notice and window are no issue
MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def cred(kind: K, *, verified: bool = True, expires: date | None = None) -> CredentialFacts:
    hours = 24 if kind is K.ONCOLOGY_FOUNDATIONAL else None
    return CredentialFacts(
        kind=kind,
        verified=verified,
        issued_on=date(2025, 1, 1),
        expires_on=expires,
        hours=hours,
        supervised_hands_on=kind is K.ONCOLOGY_FOUNDATIONAL,
    )


BOOKABLE = (cred(K.MASSAGE_LICENCE), cred(K.LIABILITY_INSURANCE))
LEVEL_1 = (*BOOKABLE, cred(K.ONCOLOGY_FOUNDATIONAL))
LEVEL_3 = (*LEVEL_1, cred(K.ONCOLOGY_SPECIALTY_CERTIFICATE))


def at(day: date, wall: str) -> datetime:
    """A local wall time on `day` as a UTC instant."""
    return datetime.combine(day, time.fromisoformat(wall), ZONE).astimezone(UTC)


def span(day: date, start: str, end: str) -> Interval:
    return at(day, start), at(day, end)


def hours(day: date, *spans: str) -> tuple[WorkingHours, ...]:
    """Weekly hours on `day`'s weekday, e.g. hours(MON, "09:00-12:00")."""
    return tuple(
        WorkingHours(day.weekday(), time.fromisoformat(s[:5]), time.fromisoformat(s[6:]))
        for s in spans
    )


def therapist(
    therapist_id: int = 1,
    *,
    weekly: tuple[WorkingHours, ...] = hours(MON, "09:00-12:00"),
    credentials: tuple[CredentialFacts, ...] = BOOKABLE,
    busy: tuple[Interval, ...] = (),
) -> TherapistCalendar:
    return TherapistCalendar(therapist_id, weekly, credentials, oncology_sessions=0, busy=busy)


def room(room_id: int, *attributes: str, busy: tuple[Interval, ...] = ()) -> RoomCalendar:
    return RoomCalendar(room_id, frozenset(attributes), busy)


def need(minutes: int = 60, **overrides: Any) -> Need:
    return Need(duration=minutes * MINUTE, **overrides)


def run(**overrides: Any) -> list[Slot]:
    arguments: dict[str, Any] = {
        "zone": ZONE,
        "need": need(),
        "therapists": (therapist(),),
        "rooms": (),
        "closures": frozenset(),
        "first_day": MON,
        "last_day": MON,
        "now": NOW,
        "rules": BookingRules(slot_interval=30 * MINUTE),
    }
    return available_slots(**(arguments | overrides))


def show(slots: list[Slot]) -> list[str]:
    """'Mon 09:00 t1 r2': local weekday and wall time, therapist and room."""
    shown = []
    for slot in slots:
        local = slot.start.astimezone(ZONE)
        room_part = "" if slot.room_id is None else f" r{slot.room_id}"
        shown.append(f"{DAY_NAMES[local.weekday()]} {local:%H:%M} t{slot.therapist_id}{room_part}")
    return shown


MORNING = ["Mon 09:00 t1", "Mon 09:30 t1", "Mon 10:00 t1", "Mon 10:30 t1", "Mon 11:00 t1"]
WEEKDAYS = hours(MON, "09:00-10:00") + hours(TUE, "09:00-10:00") + hours(WED, "09:00-10:00")
ROOMS = (room(1), room(2, "table"), room(3, "table", "hydraulic"))


def rooms_of(slots: list[str], room_id: int) -> list[str]:
    return [f"{slot} r{room_id}" for slot in slots]


CASES = [
    pytest.param({}, MORNING, id="basic-hours-every-30-minutes"),
    pytest.param({"first_day": TUE, "last_day": TUE}, [], id="no-hours-that-weekday"),
    pytest.param(
        {"therapists": (therapist(weekly=hours(MON, "09:00-11:00", "12:00-14:00")),)},
        [*MORNING[:3], "Mon 12:00 t1", "Mon 12:30 t1", "Mon 13:00 t1"],
        id="split-shift-keeps-lunch-free",
    ),
    pytest.param(
        {"therapists": (therapist(busy=(span(MON, "10:00", "11:00"),)),)},
        ["Mon 09:00 t1", "Mon 11:00 t1"],
        id="time-off",
    ),
    pytest.param(
        {
            "therapists": (therapist(weekly=WEEKDAYS),),
            "last_day": WED,
            "closures": frozenset({TUE}),
        },
        ["Mon 09:00 t1", "Wed 09:00 t1"],
        id="closure-day-has-nothing",
    ),
    pytest.param(
        {"need": need(buffer_before=15 * MINUTE)},
        ["Mon 09:15 t1", "Mon 09:45 t1", "Mon 10:15 t1", "Mon 10:45 t1"],
        id="before-buffer-delays-first-slot",
    ),
    pytest.param(
        {
            "need": need(buffer_after=15 * MINUTE),
            "therapists": (therapist(busy=(span(MON, "11:00", "12:00"),)),),
        },
        ["Mon 09:00 t1", "Mon 09:30 t1"],
        id="after-buffer-keeps-slot-before-booking-out",
    ),
    pytest.param(
        {"therapists": (therapist(busy=(span(MON, "11:00", "12:00"),)),)},
        ["Mon 09:00 t1", "Mon 09:30 t1", "Mon 10:00 t1"],
        id="slot-ending-as-booking-starts",
    ),
    pytest.param(
        {"therapists": (therapist(busy=(span(MON, "09:00", "10:00"),)),)},
        ["Mon 10:00 t1", "Mon 10:30 t1", "Mon 11:00 t1"],
        id="slot-starting-as-booking-ends",
    ),
    pytest.param(
        {"therapists": (therapist(busy=(span(MON, "10:59", "11:00"),)),)},
        ["Mon 09:00 t1", "Mon 09:30 t1", "Mon 11:00 t1"],
        id="busy-is-half-open-one-minute",
    ),
    pytest.param(
        {
            "therapists": (
                therapist(busy=(span(MON, "10:00", "10:30"), span(MON, "09:50", "10:10"))),
            )
        },
        ["Mon 10:30 t1", "Mon 11:00 t1"],
        id="overlapping-busy-ranges-merge",
    ),
    pytest.param(
        {
            "therapists": (
                therapist(busy=(span(MON, "09:00", "11:00"), span(MON, "09:30", "10:00"))),
            )
        },
        ["Mon 11:00 t1"],
        id="busy-range-inside-another",
    ),
    pytest.param(
        {"now": at(MON, "07:00"), "rules": BookingRules(slot_interval=30 * MINUTE)},
        MORNING,
        id="minimum-notice-exactly-met",
    ),
    pytest.param(
        {"now": at(MON, "07:01"), "rules": BookingRules(slot_interval=30 * MINUTE)},
        MORNING[1:],
        id="minimum-notice-one-minute-short",
    ),
    pytest.param(
        {
            "rules": BookingRules(
                slot_interval=30 * MINUTE, booking_window=timedelta(days=7, hours=2)
            )
        },
        MORNING[:3],
        id="booking-window-inclusive",
    ),
    pytest.param({"rooms": ()}, MORNING, id="no-rooms-at-all-room-none"),
    pytest.param({"rooms": ROOMS}, rooms_of(MORNING, 1), id="room-plainest-when-nothing-needed"),
    pytest.param(
        {"rooms": ROOMS, "need": need(room_attributes=frozenset({"table"}))},
        rooms_of(MORNING, 2),
        id="room-with-attribute-fewest-extras",
    ),
    pytest.param(
        {
            "rooms": (room(5, "table", "sink"), room(7, "table"), room(3, "table", "hydraulic")),
            "need": need(room_attributes=frozenset({"table", "hydraulic"})),
        },
        rooms_of(MORNING, 3),
        id="room-needs-every-attribute",
    ),
    pytest.param(
        {
            "rooms": (room(5, "table", "sink"), room(3, "table", "hydraulic")),
            "need": need(room_attributes=frozenset({"table"})),
        },
        rooms_of(MORNING, 3),
        id="room-tie-lowest-id",
    ),
    pytest.param(
        {
            "rooms": (room(2, "table", "hydraulic"), room(4, "table")),
            "need": need(room_attributes=frozenset({"table"})),
        },
        rooms_of(MORNING, 4),
        id="room-fewest-extras-before-lowest-id",
    ),
    pytest.param(
        {
            "rooms": (room(2, "table", busy=(span(MON, "09:00", "10:00"),)), ROOMS[2]),
            "need": need(room_attributes=frozenset({"table"})),
        },
        [*rooms_of(MORNING[:2], 3), *rooms_of(MORNING[2:], 2)],
        id="room-busy-next-fitting-room",
    ),
    pytest.param(
        {
            "rooms": (
                room(2, "table", busy=(span(MON, "10:00", "11:00"),)),
                room(3, "table", "hydraulic", busy=(span(MON, "09:45", "11:00"),)),
            ),
            "need": need(room_attributes=frozenset({"table"})),
        },
        ["Mon 09:00 t1 r2", "Mon 11:00 t1 r2"],
        id="every-fitting-room-busy-removes-slot",
    ),
    pytest.param(
        {"rooms": ROOMS, "need": need(room_attributes=frozenset({"sink"}))},
        [],
        id="no-fitting-room-nothing",
    ),
    pytest.param(
        {
            "therapists": (
                therapist(
                    weekly=hours(MON, "09:00-10:00")
                    + hours(TUE, "09:00-10:00")
                    + hours(WED, "09:00-10:00")
                    + hours(date(2026, 6, 11), "09:00-10:00"),
                    credentials=(cred(K.MASSAGE_LICENCE, expires=TUE), cred(K.LIABILITY_INSURANCE)),
                ),
            ),
            "last_day": FRI,
        },
        ["Mon 09:00 t1", "Tue 09:00 t1"],
        id="licence-expiring-tuesday-valid-through-tuesday",
    ),
    pytest.param(
        {
            "therapists": (
                therapist(1, weekly=WEEKDAYS, credentials=(cred(K.MASSAGE_LICENCE),)),
                therapist(
                    2,
                    weekly=WEEKDAYS,
                    credentials=(BOOKABLE[0], cred(K.LIABILITY_INSURANCE, expires=MON)),
                ),
            ),
            "last_day": WED,
        },
        ["Mon 09:00 t2"],
        id="insurance-missing-or-expired",
    ),
    pytest.param(
        {
            "therapists": (
                therapist(1, credentials=LEVEL_1),
                therapist(2, credentials=LEVEL_3),
                therapist(3, credentials=BOOKABLE),
            ),
            "need": need(min_oncology_level=3),
        },
        [slot.replace("t1", "t2") for slot in MORNING],
        id="oncology-level-required",
    ),
    pytest.param(
        {
            "therapists": (therapist(1, credentials=BOOKABLE), therapist(2, credentials=LEVEL_1)),
            "need": need(min_oncology_level=1),
        },
        [slot.replace("t1", "t2") for slot in MORNING],
        id="oncology-level-exactly-met",
    ),
    pytest.param(
        {
            "therapists": (
                therapist(1, credentials=BOOKABLE),
                therapist(2, credentials=(*BOOKABLE, cred(K.LYMPHEDEMA_MLD_CDT))),
            ),
            "need": need(lymphedema=True),
        },
        [slot.replace("t1", "t2") for slot in MORNING],
        id="lymphedema-required",
    ),
    pytest.param(
        {
            "therapists": (
                therapist(1, credentials=(cred(K.MASSAGE_LICENCE, verified=False), BOOKABLE[1])),
                therapist(2, credentials=(*BOOKABLE, cred(K.LYMPHEDEMA_MLD_CDT, verified=False))),
            ),
        },
        [slot.replace("t1", "t2") for slot in MORNING],
        id="unverified-licence-does-not-count",
    ),
    pytest.param(
        {
            "therapists": (
                therapist(2, credentials=(*BOOKABLE, cred(K.LYMPHEDEMA_MLD_CDT, verified=False))),
            ),
            "need": need(lymphedema=True),
        },
        [],
        id="unverified-lymphedema-does-not-count",
    ),
    pytest.param(
        {
            "therapists": (
                therapist(2, weekly=hours(MON, "09:00-10:30")),
                therapist(1, weekly=hours(MON, "09:30-11:00")),
            ),
        },
        ["Mon 09:00 t2", "Mon 09:30 t1", "Mon 09:30 t2", "Mon 10:00 t1"],
        id="several-therapists-by-start-then-id",
    ),
    pytest.param(
        {"therapists": (therapist(weekly=hours(MON, "09:00-12:00", "10:00-12:00")),)},
        MORNING,
        id="overlapping-hours-no-duplicates",
    ),
    pytest.param({"need": need(180)}, ["Mon 09:00 t1"], id="service-exactly-fills-hours"),
    pytest.param({"need": need(181)}, [], id="service-longer-than-hours"),
    pytest.param(
        {"therapists": (therapist(weekly=hours(MON, "12:00-09:00")),)},
        [],
        id="hours-ending-before-they-start",
    ),
]


@pytest.mark.parametrize(("overrides", "expected"), CASES)
def test_available_slots(overrides: dict[str, Any], expected: list[str]) -> None:
    slots = run(**overrides)
    assert show(slots) == expected
    duration = overrides.get("need", need()).duration
    assert all(slot.end - slot.start == duration for slot in slots)  # buffers are not shown
    assert all(slot.start.utcoffset() == timedelta(0) for slot in slots)


def test_slots_sorted_by_start_then_therapist_across_days() -> None:
    weekly = WEEKDAYS
    slots = run(
        therapists=(therapist(3, weekly=weekly), therapist(1, weekly=weekly)),
        last_day=WED,
    )
    assert [(slot.start, slot.therapist_id) for slot in slots] == [
        (at(day, "09:00"), therapist_id) for day in (MON, TUE, WED) for therapist_id in (1, 3)
    ]


def test_empty_range_has_no_slots() -> None:
    assert run(first_day=TUE, last_day=MON) == []


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"now": datetime(2026, 6, 1, 8, 0)}, id="naive-now"),  # noqa: DTZ001
        pytest.param({"rules": BookingRules(slot_interval=timedelta(0))}, id="zero-interval"),
        pytest.param({"need": need(0)}, id="zero-duration"),
        pytest.param({"need": need(buffer_after=-MINUTE)}, id="negative-buffer"),
    ],
)
def test_rejects_nonsense_input(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"."):
        run(**overrides)
