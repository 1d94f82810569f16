"""The demo clinic at its frozen moment, and the demo therapists signed in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import httpx2
import pytest
from sqlalchemy import select

from clinic import clock, demo
from clinic.db import Database
from clinic.staff.models import Therapist
from tests import factories
from tests.demo_snapshot import seed_demo

ZONE = ZoneInfo("America/New_York")
TODAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)  # 8am in Philadelphia


@pytest.fixture
def frozen() -> Iterator[None]:
    with clock.frozen_at(NOW):
        yield


@pytest.fixture
async def seeded(db: Database, frozen: None) -> Database:
    await seed_demo(db, timezone="America/New_York", currency="usd", today=TODAY)
    return db


async def demo_therapist(db: Database, name: str) -> Therapist:
    async with db.reading() as session:
        therapist = await session.scalar(select(Therapist).where(Therapist.display_name == name))
    assert therapist is not None
    assert therapist.user_id is not None
    return therapist


async def sign_in_therapist(http: httpx2.AsyncClient, db: Database, name: str) -> Therapist:
    therapist = await demo_therapist(db, name)
    assert therapist.user_id is not None
    await factories.sign_in_existing(http, db, therapist.user_id)
    return therapist


@pytest.fixture
async def jordan(seeded: Database, http: httpx2.AsyncClient) -> Therapist:
    """Jordan Kim (demo.PLAIN_THERAPIST), signed in on `http`."""
    return await sign_in_therapist(http, seeded, demo.PLAIN_THERAPIST)
