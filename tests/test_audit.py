"""The audit trail is hash-chained in commit order by a sealer, and both tables are
append-only (HIPAA §164.312(b); reliability.md section 4).

Tampering tests act as an attacker with database access would: they switch the
append-only triggers off first (inside the test's rolled-back transaction), then change
rows, and expect verify_chain to name the first break. Alembic's drift check cannot see
triggers, so this file also looks for them directly.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit, migrations
from clinic.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditSeal,
    ChainReport,
    entry_digest,
    record,
    seal_all,
    seal_pending,
    seal_periodically,
    verify_chain,
)
from clinic.cli import main
from clinic.db import Database
from clinic.settings import normalise_database_url
from tests import factories
from tests.conftest import POSTGRES_URL, create_postgres_database, drop_postgres_database

AUDIT_TABLES = ("audit_entry", "audit_seal")


async def _write_entries(db: Database, *, transactions: int = 3, per: int = 2) -> list[int]:
    """Commit `transactions` transactions of `per` entries each; return the entry ids."""
    ids: list[int] = []
    for t in range(transactions):
        async with db.transaction() as session:
            entries = [
                record(
                    session,
                    "client.viewed",
                    actor_label="test",
                    subject_type="client",
                    subject_id=t * 100 + i,
                    details={"fields": ["phone", "email"], "screen": "Zoë's café ✓"},
                )
                for i in range(per)
            ]
            await session.flush()
            ids.extend(entry.id for entry in entries)
    return ids


async def _seq_of(db: Database, entry_id: int) -> int:
    async with db.reading() as session:
        seq = await session.scalar(select(AuditSeal.seq).where(AuditSeal.entry_id == entry_id))
    assert seq is not None
    return seq


async def _entry_count(db: Database) -> int:
    async with db.reading() as session:
        return await session.scalar(select(func.count()).select_from(AuditEntry)) or 0


async def _disable_guard(db: Database, session: AsyncSession, table: str, event: str) -> None:
    """Switch off the append-only trigger, as someone with the table owner's rights could.

    Both statements are transactional, so the test's rollback restores the guard.
    """
    if db.dialect == "postgresql":
        await session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))
    else:
        await session.execute(text(f"DROP TRIGGER {table}_no_{event}"))


async def _sealed_trail(db: Database) -> list[int]:
    ids = await _write_entries(db, transactions=4, per=2)
    await seal_all(db)
    report = await verify_chain(db)
    assert report.ok, report.problem
    return ids


# The digest


def _entry(**overrides: Any) -> AuditEntry:
    values: dict[str, Any] = {
        "id": 7,
        "occurred_at": datetime(2026, 3, 8, 7, 30, 0, 123456, tzinfo=UTC),
        "actor_user_id": 3,
        "actor_label": "",
        "action": "client.viewed",
        "subject_type": "client",
        "subject_id": "42",
        "details": {"fields": ["phone"], "b": 1, "a": "é"},
    }
    values.update(overrides)
    return AuditEntry(**values)


def test_the_digest_covers_every_column_and_the_previous_hash() -> None:
    base = entry_digest(_entry(), GENESIS_HASH)
    assert len(base) == 64
    assert int(base, 16) >= 0
    assert entry_digest(_entry(), GENESIS_HASH) == base
    changed: list[dict[str, Any]] = [
        {"id": 8},
        {"occurred_at": datetime(2026, 3, 8, 7, 30, 0, 123457, tzinfo=UTC)},
        {"actor_user_id": None},
        {"actor_label": "cli"},
        {"action": "client.updated"},
        {"subject_type": "appointment"},
        {"subject_id": "43"},
        {"details": {"fields": ["phone", "email"], "b": 1, "a": "é"}},
    ]
    for overrides in changed:
        assert entry_digest(_entry(**overrides), GENESIS_HASH) != base, overrides
    assert entry_digest(_entry(), "1" * 64) != base


def test_the_digest_is_canonical_for_key_order_and_time_zone() -> None:
    from zoneinfo import ZoneInfo

    same_instant = datetime(2026, 3, 8, 2, 30, 0, 123456, tzinfo=ZoneInfo("America/New_York"))
    reordered = _entry(details={"a": "é", "fields": ["phone"], "b": 1}, occurred_at=same_instant)
    assert entry_digest(reordered, GENESIS_HASH) == entry_digest(_entry(), GENESIS_HASH)


# Sealing and verifying


async def test_entries_from_several_transactions_are_sealed_and_the_chain_verifies(
    db: Database,
) -> None:
    async with db.transaction() as session:
        user = await factories.create_user(session)
        record(session, "user.signed_in", actor_user_id=user.id, subject_type="user")
    ids = await _write_entries(db, transactions=3, per=3)
    total = await _entry_count(db)

    waiting = await verify_chain(db)
    assert waiting.ok
    assert waiting.unsealed == total

    assert await seal_all(db) == total
    report = await verify_chain(db)
    assert report == ChainReport(ok=True, sealed=total, unsealed=0, problem=None)

    async with db.reading() as session:
        seals = (await session.execute(select(AuditSeal).order_by(AuditSeal.seq))).scalars().all()
    assert [s.seq for s in seals] == list(range(1, total + 1))
    assert seals[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(seals):
        assert after.prev_hash == before.entry_hash
    # Committed one after another, so chain order is id order here.
    assert [s.entry_id for s in seals][-len(ids) :] == ids

    assert await seal_all(db) == 0
    assert await seal_pending(db) == 0
    assert await verify_chain(db) == report


async def test_sealing_in_small_batches_continues_the_chain_and_logs_the_head(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await _write_entries(db, transactions=2, per=4)
    total = await _entry_count(db)
    with caplog.at_level(logging.INFO, logger="clinic.audit"):
        assert await seal_pending(db, batch=3) == 3
    async with db.reading() as session:
        head = (
            await session.execute(
                select(AuditSeal.seq, AuditSeal.entry_hash).order_by(AuditSeal.seq.desc())
            )
        ).first()
    assert head is not None
    assert f"Sealed 3 audit entries; chain head seq {head.seq}, hash {head.entry_hash}" in [
        r.getMessage() for r in caplog.records
    ]
    assert (await verify_chain(db)).unsealed == total - 3
    assert await seal_all(db, batch=3) == total - 3
    # Pages of two seals walk the same chain as one page.
    assert await verify_chain(db, batch=2) == await verify_chain(db)
    assert (await verify_chain(db, batch=2)).sealed == total


async def test_new_entries_wait_unsealed_without_breaking_the_chain(db: Database) -> None:
    await _sealed_trail(db)
    sealed = (await verify_chain(db)).sealed
    await _write_entries(db, transactions=1, per=2)
    report = await verify_chain(db)
    assert report == ChainReport(ok=True, sealed=sealed, unsealed=2, problem=None)


# Tampering


async def test_an_entry_changed_after_sealing_is_detected(db: Database) -> None:
    ids = await _sealed_trail(db)
    target = ids[3]
    seq = await _seq_of(db, target)
    async with db.transaction() as session:
        await _disable_guard(db, session, "audit_entry", "update")
        await session.execute(
            update(AuditEntry)
            .where(AuditEntry.id == target)
            .values(details={"fields": ["diagnosis"], "screen": "intake"})
        )

    report = await verify_chain(db)
    assert not report.ok
    assert report.problem == (
        f"Entry {target} (seq {seq}) does not match its seal: it was changed after sealing."
    )
    assert report.sealed == seq - 1


async def test_an_entry_changed_with_its_seal_rehashed_breaks_the_next_link(
    db: Database,
) -> None:
    ids = await _sealed_trail(db)
    target = ids[2]
    seq = await _seq_of(db, target)
    async with db.transaction() as session:
        await _disable_guard(db, session, "audit_entry", "update")
        await _disable_guard(db, session, "audit_seal", "update")
        await session.execute(
            update(AuditEntry).where(AuditEntry.id == target).values(action="client.forgotten")
        )
        entry = await session.get_one(AuditEntry, target, populate_existing=True)
        seal = await session.get_one(AuditSeal, target)
        await session.execute(
            update(AuditSeal)
            .where(AuditSeal.entry_id == target)
            .values(entry_hash=entry_digest(entry, seal.prev_hash))
        )
        next_entry = await session.scalar(
            select(AuditSeal.entry_id).where(AuditSeal.seq == seq + 1)
        )

    report = await verify_chain(db)
    assert not report.ok
    assert report.problem is not None
    assert report.problem.startswith(
        f"Seal seq {seq + 1} (entry {next_entry}) does not follow seq {seq}:"
    )


async def test_a_deleted_entry_and_its_seal_leave_a_gap(db: Database) -> None:
    ids = await _sealed_trail(db)
    target = ids[4]
    seq = await _seq_of(db, target)
    async with db.transaction() as session:
        for table in AUDIT_TABLES:
            await _disable_guard(db, session, table, "delete")
        await session.execute(delete(AuditSeal).where(AuditSeal.entry_id == target))
        await session.execute(delete(AuditEntry).where(AuditEntry.id == target))

    report = await verify_chain(db)
    assert not report.ok
    assert report.problem is not None
    assert report.problem.startswith(
        f"Seal seq {seq} is missing: the chain jumps from seq {seq - 1} to seq {seq + 1}"
    )


async def test_a_deleted_entry_whose_seal_remains_is_detected(db: Database) -> None:
    ids = await _sealed_trail(db)
    target = ids[1]
    seq = await _seq_of(db, target)
    async with db.transaction() as session:
        await _disable_guard(db, session, "audit_entry", "delete")
        # The seal's foreign key would refuse too; the attacker gets past it as well.
        if db.dialect == "postgresql":
            await session.execute(
                text("ALTER TABLE audit_seal DROP CONSTRAINT fk_audit_seal_entry_id_audit_entry")
            )
        else:
            await session.execute(text("PRAGMA defer_foreign_keys = ON"))
        await session.execute(delete(AuditEntry).where(AuditEntry.id == target))

    report = await verify_chain(db)
    assert not report.ok
    assert report.problem == (
        f"Entry {target} (seq {seq}) is missing: it was deleted after sealing."
    )


async def test_a_deleted_seal_in_the_middle_leaves_a_gap_that_resealing_cannot_hide(
    db: Database,
) -> None:
    ids = await _sealed_trail(db)
    target = ids[3]
    seq = await _seq_of(db, target)
    async with db.transaction() as session:
        await _disable_guard(db, session, "audit_seal", "delete")
        await session.execute(delete(AuditSeal).where(AuditSeal.entry_id == target))

    report = await verify_chain(db)
    assert not report.ok
    assert report.problem is not None
    assert f"Seal seq {seq} is missing" in report.problem
    assert report.unsealed == 1

    assert await seal_all(db) == 1  # the entry is chained again, at the end
    report = await verify_chain(db)
    assert not report.ok
    assert report.problem is not None
    assert f"Seal seq {seq} is missing" in report.problem


# The append-only guards

CHANGES = [
    "UPDATE audit_entry SET action = 'client.forgotten'",
    "DELETE FROM audit_entry",
    "UPDATE audit_seal SET entry_hash = prev_hash",
    "DELETE FROM audit_seal",
]


def _is_append_only_refusal(error: DBAPIError, dialect: str) -> bool:
    message = str(error.orig)
    if dialect == "postgresql":
        return "the audit trail is append-only" in message
    return "audit_append_only" in message


@pytest.mark.parametrize("statement", CHANGES)
async def test_the_database_refuses_to_change_or_delete_audit_rows(
    db: Database, statement: str
) -> None:
    await _sealed_trail(db)
    async with db.transaction() as session:
        with pytest.raises(DBAPIError) as refused:
            async with session.begin_nested():
                await session.execute(text(statement))
    assert _is_append_only_refusal(refused.value, db.dialect), refused.value
    assert (await verify_chain(db)).ok


@pytest.mark.parametrize("tables", ["audit_seal", "audit_entry, audit_seal"])
async def test_postgres_refuses_to_truncate_the_audit_tables(db: Database, tables: str) -> None:
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no TRUNCATE")
    await _sealed_trail(db)
    async with db.transaction() as session:
        with pytest.raises(DBAPIError) as refused:
            async with session.begin_nested():
                await session.execute(text(f"TRUNCATE {tables}"))
    assert _is_append_only_refusal(refused.value, db.dialect), refused.value


async def test_the_append_only_triggers_exist_and_are_enabled(db: Database) -> None:
    async with db.reading() as session:
        if db.dialect == "postgresql":
            rows = (
                await session.execute(
                    text(
                        "SELECT tgname, tgenabled::text FROM pg_trigger"
                        " WHERE NOT tgisinternal"
                        " AND tgrelid IN ('audit_entry'::regclass, 'audit_seal'::regclass)"
                    )
                )
            ).all()
            assert dict(rows) == {
                f"{table}_{kind}": "O"
                for table in AUDIT_TABLES
                for kind in ("append_only", "no_truncate")
            }
        else:
            rows = (
                await session.execute(
                    text(
                        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
                        " AND tbl_name IN ('audit_entry', 'audit_seal')"
                    )
                )
            ).all()
            triggers: dict[str, str] = dict(rows)
            assert set(triggers) == {
                f"{table}_no_{event}" for table in AUDIT_TABLES for event in ("update", "delete")
            }
            assert all("audit_append_only" in sql for sql in triggers.values())


# Concurrency (a fresh database of their own)


@pytest.fixture(params=["sqlite", "postgresql"])
async def fresh_db(
    request: pytest.FixtureRequest, tmp_path: Path, run_id: str
) -> AsyncIterator[Database]:
    """A migrated database of the test's own, with real commits and a real pool."""
    name = f"clinic_audit_{run_id}"
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'audit.db'}"
    else:
        if POSTGRES_URL is None:
            pytest.skip("PostgreSQL is not available")
        url = await create_postgres_database(POSTGRES_URL, name)
    try:
        await asyncio.to_thread(migrations.upgrade, url)
        db = Database.connect(normalise_database_url(url, variable="url"))
        try:
            yield db
        finally:
            await db.dispose()
    finally:
        if request.param == "postgresql" and POSTGRES_URL is not None:
            await drop_postgres_database(POSTGRES_URL, name)


