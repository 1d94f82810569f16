"""Live servers: the real app under uvicorn, in a subprocess on 127.0.0.1, for tests that
need real concurrency (storms). Each test module gets a fresh database seeded with the demo
clinic for today: on PostgreSQL `CREATE DATABASE ... TEMPLATE` of one migrated once per run,
on SQLite a copy of a migrated file. A frozen clock cannot reach the server process.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from clinic import demo, migrations
from clinic.db import Database
from clinic.settings import PROJECT_ROOT, normalise_database_url
from tests.conftest import (
    BACKENDS,
    POSTGRES_URL,
    TEST_SECRET_KEY,
    create_postgres_database,
    drop_postgres_database,
)
from tests.servers import copy_sqlite, free_port, stop, wait_until_healthy

TIMEZONE = "America/New_York"
CURRENCY = "usd"
TAIL_LINES = 30
# A JSON log line carries a whole traceback; its end names the exception.
TAIL_LINE_CHARS = 1500


@dataclass(frozen=True)
class LiveServer:
    backend: str
    base_url: str
    # Plain URL (sqlite:/// or postgresql://) of the database the server uses.
    database_url: str
    # The server's stdout and stderr.
    log_path: Path

    @property
    def async_database_url(self) -> str:
        return normalise_database_url(self.database_url, variable="database_url")

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, lines: int = TAIL_LINES) -> str:
        return "\n".join(_shortened(line) for line in self.log_text().splitlines()[-lines:])


def _shortened(line: str) -> str:
    if len(line) <= TAIL_LINE_CHARS:
        return line
    keep = TAIL_LINE_CHARS // 4
    return f"{line[:keep]} [...] {line[-(TAIL_LINE_CHARS - keep) :]}"


class Templates:
    """Migrated databases to copy, built once per run on first use."""

    def __init__(self, directory: Path, run_id: str) -> None:
        self._directory = directory
        self._postgres_name = f"clinic_tmpl_{run_id}"
        self._sqlite: Path | None = None
        self._postgres: str | None = None
        self._lock = asyncio.Lock()

    async def sqlite_file(self) -> Path:
        async with self._lock:
            if self._sqlite is None:
                path = self._directory / "template.db"
                await asyncio.to_thread(migrations.upgrade, f"sqlite:///{path}")
                self._sqlite = path
            return self._sqlite

    async def postgres_database(self) -> str:
        """The template's name. Nothing stays connected to it (migrations use a NullPool),
        as CREATE DATABASE ... TEMPLATE requires."""
        assert POSTGRES_URL is not None
        async with self._lock:
            if self._postgres is None:
                url = await create_postgres_database(POSTGRES_URL, self._postgres_name)
                await asyncio.to_thread(migrations.upgrade, url)
                self._postgres = self._postgres_name
            return self._postgres

    async def close(self) -> None:
        if self._postgres is not None and POSTGRES_URL is not None:
            await drop_postgres_database(POSTGRES_URL, self._postgres)


@pytest.fixture(scope="session")
async def live_templates(
    tmp_path_factory: pytest.TempPathFactory, run_id: str
) -> AsyncIterator[Templates]:
    templates = Templates(tmp_path_factory.mktemp("live-templates"), run_id)
    try:
        yield templates
    finally:
        await templates.close()


def _open_log(path: Path) -> IO[bytes]:
    return path.open("wb")


def _server_env(database_url: str, base_url: str, var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    env.update(
        CLINIC_DATABASE_URL=database_url,
        CLINIC_ENV="test",
        CLINIC_SECRET_KEY=TEST_SECRET_KEY,
        CLINIC_VAR_DIR=str(var_dir),
        CLINIC_BASE_URL=base_url,
        CLINIC_TIMEZONE=TIMEZONE,
        CLINIC_CURRENCY=CURRENCY,
        PYTHONUNBUFFERED="1",
    )
    return env


async def _fresh_database(backend: str, templates: Templates, directory: Path) -> str:
    """A new migrated database for one module; its plain URL."""
    if backend == "sqlite":
        path = directory / "clinic.db"
        await asyncio.to_thread(copy_sqlite, await templates.sqlite_file(), path)
        return f"sqlite:///{path}"
    assert POSTGRES_URL is not None
    template = await templates.postgres_database()
    name = f"clinic_live_{uuid.uuid4().hex[:12]}"
    return await create_postgres_database(POSTGRES_URL, name, template=template)


async def _seed(database_url: str) -> None:
    db = Database.connect(normalise_database_url(database_url, variable="database_url"))
    try:
        await demo.seed_demo(db, timezone=TIMEZONE, currency=CURRENCY)
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def live_env() -> dict[str, str]:
    """More environment for the module's server (a module overrides this fixture)."""
    return {}


@pytest.fixture(scope="module", params=BACKENDS)
async def live_server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    live_templates: Templates,
    live_env: dict[str, str],
) -> AsyncIterator[LiveServer]:
    """The app served by uvicorn in a subprocess over a fresh, seeded database."""
    backend: str = request.param
    if backend == "postgresql" and POSTGRES_URL is None:
        pytest.skip("PostgreSQL is not available")
    directory = tmp_path_factory.mktemp(f"live-{backend}")
    database_url = await _fresh_database(backend, live_templates, directory)
    process: asyncio.subprocess.Process | None = None
    try:
        await _seed(database_url)
        port = free_port()
        server = LiveServer(
            backend=backend,
            base_url=f"http://127.0.0.1:{port}",
            database_url=database_url,
            log_path=directory / "server.log",
        )
        log = _open_log(server.log_path)
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "uvicorn",
                "clinic.app:create_app_from_env",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
                cwd=PROJECT_ROOT,
                env=_server_env(database_url, server.base_url, directory / "var") | live_env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        finally:
            log.close()
        try:
            await wait_until_healthy(server.base_url, process)
        except RuntimeError as error:
            raise RuntimeError(
                f"{error}; the server's log ends with:\n{server.log_tail()}"
            ) from None
        yield server
    finally:
        if process is not None:
            await stop(process)
        if backend == "postgresql" and POSTGRES_URL is not None:
            await drop_postgres_database(POSTGRES_URL, database_url.rsplit("/", 1)[1])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing live test shows the end of the server's log."""
    report = yield
    if report.failed and report.when == "call":
        server = getattr(item, "funcargs", {}).get("live_server")
        if isinstance(server, LiveServer):
            report.sections.append(
                (f"live server log ({server.backend}, last {TAIL_LINES} lines)", server.log_tail())
            )
    return report
