"""Database plumbing: the declarative base, the UTC instant type, engines and transactions.

Owns how a transaction starts and ends; it knows nothing of clinic rules. On SQLite a
write transaction begins with BEGIN IMMEDIATE (reliability.md section 1): a deferred
BEGIN that reads and then writes fails at once with "database is locked".
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import BigInteger, DateTime, Dialect, MetaData, event, exc
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator, TypeEngine

from clinic.errors import ClinicError

log = logging.getLogger("clinic.db")
T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """An instant: timestamptz on PostgreSQL, integer epoch microseconds on SQLite.

    SQLite compares text, and "2026-03-08 10:00:00" < "2026-03-08T09:00:00Z" is true,
    so instants there are integers. Naive datetimes are refused: an instant without a
    zone is a bug waiting for the next daylight-saving change.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} given where a UTC instant is needed")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return epoch_micros(value)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return EPOCH + timedelta(microseconds=value)
        assert isinstance(value, datetime)
        return value.astimezone(UTC)


def epoch_micros(value: datetime) -> int:
    """Exact integer microseconds since the epoch (no float rounding)."""
    delta = value.astimezone(UTC) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _configure_sqlite(engine: AsyncEngine, *, begin: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Take BEGIN away from the driver so that we choose its kind below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA foreign_keys=ON")
        # NORMAL may lose the last commits on power loss but never corrupts the file.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)


def make_engine(url: str, *, write: bool = True, pool_size: int = 10) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=10)
        _configure_sqlite(engine, begin="BEGIN IMMEDIATE" if write else "BEGIN")
        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=5,
        pool_pre_ping=True,
        connect_args={"server_settings": {"TimeZone": "UTC", "application_name": "clinic"}},
    )


@dataclass
class Database:
    """The engines and session factories the app uses.

    `transaction()` is the one way a use case writes: it commits once on success and
    rolls back on error. `reading()` is for pages and queries that write nothing; on
    SQLite it uses a second engine with a plain BEGIN so readers never queue behind
    the single writer.
    """

    write_engine: AsyncEngine
    read_engine: AsyncEngine
    _write_sessions: async_sessionmaker[AsyncSession]
    _read_sessions: async_sessionmaker[AsyncSession]

    @classmethod
    def connect(cls, url: str, *, pool_size: int = 10) -> Database:
        write_engine = make_engine(url, write=True, pool_size=pool_size)
        read_engine = (
            make_engine(url, write=False, pool_size=pool_size)
            if url.startswith("sqlite")
            else write_engine
        )
        return cls(
            write_engine=write_engine,
            read_engine=read_engine,
            _write_sessions=async_sessionmaker(write_engine, expire_on_commit=False),
            _read_sessions=async_sessionmaker(read_engine, expire_on_commit=False),
        )

    @classmethod
    def bound_to(cls, connection: AsyncConnection) -> Database:
        """Every session joins `connection`'s outer transaction through savepoints.

        Used by tests: code under test commits as usual and the test rolls it all back.
        """
        sessions = async_sessionmaker(
            bind=connection,
            expire_on_commit=False,
            join_transaction_mode="create_savepoint",
        )
        return cls(
            write_engine=connection.engine,
            read_engine=connection.engine,
            _write_sessions=sessions,
            _read_sessions=sessions,
        )

    @property
    def dialect(self) -> str:
        return self.write_engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._write_sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        async with self._read_sessions() as session:
            yield session

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()


OVERLAP_SQLSTATE = "23P01"
UNIQUE_SQLSTATE = "23505"
SQLITE_OVERLAP_MESSAGE = "appointment_overlap"
# The partial unique index on (therapist_id, starts_at) for blocking statuses: on
# PostgreSQL it fires before the exclusion constraint when two requests take the same
# start, so it is the same conflict under another name.
SAME_START_INDEX = "uq_appointment_therapist_start_active"


def is_overlap_violation(error: exc.DBAPIError) -> bool:
    """True when the database refused an appointment that overlaps another.

    PostgreSQL raises exclusion_violation (23P01); SQLite's guard trigger aborts with
    a fixed message that arrives as an IntegrityError.
    """
    orig = error.orig
    # asyncpg's error is wrapped by the adapter; the SQLSTATE sits on the cause.
    for candidate in (orig, getattr(orig, "__cause__", None)):
        state = getattr(candidate, "sqlstate", None)
        if state == OVERLAP_SQLSTATE:
            return True
        if (
            state == UNIQUE_SQLSTATE
            and getattr(candidate, "constraint_name", "") == SAME_START_INDEX
        ):
            return True
    text = str(orig)
    return SQLITE_OVERLAP_MESSAGE in text or (
        "UNIQUE constraint failed: appointment.therapist_id, appointment.starts_at" in text
    )


# SQLSTATEs after which the whole transaction may simply be tried again: on PostgreSQL
# two bookings can deadlock while each waits on the other's row in a different exclusion
# constraint (one on the therapist, one on the room).
RETRYABLE_SQLSTATES = {"40001", "40P01"}
WRITE_ATTEMPTS = 6


class DatabaseBusy(ClinicError):
    status_code = 503
    title = "Busy"

    def __init__(self) -> None:
        super().__init__("We are very busy right now. Wait a few seconds and try again.")


async def with_retries(work: Callable[[], Awaitable[T]]) -> T:
    """Run a write transaction again after a deadlock, a serialisation failure or SQLite's
    busy timeout, after a short random pause so that the two sides do not meet again; a
    database that stays locked becomes a 503 rather than a 500. `work` must open its own
    transaction, so that each attempt starts clean."""
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            return await work()
        except exc.DBAPIError as error:
            if not is_transient(error):
                raise
            if attempt == WRITE_ATTEMPTS:
                raise DatabaseBusy() from error
        log.info("retrying a write transaction", extra={"fields": {"attempt": attempt}})
        await asyncio.sleep(random.uniform(0.005, 0.03) * attempt)  # noqa: S311
    raise AssertionError("unreachable")


def is_transient(error: BaseException) -> bool:
    """A failure that trying the same transaction again can cure: SQLite's busy timeout
    ran out behind other writers, or PostgreSQL chose this transaction as a deadlock or
    serialisation victim."""
    if not isinstance(error, exc.DBAPIError):
        return False
    return "database is locked" in str(error.orig) or _sqlstate(error) in RETRYABLE_SQLSTATES


def _sqlstate(error: exc.DBAPIError) -> str | None:
    orig = error.orig
    state = getattr(orig, "sqlstate", None) or getattr(
        getattr(orig, "__cause__", None), "sqlstate", None
    )
    return state if isinstance(state, str) else None
