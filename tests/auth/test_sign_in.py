"""Signing in and out: landing pages, one answer for every failure, back-off checked
before any hashing, audit entries, and secrets kept out of the logs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx2
import pytest
from argon2 import PasswordHasher, Type
from sqlalchemy import func, select, update

from clinic import clock
from clinic.audit import AuditEntry
from clinic.auth import service as auth_service
from clinic.auth import throttle
from clinic.auth.models import Role, SignInThrottle, StaffSession, User
from clinic.db import Database
from tests import factories
from tests.factories import STAFF_PASSWORD

T0 = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


async def _attempt(http: httpx2.AsyncClient, email: str, password: str) -> httpx2.Response:
    token = await factories.form_token(http)
    return await http.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )


async def _staff(db: Database, *roles: Role, **overrides: object) -> User:
    async with db.transaction() as session:
        values: dict[str, object] = {"password_hash": factories._staff_hash(), **overrides}
        return await factories.create_user(session, roles=roles or (Role.FRONTDESK,), **values)


class VerifySpy:
    def __init__(self) -> None:
        self.hashes: list[str] = []

    async def __call__(self, stored_hash: str, password: str) -> bool:
        self.hashes.append(stored_hash)
        return False


@pytest.fixture
def verify_spy(monkeypatch: pytest.MonkeyPatch) -> VerifySpy:
    spy = VerifySpy()
    monkeypatch.setattr(auth_service, "verify_password_async", spy)
    return spy


@pytest.mark.parametrize(
    ("roles", "landing"),
    [
        ((Role.FRONTDESK,), "/desk/"),
        ((Role.THERAPIST,), "/therapist/"),
        ((Role.CLINICAL_LEAD,), "/clinical/"),
        ((Role.ADMIN,), "/admin/"),
        ((Role.ADMIN, Role.THERAPIST), "/therapist/"),
    ],
)
async def test_each_role_lands_on_its_own_page(
    db: Database, http: httpx2.AsyncClient, roles: tuple[Role, ...], landing: str
) -> None:
    user = await _staff(db, *roles)
    response = await _attempt(http, user.email.upper(), STAFF_PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == landing
    page = await http.get(landing)
    assert page.status_code == 200
    assert "Sign out" in page.text


async def test_the_session_cookie_is_host_prefixed_secure_httponly_and_lax(
    db: Database, http: httpx2.AsyncClient
) -> None:
    user = await _staff(db)
    response = await _attempt(http, user.email, STAFF_PASSWORD)
    cookie = next(c for c in response.headers.get_list("set-cookie") if "clinic_session=" in c)
    assert cookie.startswith("__Host-clinic_session=")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"path=/", "httponly", "samesite=lax", "secure"} <= attributes
    assert not any(a.startswith("domain") for a in attributes)


async def test_next_takes_you_back_but_never_to_another_site(
    db: Database, http: httpx2.AsyncClient
) -> None:
    user = await _staff(db)
    token = await factories.form_token(http)
    data = {"email": user.email, "password": STAFF_PASSWORD, "csrf_token": token}
    response = await http.post("/login?next=//evil.example/x", data=data)
    assert response.headers["location"] == "/desk/"
    await http.post("/logout", data={"csrf_token": await factories.form_token(http, "/desk/")})
    token = await factories.form_token(http)
    response = await http.post("/login?next=/desk/", data={**data, "csrf_token": token})
    assert response.headers["location"] == "/desk/"


async def test_anonymous_staff_page_redirects_to_sign_in_with_next(
    http: httpx2.AsyncClient,
) -> None:
    response = await http.get("/desk/")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/desk/"


async def test_wrong_password_unknown_email_and_disabled_account_get_one_answer(
    db: Database, http: httpx2.AsyncClient
) -> None:
    user = await _staff(db)
    disabled = await _staff(db, active=False)
    answers = [
        await _attempt(http, user.email, "not the right passphrase"),
        await _attempt(http, "nobody@example.com", STAFF_PASSWORD),
        await _attempt(http, disabled.email, STAFF_PASSWORD),
    ]
    for answer in answers:
        assert answer.status_code == 200
        assert "Enter a correct email address and password." in answer.text
        assert "<title>Error: Staff sign in</title>" in answer.text
    assert 'value="nobody@example.com"' in answers[1].text


async def test_an_unknown_email_verifies_against_a_dummy_hash(
    http: httpx2.AsyncClient, verify_spy: VerifySpy
) -> None:
    await _attempt(http, "nobody@example.com", "some password or other")
    assert verify_spy.hashes == [auth_service._dummy_hash()]
    assert verify_spy.hashes[0].startswith("$argon2id$")


async def test_back_off_starts_after_five_failures_and_is_checked_before_hashing(
    db: Database, http: httpx2.AsyncClient, verify_spy: VerifySpy
) -> None:
    user = await _staff(db)
    with clock.frozen_at(T0):
        for _ in range(5):
            assert (await _attempt(http, user.email, "wrong passphrase here")).status_code == 200
        # The fifth failure starts a one-second wait: the next try is refused unhashed.
        blocked = await _attempt(http, user.email, STAFF_PASSWORD)
    assert blocked.status_code == 429
    assert "Too many failed sign-in attempts" in blocked.text
    assert blocked.headers["retry-after"] == "1"
    assert len(verify_spy.hashes) == 5
    with clock.frozen_at(T0 + timedelta(seconds=2)):
        await _attempt(http, user.email, "wrong passphrase here")
        assert len(verify_spy.hashes) == 6
        again = await _attempt(http, user.email, STAFF_PASSWORD)
    assert again.status_code == 429
    assert again.headers["retry-after"] == "2"


async def test_back_off_doubles_and_is_capped_at_fifteen_minutes() -> None:
    rule = throttle.ACCOUNT
    assert rule.blocked_until(4, T0) is None
    assert rule.blocked_until(5, T0) == T0 + timedelta(seconds=1)
    assert rule.blocked_until(8, T0) == T0 + timedelta(seconds=8)
    assert rule.blocked_until(30, T0) == T0 + timedelta(minutes=15)
    assert rule.blocked_until(99, T0) == T0 + timedelta(minutes=15)
    assert rule.blocked_until(100, T0) == throttle.LOCKED


async def test_a_hundred_failures_lock_the_account_until_an_admin_unlocks_it(
    db: Database, http: httpx2.AsyncClient, new_client: Callable[[], httpx2.AsyncClient]
) -> None:
    user = await _staff(db)
    async with db.transaction() as session:
        session.add(
            SignInThrottle(key=throttle.account_key(user.email), failures=100, last_failure_at=T0)
        )
    with clock.frozen_at(T0 + timedelta(days=3)):
        locked = await _attempt(http, user.email, STAFF_PASSWORD)
    assert locked.status_code == 429
    assert "Ask a clinic administrator to unlock it" in locked.text

    async with new_client() as admin:
        await factories.sign_in_as(admin, db, Role.ADMIN)
        listing = await admin.get("/admin/")
        assert "Sign-in locked" in listing.text
        token = await factories.form_token(admin, f"/admin/users/{user.id}")
        saved = await admin.post(
            f"/admin/users/{user.id}",
            data={"csrf_token": token, "roles": "frontdesk", "active": "yes", "unlock": "yes"},
        )
        assert saved.status_code == 303
    assert (await _attempt(http, user.email, STAFF_PASSWORD)).status_code == 303


async def test_many_failures_from_one_address_back_off_that_address(
    http: httpx2.AsyncClient, verify_spy: VerifySpy
) -> None:
    with clock.frozen_at(T0):
        for n in range(20):
            await _attempt(http, f"guess{n}@example.com", "wrong passphrase here")
        blocked = await _attempt(http, "another@example.com", "wrong passphrase here")
    assert blocked.status_code == 429
    assert len(verify_spy.hashes) == 20


async def test_a_success_clears_the_account_failures(
    db: Database, http: httpx2.AsyncClient
) -> None:
    user = await _staff(db)
    for _ in range(3):
        await _attempt(http, user.email, "wrong passphrase here")
    assert (await _attempt(http, user.email, STAFF_PASSWORD)).status_code == 303
    async with db.reading() as session:
        row = await session.get(SignInThrottle, throttle.account_key(user.email))
    assert row is None


async def test_sign_in_rehashes_a_password_stored_with_old_parameters(
    db: Database, http: httpx2.AsyncClient
) -> None:
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1, type=Type.ID)
    user = await _staff(db, password_hash=old.hash(STAFF_PASSWORD))
    assert (await _attempt(http, user.email, STAFF_PASSWORD)).status_code == 303
    async with db.reading() as session:
        stored = await session.scalar(select(User.password_hash).where(User.id == user.id))
    assert stored is not None
    assert "m=19456,t=2,p=1" in stored


async def test_signing_in_again_rotates_the_session(db: Database, http: httpx2.AsyncClient) -> None:
    user = await _staff(db)
    await _attempt(http, user.email, STAFF_PASSWORD)
    first = http.cookies.get("__Host-clinic_session")
    # A second sign-in on the same browser (another tab, or after a shared screen).
    token = await factories.form_token(http, "/desk/")
    await http.post(
        "/login", data={"email": user.email, "password": STAFF_PASSWORD, "csrf_token": token}
    )
    second = http.cookies.get("__Host-clinic_session")
    assert first
    assert second
    assert first != second
    async with db.reading() as session:
        count = await session.scalar(
            select(func.count()).select_from(StaffSession).where(StaffSession.user_id == user.id)
        )
    assert count == 1


async def test_sign_in_and_failure_are_audited_without_the_password(
    db: Database, http: httpx2.AsyncClient
) -> None:
    user = await _staff(db)
    await _attempt(http, user.email, "a wrong passphrase xyz")
    await _attempt(http, user.email, STAFF_PASSWORD)
    async with db.reading() as session:
        entries = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.subject_id == str(user.id))
                .order_by(AuditEntry.id)
            )
        )
    assert [e.action for e in entries] == ["user.sign_in_failed", "user.signed_in"]
    assert entries[0].details["reason"] == "wrong_password"
    for entry in entries:
        assert STAFF_PASSWORD not in str(entry.details)
        assert "a wrong passphrase xyz" not in str(entry.details)


async def test_no_log_line_carries_a_password_or_the_session_token(
    db: Database, http: httpx2.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    user = await _staff(db)
    await _attempt(http, user.email, "seeded-secret-passphrase-4711")
    await _attempt(http, user.email, STAFF_PASSWORD)
    token = http.cookies.get("__Host-clinic_session")
    await http.get("/desk/")
    captured = capsys.readouterr()
    logs = captured.err + captured.out
    assert "seeded-secret-passphrase-4711" not in logs
    assert STAFF_PASSWORD not in logs
    assert token
    assert token not in logs


async def test_logout_ends_the_server_session(db: Database, http: httpx2.AsyncClient) -> None:
    user = await _staff(db)
    await _attempt(http, user.email, STAFF_PASSWORD)
    cookie = http.cookies.get("__Host-clinic_session")
    token = await factories.form_token(http, "/desk/")
    response = await http.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"].endswith("/login")
    # Replaying the old cookie gets nowhere: the server forgot the session.
    http.cookies.set("__Host-clinic_session", cookie or "")
    assert (await http.get("/desk/")).status_code == 303
    async with db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(StaffSession)) == 0
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert "user.signed_out" in actions


async def test_disabling_an_account_ends_its_sessions(
    db: Database, http: httpx2.AsyncClient, new_client: Callable[[], httpx2.AsyncClient]
) -> None:
    user = await _staff(db)
    await _attempt(http, user.email, STAFF_PASSWORD)
    assert (await http.get("/desk/")).status_code == 200
    async with new_client() as admin:
        await factories.sign_in_as(admin, db, Role.ADMIN)
        token = await factories.form_token(admin, f"/admin/users/{user.id}")
        saved = await admin.post(
            f"/admin/users/{user.id}",
            data={"csrf_token": token, "roles": "frontdesk", "active": "no"},
        )
        assert saved.status_code == 303
    response = await http.get("/desk/")
    assert response.status_code == 303
    async with db.reading() as session:
        assert (
            await session.scalar(
                select(func.count())
                .select_from(StaffSession)
                .where(StaffSession.user_id == user.id)
            )
            == 0
        )


async def test_a_disabled_user_whose_session_row_survived_is_still_refused(
    db: Database, http: httpx2.AsyncClient
) -> None:
    user = await _staff(db)
    await _attempt(http, user.email, STAFF_PASSWORD)
    async with db.transaction() as session:
        await session.execute(update(User).where(User.id == user.id).values(active=False))
    response = await http.get("/desk/", follow_redirects=True)
    assert "Your account has been disabled" in response.text


async def test_successes_do_not_count_against_the_address(
    db: Database, http: httpx2.AsyncClient, new_client: Callable[[], httpx2.AsyncClient]
) -> None:
    # A front desk where the whole team signs in from one address, all day.
    user = await _staff(db)
    for _ in range(throttle.ADDRESS.free_failures + 5):
        async with new_client() as browser:
            assert (await _attempt(browser, user.email, STAFF_PASSWORD)).status_code == 303
    async with db.reading() as session:
        row = await session.get(SignInThrottle, throttle.address_key("127.0.0.1"))
    assert row is not None
    assert row.failures == 0


async def test_each_attempt_is_counted_before_its_password_is_checked(db: Database) -> None:
    keys = [throttle.account_key("someone@example.com"), throttle.address_key("192.0.2.7")]
    async with db.transaction() as session:
        waits = [await throttle.take_attempt(session, keys, T0) for _ in range(7)]
    free = throttle.ACCOUNT.free_failures
    assert waits[:free] == [None] * free
    assert waits[free:] == [T0 + timedelta(seconds=1)] * 2
