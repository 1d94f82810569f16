"""Test databases and the in-process app.

Every database test runs on a SQLite file and, when one answers, on PostgreSQL. Both are
built by `alembic upgrade head`, never create_all. In-process tests run inside an outer
transaction that is rolled back; code under test commits through savepoints.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx2
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from clinic import migrations
from clinic.app import create_app
from clinic.db import Database, make_engine
from clinic.settings import Environment, Settings, normalise_database_url

LOCAL_POSTGRES = "postgresql://clinic:clinic-test-password@127.0.0.1:5432/clinic_test"
REQUIRE_POSTGRES = os.environ.get("CLINIC_REQUIRE_POSTGRES") == "1"
TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"


def _postgres_url() -> str | None:
    """The admin URL for PostgreSQL tests, or None when no server answers."""
    url = os.environ.get("CLINIC_TEST_DATABASE_URL") or LOCAL_POSTGRES

    async def answers() -> bool:
        try:
            connection = await asyncpg.connect(url, timeout=3)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        await connection.close()
        return True

    return url if asyncio.run(answers()) else None


POSTGRES_URL = _postgres_url()
if REQUIRE_POSTGRES and POSTGRES_URL is None:
    raise pytest.UsageError(
        "CLINIC_REQUIRE_POSTGRES=1 but PostgreSQL does not answer at "
        f"{os.environ.get('CLINIC_TEST_DATABASE_URL') or LOCAL_POSTGRES} (run `make pg`)"
    )
BACKENDS = ["sqlite", "postgresql"]


def pytest_report_header() -> list[str]:
    if POSTGRES_URL:
        return ["databases: SQLite file and PostgreSQL"]
    return [
        "!!!!!!!! PostgreSQL NOT AVAILABLE: database tests run on SQLite only (make pg) !!!!!!!!"
    ]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if POSTGRES_URL is None:
        terminalreporter.write_line(
            "!!!!!!!! PostgreSQL was NOT tested: start it with `make pg` and run again !!!!!!!!",
            red=True,
            bold=True,
        )


async def create_postgres_database(
    admin_url: str, name: str, *, template: str | None = None
) -> str:
    """Create (or recreate) database `name` on the server of `admin_url`; return its URL."""
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        clause = f' TEMPLATE "{template}"' if template else ""
        await connection.execute(f'CREATE DATABASE "{name}"{clause}')
    finally:
        await connection.close()
    return admin_url.rsplit("/", 1)[0] + "/" + name


async def drop_postgres_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@dataclass(frozen=True)
class Backend:
    name: str
    url: str  # plain URL (sqlite:/// or postgresql://), as an operator would write it

    @property
    def async_url(self) -> str:
        return normalise_database_url(self.url, variable="url")


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
async def migrated_backends(
    tmp_path_factory: pytest.TempPathFactory, run_id: str
) -> AsyncIterator[dict[str, Backend]]:
    """One migrated database per backend for the whole run."""
    sqlite_file = tmp_path_factory.mktemp("db") / "clinic.db"
    backends = {"sqlite": Backend("sqlite", f"sqlite:///{sqlite_file}")}
    pg_name = f"clinic_test_{run_id}"
    if POSTGRES_URL:
        url = await create_postgres_database(POSTGRES_URL, pg_name)
        backends["postgresql"] = Backend("postgresql", url)
    for backend in backends.values():
        await asyncio.to_thread(migrations.upgrade, backend.url)
    yield backends
    if POSTGRES_URL:
        await drop_postgres_database(POSTGRES_URL, pg_name)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, migrated_backends: dict[str, Backend]) -> Backend:
    name = request.param
    if name not in migrated_backends:
        pytest.skip("PostgreSQL is not available")
    return migrated_backends[name]


@pytest.fixture(scope="session")
async def engines(migrated_backends: dict[str, Backend]) -> AsyncIterator[dict[str, AsyncEngine]]:
    made = {
        name: make_engine(b.async_url, write=True, pool_size=2)
        for name, b in migrated_backends.items()
    }
    yield made
    for engine in made.values():
        await engine.dispose()


@pytest.fixture
async def db(backend: Backend, engines: dict[str, AsyncEngine]) -> AsyncIterator[Database]:
    """A Database whose every transaction is rolled back at the end of the test."""
    async with engines[backend.name].connect() as connection:
        outer = await connection.begin()
        try:
            yield Database.bound_to(connection)
        finally:
            await outer.rollback()


@pytest.fixture
def settings(backend: Backend, tmp_path: Path) -> Settings:
    return Settings(
        database_url=backend.async_url,
        secret_key=TEST_SECRET_KEY,
        environment=Environment.TEST,
        timezone="America/New_York",
        currency="usd",
        base_url="https://testserver",
        var_dir=tmp_path,
    )


@pytest.fixture
def app(settings: Settings, db: Database) -> Starlette:
    return create_app(settings, db=db)


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx2.AsyncClient]:
    """HTTP into the in-process app, over https so that secure-cookie paths run."""
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="https://testserver") as client:
        yield client


@pytest.fixture
def new_client(app: Starlette) -> Callable[[], httpx2.AsyncClient]:
    """Another browser on the same app (its own cookies): `async with new_client() as c`."""

    def make() -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="https://testserver"
        )

    return make
