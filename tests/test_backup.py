"""`clinic backup` and `clinic restore`, run as an operator would, on a database of the
test's own (a SQLite file, or a PostgreSQL database made for the test and dropped after).

The round trip seeds the demo clinic and a clearance document of binary bytes, backs up,
changes and deletes data, restores, and compares every table row for row with the state
at backup time; the audit chain must still verify.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import struct
import subprocess
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, closing
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select, text, update

from clinic import audit, migrations
from clinic.auth.models import Role
from clinic.backup import libpq_environment
from clinic.clearance.documents import ClearanceDocument, store_document
from clinic.clearance.models import Clearance
from clinic.clearance.service import Actor
from clinic.cli import main
from clinic.clients.models import Client
from clinic.db import Database
from clinic.demo import seed_demo
from clinic.models import Base
from clinic.settings import normalise_database_url
from tests import factories
from tests.conftest import POSTGRES_URL, create_postgres_database, drop_postgres_database

# A PNG signature and header chunk (what the upload check looks for), then every byte value.
DOCUMENT_BYTES = (
    b"\x89PNG\r\n\x1a\n"
    + struct.pack(">I", 13)
    + b"IHDR"
    + struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    + b"\x00\x00\x00\x00"
    + bytes(range(256)) * 16
)
# A revision older than a migration that creates tables (0010 adds calendar feeds), so a
# restore of it into a database at head must drop tables that `clinic migrate` re-creates.
OLD_REVISION = "0009"
AUDIT_TABLES = {"audit_entry", "audit_seal"}


@dataclass(frozen=True)
class Scratch:
    """A database of the test's own, and the environment that points `clinic` at it."""

    kind: str
    url: str  # plain, as an operator writes CLINIC_DATABASE_URL
    env: dict[str, str]

    def connect(self) -> Database:
        return Database.connect(normalise_database_url(self.url, variable="url"), pool_size=2)

    async def clinic(self, *args: str, stdin: str | None = None, **env: str) -> tuple[int, str]:
        """Run `clinic ARGS` in a thread: the command runs its own event loop."""

        def invoke() -> tuple[int, str]:
            result = CliRunner().invoke(
                main, list(args), env={**self.env, **env}, input=stdin, catch_exceptions=False
            )
            return result.exit_code, result.output

        return await asyncio.to_thread(invoke)

    async def migrate(self, revision: str = "head") -> None:
        await asyncio.to_thread(migrations.upgrade, self.url, revision)


@asynccontextmanager
async def scratch_database(kind: str, directory: Path, name: str) -> AsyncIterator[Scratch]:
    """An empty database (not migrated) of its own: a file in `directory`, or the
    PostgreSQL database `name`, dropped afterwards."""
    env = {"CLINIC_VAR_DIR": str(directory), "CLINIC_ENV": "test"}
    if kind == "sqlite":
        (directory / name).mkdir()
        url = f"sqlite:///{directory / name / 'clinic.db'}"
        yield Scratch(kind, url, {**env, "CLINIC_DATABASE_URL": url})
        return
    if POSTGRES_URL is None:
        pytest.skip("PostgreSQL is not available")
    url = await create_postgres_database(POSTGRES_URL, name)
    try:
        yield Scratch(kind, url, {**env, "CLINIC_DATABASE_URL": url})
    finally:
        await drop_postgres_database(POSTGRES_URL, name)


@pytest.fixture(params=["sqlite", "postgresql"])
async def scratch(
    request: pytest.FixtureRequest, tmp_path: Path, run_id: str
) -> AsyncIterator[Scratch]:
    async with scratch_database(request.param, tmp_path, f"clinic_backup_{run_id}") as made:
        yield made


@pytest.fixture
async def postgres(tmp_path: Path, run_id: str) -> AsyncIterator[Scratch]:
    """A migrated PostgreSQL database of the test's own, for the client tools' tests."""
    async with scratch_database("postgresql", tmp_path, f"clinic_backup_{run_id}") as made:
        await made.migrate()
        yield made


