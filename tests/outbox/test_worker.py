"""Workers on real databases of their own, committing across connections: two workers
never claim the same message, periodic rows stay single under concurrent start-ups, the
app's lifespan runs a worker, and `clinic worker --once` runs one pass."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, insert, select

from clinic import app as app_module
from clinic import migrations
from clinic.app import create_app
from clinic.cli import main
from clinic.clock import frozen_at, now_utc
from clinic.db import Database
from clinic.outbox.models import OutboxMessage, OutboxStatus
from clinic.outbox.registry import HandlerContext, Registry
from clinic.settings import Environment, Settings, normalise_database_url
from clinic.worker import Worker
from tests.conftest import (
    POSTGRES_URL,
    TEST_SECRET_KEY,
    create_postgres_database,
    drop_postgres_database,
)
from tests.outbox import T0, add_message, load, make_worker, open_rows


@pytest.fixture(scope="module")
async def fresh_urls(
    tmp_path_factory: pytest.TempPathFactory, run_id: str
) -> AsyncIterator[dict[str, str]]:
    """Plain URLs of migrated databases owned by this module: real commits, many
    connections."""
    urls = {"sqlite": f"sqlite:///{tmp_path_factory.mktemp('outbox') / 'outbox.db'}"}
    name = f"clinic_outbox_{run_id}"
    if POSTGRES_URL is not None:
        urls["postgresql"] = await create_postgres_database(POSTGRES_URL, name)
    for url in urls.values():  # one at a time: Alembic's context is process-global
        await asyncio.to_thread(migrations.upgrade, url)
    yield urls
    if POSTGRES_URL is not None:
        await drop_postgres_database(POSTGRES_URL, name)


@pytest.fixture(params=["sqlite", "postgresql"])
async def fresh(request: pytest.FixtureRequest, fresh_urls: dict[str, str]) -> str:
    """The async URL of one fresh database, its outbox emptied."""
    if request.param not in fresh_urls:
        pytest.skip("PostgreSQL is not available")
    url = normalise_database_url(fresh_urls[request.param], variable="url")
    db = Database.connect(url, pool_size=1)
    try:
        async with db.transaction() as session:
            await session.execute(delete(OutboxMessage))
    finally:
        await db.dispose()
    return url


@pytest.fixture
async def databases(fresh: str) -> AsyncIterator[list[Database]]:
    """Two Database objects, as two processes would have."""
    made = [Database.connect(fresh, pool_size=3) for _ in range(2)]
    yield made
    for db in made:
        await db.dispose()


def _settings(url: str, var_dir: Path) -> Settings:
    return Settings(
        database_url=url,
        secret_key=TEST_SECRET_KEY,
        environment=Environment.TEST,
        timezone="America/New_York",
        currency="usd",
        base_url="https://testserver",
        var_dir=var_dir,
    )


async def test_two_workers_never_claim_the_same_message(
    databases: list[Database], tmp_path: Path
) -> None:
    handled: list[tuple[str, int]] = []
    registry = Registry()

    @registry.handles("test.count")
    async def record(ctx: HandlerContext, message: OutboxMessage) -> None:
        handled.append((message.lease_owner or "", message.id))
        await asyncio.sleep(0)

    async with databases[0].transaction() as session:
        now = now_utc() - timedelta(minutes=1)
        rows = [
            {
                "kind": "test.count",
                "payload": {"n": n},
                "status": OutboxStatus.PENDING,
                "due_at": now,
                "attempts": 0,
                "last_error": "",
                "created_at": now,
            }
            for n in range(200)
        ]
        await session.execute(insert(OutboxMessage), rows)

    settings = _settings(databases[0].write_engine.url.render_as_string(False), tmp_path)
    workers = [
        make_worker(db, settings, registry, f"worker-{n}", batch=7)
        for n, db in enumerate(databases)
    ]

    async def drain(worker: Worker) -> None:
        while await worker.run_once():
            pass

    await asyncio.gather(*(drain(w) for w in workers))

    ids = Counter(message_id for _, message_id in handled)
    assert len(ids) == 200
    assert set(ids.values()) == {1}
    by_worker = Counter(owner for owner, _ in handled)
    assert set(by_worker) == {"worker-0", "worker-1"}, by_worker
    async with databases[1].reading() as session:
        statuses = Counter((await session.scalars(select(OutboxMessage.status))).all())
        attempts = set((await session.scalars(select(OutboxMessage.attempts))).all())
    assert statuses == {OutboxStatus.DONE: 200}
    assert attempts == {1}


async def test_periodic_jobs_stay_single_and_run_once_per_period_across_processes(
    databases: list[Database], tmp_path: Path
) -> None:
    every = timedelta(minutes=1)
    runs: list[str] = []
    registry = Registry()

    @registry.periodic("test.expire", every=every)
    async def expire(ctx: HandlerContext) -> int:
        runs.append("ran")
        await asyncio.sleep(0.01)
        return 1

    settings = _settings(databases[0].write_engine.url.render_as_string(False), tmp_path)
    workers = [
        make_worker(db, settings, registry, f"worker-{n}-{m}")
        for n, db in enumerate(databases)
        for m in range(2)
    ]
    with frozen_at(T0):
        added = await asyncio.gather(*(w.ensure_periodic() for w in workers))
        assert sum(added) == 1
        assert len(await open_rows(databases[0], "periodic.test.expire")) == 1
        await asyncio.gather(*(w.run_once() for w in workers))
    assert len(runs) == 1
    for period in (1, 2):
        with frozen_at(T0 + period * every):
            await asyncio.gather(*(w.ensure_periodic() for w in workers))
            await asyncio.gather(*(w.run_once() for w in workers))
            await asyncio.gather(*(w.run_once() for w in workers))
        assert len(runs) == 1 + period
        [row] = await open_rows(databases[1], "periodic.test.expire")
        assert (row.status, row.due_at) == (OutboxStatus.PENDING, T0 + (period + 1) * every)


@pytest.fixture
def sqlite_url(fresh_urls: dict[str, str]) -> str:
    return normalise_database_url(fresh_urls["sqlite"], variable="url")


async def test_the_app_runs_a_worker_only_when_it_owns_its_database(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database.connect(sqlite_url, pool_size=1)
    try:
        async with db.transaction() as session:
            await session.execute(delete(OutboxMessage))
        message_id = await add_message(db, "test.no_such_handler")
        settings = _settings(sqlite_url, tmp_path)

        lent = create_app(settings, db=db)
        built: list[str] = []
        monkeypatch.setattr(app_module, "build_worker", lambda *a, **k: built.append("worker"))
        async with lent.router.lifespan_context(lent):
            pass
        assert built == []
        monkeypatch.undo()

        owned = create_app(settings)
        async with owned.router.lifespan_context(owned):
            for _ in range(100):
                async with db.reading() as session:
                    status = await session.scalar(
                        select(OutboxMessage.status).where(OutboxMessage.id == message_id)
                    )
                if status is OutboxStatus.DEAD:
                    break
                await asyncio.sleep(0.05)
        assert status is OutboxStatus.DEAD  # an unknown kind, handled by the app's worker
    finally:
        await db.dispose()


def test_clinic_worker_once_runs_one_pass(tmp_path: Path) -> None:
    env = {
        "CLINIC_VAR_DIR": str(tmp_path),
        "CLINIC_DATABASE_URL": f"sqlite:///{tmp_path / 'worker.db'}",
        "CLINIC_ENV": "test",
    }
    runner = CliRunner()
    assert runner.invoke(main, ["migrate"], env=env, catch_exceptions=False).exit_code == 0

    url = normalise_database_url(env["CLINIC_DATABASE_URL"], variable="url")

    async def add() -> int:
        db = Database.connect(url, pool_size=1)
        try:
            return await add_message(db, "test.no_such_handler")
        finally:
            await db.dispose()

    async def status_of(message_id: int) -> tuple[OutboxStatus, str | None]:
        db = Database.connect(url, pool_size=1)
        try:
            message = await load(db, message_id)
        finally:
            await db.dispose()
        return message.status, message.lease_owner

    message_id = asyncio.run(add())
    result = runner.invoke(
        main, ["worker", "--once", "--name", "cli-test"], env=env, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    # The message above, plus the first run of each periodic job of JOB_MODULES.
    handled = re.search(r"^Handled (\d+) outbox messages?\.$", result.output, re.MULTILINE)
    assert handled is not None, result.output
    assert int(handled[1]) >= 1
    assert asyncio.run(status_of(message_id)) == (OutboxStatus.DEAD, "cli-test")

    result = runner.invoke(main, ["worker", "--once"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Handled 0 outbox messages." in result.output
