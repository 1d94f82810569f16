"""The pure pieces of the admin forms, table-tested without a database: day/month/year and
time fields, weekly hours, credential tags and what an expiry changes."""

from __future__ import annotations

from datetime import date, time
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic.admin.credential_status import credential_tag, expiry_consequence, expiry_warnings
from clinic.admin.forms import Checker, parse_clock
from clinic.admin.hours import Shift, form_rows, read_shifts
from clinic.errors import InvalidInput
from clinic.staff.credentials import CredentialFacts
from clinic.staff.models import CredentialKind

TODAY = date(2026, 11, 27)


def facts(kind: CredentialKind, **values: object) -> CredentialFacts:
    defaults: dict[str, object] = {
        "verified": True,
        "issued_on": date(2020, 1, 1),
        "expires_on": None,
    }
    defaults.update(values)
    return CredentialFacts(kind=kind, **defaults)  # type: ignore[arg-type]


BOOKABLE = (
    facts(CredentialKind.MASSAGE_LICENCE, expires_on=date(2028, 1, 1)),
    facts(CredentialKind.LIABILITY_INSURANCE, expires_on=date(2028, 1, 1)),
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("9", time(9)),
        ("9:00", time(9)),
        ("09:30", time(9, 30)),
        ("17.45", time(17, 45)),
        ("9am", time(9)),
        ("9:30 pm", time(21, 30)),
        ("12pm", time(12)),
        ("12am", time(0)),
        ("5 P.M.", time(17)),
        ("0:00", time(0)),
        ("23:59", time(23, 59)),
        ("24:00", None),
        ("13pm", None),
        ("9:60", None),
        ("nine", None),
        ("", None),
        ("9:00:00", None),
        ("9" * 50, None),
    ],
)
def test_times_are_read_as_people_type_them(raw: str, expected: time | None) -> None:
    assert parse_clock(raw) == expected


@given(st.text(max_size=30), st.text(max_size=30), st.text(max_size=30))
def test_any_day_month_and_year_give_a_date_or_a_message(day: str, month: str, year: str) -> None:
    check = Checker()
    found = check.day(
        {"d-day": day, "d-month": month, "d-year": year}, "d", what="date", required=True
    )
    assert (found is None) == bool(check.errors)
    if found is not None:
        assert 1950 <= found.year <= 2100
    assert set(check.errors) <= {"d-day", "d-month", "d-year"}


@given(
    st.dictionaries(
        st.sampled_from(
            [f"hours-{d}-{r}-{p}" for d in range(7) for r in range(3) for p in ("start", "end")]
        ),
        st.text(max_size=12),
    )
)
def test_any_hours_form_gives_valid_shifts_or_messages(values: dict[str, str]) -> None:
    errors: dict[str, str] = {}
    shifts: list[Shift] = []
    try:
        shifts = read_shifts(values, location_ids=[1], default_location=1)
    except InvalidInput as invalid:
        errors = invalid.field_errors
    assert all(key.startswith("hours-") for key in errors)
    for shift in shifts:
        assert time(5) <= shift.start < shift.end <= time(23)
    for one, other in pairwise(shifts):
        if one.weekday == other.weekday:
            assert one.end <= other.start


def test_hours_that_touch_are_allowed_and_saved_sorted() -> None:
    shifts = read_shifts(
        {
            "hours-0-0-start": "13:00",
            "hours-0-0-end": "17:00",
            "hours-0-1-start": "9:00",
            "hours-0-1-end": "13:00",
            "hours-6-0-start": "5am",
            "hours-6-0-end": "11pm",
        },
        location_ids=[3],
        default_location=3,
    )
    assert shifts == [
        Shift(0, time(9), time(13), 3),
        Shift(0, time(13), time(17), 3),
        Shift(6, time(5), time(23), 3),
    ]
    rows = form_rows(shifts)
    assert [r["start"] for r in rows[0]] == ["09:00", "13:00", ""]
    assert [r["start"] for r in rows[1]] == ["", ""]


