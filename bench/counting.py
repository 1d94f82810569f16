"""SQL statements per request, counted in-process: one call of an endpoint through
httpx2's ASGITransport with a before_cursor_execute listener on the app's engines.

Transaction control (BEGIN, COMMIT, SAVEPOINT...) is left out of the count: asyncpg
sends it outside the cursor, SQLite's BEGIN IMMEDIATE goes through it, so counting it
would make the same work look different on the two databases.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2
from sqlalchemy import event
from starlette.applications import Starlette

from clinic.app import create_app
from clinic.db import Database
from clinic.settings import Settings, normalise_database_url

CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


@dataclass
class Recorder:
    statements: list[str] = field(default_factory=list)

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not CONTROL.match(statement):
            self.statements.append(statement)


@dataclass
class Counted:
    status: int
    statements: list[str]

    @property
    def count(self) -> int:
        return len(self.statements)


def settings_for(database_url: str, secret_key: str, var_dir: str) -> Settings:
    # "test" keeps the app's per-request log lines out of the orchestrator's output.
    return Settings.from_env(
        {
            "CLINIC_DATABASE_URL": database_url,
            "CLINIC_ENV": "test",
            "CLINIC_SECRET_KEY": secret_key,
            "CLINIC_VAR_DIR": var_dir,
            "CLINIC_TIMEZONE": "America/New_York",
        }
    )


@asynccontextmanager
async def in_process(
    app: Starlette, db: Database
) -> AsyncIterator[tuple[httpx2.AsyncClient, Recorder]]:
    recorder = Recorder()
    engines = {db.write_engine.sync_engine, db.read_engine.sync_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", recorder)
    transport = httpx2.ASGITransport(app=app)
    try:
        async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            yield http, recorder
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", recorder)


async def count_app_request(
    settings: Settings,
    method: str,
    path: str,
    json_body: Any = None,
    *,
    warm_up: bool = True,
    headers: dict[str, str] | None = None,
) -> Counted:
    """Statements the clinic app runs for one request (after one uncounted warm-up call
    when `warm_up`: the first call may prime caches that a live server has warm).
    `headers` carry a staff session's cookie for the staff pages."""
    db = Database.connect(settings.database_url, pool_size=2)
    try:
        app = create_app(settings, db=db)
        async with in_process(app, db) as (http, recorder):
            if warm_up:
                await http.request(method, path, json=json_body, headers=headers)
            recorder.statements.clear()
            response = await http.request(method, path, json=json_body, headers=headers)
            return Counted(response.status_code, list(recorder.statements))
    finally:
        await db.dispose()


async def count_baseline_request(database_url: str, path: str) -> Counted:
    """Statements B_sql runs for one request."""
    from bench.baselines import availability_sql

    url = normalise_database_url(database_url, variable="database_url")
    db = Database.connect(url, pool_size=2)
    try:
        app = Starlette(routes=[_route("/sql", availability_sql)])
        app.state.db = db
        async with in_process(app, db) as (http, recorder):
            await http.get(path)
            recorder.statements.clear()
            response = await http.get(path)
            return Counted(response.status_code, list(recorder.statements))
    finally:
        await db.dispose()


def _route(path: str, endpoint: Any) -> Any:
    from starlette.routing import Route

    return Route(path, endpoint)
