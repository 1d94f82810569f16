"""The baselines served beside the app: B_json, a bare Starlette endpoint returning constant
JSON, and B_sql, a bare endpoint running exactly the availability statements (the app's own
load_availability_input with the same arguments) and returning a small JSON.

Served like the app: `uvicorn bench.baselines:create_app --factory --workers 2`, with the
database in BENCH_DATABASE_URL and the same pool size as the app.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from clinic.clock import now_utc
from clinic.db import Database
from clinic.scheduling.loading import load_availability_input
from clinic.settings import normalise_database_url

CONSTANT = {"status": "ok", "service": "bench", "items": [1, 2, 3]}


async def constant_json(request: Request) -> Response:
    return JSONResponse(CONSTANT)


async def availability_sql(request: Request) -> Response:
    """The availability endpoint's three statements and nothing else: no validation, no
    middleware, no slot engine. Takes the same query string as /api/v1/availability."""
    params = request.query_params
    therapist = params.get("therapist_id")
    db: Database = request.app.state.db
    async with db.reading() as session:
        loaded = await load_availability_input(
            session,
            service_id=int(params["service_id"]),
            first_day=date.fromisoformat(params["from"]),
            last_day=date.fromisoformat(params["to"]),
            now=now_utc(),
            therapist_id=int(therapist) if therapist else None,
        )
    if loaded is None:
        return JSONResponse({"found": False}, status_code=404)
    busy = sum(len(t.busy) for t in loaded.therapists)
    return JSONResponse({"found": True, "therapists": len(loaded.therapists), "busy": busy})


def create_app() -> Starlette:
    url = normalise_database_url(os.environ["BENCH_DATABASE_URL"], variable="BENCH_DATABASE_URL")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Database.connect's default pool, as `clinic serve` uses.
        app.state.db = Database.connect(url)
        try:
            yield
        finally:
            await app.state.db.dispose()

    routes = [Route("/json", constant_json), Route("/sql", availability_sql)]
    return Starlette(routes=routes, lifespan=lifespan)