async def test_two_concurrent_sealers_never_fork_the_chain(fresh_db: Database) -> None:
    db = fresh_db
    writers_done = asyncio.Event()

    async def write(writer: int) -> None:
        for t in range(5):
            async with db.transaction() as session:
                for i in range(5):
                    record(session, "test.wrote", subject_id=f"{writer}.{t}.{i}")
                    # Flush one at a time and pause a little, so that ids from different
                    # transactions interleave and commit order differs from id order.
                    await session.flush()
                    await asyncio.sleep(0.001 * ((writer + i) % 3))

    async def writers() -> None:
        try:
            await asyncio.gather(*(write(w) for w in range(8)))
        finally:
            writers_done.set()

    async def sealer() -> int:
        total = 0
        while not writers_done.is_set():
            total += await seal_all(db, batch=7)
            await asyncio.sleep(0.002)
        return total + await seal_all(db, batch=7)

    _, first, second = await asyncio.wait_for(
        asyncio.gather(writers(), sealer(), sealer()), timeout=60
    )

    assert first + second == 200
    report = await verify_chain(db)
    assert report == ChainReport(ok=True, sealed=200, unsealed=0, problem=None)


async def test_an_entry_committed_late_is_sealed_after_entries_with_higher_ids(
    fresh_db: Database,
) -> None:
    db = fresh_db
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has one writer at a time")
    async with db.transaction() as slow:
        early = record(slow, "test.slow")
        await slow.flush()
        async with db.transaction() as quick:
            late = record(quick, "test.quick")
        assert await seal_all(db) == 1  # the slow transaction has not committed yet
    assert early.id < late.id
    assert await seal_all(db) == 1

    async with db.reading() as session:
        chain = (
            await session.execute(select(AuditSeal.entry_id).order_by(AuditSeal.seq))
        ).scalars()
        assert list(chain) == [late.id, early.id]
    assert await verify_chain(db) == ChainReport(ok=True, sealed=2, unsealed=0, problem=None)


