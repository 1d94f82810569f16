"""Backups of the clinic's database: `clinic backup PATH` and `clinic restore PATH`.

Everything the clinic keeps lives in its one database, the physicians' letters behind
clearances included (clinic/clearance/documents.py), so a copy of the database is a copy
of the clinic. Neither command stops the app:

- SQLite: the online backup API copies the live file page by page inside one read
  transaction, so the copy is a consistent snapshot while the app keeps writing (WAL). A
  restore runs the same API the other way, into the live file, so connections that are
  open see the old database or the restored one, never a mixture.
- PostgreSQL: `pg_dump --format=custom` (one snapshot) and `pg_restore` piped into
  `psql --single-transaction`, so a failed restore leaves the database as it was. The
  connection reaches the tools through libpq's environment variables: a password on a
  command line would show in `ps`.

A backup is written to a private temporary file beside PATH and renamed into place only
when it is complete and reads back, so PATH is never a half-written backup. A file is
restored only after it proved to be a backup of the configured kind at a schema revision
this code knows. Both commands leave an entry in the audit trail; a restore brings back
the backup's trail and appends its own entry, so the chain still verifies.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from alembic.script import ScriptDirectory
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from clinic import audit, migrations
from clinic.db import Database
from clinic.errors import ClinicError

# Every model, so that Base.metadata knows every table (and audit entries can be written).
from clinic.models import Base

SQLITE_HEADER = b"SQLite format 3\x00"
# The first bytes of a pg_dump archive in the custom format.
PG_CUSTOM_HEADER = b"PGDMP"
# libpq variables inherited from the operator's shell that could point the tools at another
# database than CLINIC_DATABASE_URL's; the URL decides them all.
_INHERITED_CONNECTION = (
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGPASSWORD",
    "PGSERVICE",
    "PGOPTIONS",
)
# Query options of a database URL and the libpq variable each becomes.
_LIBPQ_OPTIONS = {
    "host": "PGHOST",
    "port": "PGPORT",
    "ssl": "PGSSLMODE",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}
# Options that tune the app's driver only; they do not change which database is meant.
_DRIVER_ONLY_OPTIONS = {"prepared_statement_cache_size", "command_timeout", "application_name"}


class BackupError(ClinicError):
    """A backup or restore was refused or failed; the message says what to do."""


class Kind(StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"

    @property
    def label(self) -> str:
        return "SQLite" if self is Kind.SQLITE else "PostgreSQL"


class SchemaStatus(StrEnum):
    CURRENT = "current"  # the code's head revision
    OLDER = "older"  # a revision this code can migrate up from (`clinic migrate`)


@dataclass(frozen=True)
class BackupFile:
    """A backup on disk that proved to be one this code can restore."""

    path: Path
    kind: Kind
    size: int
    sha256: str
    revision: str
    schema: SchemaStatus


@dataclass(frozen=True)
class RestoreReport:
    """What a restore did: the file restored, and the audit chain checked after the
    restore was recorded in it (None when the restored schema is older than the trail)."""

    backup: BackupFile
    chain: audit.ChainReport | None


def kind_of(database_url: str) -> Kind:
    return Kind.SQLITE if make_url(database_url).get_backend_name() == "sqlite" else Kind.POSTGRESQL


def describe(database_url: str) -> str:
    """The database a URL names, fit to show an operator: never its password."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return f"the SQLite database {url.database}"
    plain = url.set(drivername=url.get_backend_name())
    return f"the PostgreSQL database {plain.render_as_string(hide_password=True)}"


# Schema revisions


def schema_status(revision: str | None, database_url: str) -> SchemaStatus:
    """Where `revision` stands against this code's migrations; refuses one it does not know."""
    if revision is None:
        raise BackupError(
            "It holds no schema revision (no alembic_version row), so it is not a backup of "
            "the clinic's database."
        )
    script = ScriptDirectory.from_config(migrations.alembic_config(database_url))
    if revision == script.get_current_head():
        return SchemaStatus.CURRENT
    if revision in {known.revision for known in script.walk_revisions()}:
        return SchemaStatus.OLDER
    raise BackupError(
        f"Its schema revision {revision} is unknown to this version of the app: it comes "
        "from a newer version (or from another application)."
    )


