"""A seeded demo clinic at a fixed moment, for booking tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import httpx2
import pytest
from sqlalchemy import select

from clinic import clock
from clinic.db import Database
from clinic.scheduling.models import Service
from tests.demo_snapshot import seed_demo

TODAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)


@pytest.fixture
def frozen() -> Iterator[None]:
    with clock.frozen_at(NOW):
        yield


@pytest.fixture
async def seeded(db: Database) -> Database:
    await seed_demo(db, timezone="America/New_York", currency="usd", today=TODAY)
    return db


async def service_id(db: Database, name: str = "Swedish massage, 60 min") -> int:
    async with db.reading() as session:
        found = await session.scalar(select(Service.id).where(Service.name == name))
    assert found is not None
    return found


async def free_slots(
    http: httpx2.AsyncClient, service: int, day: str = "2026-12-01", **params: Any
) -> list[dict[str, Any]]:
    response = await http.get(
        "/api/v1/availability", params={"service_id": service, "from": day, "to": day, **params}
    )
    assert response.status_code == 200, response.text
    slots: list[dict[str, Any]] = response.json()["slots"]
    return slots


CLIENT = {"name": "Ruth Example", "email": "ruth.example@example.com", "phone": "(215) 555-0142"}