@pytest.mark.parametrize(
    ("credential", "label", "look"),
    [
        (facts(CredentialKind.MASSAGE_LICENCE, expires_on=date(2027, 6, 1)), "Valid", "on"),
        (
            facts(CredentialKind.MASSAGE_LICENCE, expires_on=date(2026, 12, 20)),
            "Expires in 23 days",
            "warn",
        ),
        (
            facts(CredentialKind.MASSAGE_LICENCE, expires_on=date(2027, 1, 26)),
            "Expires in 60 days",
            "warn",
        ),
        (facts(CredentialKind.MASSAGE_LICENCE, expires_on=date(2027, 1, 27)), "Valid", "on"),
        (facts(CredentialKind.MASSAGE_LICENCE, expires_on=TODAY), "Expires today", "warn"),
        (
            facts(CredentialKind.MASSAGE_LICENCE, expires_on=date(2026, 11, 28)),
            "Expires tomorrow",
            "warn",
        ),
        (facts(CredentialKind.MASSAGE_LICENCE, expires_on=date(2026, 11, 26)), "Expired", "off"),
        (facts(CredentialKind.ONCOLOGY_FOUNDATIONAL), "Does not expire", "on"),
        (facts(CredentialKind.MASSAGE_LICENCE, verified=False), "Not verified", "warn"),
        (
            facts(CredentialKind.MASSAGE_LICENCE, issued_on=date(2027, 1, 2)),
            "Valid from 2 January 2027",
            "warn",
        ),
    ],
)
def test_credential_tags(credential: CredentialFacts, label: str, look: str) -> None:
    tag = credential_tag(credential, TODAY)
    assert (tag.label, tag.look) == (label, look)


def test_an_expiring_licence_or_insurance_takes_the_therapist_out_of_booking() -> None:
    insurance = facts(CredentialKind.LIABILITY_INSURANCE, expires_on=date(2027, 1, 10))
    credentials = (BOOKABLE[0], insurance)
    assert expiry_consequence("Dana Reyes", credentials, date(2027, 1, 10), TODAY) == (
        "After 10 January 2027, Dana Reyes stops appearing in online booking."
    )
    warnings = expiry_warnings("Dana Reyes", credentials, TODAY)
    assert [(w.expires_on, w.days_left) for w in warnings] == [(date(2027, 1, 10), 44)]
    # Same year: no year in the sentence.
    licence = facts(CredentialKind.MASSAGE_LICENCE, expires_on=date(2026, 12, 1))
    assert expiry_consequence("Dana", (licence, BOOKABLE[1]), date(2026, 12, 1), TODAY) == (
        "After 1 December, Dana stops appearing in online booking."
    )


def test_an_unverified_renewal_does_not_count_and_a_verified_one_silences_the_warning() -> None:
    old = facts(CredentialKind.MASSAGE_LICENCE, expires_on=date(2026, 12, 20))
    renewal = facts(
        CredentialKind.MASSAGE_LICENCE, issued_on=date(2026, 12, 21), expires_on=date(2028, 12, 20)
    )
    unverified = facts(
        CredentialKind.MASSAGE_LICENCE,
        verified=False,
        issued_on=date(2026, 12, 21),
        expires_on=date(2028, 12, 20),
    )
    assert expiry_warnings("D", (old, unverified, BOOKABLE[1]), TODAY)
    assert expiry_warnings("D", (old, renewal, BOOKABLE[1]), TODAY) == []


def test_a_credential_in_its_last_day_is_warned_about_and_one_already_expired_is_not() -> None:
    today_expiry = facts(CredentialKind.MASSAGE_LICENCE, expires_on=TODAY)
    assert [w.days_left for w in expiry_warnings("D", (today_expiry, BOOKABLE[1]), TODAY)] == [0]
    expired = facts(CredentialKind.MASSAGE_LICENCE, expires_on=date(2026, 11, 26))
    assert expiry_warnings("D", (expired, BOOKABLE[1]), TODAY) == []


def test_training_that_sets_no_level_gives_no_warning() -> None:
    ce = facts(CredentialKind.ONCOLOGY_CE, hours=16, expires_on=date(2026, 12, 20))
    other = facts(CredentialKind.OTHER, expires_on=date(2026, 12, 20))
    assert expiry_warnings("D", (*BOOKABLE, ce, other), TODAY) == []