# Backing up


async def back_up(database_url: str, path: Path, *, force: bool = False) -> BackupFile:
    """Copy the live database to `path` (refusing to replace a file unless `force`)."""
    kind = kind_of(database_url)
    path = _check_destination(path, force=force)
    db = Database.connect(database_url, pool_size=1)
    try:
        revision = await migrations.current_revision(db.write_engine)
        if kind is Kind.SQLITE and _same_file(path, _sqlite_file(database_url)):
            raise BackupError(f"{path} is the live database itself; choose another file.")
        if revision is None:
            raise BackupError(
                f"{describe(database_url)} has no clinic schema yet (run `clinic migrate`): "
                "there is nothing to back up."
            )
        try:
            schema_status(revision, database_url)
        except BackupError as error:
            raise BackupError(
                f"{describe(database_url)} cannot be backed up by this version of the app. "
                f"{error.message} Use the version of the app that migrated it."
            ) from None
        # Seal first so that the backup's trail is chained up to this moment.
        await audit.seal_all(db)
        with _temporary_beside(path) as partial:
            if kind is Kind.SQLITE:
                await asyncio.to_thread(_sqlite_copy_out, _sqlite_file(database_url), partial)
            else:
                tools = PgTools.find(await _server_major(db), "pg_dump", "pg_restore")
                await asyncio.to_thread(tools.dump, database_url, partial)
            backup = await asyncio.to_thread(inspect_file, database_url, partial)
            _publish(partial, path, force=force)
        backup = dataclasses.replace(backup, path=path)
        async with db.transaction() as session:
            audit.record(
                session,
                "database.backed_up",
                actor_label="cli",
                subject_type="database",
                details={
                    "kind": kind.value,
                    "path": str(path),
                    "bytes": backup.size,
                    "sha256": backup.sha256,
                    "revision": backup.revision,
                },
            )
        await audit.seal_all(db)
        return backup
    finally:
        await db.dispose()


def _check_destination(path: Path, *, force: bool) -> Path:
    """`path` made absolute, once it is a place where a new backup may go."""
    if path.is_dir():
        raise BackupError(
            f"{path} is a directory; give the backup file's name, e.g. {path}/clinic.backup"
        )
    if not path.parent.is_dir():
        raise BackupError(f"The directory {path.parent} does not exist; create it first.")
    if path.exists() and not force:
        raise _exists(path)
    return path.resolve()


def _exists(path: Path) -> BackupError:
    return BackupError(f"{path} already exists; choose another name, or add --force to replace it.")


@contextlib.contextmanager
def _temporary_beside(path: Path) -> Iterator[Path]:
    """A new private (0600) file in `path`'s directory, removed unless it was renamed away.

    Beside the target so that the final rename stays on one file system and is atomic."""
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(handle)
    partial = Path(name)
    try:
        yield partial
    finally:
        partial.unlink(missing_ok=True)


def _publish(partial: Path, path: Path, *, force: bool) -> None:
    """Move the finished backup to `path` atomically, after it reached the disk."""
    with open(partial, "rb") as written:
        os.fsync(written.fileno())
    if force:
        os.replace(partial, path)
    else:
        # A hard link fails if `path` appeared meanwhile, where a rename would replace it.
        try:
            os.link(partial, path)
        except FileExistsError:
            raise _exists(path) from None
        except OSError:
            # A file system without hard links (some network shares): check, then rename.
            if path.exists():
                raise _exists(path) from None
            os.replace(partial, path)
        else:
            partial.unlink()
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _sqlite_copy_out(live: Path, target: Path) -> None:
    if not live.is_file():
        raise BackupError(f"The SQLite database {live} does not exist.")
    with (
        closing(sqlite3.connect(live, timeout=30)) as source,
        closing(sqlite3.connect(target)) as copy,
    ):
        # One step: the whole copy reads one snapshot while the app goes on writing to its WAL.
        source.backup(copy)
        # A rollback journal rather than WAL, so the backup is this one self-contained file.
        copy.execute("PRAGMA journal_mode=DELETE")


