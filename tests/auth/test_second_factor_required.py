"""Roles an admin chooses must use a second factor: members without one are sent to set it
up right after their password and reach no other staff page until it is on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx2
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from clinic import clock
from clinic.audit import AuditEntry
from clinic.auth.models import Role, User
from clinic.auth.second_factor import REQUIRED_ROLES_OPTION, code_at
from clinic.db import Database
from clinic.options import get_option, set_option
from tests import factories
from tests.auth import second_factor_steps as steps
from tests.factories import STAFF_PASSWORD
from tests.security.test_route_matrix import EXPECTED, app_routes, concrete_url

T0 = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
SET_UP = steps.SET_UP_PAGE


async def _require(db: Database, *roles: Role) -> None:
    async with db.transaction() as session:
        await set_option(session, REQUIRED_ROLES_OPTION, {"roles": [r.value for r in roles]})


async def _new_member(db: Database, *roles: Role) -> User:
    async with db.transaction() as session:
        return await factories.create_user(
            session, roles=roles, password_hash=factories._staff_hash()
        )


async def test_an_admin_chooses_the_roles_and_the_change_is_audited(
    db: Database, http: httpx2.AsyncClient
) -> None:
    admin = await factories.sign_in_as(http, db, Role.ADMIN)
    summary = await http.get("/admin/policies")
    form = await http.get("/admin/second-factor")
    token = await factories.form_token(http, "/admin/second-factor")
    bad = await http.post("/admin/second-factor", data={"roles": "owner", "csrf_token": token})
    saved = await http.post(
        "/admin/second-factor",
        data={"roles": ["frontdesk", "therapist"], "csrf_token": token},
    )
    again = await http.post(
        "/admin/second-factor",
        data={"roles": ["therapist", "frontdesk"], "csrf_token": token},
    )
    after = await http.get("/admin/policies")

    assert "Two-step sign-in for staff" in summary.text
    assert "No role: each member chooses" in summary.text
    assert form.status_code == 200
    assert form.headers["cache-control"] == "no-store"
    assert bad.status_code == 422
    assert "<title>Error: Two-step sign-in for staff: policies</title>" in bad.text
    assert saved.status_code == 303
    assert saved.headers["location"] == "/admin/policies#second-factor"
    assert again.status_code == 303
    assert "Front desk, Therapist" in after.text
    async with db.reading() as session:
        stored = await get_option(session, REQUIRED_ROLES_OPTION)
        entries = list(
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "security.second_factor_roles_changed"
                )
            )
        )
    assert stored == {"roles": ["frontdesk", "therapist"]}
    # Saving the same choice again changes nothing and records nothing.
    [entry] = entries
    assert entry.actor_user_id == admin.id
    assert entry.details == {"before": [], "after": ["frontdesk", "therapist"]}


async def test_a_member_of_a_required_role_sets_it_up_right_after_the_password(
    db: Database, http: httpx2.AsyncClient
) -> None:
    await _require(db, Role.FRONTDESK)
    member = await _new_member(db, Role.FRONTDESK)
    with clock.frozen_at(T0):
        signed_in = await steps.password_step(http, member.email)
        page = await http.get(signed_in.headers["location"])
        desk = await http.get("/desk/")
        # The set-up started with the password just given: no need to type it again.
        secret = steps.setup_key(page.text)
        confirmed = await steps.confirm(http, code_at(secret, T0))
        desk_after = await http.get("/desk/")

    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == SET_UP
    assert "Your role requires two-step sign-in. Set it up now" in page.text
    assert "Back to account security" not in page.text
    assert desk.status_code == 303
    assert desk.headers["location"] == SET_UP
    assert confirmed.status_code == 200
    assert 'href="/desk/"' in confirmed.text  # "Continue" goes to the member's own page
    assert desk_after.status_code == 200


async def test_before_setting_it_up_every_other_staff_page_sends_them_to_set_up(
    app: Starlette, db: Database, http: httpx2.AsyncClient
) -> None:
    await _require(db, Role.FRONTDESK)
    member = await _new_member(db, Role.FRONTDESK)
    await steps.password_step(http, member.email)
    token = await factories.form_token(http, SET_UP)
    guarded = [e for e in app_routes(app) if e.required_roles is not None]
    open_ones = {e.key for e in guarded if getattr(e.endpoint, "open_before_set_up", False)}
    assert open_ones == {
        ("GET", "/account/second-factor"),
        ("POST", "/account/second-factor/start"),
        ("POST", "/account/second-factor/confirm"),
    }
    checked = 0
    for entry in guarded:
        if entry.key in open_ones:
            continue
        case = EXPECTED[entry.key]
        url = await concrete_url(case, db, _Visitor(member.id))
        if entry.method == "GET":
            response = await http.get(url)
        else:
            response = await http.post(url, data={**case.data, "csrf_token": token})
        assert response.status_code == 303, f"{entry.method} {entry.path}: {response.status_code}"
        assert response.headers["location"] == SET_UP, f"{entry.method} {entry.path}"
        checked += 1
    assert checked > 50
    # The poll of the desk's day (htmx) sends the whole page to set up.
    polled = await http.get("/desk/", headers={"HX-Request": "true"})
    assert polled.status_code == 204
    assert polled.headers["HX-Redirect"] == SET_UP


class _Visitor:
    """What concrete_url needs to know of the visitor: their own account."""

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id


async def test_a_requirement_made_during_a_session_applies_at_the_next_page(
    db: Database, http: httpx2.AsyncClient
) -> None:
    await factories.sign_in_as(http, db, Role.THERAPIST)
    assert (await http.get("/therapist/")).status_code == 200
    await _require(db, Role.THERAPIST)
    moved = await http.get("/therapist/")
    assert moved.status_code == 303
    assert moved.headers["location"] == SET_UP
    page = await http.get(SET_UP)
    # No set-up was started for this session: the password is asked for first.
    assert 'id="password"' in page.text


async def test_other_roles_and_members_with_a_factor_are_not_held_back(
    db: Database, http: httpx2.AsyncClient
) -> None:
    with clock.frozen_at(T0):
        await factories.sign_in_as(http, db, Role.FRONTDESK)
        await _require(db, Role.ADMIN)
        assert (await http.get("/desk/")).status_code == 200
        await steps.enrol(http, T0)
        await _require(db, Role.ADMIN, Role.FRONTDESK)
        assert (await http.get("/desk/")).status_code == 200


@pytest.mark.parametrize("roles", [(Role.FRONTDESK,), (Role.ADMIN, Role.THERAPIST)])
async def test_a_required_factor_cannot_be_turned_off(
    db: Database, http: httpx2.AsyncClient, roles: tuple[Role, ...]
) -> None:
    with clock.frozen_at(T0):
        user = await factories.sign_in_as(http, db, *roles)
        await steps.enrol(http, T0)
    await _require(db, roles[-1])
    with clock.frozen_at(T0 + timedelta(seconds=40)):
        page = await http.get(SET_UP)
        token = await factories.form_token(http, SET_UP)
        refused = await http.post(
            "/account/second-factor/off", data={"password": STAFF_PASSWORD, "csrf_token": token}
        )
    assert "Turn off two-step sign-in" not in page.text
    assert refused.status_code == 422
    assert "Your role requires two-step sign-in" in refused.text
    async with db.reading() as session:
        stored = await session.get(User, user.id)
        assert stored is not None
        assert stored.has_second_factor