def empty_twin(
    scratch: Scratch, tmp_path: Path, run_id: str
) -> AbstractAsyncContextManager[Scratch]:
    """Another empty database of the same kind (no file yet, for SQLite)."""
    return scratch_database(scratch.kind, tmp_path, f"clinic_backup_twin_{run_id}")


async def seed(scratch: Scratch) -> None:
    """The demo clinic plus a clearance document of binary bytes, every entry sealed."""
    await scratch.migrate()
    db = scratch.connect()
    try:
        await seed_demo(db, timezone="America/New_York", currency="usd", today=date(2026, 11, 27))
        async with db.transaction() as session:
            desk = await factories.create_user(session, roles=(Role.FRONTDESK,))
            clearance_id = await session.scalar(select(Clearance.id).order_by(Clearance.id))
        assert clearance_id is not None
        actor = Actor(user_id=desk.id, roles=frozenset({Role.FRONTDESK}))
        await store_document(db, clearance_id, "letter.png", DOCUMENT_BYTES, actor)
        await audit.seal_all(db)
    finally:
        await db.dispose()


async def snapshot(scratch: Scratch) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, ordered by primary key (documents' bytes included)."""
    db = scratch.connect()
    tables: dict[str, list[tuple[Any, ...]]] = {}
    try:
        async with db.reading() as session:
            for table in Base.metadata.sorted_tables:
                key = list(table.primary_key.columns)
                assert key, f"{table.name} has no primary key to order by"
                rows = await session.execute(select(table).order_by(*key))
                tables[table.name] = [tuple(row) for row in rows]
            revision = await session.execute(text("SELECT version_num FROM alembic_version"))
            tables["alembic_version"] = [tuple(row) for row in revision]
    finally:
        await db.dispose()
    return tables


async def change_everything(scratch: Scratch) -> None:
    """What happens after a backup: the document deleted, clients changed and added, and
    new audit entries sealed onto the chain."""
    db = scratch.connect()
    try:
        async with db.transaction() as session:
            await session.execute(delete(ClearanceDocument))
            await session.execute(update(Client).values(name="Changed Name"))
            await factories.create_client(session)
            for n in range(3):
                audit.record(session, "test.after_backup", actor_label="test", subject_id=n)
        await audit.seal_all(db)
    finally:
        await db.dispose()


# The round trip


async def test_a_restore_brings_back_every_row_as_it_was_at_backup_time(
    scratch: Scratch, tmp_path: Path, run_id: str
) -> None:
    await seed(scratch)
    at_backup = await snapshot(scratch)
    assert DOCUMENT_BYTES in [row.content for row in await _documents(scratch)]
    (tmp_path / "backups").mkdir()
    backup = tmp_path / "backups" / "clinic.backup"

    code, output = await scratch.clinic("backup", str(backup))
    assert code == 0, output
    assert f"to {backup}" in output
    # Private to its owner, complete in itself (no WAL beside it), nothing half-written left.
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert _names(tmp_path / "backups") == ["clinic.backup"]
    if scratch.kind == "sqlite":
        # Header bytes 18 and 19 are 1 in rollback-journal mode, 2 in WAL mode.
        assert backup.read_bytes()[18:20] == b"\x01\x01"

    await change_everything(scratch)
    changed = await snapshot(scratch)
    assert changed["clearance_document"] == []
    assert changed["client"] != at_backup["client"]

    code, output = await scratch.clinic("restore", str(backup), "--yes")
    assert code == 0, output
    assert "Restored" in output
    assert "clinic migrate" not in output
    restored = await snapshot(scratch)

    for name, rows in at_backup.items():
        if name in AUDIT_TABLES:
            # The restore appends its own entry (and seal) to the backup's trail.
            assert restored[name][: len(rows)] == rows, name
            assert len(restored[name]) == len(rows) + 1, name
        else:
            assert restored[name] == rows, name
    entry = await _last_entry(scratch)
    assert entry.action == "database.restored"
    assert entry.actor_label == "cli"
    assert entry.details["sha256"] in output
    assert entry.details["replaced_chain_head"]["seq"] == len(changed["audit_seal"])
    assert not any(e[4] == "test.after_backup" for e in restored["audit_entry"])

    code, output = await scratch.clinic("audit", "verify")
    assert code == 0, output
    assert f"{len(at_backup['audit_seal']) + 1} entries sealed, 0 waiting" in output

    # Disaster recovery: the same backup into a new, empty database.
    async with empty_twin(scratch, tmp_path, run_id) as fresh:
        code, output = await fresh.clinic("restore", str(backup), "--yes")
        assert code == 0, output
        into_empty = await snapshot(fresh)
        assert {name: rows for name, rows in into_empty.items() if name not in AUDIT_TABLES} == {
            name: rows for name, rows in at_backup.items() if name not in AUDIT_TABLES
        }
        code, output = await fresh.clinic("audit", "verify")
        assert code == 0, output


async def test_the_backup_itself_is_audited_with_its_checksum(
    scratch: Scratch, tmp_path: Path
) -> None:
    await scratch.migrate()
    backup = tmp_path / "first.backup"
    code, output = await scratch.clinic("backup", str(backup))
    assert code == 0, output
    entry = await _last_entry(scratch)
    assert entry.action == "database.backed_up"
    assert entry.details["path"] == str(backup)
    assert entry.details["bytes"] == backup.stat().st_size
    assert entry.details["sha256"] in output
    code, output = await scratch.clinic("audit", "verify", "--no-seal")
    assert code == 0, output
    assert "0 waiting" in output


async def test_an_older_backup_is_restored_then_migrated_up(
    scratch: Scratch, tmp_path: Path
) -> None:
    await scratch.migrate(OLD_REVISION)
    backup = tmp_path / "old.backup"
    assert (await scratch.clinic("backup", str(backup)))[0] == 0
    await scratch.migrate()

    code, output = await scratch.clinic("restore", str(backup), "--yes")
    assert code == 0, output
    assert f"revision {OLD_REVISION}) is older" in output
    assert "run `clinic migrate`" in output
    # The tables of later migrations are gone with the restore, so migrating works again.
    code, output = await scratch.clinic("migrate")
    assert code == 0, output
    code, output = await scratch.clinic("audit", "verify")
    assert code == 0, output


# Refusals


async def test_an_existing_file_is_kept_unless_forced(scratch: Scratch, tmp_path: Path) -> None:
    await scratch.migrate()
    backup = tmp_path / "clinic.backup"
    backup.write_bytes(b"last week's backup")

    code, output = await scratch.clinic("backup", str(backup))
    assert code == 1
    assert "already exists" in output
    assert "--force" in output
    assert backup.read_bytes() == b"last week's backup"

    code, output = await scratch.clinic("backup", str(backup), "--force")
    assert code == 0, output
    assert backup.read_bytes() != b"last week's backup"
    code, output = await scratch.clinic("restore", str(backup), "--yes")
    assert code == 0, output


async def test_files_that_are_not_a_backup_of_this_kind_are_refused(
    scratch: Scratch, tmp_path: Path
) -> None:
    await scratch.migrate()
    before = await snapshot(scratch)
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a database")
    other_kind = tmp_path / ("other.dump" if scratch.kind == "sqlite" else "other.db")
    if scratch.kind == "sqlite":
        other_kind.write_bytes(b"PGDMP\x01\x0e\x00" + bytes(64))
    else:
        _sqlite_database(other_kind, revision=None)
    not_ours = tmp_path / "someone-elses.db"
    _sqlite_database(not_ours, revision=None)

    refusals = {
        text_file: "neither a SQLite database nor a pg_dump archive",
        other_kind: "backup, but the clinic's database is",
        tmp_path / "missing.backup": "does not exist",
    }
    if scratch.kind == "sqlite":
        refusals[not_ours] = "not a backup of the clinic's database"
    for path, reason in refusals.items():
        code, output = await scratch.clinic("restore", str(path), "--yes")
        assert code == 1, (path, output)
        assert reason in output, (path, output)
    assert await snapshot(scratch) == before


async def test_a_backup_from_a_newer_version_is_refused_before_anything_changes(
    scratch: Scratch, tmp_path: Path
) -> None:
    await scratch.migrate()
    head = migrations.head_revision(scratch.url)
    backup = tmp_path / "newer.backup"
    await _set_revision(scratch, "ffff0099")
    # This version will not back up a database that a newer one migrated...
    code, output = await scratch.clinic("backup", str(backup))
    assert code == 1
    assert "revision ffff0099 is unknown to this version" in output
    # ...but the newer version would have: make its backup with the tools themselves.
    if scratch.kind == "sqlite":
        await asyncio.to_thread(_sqlite_copy, _sqlite_path(scratch), backup)
    else:
        _pg_dump(scratch, backup)
    await _set_revision(scratch, head)
    before = await snapshot(scratch)

    code, output = await scratch.clinic("restore", str(backup), "--yes")
    assert code == 1
    assert "cannot be restored" in output
    assert "revision ffff0099 is unknown to this version of the app" in output
    assert await snapshot(scratch) == before


async def test_restore_asks_first_and_a_no_changes_nothing(
    scratch: Scratch, tmp_path: Path
) -> None:
    await scratch.migrate()
    backup = tmp_path / "clinic.backup"
    assert (await scratch.clinic("backup", str(backup)))[0] == 0
    await change_everything(scratch)
    changed = await snapshot(scratch)

    code, output = await scratch.clinic("restore", str(backup), stdin="n\n")
    assert code == 1
    assert "Every change since it was made will be lost [y/N]" in output
    assert "Aborted" in output
    assert await snapshot(scratch) == changed

    code, output = await scratch.clinic("restore", str(backup), stdin="y\n")
    assert code == 0, output
    assert (await snapshot(scratch))["client"] == []


# PostgreSQL's tools


async def test_a_damaged_archive_changes_nothing(postgres: Scratch, tmp_path: Path) -> None:
    """pg_restore failing halfway must not leave psql to commit what it had received."""
    await seed(postgres)
    backup = tmp_path / "clinic.backup"
    assert (await postgres.clinic("backup", str(backup)))[0] == 0
    data = backup.read_bytes()
    damaged = tmp_path / "damaged.backup"
    # Zeros over the compressed rows of the last tables, after the table of contents and
    # alembic_version's rows: the file still reads as a backup until those rows are due.
    damaged.write_bytes(data[:-1500] + bytes(1000) + data[-500:])
    await change_everything(postgres)
    before = await snapshot(postgres)

    code, output = await postgres.clinic("restore", str(damaged), "--yes")
    assert code == 1
    assert "nothing was restored" in output, output
    assert await snapshot(postgres) == before


async def test_missing_postgres_tools_are_named(postgres: Scratch, tmp_path: Path) -> None:
    backup = tmp_path / "clinic.backup"
    assert (await postgres.clinic("backup", str(backup)))[0] == 0
    empty = tmp_path / "no-tools"
    empty.mkdir()

    code, output = await postgres.clinic("backup", str(tmp_path / "b2"), PATH=str(empty))
    assert code == 1
    assert "pg_dump was not found on PATH" in output
    assert "version 15 or newer" in output
    assert not (tmp_path / "b2").exists()

    code, output = await postgres.clinic("restore", str(backup), "--yes", PATH=str(empty))
    assert code == 1
    assert "pg_restore was not found on PATH" in output


async def test_tools_older_than_the_server_are_refused(postgres: Scratch, tmp_path: Path) -> None:
    old = tmp_path / "old-tools"
    old.mkdir()
    for tool in ("pg_dump", "pg_restore", "psql"):
        script = old / tool
        script.write_text(f"#!/bin/sh\necho '{tool} (PostgreSQL) 9.6.24'\n")
        script.chmod(0o755)
    path = f"{old}{os.pathsep}{os.environ['PATH']}"
    code, output = await postgres.clinic("backup", str(tmp_path / "b"), PATH=path)
    assert code == 1
    assert f"{old / 'pg_dump'} is version 9, older than the database server's" in output


async def test_the_password_reaches_the_tools_only_through_the_environment(
    postgres: Scratch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = postgres.url.split(":", 2)[2].split("@")[0]
    assert password
    commands: list[list[str]] = []
    environments: list[dict[str, str]] = []
    real_run, real_popen = subprocess.run, subprocess.Popen

    def run(command: list[str], *args: Any, **kwargs: Any) -> Any:
        commands.append(command)
        environments.append(kwargs.get("env") or {})
        return real_run(command, *args, **kwargs)

    def popen(command: list[str], *args: Any, **kwargs: Any) -> Any:
        commands.append(command)
        environments.append(kwargs.get("env") or {})
        return real_popen(command, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.setattr(subprocess, "Popen", popen)
    backup = tmp_path / "clinic.backup"
    assert (await postgres.clinic("backup", str(backup)))[0] == 0
    assert (await postgres.clinic("restore", str(backup), "--yes"))[0] == 0

    names = {Path(command[0]).name for command in commands}
    assert {"pg_dump", "pg_restore", "psql"} <= names
    assert not [c for c in commands if any(password in argument for argument in c)]
    assert any(env.get("PGPASSWORD") == password for env in environments)


def test_the_connection_is_mapped_to_libpq_variables() -> None:
    environment = libpq_environment(
        "postgresql+asyncpg://clinic:p%40ss@db.example.com:6543/clinic?ssl=verify-full"
    )
    assert {k: environment[k] for k in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD")} == {
        "PGHOST": "db.example.com",
        "PGPORT": "6543",
        "PGUSER": "clinic",
        "PGPASSWORD": "p@ss",
    }
    assert (environment["PGDATABASE"], environment["PGSSLMODE"]) == ("clinic", "verify-full")
    socket = libpq_environment("postgresql+asyncpg://clinic@/clinic?host=/run/postgresql")
    assert socket["PGHOST"] == "/run/postgresql"
    assert "PGPASSWORD" not in socket or socket["PGPASSWORD"] == os.environ.get("PGPASSWORD")


# Helpers


async def _documents(scratch: Scratch) -> list[Any]:
    db = scratch.connect()
    try:
        async with db.reading() as session:
            return list(await session.execute(select(ClearanceDocument.__table__)))
    finally:
        await db.dispose()


async def _last_entry(scratch: Scratch) -> audit.AuditEntry:
    db = scratch.connect()
    try:
        async with db.reading() as session:
            entry = await session.scalar(
                select(audit.AuditEntry).order_by(audit.AuditEntry.id.desc()).limit(1)
            )
    finally:
        await db.dispose()
    assert entry is not None
    return entry


async def _set_revision(scratch: Scratch, revision: str | None) -> None:
    db = scratch.connect()
    try:
        async with db.transaction() as session:
            await session.execute(
                text("UPDATE alembic_version SET version_num = :revision"), {"revision": revision}
            )
    finally:
        await db.dispose()


def _names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def _sqlite_path(scratch: Scratch) -> Path:
    return Path(scratch.url.removeprefix("sqlite:///"))


def _sqlite_copy(source: Path, target: Path) -> None:
    with closing(sqlite3.connect(source)) as live, closing(sqlite3.connect(target)) as copy:
        live.backup(copy)


def _sqlite_database(path: Path, *, revision: str | None) -> None:
    """A SQLite file of someone else's: one table, and an alembic_version when given."""
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE recipe (id INTEGER PRIMARY KEY, name TEXT)")
        if revision is not None:
            connection.execute("CREATE TABLE alembic_version (version_num TEXT)")
            connection.execute("INSERT INTO alembic_version VALUES (?)", (revision,))
        connection.commit()


def _pg_dump(scratch: Scratch, target: Path) -> None:
    environment = libpq_environment(normalise_database_url(scratch.url, variable="url"))
    subprocess.run(["pg_dump", "--format=custom", f"--file={target}"], env=environment, check=True)


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_help_says_what_a_backup_covers(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage: " in result.output
    if command == "backup":
        assert "clearance documents" in result.output
        assert "SECURITY.md" in result.output
    else:
        assert "--yes" in result.output
        assert "clinic migrate" in result.output
