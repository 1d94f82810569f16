"""Changing one's own password or e-mail asks for the current password again, is audited,
and a new password ends the member's other sessions. Loading a session stays one query."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx2
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from clinic import clock
from clinic.audit import AuditEntry
from clinic.auth.models import Role, User
from clinic.auth.passwords import verify_password
from clinic.auth.second_factor import REQUIRED_ROLES_OPTION
from clinic.auth.sessions import load_session
from clinic.db import Database
from clinic.options import set_option
from tests import factories
from tests.auth import second_factor_steps as steps
from tests.factories import STAFF_PASSWORD

T0 = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
NEW_PASSWORD = "a brand new staff passphrase"


async def _entries(db: Database, user_id: int, action: str) -> list[AuditEntry]:
    async with db.reading() as session:
        return list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.subject_id == str(user_id), AuditEntry.action == action)
                .order_by(AuditEntry.id)
            )
        )


async def _change_password(
    http: httpx2.AsyncClient, current: str, new: str, confirm: str | None = None
) -> httpx2.Response:
    token = await factories.form_token(http, "/account/password")
    return await http.post(
        "/account/password",
        data={
            "current_password": current,
            "new_password": new,
            "confirm_password": new if confirm is None else confirm,
            "csrf_token": token,
        },
    )


async def _change_email(http: httpx2.AsyncClient, email: str, password: str) -> httpx2.Response:
    token = await factories.form_token(http, "/account/email")
    return await http.post(
        "/account/email", data={"email": email, "password": password, "csrf_token": token}
    )


async def test_the_account_page_lists_email_password_and_second_factor(
    db: Database, http: httpx2.AsyncClient
) -> None:
    user = await factories.sign_in_as(http, db, Role.CLINICAL_LEAD)
    page = await http.get("/account")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert page.text.count("<h1") == 1
    assert user.email in page.text
    assert 'href="/account/password"' in page.text
    assert 'href="/account/email"' in page.text
    assert 'href="/account/second-factor"' in page.text
    # Every staff page links to it.
    assert 'href="/account">Account</a>' in (await http.get("/clinical/")).text


async def test_a_new_password_needs_the_current_one(db: Database, http: httpx2.AsyncClient) -> None:
    user = await factories.sign_in_as(http, db, Role.FRONTDESK)
    missing = await _change_password(http, "", NEW_PASSWORD)
    wrong = await _change_password(http, "not the current passphrase", NEW_PASSWORD)
    assert missing.status_code == 422
    assert "Enter your current password" in missing.text
    assert wrong.status_code == 422
    assert "<title>Error: Change your password</title>" in wrong.text
    assert 'id="current_password-error"' in wrong.text
    # A password is never put back in the page.
    assert "not the current passphrase" not in wrong.text
    assert NEW_PASSWORD not in wrong.text
    async with db.reading() as session:
        stored = await session.get(User, user.id)
        assert stored is not None
        assert verify_password(stored.password_hash, STAFF_PASSWORD)
    [failure] = await _entries(db, user.id, "user.reauthentication_failed")
    assert failure.details["for"] == "password"
    assert not await _entries(db, user.id, "user.password_changed")


async def test_a_new_password_follows_the_password_rules(
    db: Database, http: httpx2.AsyncClient
) -> None:
    await factories.sign_in_as(http, db, Role.FRONTDESK)
    short = await _change_password(http, STAFF_PASSWORD, "too short")
    common = await _change_password(http, STAFF_PASSWORD, "password1234")
    same = await _change_password(http, STAFF_PASSWORD, STAFF_PASSWORD)
    mismatch = await _change_password(http, STAFF_PASSWORD, NEW_PASSWORD, "something else entirely")
    assert "Use at least 12 characters" in short.text
    assert "That password is too common" in common.text
    assert "Choose a password different from your current one" in same.text
    assert "Type the new password again, exactly the same" in mismatch.text
    assert {r.status_code for r in (short, common, same, mismatch)} == {422}


async def test_a_new_password_ends_the_other_sessions_and_keeps_this_one(
    db: Database, http: httpx2.AsyncClient, new_client: Callable[[], httpx2.AsyncClient]
) -> None:
    user = await factories.sign_in_as(http, db, Role.FRONTDESK)
    async with new_client() as other:
        token = await factories.form_token(other)
        await other.post(
            "/login",
            data={"email": user.email, "password": STAFF_PASSWORD, "csrf_token": token},
        )
        assert (await other.get("/desk/")).status_code == 200

        changed = await _change_password(http, STAFF_PASSWORD, NEW_PASSWORD)
        here = await http.get("/account")
        there = await other.get("/desk/")

    assert changed.status_code == 303
    assert changed.headers["location"] == "/account"
    assert "Your password has been changed. You were signed out on the other device." in here.text
    assert there.status_code == 303
    assert there.headers["location"].startswith("/login")
    [entry] = await _entries(db, user.id, "user.password_changed")
    assert entry.details["other_sessions_ended"] == 1
    await steps.sign_out(http)
    assert (await steps.password_step(http, user.email)).status_code == 200
    assert (await steps.password_step(http, user.email, NEW_PASSWORD)).status_code == 303


async def test_a_new_email_needs_the_password_and_is_audited(
    db: Database, http: httpx2.AsyncClient
) -> None:
    user = await factories.sign_in_as(http, db, Role.THERAPIST)
    async with db.transaction() as session:
        taken = await factories.create_user(session)
    wrong = await _change_email(http, "new.name@example.com", "not my passphrase")
    bad = await _change_email(http, "not-an-address", STAFF_PASSWORD)
    clash = await _change_email(http, taken.email.upper(), STAFF_PASSWORD)
    changed = await _change_email(http, "  New.Name@Example.com ", STAFF_PASSWORD)
    page = await http.get("/account")

    assert wrong.status_code == 422
    assert 'id="password-error"' in wrong.text
    assert 'value="new.name@example.com"' in wrong.text
    assert bad.status_code == 422
    assert "Enter an email address in the correct format" in bad.text
    assert clash.status_code == 409
    assert "There is already an account with that email address." in clash.text
    assert changed.status_code == 303
    assert "You now sign in with new.name@example.com." in page.text
    [entry] = await _entries(db, user.id, "user.email_changed")
    assert entry.details["before"] == user.email
    assert entry.details["after"] == "new.name@example.com"
    [failure] = await _entries(db, user.id, "user.reauthentication_failed")
    assert failure.details["for"] == "email"
    await steps.sign_out(http)
    assert (await steps.password_step(http, user.email)).status_code == 200
    assert (await steps.password_step(http, "new.name@example.com")).status_code == 303


async def test_password_checks_for_changes_back_off_like_sign_in(
    db: Database, http: httpx2.AsyncClient
) -> None:
    with clock.frozen_at(T0):
        await factories.sign_in_as(http, db, Role.FRONTDESK)
        for _ in range(5):
            assert (await _change_email(http, "x@example.com", "wrong guess!")).status_code == 422
        blocked = await _change_email(http, "x@example.com", STAFF_PASSWORD)
    assert blocked.status_code == 429
    assert "Too many failed password attempts" in blocked.text


async def test_loading_a_session_is_one_select(db: Database, http: httpx2.AsyncClient) -> None:
    """The middleware runs on every request: the session, its user, the roles and the
    clinic's second-factor requirement come in one statement."""
    user = await factories.sign_in_as(http, db, Role.ADMIN, Role.THERAPIST)
    async with db.transaction() as session:
        await set_option(session, REQUIRED_ROLES_OPTION, {"roles": ["therapist"]})
    token = next(v for k, v in http.cookies.items() if k.endswith("clinic_session"))
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        signed_in = await load_session(db, token, user_initiated=False)
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert len(statements) == 1, statements
    assert signed_in.user_id == user.id
    assert signed_in.roles == frozenset({Role.ADMIN, Role.THERAPIST})
    assert signed_in.must_set_up_second_factor
    assert not signed_in.has_second_factor