# Inspecting a backup


def inspect_file(database_url: str, path: Path) -> BackupFile:
    """Prove `path` is a backup this code can restore into the configured kind of database.

    Refuses (BackupError) a missing file, a file of the other kind or of no kind, a damaged
    one, and one whose schema revision this code does not know (a newer version's)."""
    kind = kind_of(database_url)
    path = path.resolve()
    if not path.is_file():
        raise BackupError(f"{path} does not exist or is not a file.")
    with open(path, "rb") as backup:
        header = backup.read(len(SQLITE_HEADER))
    found = (
        Kind.SQLITE
        if header.startswith(SQLITE_HEADER)
        else Kind.POSTGRESQL
        if header.startswith(PG_CUSTOM_HEADER)
        else None
    )
    if found is None:
        raise BackupError(
            f"{path} is not a clinic backup: it is neither a SQLite database nor a "
            "pg_dump archive in the custom format."
        )
    if found is not kind:
        raise BackupError(
            f"{path} is a {found.label} backup, but the clinic's database is {kind.label}"
            f" ({describe(database_url)}). Restore it into a {found.label} database."
        )
    try:
        revision = (
            _sqlite_backup_revision(path)
            if kind is Kind.SQLITE
            else PgTools.find(None, "pg_restore").archive_revision(path)
        )
    except BackupError as error:
        raise BackupError(f"{path} cannot be restored. {error.message}") from None
    try:
        status = schema_status(revision, database_url)
    except BackupError as error:
        advice = (
            " Restore it with the version of the app that made it, then upgrade from there."
            if revision
            else ""
        )
        raise BackupError(f"{path} cannot be restored. {error.message}{advice}") from None
    return BackupFile(path, kind, path.stat().st_size, _sha256(path), revision or "", status)


def _sqlite_backup_revision(path: Path) -> str | None:
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as backup:
            problems = [row[0] for row in backup.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise BackupError(f"The SQLite file is damaged: {'; '.join(problems[:3])}.")
            versioned = backup.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            ).fetchone()
            if versioned is None:
                return None
            return _single_revision(backup.execute("SELECT version_num FROM alembic_version"))
    except sqlite3.DatabaseError as error:
        raise BackupError(f"SQLite could not read it as a clinic database ({error}).") from None


def _single_revision(rows: Iterable[Sequence[Any]]) -> str | None:
    revisions = [row[0] for row in rows]
    if len(revisions) > 1:
        raise BackupError(f"It holds several schema revisions ({', '.join(revisions)}).")
    return revisions[0] if revisions else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as backup:
        while block := backup.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


# Restoring


async def restore(database_url: str, backup: BackupFile) -> RestoreReport:
    """Replace the whole database with `backup` (from `inspect_file`), then audit it.

    The backup's audit trail replaces the live one; an entry naming the backup and the
    chain head it replaced is appended and sealed, so `clinic audit verify` still passes."""
    kind = kind_of(database_url)
    live = _sqlite_file(database_url) if kind is Kind.SQLITE else None
    replaced_head: dict[str, Any] | None = None
    server_major = 0
    if live is None or live.is_file():  # not a SQLite file about to be made
        db = Database.connect(database_url, pool_size=1)
        try:
            replaced_head = await _chain_head(db)
            if live is None:
                server_major = await _server_major(db)
        finally:
            await db.dispose()
    if live is not None:
        await asyncio.to_thread(_sqlite_copy_in, backup.path, live)
    else:
        tools = PgTools.find(server_major, "pg_restore", "psql")
        await asyncio.to_thread(tools.restore, database_url, backup.path)
    # A new connection: the old one's cached statements may name tables that were replaced.
    db = Database.connect(database_url, pool_size=1)
    try:
        revision = await migrations.current_revision(db.write_engine)
        if revision != backup.revision:
            raise BackupError(
                f"After the restore the schema revision is {revision}, not the backup's"
                f" {backup.revision}: check {describe(database_url)} before using it."
            )
        try:
            async with db.transaction() as session:
                audit.record(
                    session,
                    "database.restored",
                    actor_label="cli",
                    subject_type="database",
                    details={
                        "kind": kind.value,
                        "path": str(backup.path),
                        "sha256": backup.sha256,
                        "revision": backup.revision,
                        "replaced_chain_head": replaced_head,
                    },
                )
            await audit.seal_all(db)
        except DBAPIError:
            # A backup older than the audit trail itself: `clinic migrate` comes first.
            return RestoreReport(backup, chain=None)
        return RestoreReport(backup, chain=await audit.verify_chain(db))
    finally:
        await db.dispose()


