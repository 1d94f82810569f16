"""Every admin form with bad input comes back with 422: "Error: " in the title, a summary
whose links focus the fields, the same message beside each field, and the values as typed.
Never a 500, whatever is typed into the day, month and year or the time fields."""

from __future__ import annotations

import httpx2
import pytest
from sqlalchemy import func, select

from clinic.db import Database
from clinic.scheduling.models import TimeOff, WeeklyHours
from clinic.staff.models import Credential
from tests.admin.support import (
    date_parts,
    field_error,
    input_value,
    post_form,
    primary_location,
    sign_in_demo,
    summary_links,
    therapist_named,
    title_of,
)

pytestmark = pytest.mark.usefixtures("frozen")


def assert_refused(response: httpx2.Response, field: str, message: str) -> None:
    assert response.status_code == 422, response.text[:400]
    assert title_of(response.text).startswith("Error: ")
    assert field_error(response.text, field) == message
    assert summary_links(response.text).get(field) == message


async def test_a_new_therapist_needs_a_name_and_a_location(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    await sign_in_demo(http, seeded)
    refused = await post_form(
        http,
        "/admin/therapists/new",
        "/admin/therapists/new",
        {"display_name": "   ", "bio": "Kept bio", "sessions_elsewhere": "lots"},
    )
    assert_refused(refused, "display_name", "Enter the name clients see, like Dana Reyes")
    assert_refused(refused, "locations", "Choose at least one location where they work")
    assert_refused(
        refused, "sessions_elsewhere", "The number of sessions must be a whole number, like 1"
    )
    assert ">Kept bio</textarea>" in refused.text
    assert input_value(refused.text, "sessions_elsewhere") == "lots"
    location = await primary_location(seeded)
    refused = await post_form(
        http,
        "/admin/therapists/new",
        "/admin/therapists/new",
        {"display_name": "Dana", "locations": ["999999", str(location.id)]},
    )
    assert_refused(refused, "locations", "Choose the locations from the list")
    refused = await post_form(
        http,
        "/admin/therapists/new",
        "/admin/therapists/new",
        {"display_name": "x" * 201, "locations": str(location.id)},
    )
    assert_refused(refused, "display_name", "The name must be 200 characters or fewer")


BAD_DATES = [
    # (day, month, year, the field the message sits beside, the message)
    ("31", "02", "2027", "expires-day", "The expiry date must be a real date"),
    ("30", "2", "2027", "expires-day", "The expiry date must be a real date"),
    ("0", "1", "2027", "expires-day", "The expiry date must be a real date"),
    (
        "1",
        "13",
        "2027",
        "expires-month",
        "The expiry date must be a real date: the month is 1 to 12",
    ),
    ("aa", "1", "2027", "expires-day", "The expiry date must be a real date, in numbers"),
    ("1", "Jan", "2027", "expires-month", "The expiry date must be a real date, in numbers"),
    ("1", "1", "27", "expires-year", "The year must include 4 numbers, like 2027"),
    (
        "1",
        "1",
        "99999999999999999999",
        "expires-year",
        "The expiry date must be a real date, in numbers",
    ),
    ("99999999999", "1", "2027", "expires-day", "The expiry date must be a real date, in numbers"),
    ("1", "1", "0000", "expires-day", "The expiry date must be a real date"),
    ("1", "1", "9999", "expires-year", "The year must be between 1950 and 2100"),
    ("-1", "1", "2027", "expires-day", "The expiry date must be a real date, in numbers"),
    ("1.5", "1", "2027", "expires-day", "The expiry date must be a real date, in numbers"),
    ("１", "1", "2027", "expires-day", "The expiry date must be a real date, in numbers"),
    ("", "1", "2027", "expires-day", "The expiry date must include a day"),
    ("", "", "2027", "expires-day", "The expiry date must include a day and a month"),
    ("1", "1", "", "expires-year", "The expiry date must include a year"),
]


@pytest.mark.parametrize(("day", "month", "year", "field", "message"), BAD_DATES)
async def test_credential_dates_are_fuzzed_into_messages_not_errors(
    seeded: Database,
    http: httpx2.AsyncClient,
    day: str,
    month: str,
    year: str,
    field: str,
    message: str,
) -> None:
    await sign_in_demo(http, seeded)
    therapist = await therapist_named(seeded, "Jordan Kim")
    url = f"/admin/therapists/{therapist.id}/credentials/new"
    async with seeded.reading() as session:
        before = await session.scalar(select(func.count()).select_from(Credential))
    refused = await post_form(
        http,
        url,
        url,
        {
            "kind": "massage_licence",
            "title": "Licensed Massage Therapist",
            "number": "MT.1",
            **date_parts("expires", day, month, year),
        },
    )
    assert_refused(refused, field, message)
    # What was typed is shown again, every part of it.
    assert input_value(refused.text, "expires-day") == day
    assert input_value(refused.text, "expires-month") == month
    assert input_value(refused.text, "expires-year") == year
    assert input_value(refused.text, "number") == "MT.1"
    assert '<option value="massage_licence" selected>' in refused.text
    async with seeded.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Credential)) == before


