"""Wrong passwords posted in parallel against the live server: the back-off counts each
attempt before its password is hashed, so a burst cannot buy more guesses than the free
ones, and a busy database answers 429 or 503, never a 500 (reliability.md, sign-in)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import httpx2
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from clinic.audit import AuditEntry
from clinic.auth import throttle
from clinic.auth.models import User
from clinic.demo import DEMO_LOGINS
from tests.factories import CSRF_FIELD
from tests.live.conftest import LiveServer

BURST = 40


@pytest.fixture(scope="module")
async def live_db(live_server: LiveServer) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(live_server.async_database_url, poolclass=NullPool)
    yield engine
    await engine.dispose()


async def _burst(base_url: str, email: str, password: str) -> Counter[int]:
    limits = httpx2.Limits(max_connections=BURST + 5, max_keepalive_connections=BURST + 5)
    async with httpx2.AsyncClient(base_url=base_url, limits=limits, timeout=60.0) as http:
        form = await http.get("/login")
        match = CSRF_FIELD.search(form.text)
        assert match is not None
        cookie = form.cookies["clinic_csrf"]
        barrier = asyncio.Barrier(BURST)

        async def one() -> int:
            await barrier.wait()
            response = await http.post(
                "/login",
                data={"email": email, "password": password, "csrf_token": match.group(1)},
                headers={"Cookie": f"clinic_csrf={cookie}"},
            )
            return response.status_code

        return Counter(await asyncio.gather(*(one() for _ in range(BURST))))


async def test_a_parallel_burst_gets_only_the_free_guesses(
    live_server: LiveServer, live_db: AsyncEngine
) -> None:
    email = next(login.email for login in DEMO_LOGINS if "frontdesk" in login.email)
    statuses = await _burst(live_server.base_url, email, "not the password at all")

    assert not [s for s in statuses if s >= 500], (
        f"5xx answers {dict(statuses)}; the server log ends with:\n{live_server.log_tail()}"
    )
    async with live_db.connect() as connection:
        user_id = await connection.scalar(select(User.id).where(User.email == email))
        hashed = await connection.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.action == "user.sign_in_failed",
                AuditEntry.subject_id == str(user_id),
            )
        )
    # Every failure that was hashed is audited; the rest were refused unhashed.
    assert hashed == throttle.ACCOUNT.free_failures
    assert statuses[429] == BURST - throttle.ACCOUNT.free_failures
    assert "Traceback" not in live_server.log_text()