async def _chain_head(db: Database) -> dict[str, Any] | None:
    """The live trail's last seal (seq and hash), kept in the restore's own audit entry so
    that the trail shows which chain the restore replaced; None for an empty database."""
    if await migrations.current_revision(db.write_engine) is None:
        return None
    try:
        async with db.reading() as session:
            head = (
                await session.execute(
                    select(audit.AuditSeal.seq, audit.AuditSeal.entry_hash)
                    .order_by(audit.AuditSeal.seq.desc())
                    .limit(1)
                )
            ).first()
    except DBAPIError:
        return None  # a schema older than the trail
    return None if head is None else {"seq": head.seq, "hash": head.entry_hash}


def _sqlite_copy_in(backup: Path, live: Path) -> None:
    if _same_file(backup, live):
        raise BackupError(f"{backup} is the live database itself; there is nothing to restore.")
    if not live.parent.is_dir():
        raise BackupError(f"The directory {live.parent} does not exist; create it first.")
    source_uri = f"{backup.resolve().as_uri()}?mode=ro"
    with (
        closing(sqlite3.connect(source_uri, uri=True)) as source,
        closing(sqlite3.connect(live, timeout=30)) as target,
    ):
        # The API writes every page inside one write transaction on the live file (which
        # keeps its WAL mode), so the app's connections never read a half-restored database.
        source.backup(target)


# Small helpers


def _sqlite_file(database_url: str) -> Path:
    return Path(make_url(database_url).database or "")


def _same_file(one: Path, other: Path) -> bool:
    return one.resolve() == other.resolve()


async def _server_major(db: Database) -> int:
    async with db.reading() as session:
        number = await session.scalar(text("SHOW server_version_num"))
    return int(str(number)) // 10000


# PostgreSQL's client tools


