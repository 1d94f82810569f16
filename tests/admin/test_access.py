"""Only admins reach the admin pages: the front desk gets 403 on every one of them, for
records that exist, and nothing changes."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx2
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette

from clinic.audit import AuditEntry
from clinic.db import Database
from clinic.scheduling.models import Closure, Room, Service, TimeOff
from clinic.staff.models import Credential, Therapist
from tests.admin.support import DESK_EMAIL, sign_in_demo, therapist_named
from tests.security.test_route_matrix import app_routes

pytestmark = pytest.mark.usefixtures("frozen")


async def changes_audited(db: Database) -> int:
    """Audit entries other than signing in and out."""
    async with db.reading() as session:
        count = await session.scalar(
            select(func.count()).where(AuditEntry.action.not_like("user.%"))
        )
    return count or 0


async def test_the_front_desk_is_refused_every_admin_page(
    seeded: Database, http: httpx2.AsyncClient, app: Starlette
) -> None:
    therapist = await therapist_named(seeded, "Jordan Kim")
    async with seeded.transaction() as session:
        credential = await session.scalar(
            select(Credential).where(Credential.therapist_id == therapist.id).limit(1)
        )
        assert credential is not None
        credential.verified_at = None
        entry = TimeOff(
            therapist_id=therapist.id,
            starts_at=datetime(2026, 12, 5, 5, tzinfo=UTC),
            ends_at=datetime(2026, 12, 6, 5, tzinfo=UTC),
            reason="Holiday",
        )
        session.add(entry)
        await session.flush()
        time_off_id, credential_id = entry.id, credential.id
        service_id = await session.scalar(select(Service.id).limit(1))
        room_id = await session.scalar(select(Room.id).limit(1))
        closure_id = await session.scalar(select(Closure.id).limit(1))
    audit_before = await changes_audited(seeded)
    await sign_in_demo(http, seeded, DESK_EMAIL)
    token_page = await http.get("/desk/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', token_page.text)
    assert token is not None
    ids = {
        "therapist_id": therapist.id,
        "time_off_id": time_off_id,
        "credential_id": credential_id,
        "user_id": therapist.user_id,
        "service_id": service_id,
        "room_id": room_id,
        "closure_id": closure_id,
    }
    routes = [e for e in app_routes(app) if e.path.startswith("/admin")]
    assert len(routes) >= 38
    assert None not in ids.values()
    for route in routes:
        url = re.sub(r"\{(\w+):id\}", lambda m: str(ids[m.group(1)]), route.path)
        if route.method == "GET":
            response = await http.get(url)
        else:
            response = await http.post(
                url,
                data={
                    "csrf_token": token.group(1),
                    "display_name": "Taken over",
                    "locations": "1",
                    "confirmed": "yes",
                },
            )
        assert response.status_code == 403, f"{route.method} {url}: {response.status_code}"
    async with seeded.reading() as session:
        still = await session.get(Therapist, therapist.id)
        unverified = await session.get(Credential, credential_id)
        kept = await session.get(TimeOff, time_off_id)
    assert still is not None
    assert still.active
    assert still.display_name == "Jordan Kim"
    assert unverified is not None
    assert unverified.verified_at is None
    assert kept is not None
    assert await changes_audited(seeded) == audit_before
