"""Staff sessions end after 15 idle minutes or 12 hours, whichever comes first; only
user-initiated requests count as activity, and activity is written at most once a minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx2
from sqlalchemy import select

from clinic import clock
from clinic.auth.models import Role, StaffSession
from clinic.db import Database
from tests import factories

T0 = datetime(2026, 3, 7, 14, 0, tzinfo=UTC)  # the Saturday before clocks change in New York
BACKGROUND = {"X-Clinic-Background": "1"}


async def _last_seen(db: Database) -> datetime:
    async with db.reading() as session:
        value = await session.scalar(select(StaffSession.last_seen_at))
    assert value is not None
    return value


async def test_fourteen_idle_minutes_keep_the_session_and_sixteen_end_it(
    db: Database, http: httpx2.AsyncClient
) -> None:
    with clock.frozen_at(T0):
        await factories.sign_in_as(http, db, Role.FRONTDESK)
    with clock.frozen_at(T0 + timedelta(minutes=14)):
        assert (await http.get("/desk/")).status_code == 200
    with clock.frozen_at(T0 + timedelta(minutes=28)):
        assert (await http.get("/desk/")).status_code == 200
    with clock.frozen_at(T0 + timedelta(minutes=45)):
        ended = await http.get("/desk/")
    assert ended.status_code == 303
    assert ended.headers["location"] == "/login?next=/desk/"
    page = await http.get(ended.headers["location"])
    assert "signed out after 15 minutes without activity" in page.text


async def test_a_background_poll_does_not_keep_the_session_alive(
    db: Database, http: httpx2.AsyncClient
) -> None:
    with clock.frozen_at(T0):
        await factories.sign_in_as(http, db, Role.FRONTDESK)
    for minutes in (5, 10, 14):
        with clock.frozen_at(T0 + timedelta(minutes=minutes)):
            assert (await http.get("/desk/", headers=BACKGROUND)).status_code == 200
    assert await _last_seen(db) == T0
    with clock.frozen_at(T0 + timedelta(minutes=15)):
        assert (await http.get("/desk/", headers=BACKGROUND)).status_code == 303


async def test_activity_is_written_at_most_once_a_minute(
    db: Database, http: httpx2.AsyncClient
) -> None:
    with clock.frozen_at(T0):
        await factories.sign_in_as(http, db, Role.FRONTDESK)
    with clock.frozen_at(T0 + timedelta(seconds=59)):
        await http.get("/desk/")
    assert await _last_seen(db) == T0
    with clock.frozen_at(T0 + timedelta(seconds=61)):
        await http.get("/desk/")
    assert await _last_seen(db) == T0 + timedelta(seconds=61)


async def test_twelve_hours_end_even_a_busy_session(db: Database, http: httpx2.AsyncClient) -> None:
    with clock.frozen_at(T0):
        await factories.sign_in_as(http, db, Role.FRONTDESK)
    # A request every ten minutes, across the night the clocks change.
    for step in range(1, 72):
        with clock.frozen_at(T0 + timedelta(minutes=10 * step)):
            assert (await http.get("/desk/")).status_code == 200, step
    with clock.frozen_at(T0 + timedelta(hours=12)):
        ended = await http.get("/desk/")
    assert ended.status_code == 303
    page = await http.get(ended.headers["location"])
    assert "12-hour limit" in page.text


async def test_an_ended_session_is_deleted_and_its_cookie_cleared(
    db: Database, http: httpx2.AsyncClient
) -> None:
    with clock.frozen_at(T0):
        await factories.sign_in_as(http, db, Role.FRONTDESK)
    with clock.frozen_at(T0 + timedelta(minutes=20)):
        ended = await http.get("/desk/")
    cleared = [
        c for c in ended.headers.get_list("set-cookie") if c.startswith("__Host-clinic_session=;")
    ]
    assert cleared
    assert "Max-Age=0" in cleared[0]
    async with db.reading() as session:
        assert await session.scalar(select(StaffSession.id)) is None


async def test_a_forged_session_cookie_is_just_anonymous(http: httpx2.AsyncClient) -> None:
    http.cookies.set("__Host-clinic_session", "made-up-token")
    response = await http.get("/desk/")
    assert response.status_code == 303
    home = await http.get("/")
    assert home.status_code == 200


async def test_an_htmx_request_after_the_session_ends_sends_the_whole_page_to_sign_in(
    db: Database, http: httpx2.AsyncClient
) -> None:
    with clock.frozen_at(T0):
        await factories.sign_in_as(http, db, Role.FRONTDESK)
    with clock.frozen_at(T0 + timedelta(minutes=45)):
        poll = await http.get("/desk/2026-03-07", headers={"HX-Request": "true", **BACKGROUND})
    # Not a redirect htmx would follow and swap into the grid.
    assert poll.status_code == 204
    assert poll.headers["hx-redirect"] == "/login?next=/desk/2026-03-07"
    page = await http.get(poll.headers["hx-redirect"])
    assert "signed out after 15 minutes without activity" in page.text