@dataclass(frozen=True)
class PgTools:
    """Paths of the PostgreSQL client programs a command needs, found on PATH and checked
    to be no older than the server (an older pg_dump refuses a newer server)."""

    paths: Mapping[str, str]

    @classmethod
    def find(cls, server_major: int | None, *names: str) -> PgTools:
        paths: dict[str, str] = {}
        for name in names:
            found = shutil.which(name)
            if found is None:
                raise BackupError(
                    f"{name} was not found on PATH. Install PostgreSQL's client tools"
                    f"{'' if server_major is None else f', version {server_major} or newer'}"
                    " (Debian and Ubuntu: the postgresql-client package), or add their"
                    " directory to PATH."
                )
            major = _tool_major(found)
            if server_major is not None and major < server_major:
                raise BackupError(
                    f"{found} is version {major}, older than the database server's "
                    f"{server_major}. Install client tools of version {server_major} or newer "
                    "and put them first on PATH."
                )
            paths[name] = found
        return cls(paths)

    def dump(self, database_url: str, target: Path) -> None:
        _run_tool(
            [self.paths["pg_dump"], "--format=custom", "--no-password", f"--file={target}"],
            database_url,
            "pg_dump could not back up the database",
        )

    def toc(self, archive: Path) -> list[str]:
        """The archive's table of contents (`pg_restore --list`), one entry a line."""
        listing = _run_tool(
            [self.paths["pg_restore"], "--list", str(archive)],
            None,
            "pg_restore could not read the archive",
        )
        return [line for line in listing.splitlines() if line and not line.startswith(";")]

    def archive_revision(self, archive: Path) -> str | None:
        if not any(_toc_table(line) == "alembic_version" for line in self.toc(archive)):
            return None
        script = _run_tool(
            [
                self.paths["pg_restore"],
                "--data-only",
                "--table=alembic_version",
                "--file=-",
                str(archive),
            ],
            None,
            "pg_restore could not read the archive",
        )
        return _single_revision(_copy_rows(script))

    def restore(self, database_url: str, archive: Path) -> None:
        """pg_restore --clean into psql, all in one transaction that rolls back on error.

        Extensions are left out of the restore and only created when missing: dropping
        one needs its owner, who is rarely the app's role. Tables this code knows but the
        backup lacks (it is older) are dropped, so `clinic migrate` can create them again."""
        entries = self.toc(archive)
        extensions = [name for line in entries if (name := _toc_extension(line))]
        in_archive = {table for line in entries if (table := _toc_table(line))}
        newer_tables = [t.name for t in Base.metadata.sorted_tables if t.name not in in_archive]
        # Warnings and errors only, so that a failure's message is not lost among notices.
        prelude = ["SET client_min_messages = warning;"]
        prelude += [f"CREATE EXTENSION IF NOT EXISTS {_identifier(e)};" for e in extensions]
        prelude += [f"DROP TABLE IF EXISTS {_identifier(t)} CASCADE;" for t in newer_tables]
        with (
            tempfile.NamedTemporaryFile("w", suffix=".list") as use_list,
            tempfile.TemporaryFile() as restore_errors,
            tempfile.TemporaryFile() as psql_errors,
        ):
            use_list.write(
                "".join(f"{line}\n" for line in entries if not _toc_extension_entry(line))
            )
            use_list.flush()
            environment = libpq_environment(database_url)
            script = subprocess.Popen(  # noqa: S603 (our arguments, a tool found on PATH)
                [
                    self.paths["pg_restore"],
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--exit-on-error",
                    f"--use-list={use_list.name}",
                    "--file=-",
                    str(archive),
                ],
                stdout=subprocess.PIPE,
                stderr=restore_errors,
                env=environment,
            )
            psql = subprocess.Popen(  # noqa: S603 (our arguments, a tool found on PATH)
                [
                    self.paths["psql"],
                    "--no-psqlrc",
                    "--quiet",
                    "--no-password",
                    "--set=ON_ERROR_STOP=1",
                    "--single-transaction",
                    f"--command={' '.join(prelude)}",
                    "--file=-",
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=psql_errors,
                env=environment,
            )
            _relay(script, psql, restore_errors)
            if psql.wait() != 0:
                raise BackupError(
                    "The restore failed and was rolled back; the database is as it was. "
                    f"psql said: {_read_errors(psql_errors)}"
                )


def _relay(
    script: subprocess.Popen[bytes], psql: subprocess.Popen[bytes], script_errors: IO[bytes]
) -> None:
    """Feed pg_restore's SQL to psql, which commits only when its input ends cleanly.

    Through Python rather than a pipe between the two: if pg_restore fails halfway, psql
    must not see an ordinary end of input (it would commit what it had), so it is killed
    instead and the server rolls its transaction back."""
    assert script.stdout is not None
    assert psql.stdin is not None
    psql_stopped = False
    try:
        while chunk := script.stdout.read(1 << 16):
            psql.stdin.write(chunk)
    except BrokenPipeError:
        psql_stopped = True  # at an error: psql's own message says which
    script.stdout.close()
    failed = script.wait() != 0 and not psql_stopped
    if failed:
        psql.kill()
        psql.wait()
    with contextlib.suppress(BrokenPipeError):
        psql.stdin.close()
    if failed:
        raise BackupError(
            "pg_restore could not read the whole archive, so nothing was restored: "
            f"{_read_errors(script_errors)}"
        )


def _tool_major(path: str) -> int:
    version = subprocess.run(  # noqa: S603 (a tool found on PATH)
        [path, "--version"], capture_output=True, text=True, check=False, timeout=30
    ).stdout
    match = re.search(r"\(PostgreSQL\) (\d+)", version)
    if match is None:
        raise BackupError(f"{path} --version did not say which PostgreSQL it belongs to.")
    return int(match.group(1))


def libpq_environment(database_url: str) -> dict[str, str]:
    """The environment for a PostgreSQL tool: the caller's, with the connection of
    `database_url` in libpq's variables (PGPASSWORD among them), never in arguments."""
    url = make_url(database_url)
    if not url.database:
        raise BackupError("CLINIC_DATABASE_URL names no database.")
    environment = {k: v for k, v in os.environ.items() if k not in _INHERITED_CONNECTION}
    given = {
        "PGHOST": url.host,
        "PGPORT": None if url.port is None else str(url.port),
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
        "PGDATABASE": url.database,
    }
    environment.update({k: v for k, v in given.items() if v})
    for option, value in url.query.items():
        if option in _DRIVER_ONLY_OPTIONS:
            continue
        if option not in _LIBPQ_OPTIONS:
            raise BackupError(
                f"CLINIC_DATABASE_URL has the option {option}, which cannot be passed to "
                f"PostgreSQL's tools; they understand {', '.join(sorted(_LIBPQ_OPTIONS))}."
            )
        environment[_LIBPQ_OPTIONS[option]] = value if isinstance(value, str) else value[-1]
    environment["PGAPPNAME"] = "clinic-backup"
    return environment


def _run_tool(command: list[str], database_url: str | None, failure: str) -> str:
    environment = libpq_environment(database_url) if database_url else None
    done = subprocess.run(  # noqa: S603 (our arguments, a tool found on PATH)
        command, capture_output=True, env=environment, check=False
    )
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise BackupError(f"{failure}: {message or f'exit status {done.returncode}'}")
    return done.stdout.decode("utf-8", "replace")


def _read_errors(stream: IO[bytes]) -> str:
    stream.seek(0)
    message = stream.read().decode("utf-8", "replace").strip()
    return message[-2000:] or "no message"


# Lines of `pg_restore --list`: "215; 1259 17690 TABLE public alembic_version clinic",
# "2; 3079 17039 EXTENSION - btree_gist", "4121; 0 0 COMMENT - EXTENSION btree_gist".
_TOC_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE \S+ (\S+) \S+$")
_TOC_EXTENSION = re.compile(r"^\d+; \d+ \d+ EXTENSION \S+ (\S+)$")
_TOC_EXTENSION_COMMENT = re.compile(r"^\d+; \d+ \d+ COMMENT \S+ EXTENSION \S+$")


def _toc_table(line: str) -> str | None:
    entry = _TOC_TABLE.match(line.rstrip())
    return entry[1] if entry else None


def _toc_extension(line: str) -> str | None:
    entry = _TOC_EXTENSION.match(line.rstrip())
    return entry[1] if entry else None


def _toc_extension_entry(line: str) -> bool:
    """An extension or its comment: left out of a restore (see PgTools.restore)."""
    return bool(_TOC_EXTENSION.match(line.rstrip()) or _TOC_EXTENSION_COMMENT.match(line.rstrip()))


def _copy_rows(script: str) -> list[tuple[str]]:
    """The rows of the one COPY block in a pg_restore SQL script."""
    rows: list[tuple[str]] = []
    inside = False
    for line in script.splitlines():
        if line.startswith("COPY "):
            inside = True
        elif inside and line == "\\.":
            break
        elif inside:
            rows.append((line,))
    return rows


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
