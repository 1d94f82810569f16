"""A therapist's week (/desk/week?therapist=ID&start=YYYY-MM-DD): seven days, each a list of
the same cards as the day, linked from the day's column headers; without a therapist, the
list to choose from; bad input is a 400 that says what to do."""

from __future__ import annotations

import re
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import httpx2
import pytest
from sqlalchemy import select

from clinic.booking.models import Appointment
from clinic.booking.service import day_bounds
from clinic.db import Database
from clinic.desk.cards import SHOWN
from clinic.staff.models import Therapist
from tests.desk.support import CLINICAL_WORDS, card_ids, sign_in_desk, text_of

pytestmark = pytest.mark.usefixtures("frozen")

MONDAY = date(2026, 11, 23)
ZONE = ZoneInfo("America/New_York")


async def _therapist(db: Database, name: str) -> int:
    async with db.reading() as session:
        found = await session.scalar(select(Therapist.id).where(Therapist.display_name == name))
    assert found is not None
    return found


async def _week_of(db: Database, therapist_id: int) -> list[int]:
    start = day_bounds(MONDAY, ZONE)[0]
    end = day_bounds(MONDAY + timedelta(days=6), ZONE)[1]
    async with db.reading() as session:
        return list(
            await session.scalars(
                select(Appointment.id)
                .where(
                    Appointment.therapist_id == therapist_id,
                    Appointment.starts_at < end,
                    Appointment.ends_at > start,
                    Appointment.status.in_(SHOWN),
                )
                .order_by(Appointment.starts_at, Appointment.id)
            )
        )


async def test_the_week_lists_seven_days_of_one_therapists_cards(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    grace = await _therapist(seeded, "Grace O'Connell")
    await sign_in_desk(http, seeded)
    day = await http.get("/desk/")
    link = f"/desk/week?therapist={grace}&amp;start=2026-11-23"
    assert link in day.text

    page = await http.get(f"/desk/week?therapist={grace}&start=2026-11-23")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "<h1>Grace O&#39;Connell: week of Monday 23 November 2026</h1>" in page.text
    headings = re.findall(r'<h2 id="day-([0-9-]+)">', page.text)
    assert headings == [(MONDAY + timedelta(days=n)).isoformat() for n in range(7)]
    for n in range(7):
        assert f'/desk/{(MONDAY + timedelta(days=n)).isoformat()}"' in page.text
    assert card_ids(page.text) == await _week_of(seeded, grace)
    words = text_of(page.text)
    # Grace works Tuesdays, Thursdays, Fridays and Saturdays; Friday is today.
    sunday = words[words.index("Sunday 29 November 2026") :]
    assert sunday.startswith("Sunday 29 November 2026 Not working")
    assert "Friday 27 November 2026 Today 9am to 5pm" in words
    assert "Times are New York time (EST)." in words
    lowered = page.text.lower()
    for word in CLINICAL_WORDS:
        assert word not in lowered
    assert 'start=2026-11-16">Previous week' in page.text
    assert 'start=2026-11-30">Next week' in page.text


async def test_the_week_starts_this_monday_when_no_start_is_given(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    grace = await _therapist(seeded, "Grace O'Connell")
    await sign_in_desk(http, seeded)
    page = await http.get(f"/desk/week?therapist={grace}")
    assert page.status_code == 200
    assert "week of Monday 23 November 2026" in page.text


async def test_without_a_therapist_the_week_asks_for_one(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    await sign_in_desk(http, seeded)
    page = await http.get("/desk/week")
    assert page.status_code == 200
    assert "<h1>A therapist's week</h1>" in page.text
    grace = await _therapist(seeded, "Grace O'Connell")
    assert f'<option value="{grace}">Grace O&#39;Connell</option>' in page.text


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("therapist=abc", "therapist", "Choose a therapist from the list"),
        ("therapist=0", "therapist", "Choose a therapist from the list"),
        ("therapist=1&start=2026-02-30", "start", "Enter a real date, like 2026-11-27"),
        ("therapist=1&start=next", "start", "Enter the date like 2026-11-27"),
    ],
)
async def test_bad_week_input_is_a_400_that_says_what_to_do(
    seeded: Database, http: httpx2.AsyncClient, query: str, field: str, message: str
) -> None:
    await sign_in_desk(http, seeded)
    page = await http.get(f"/desk/week?{query}")
    assert page.status_code == 400
    assert "<title>Error: " in page.text
    assert f'href="#{field}">{message}' in page.text


async def test_an_unknown_therapist_is_not_found(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    await sign_in_desk(http, seeded)
    assert (await http.get("/desk/week?therapist=999999")).status_code == 404
