"""Ids in paths and query strings fit PostgreSQL's integer: a number too long to be an id
is a 404 or a 422, never a database error."""

from __future__ import annotations

from typing import Any

import httpx2

from clinic.auth.models import Role
from clinic.db import Database
from clinic.web.ids import parse_id
from tests import factories

TOO_LONG = "99999999999"


def test_parse_id_takes_only_ids() -> None:
    assert parse_id("42") == 42
    assert parse_id("999999999") == 999_999_999
    assert parse_id(TOO_LONG) is None
    assert parse_id("0") is None
    assert parse_id("-1") is None
    assert parse_id("") is None


async def test_a_path_id_too_long_matches_no_route(db: Database, new_client: Any) -> None:
    async with new_client() as desk:
        await factories.sign_in_as(desk, db, Role.FRONTDESK)
        response = await desk.get(f"/desk/appointments/{TOO_LONG}/clearance")
    assert response.status_code == 404


async def test_a_query_id_too_long_is_a_422(http: httpx2.AsyncClient) -> None:
    response = await http.get(
        "/api/v1/availability",
        params={"service_id": TOO_LONG, "from": "2026-12-01", "to": "2026-12-01"},
    )
    assert response.status_code == 422
    assert "service_id" in response.json()["errors"]