# The periodic sealer


async def test_the_periodic_sealer_seals_then_stops_when_told(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _write_entries(db, transactions=2, per=2)
    stop = asyncio.Event()
    real_seal_all = audit.seal_all

    async def seal_once_then_stop(database: Database, **kwargs: Any) -> int:
        sealed = await real_seal_all(database, **kwargs)
        stop.set()
        return sealed

    monkeypatch.setattr(audit, "seal_all", seal_once_then_stop)
    await asyncio.wait_for(seal_periodically(db, 3600, stop), timeout=5)
    report = await verify_chain(db)
    assert report.ok
    assert report.unsealed == 0
    assert report.sealed == await _entry_count(db)


async def test_the_periodic_sealer_logs_a_database_error_and_carries_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    stop = asyncio.Event()
    calls = 0

    async def flaky_seal_all(database: Database, **kwargs: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OperationalError("SELECT 1", {}, Exception("database is locked"))
        stop.set()
        return 0

    monkeypatch.setattr(audit, "seal_all", flaky_seal_all)
    with caplog.at_level(logging.WARNING, logger="clinic.audit"):
        await asyncio.wait_for(seal_periodically(cast(Database, None), 0.01, stop), timeout=5)
    assert calls == 2
    [record] = [r for r in caplog.records if "Sealing the audit trail failed" in r.getMessage()]
    # A locked database is expected under load: a warning without a traceback.
    assert record.levelno == logging.WARNING
    assert record.exc_info is None


async def test_the_periodic_sealer_logs_an_unexpected_error_in_full(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    stop = asyncio.Event()

    async def broken_seal_all(database: Database, **kwargs: Any) -> int:
        stop.set()
        raise RuntimeError("a bug")

    monkeypatch.setattr(audit, "seal_all", broken_seal_all)
    with caplog.at_level(logging.WARNING, logger="clinic.audit"):
        await asyncio.wait_for(seal_periodically(cast(Database, None), 0.01, stop), timeout=5)
    [record] = [r for r in caplog.records if "Sealing the audit trail failed" in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None


# The command line


def _insert_entries(db_file: Path, count: int) -> None:
    with closing(sqlite3.connect(db_file)) as connection:
        for n in range(count):
            connection.execute(
                "INSERT INTO audit_entry (occurred_at, actor_user_id, actor_label, action,"
                " subject_type, subject_id, details) VALUES (?, NULL, 'cli', ?, 'client', ?, ?)",
                (1_780_000_000_000_000 + n, "client.viewed", str(n), '{"fields": ["phone"]}'),
            )
        connection.commit()


def test_clinic_audit_seal_and_verify_pass_on_an_intact_trail_and_fail_on_a_changed_row(
    tmp_path: Path,
) -> None:
    db_file = tmp_path / "x.db"
    env = {
        "CLINIC_DATABASE_URL": f"sqlite:///{db_file}",
        "CLINIC_VAR_DIR": str(tmp_path),
        "CLINIC_ENV": "test",
    }

    def clinic(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
        return result.exit_code, result.output

    assert clinic("migrate")[0] == 0
    assert clinic("audit", "verify") == (
        0,
        "Audit trail verified: 0 entries sealed, 0 waiting.\n",
    )
    _insert_entries(db_file, 3)
    assert clinic("audit", "seal") == (0, "Sealed 3 audit entries.\n")
    _insert_entries(db_file, 1)
    assert clinic("audit", "verify", "--no-seal") == (
        0,
        "Audit trail verified: 3 entries sealed, 1 waiting.\n",
    )
    assert clinic("audit", "verify") == (
        0,
        "Audit trail verified: 4 entries sealed, 0 waiting.\n",
    )

    with closing(sqlite3.connect(db_file)) as connection:
        connection.execute("DROP TRIGGER audit_entry_no_update")
        connection.execute("UPDATE audit_entry SET details = '{\"fields\": []}' WHERE id = 2")
        connection.commit()
    code, output = clinic("audit", "verify")
    assert code == 1
    assert "Entry 2 (seq 2) does not match its seal: it was changed after sealing." in output


@pytest.mark.parametrize("command", ["verify", "seal"])
def test_every_audit_subcommand_has_help(command: str) -> None:
    result = CliRunner().invoke(main, ["audit", command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
