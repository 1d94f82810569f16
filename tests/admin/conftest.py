"""The demo clinic at a fixed moment (Friday 27 November 2026, 8am in Philadelphia), and a
second, cookieless client for the public API (which refuses staff session cookies)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx2
import pytest

from tests.booking.conftest import frozen, seeded

__all__ = ["api", "frozen", "seeded"]


@pytest.fixture
async def api(new_client: Callable[[], httpx2.AsyncClient]) -> AsyncIterator[httpx2.AsyncClient]:
    async with new_client() as client:
        yield client