async def test_a_credential_needs_a_kind_a_title_and_an_expiry_after_issue(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    await sign_in_demo(http, seeded)
    therapist = await therapist_named(seeded, "Jordan Kim")
    url = f"/admin/therapists/{therapist.id}/credentials/new"
    refused = await post_form(
        http,
        url,
        url,
        {
            "kind": "wizardry",
            "hours": "24.5",
            **date_parts("issued", 2, 3, 2026),
            **date_parts("expires", 1, 3, 2026),
        },
    )
    assert_refused(refused, "kind", "Choose what kind of credential this is")
    assert_refused(refused, "title", "Enter the title as printed, like Licensed Massage Therapist")
    assert_refused(refused, "hours", "The hours must be a whole number, like 1")
    assert_refused(refused, "expires-day", "The expiry date must be on or after the issue date")
    refused = await post_form(
        http, url, url, {"kind": "oncology_ce", "title": "CE", "hours": "10001"}
    )
    assert_refused(refused, "hours", "The hours must be between 0 and 10000")


BAD_HOURS = [
    (
        {"hours-0-0-start": "17:00", "hours-0-0-end": "9:00"},
        "hours-0-0-end",
        "Monday's end time must be after its start time",
    ),
    (
        {"hours-0-0-start": "9:00", "hours-0-0-end": "9:00"},
        "hours-0-0-end",
        "Monday's end time must be after its start time",
    ),
    (
        {"hours-2-0-start": "4:30", "hours-2-0-end": "9:00"},
        "hours-2-0-start",
        "Wednesday's hours must start at 5am or later",
    ),
    (
        {"hours-2-0-start": "9:00", "hours-2-0-end": "23:30"},
        "hours-2-0-end",
        "Wednesday's hours must end by 11pm",
    ),
    (
        {"hours-3-0-start": "25:00", "hours-3-0-end": "26:00"},
        "hours-3-0-start",
        "Enter the Thursday start time as a time, like 9:00 or 17:30",
    ),
    (
        {"hours-3-0-start": "nine", "hours-3-0-end": "17:00"},
        "hours-3-0-start",
        "Enter the Thursday start time as a time, like 9:00 or 17:30",
    ),
    (
        {"hours-3-0-start": "9:00", "hours-3-0-end": "9" * 40},
        "hours-3-0-end",
        "Enter the Thursday end time as a time, like 9:00 or 17:30",
    ),
    ({"hours-4-0-start": "9:00"}, "hours-4-0-end", "Enter an end time for Friday, like 17:00"),
    ({"hours-4-1-end": "17:00"}, "hours-4-1-start", "Enter a start time for Friday, like 9:00"),
    (
        {
            "hours-5-0-start": "9:00",
            "hours-5-0-end": "13:00",
            "hours-5-1-start": "12:00",
            "hours-5-1-end": "17:00",
        },
        "hours-5-1-start",
        "Saturday's hours overlap: 9am to 1pm and midday to 5pm. Change one so they do not",
    ),
    (
        {
            "hours-6-0-start": "14:00",
            "hours-6-0-end": "18:00",
            "hours-6-1-start": "9:00",
            "hours-6-1-end": "15:00",
        },
        "hours-6-0-start",
        "Sunday's hours overlap: 9am to 3pm and 2pm to 6pm. Change one so they do not",
    ),
    (
        {"hours-1-0-start": "9:00", "hours-1-0-end": "17:00", "hours-1-0-location": "abc"},
        "hours-1-0-location",
        "Choose one of the therapist's locations",
    ),
]


@pytest.mark.parametrize(("data", "field", "message"), BAD_HOURS)
async def test_weekly_hours_are_checked_pair_by_pair(
    seeded: Database,
    http: httpx2.AsyncClient,
    data: dict[str, str],
    field: str,
    message: str,
) -> None:
    await sign_in_demo(http, seeded)
    therapist = await therapist_named(seeded, "Jordan Kim")
    url = f"/admin/therapists/{therapist.id}/hours"
    async with seeded.reading() as session:
        before = await session.scalar(
            select(func.count()).where(WeeklyHours.therapist_id == therapist.id)
        )
    refused = await post_form(http, url, url, data)
    if field.endswith("location"):
        # One location: the form has no location field, so the message is in the summary.
        assert refused.status_code == 422
        assert summary_links(refused.text).get(field) == message
    else:
        assert_refused(refused, field, message)
        for name, value in data.items():
            assert input_value(refused.text, name) == value
    async with seeded.reading() as session:
        after = await session.scalar(
            select(func.count()).where(WeeklyHours.therapist_id == therapist.id)
        )
    assert after == before


BAD_TIME_OFF = [
    (
        {**date_parts("from", 31, 2, 2027), **date_parts("to", 1, 3, 2027)},
        "from-day",
        "The first day must be a real date",
    ),
    ({**date_parts("from", 1, 3, 2027)}, "to-day", "Enter the last day"),
    (
        {**date_parts("from", 5, 3, 2027), **date_parts("to", 1, 3, 2027)},
        "to-day",
        "The end must be after the start",
    ),
    (
        {
            **date_parts("from", 1, 3, 2027),
            "from-time": "14:00",
            **date_parts("to", 1, 3, 2027),
            "to-time": "13:00",
        },
        "to-day",
        "The end must be after the start",
    ),
    (
        {**date_parts("from", 1, 3, 2027), **date_parts("to", 1, 3, 2029)},
        "to-day",
        "Time off can be at most a year at a time: add it in parts",
    ),
    (
        {**date_parts("from", 1, 3, 2025), **date_parts("to", 2, 3, 2025)},
        "to-day",
        "That time has passed: enter time off that ends in the future",
    ),
    (
        {
            **date_parts("from", 1, 3, 2027),
            "from-time": "half past",
            **date_parts("to", 1, 3, 2027),
        },
        "from-time",
        "Enter the start time as a time, like 9:00 or 17:30",
    ),
]


@pytest.mark.parametrize(("data", "field", "message"), BAD_TIME_OFF)
async def test_time_off_is_checked(
    seeded: Database,
    http: httpx2.AsyncClient,
    data: dict[str, str],
    field: str,
    message: str,
) -> None:
    await sign_in_demo(http, seeded)
    therapist = await therapist_named(seeded, "Jordan Kim")
    url = f"/admin/therapists/{therapist.id}/time-off"
    refused = await post_form(http, url, url, {"reason": "Holiday", **data})
    assert_refused(refused, field, message)
    assert input_value(refused.text, "reason") == "Holiday"
    async with seeded.reading() as session:
        assert not await session.scalar(
            select(func.count()).where(TimeOff.therapist_id == therapist.id)
        )


async def test_time_off_needs_a_reason(seeded: Database, http: httpx2.AsyncClient) -> None:
    await sign_in_demo(http, seeded)
    therapist = await therapist_named(seeded, "Jordan Kim")
    url = f"/admin/therapists/{therapist.id}/time-off"
    refused = await post_form(
        http, url, url, {**date_parts("from", 1, 3, 2027), **date_parts("to", 1, 3, 2027)}
    )
    assert_refused(refused, "reason", "Enter a reason, like Holiday or Training")
    assert input_value(refused.text, "from-day") == "1"
