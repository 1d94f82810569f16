"""The demo clinic: realistic, consistent with its own rules, and seeded only once."""

from __future__ import annotations

from datetime import date

import httpx2
import pytest
from sqlalchemy import func, select, text

from clinic import demo
from clinic.auth.models import Role
from clinic.booking.statuses import blocking_status_sql_list
from clinic.db import Base, Database
from clinic.staff.models import Therapist
from clinic.staff.service import therapist_qualification
from tests import factories

TODAY = date(2026, 11, 27)


async def _row_counts(db: Database) -> dict[str, int]:
    async with db.reading() as session:
        return {
            table.name: await session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


async def _seed(db: Database) -> demo.DemoSummary:
    return await demo.seed_demo(db, timezone="America/New_York", currency="usd", today=TODAY)


async def test_seeding_twice_changes_nothing(db: Database) -> None:
    first = await _seed(db)
    assert first.seeded
    counts = await _row_counts(db)
    second = await _seed(db)
    assert not second.seeded
    assert await _row_counts(db) == counts
    assert (second.therapists, second.services, second.clients) == (8, 10, 60)
    assert 250 <= second.appointments <= 350
    assert await demo.demo_version(db) == demo.DEMO_VERSION


async def test_seeded_appointments_never_overlap(db: Database) -> None:
    await _seed(db)
    blocking = blocking_status_sql_list()
    async with db.reading() as session:
        clashes = await session.scalar(
            text(
                "SELECT count(*) FROM appointment a JOIN appointment b ON a.id < b.id"
                f" WHERE a.status IN {blocking} AND b.status IN {blocking}"
                " AND a.blocked_from < b.blocked_until AND b.blocked_from < a.blocked_until"
                " AND (a.therapist_id = b.therapist_id OR a.room_id = b.room_id)"
            )
        )
    assert clashes == 0


async def test_seeded_therapists_have_their_intended_oncology_levels(db: Database) -> None:
    await _seed(db)
    async with db.reading() as session:
        therapists = list(await session.scalars(select(Therapist)))
        levels = {
            t.display_name: (await therapist_qualification(session, t, TODAY)).oncology_level
            for t in therapists
        }
        lymphedema = {
            t.display_name
            for t in therapists
            if (await therapist_qualification(session, t, TODAY)).lymphedema
        }
    assert levels == demo.INTENDED_LEVELS
    assert {1, 2, 3} <= set(levels.values())
    assert None in levels.values()  # the therapist whose licence expired
    assert lymphedema == {demo.LYMPHEDEMA_THERAPIST}


async def test_demo_logins_exist_with_their_roles(db: Database) -> None:
    from clinic.auth.models import User
    from clinic.auth.passwords import verify_password

    await _seed(db)
    async with db.reading() as session:
        for login in demo.DEMO_LOGINS:
            user = await session.scalar(select(User).where(User.email == login.email))
            assert user is not None, login.email
            assert verify_password(user.password_hash, login.password)
            assert login.role in {role.value for role in user.roles}


LANDINGS = {
    "admin": "/admin/",
    "frontdesk": "/desk/",
    "clinical_lead": "/therapist/",
    "therapist": "/therapist/",
}


@pytest.mark.parametrize("login", demo.DEMO_LOGINS, ids=lambda login: login.role)
async def test_demo_sign_ins_land_on_their_pages(
    db: Database, http: httpx2.AsyncClient, login: demo.DemoLogin
) -> None:
    await _seed(db)
    token = await factories.form_token(http)
    response = await http.post(
        "/login", data={"email": login.email, "password": login.password, "csrf_token": token}
    )
    assert response.status_code == 303
    assert response.headers["location"] == LANDINGS[login.role]
    page = await http.get(response.headers["location"])
    assert page.status_code == 200
    assert "Sign out" in page.text


async def test_the_demo_desk_sees_todays_appointments_without_clinical_words(
    db: Database, http: httpx2.AsyncClient
) -> None:
    # Seed around the real today so that the desk page (which shows today) has a day's work.
    await demo.seed_demo(db, timezone="America/New_York", currency="usd")
    await factories.sign_in_as(http, db, Role.FRONTDESK)
    page = await http.get("/desk/")
    assert page.status_code == 200
    assert "New York time" in page.text
    for word in ("diagnos", "chemotherapy", "metasta", "lymphedema", "clearance reason"):
        assert word not in page.text.lower()
