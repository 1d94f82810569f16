"""When a member has lost their phone and their recovery codes: an operator clears their
second factor (`clinic reset-second-factor`); a code back-off that reached its stop is
lifted by an admin's unlock, like a password lock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
from click.testing import CliRunner
from sqlalchemy import select, update

from clinic import clock
from clinic.audit import AuditEntry
from clinic.auth import throttle
from clinic.auth.models import RecoveryCode, Role, SignInThrottle, User
from clinic.auth.second_factor import code_at
from clinic.cli import main
from clinic.db import Database
from tests import factories
from tests.auth import second_factor_steps as steps

T0 = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)
    return result.exit_code, result.output


def test_the_cli_clears_a_members_second_factor(tmp_path: Path) -> None:
    env = {
        "CLINIC_VAR_DIR": str(tmp_path),
        "CLINIC_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "CLINIC_ENV": "test",
    }
    assert _cli(env, "migrate")[0] == 0
    created = _cli(
        env,
        *("create-user", "--email", "desk@example.com", "--name", "Dee Desk"),
        *("--role", "frontdesk"),
        stdin="a long enough passphrase\n",
    )
    assert created[0] == 0, created[1]

    async def give_factor() -> None:
        db = Database.connect(env["CLINIC_DATABASE_URL"].replace("sqlite:", "sqlite+aiosqlite:"))
        try:
            async with db.transaction() as session:
                user_id = await session.scalar(select(User.id))
                await session.execute(
                    update(User).values(totp_secret="v1:sealed", totp_confirmed_at=T0)
                )
                session.add(RecoveryCode(user_id=user_id, code_hash="0" * 64, created_at=T0))
        finally:
            await db.dispose()

    async def state() -> tuple[bool, int, list[AuditEntry]]:
        db = Database.connect(env["CLINIC_DATABASE_URL"].replace("sqlite:", "sqlite+aiosqlite:"))
        try:
            async with db.reading() as session:
                user = await session.scalar(select(User))
                assert user is not None
                codes = len(list(await session.scalars(select(RecoveryCode))))
                entries = list(
                    await session.scalars(
                        select(AuditEntry).where(AuditEntry.action == "user.second_factor_reset")
                    )
                )
                return user.has_second_factor, codes, entries
        finally:
            await db.dispose()

    asyncio.run(give_factor())
    code, output = _cli(env, "reset-second-factor", "--email", " Desk@Example.com")
    assert code == 0, output
    assert "Cleared two-step sign-in for desk@example.com" in output
    has_factor, codes, [entry] = asyncio.run(state())
    assert not has_factor
    assert codes == 0
    assert entry.actor_label == "cli"
    assert entry.details == {"had_second_factor": True}

    again = _cli(env, "reset-second-factor", "--email", "desk@example.com")
    assert "had no two-step sign-in" in again[1]
    unknown = _cli(env, "reset-second-factor", "--email", "nobody@example.com")
    assert unknown[0] != 0
    assert "There is no staff account with that email address." in unknown[1]


async def test_a_hundred_wrong_codes_stop_the_code_step_until_an_admin_unlocks_it(
    db: Database, http: httpx2.AsyncClient, new_client: Callable[[], httpx2.AsyncClient]
) -> None:
    with clock.frozen_at(T0):
        user = await factories.sign_in_as(http, db, Role.FRONTDESK)
        secret, _ = await steps.enrol(http, T0)
        await steps.sign_out(http)
    async with db.transaction() as session:
        session.add(
            SignInThrottle(
                key=throttle.second_factor_key(user.id), failures=100, last_failure_at=T0
            )
        )
    later = T0 + timedelta(days=2)
    with clock.frozen_at(later):
        await steps.password_step(http, user.email)
        stopped = await steps.code_step(http, code_at(secret, later))
    assert stopped.status_code == 429
    assert "Ask a clinic administrator to unlock it" in stopped.text

    async with new_client() as admin:
        with clock.frozen_at(later):
            await factories.sign_in_as(admin, db, Role.ADMIN)
            listing = await admin.get("/admin/")
            token = await factories.form_token(admin, f"/admin/users/{user.id}")
            unlocked = await admin.post(
                f"/admin/users/{user.id}",
                data={"csrf_token": token, "roles": "frontdesk", "active": "yes", "unlock": "yes"},
            )
    assert "Sign-in locked" in listing.text
    assert unlocked.status_code == 303
    at = later + timedelta(minutes=1)
    with clock.frozen_at(at):
        assert (await steps.code_step(http, code_at(secret, at))).status_code == 303


async def test_an_admin_clears_a_members_second_factor_from_their_account_page(
    db: Database, http: httpx2.AsyncClient, new_client: Callable[[], httpx2.AsyncClient]
) -> None:
    with clock.frozen_at(T0):
        user = await factories.sign_in_as(http, db, Role.THERAPIST)
        await steps.enrol(http, T0)
        await steps.sign_out(http)

    async with new_client() as admin:
        with clock.frozen_at(T0):
            me = await factories.sign_in_as(admin, db, Role.ADMIN)
            page = await admin.get(f"/admin/users/{user.id}")
            assert "signs in with a code from an authenticator app" in page.text
            token = await factories.form_token(admin, f"/admin/users/{user.id}")
            cleared = await admin.post(
                f"/admin/users/{user.id}/second-factor/reset", data={"csrf_token": token}
            )
            after = await admin.get(cleared.headers["location"])

    assert cleared.status_code == 303
    assert f"Cleared {user.name}&#39;s two-step sign-in" in after.text
    assert "Not set up:" in after.text
    async with db.reading() as session:
        stored = await session.get(User, user.id)
        codes_left = (
            await session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id))
        ).all()
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "user.second_factor_reset")
        )
    assert stored is not None
    assert not stored.has_second_factor
    assert codes_left == []
    assert entry is not None
    assert entry.actor_user_id == me.id
    assert entry.subject_id == str(user.id)
    # Signing in now takes the password alone.
    with clock.frozen_at(T0 + timedelta(minutes=5)):
        signed_in = await steps.password_step(http, user.email)
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] != "/login/code"
