"""The outbox worker: claims due messages under a lease, runs their handlers outside any
transaction, and records each outcome in a second short transaction. Periodic jobs run
through the same table, so several workers and processes run each one once per period.

Delivery is at least once. A worker that dies after a handler ran but before its outcome
was recorded leaves the row leased; once the lease runs out another worker runs it again.
Handlers must be safe to repeat (an e-mail's Message-ID is stable per row, so a repeat is
recognisable). An outcome is recorded only while the worker still holds the lease (status,
owner and attempt number all match), so a slow worker never overwrites a newer owner's.
This module holds no clinic rules: the handlers do, in the modules of JOB_MODULES.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import logging
import os
import secrets
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import jinja2
from sqlalchemy import ColumnElement, and_, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.clock import now_utc
from clinic.db import Database, is_transient
from clinic.logging import redact_text
from clinic.notifications.mail import Mailer, mailer_from_settings
from clinic.outbox.models import OutboxMessage, OutboxStatus
from clinic.outbox.registry import (
    PERIODIC_PREFIX,
    REGISTRY,
    Handler,
    HandlerContext,
    PeriodicJob,
    Registry,
)
from clinic.outbox.service import enqueue
from clinic.settings import Settings

logger = logging.getLogger("clinic.outbox")

#: Modules whose import registers outbox handlers and periodic jobs (@handles, @periodic).
JOB_MODULES: tuple[str, ...] = (
    "clinic.admin.expiry_warnings",
    "clinic.booking.jobs",
    "clinic.clearance.jobs",
    "clinic.notifications.clearance_emails",
    "clinic.notifications.intake_emails",
    "clinic.payments.jobs",
    "clinic.payments.notices",
    "clinic.notifications.staff_digest",
)

DEFAULT_LEASE = timedelta(minutes=2)
BASE_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=1)
ERROR_TEXT_LIMIT = 500
# A periodic job's row is open while pending or leased; then the job needs no other.
_OPEN = (OutboxStatus.PENDING, OutboxStatus.LEASED)


def load_jobs(modules: Iterable[str] = JOB_MODULES) -> None:
    """Import the modules that register handlers and periodic jobs."""
    for name in modules:
        importlib.import_module(name)


class Outcome(StrEnum):
    DONE = "done"
    RETRY = "retry"
    DEAD = "dead"
    # The lease went to another worker before this one could record anything.
    LOST = "lost"


def backoff(attempts: int) -> timedelta:
    """How long to wait after failed attempt number `attempts`: 30 s, doubling, at most 1 h."""
    exponent = min(max(attempts - 1, 0), 16)
    return min(BASE_BACKOFF * (1 << exponent), MAX_BACKOFF)


def describe_error(error: BaseException) -> str:
    """The exception's class and a short, redacted message, for `last_error`."""
    detail = " ".join(redact_text(str(error)).split())
    described = f"{type(error).__name__}: {detail}" if detail else type(error).__name__
    return described[:ERROR_TEXT_LIMIT]


def advisory_lock_key(kind: str) -> int:
    """A signed 64-bit PostgreSQL advisory-lock key for one periodic job's row."""
    digest = hashlib.sha256(f"clinic.outbox:{kind}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def default_worker_name() -> str:
    """Host, process id and a random suffix: unique enough for lease ownership."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


def _due(now: datetime) -> ColumnElement[bool]:
    """Pending and due, or leased by a worker whose lease has run out."""
    return or_(
        and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.due_at <= now),
        and_(OutboxMessage.status == OutboxStatus.LEASED, OutboxMessage.leased_until < now),
    )


@dataclass(frozen=True)
class _Result:
    error: Exception | None = None
    # Set when the message is given up without (further) trying: unknown kind, say.
    dead_reason: str | None = None
    # What a periodic job reported it handled.
    handled: int | None = None


class Worker:
    """Claims and carries out outbox messages. Several may run at once, in one process or
    many, against the same database: leases keep them from handling the same row together.
    """

    def __init__(
        self,
        ctx: HandlerContext,
        *,
        name: str,
        lease: timedelta = DEFAULT_LEASE,
        batch: int = 20,
        max_attempts: int = 8,
        registry: Registry | None = None,
    ) -> None:
        if not name or len(name) > 100:
            raise ValueError(f"a worker name has 1 to 100 characters (got {name!r})")
        if lease <= timedelta(0) or batch < 1 or max_attempts < 1:
            raise ValueError("lease must be positive; batch and max_attempts at least 1")
        self.ctx = ctx
        self.name = name
        self.lease = lease
        self.batch = batch
        self.max_attempts = max_attempts
        self.registry = registry if registry is not None else REGISTRY
        # A handler still running when its lease ends would race the next owner: stop it
        # first, and count that as a failed attempt.
        self.handler_timeout = lease.total_seconds() * 0.75

    @property
    def db(self) -> Database:
        return self.ctx.db

    async def claim(self) -> list[OutboxMessage]:
        """Lease up to `batch` due messages to this worker in one short transaction.

        PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED, so concurrent claimers take
        different rows without waiting, then UPDATE. SQLite: a write transaction begins
        with BEGIN IMMEDIATE, so claimers already run one at a time; one UPDATE ...
        WHERE id IN (SELECT ...) RETURNING does it.
        """
        now = now_utc()
        due = (
            select(OutboxMessage.id)
            .where(_due(now))
            .order_by(OutboxMessage.due_at, OutboxMessage.id)
            .limit(self.batch)
        )
        async with self.db.transaction() as session:
            if self.db.dialect == "postgresql":
                ids = list(await session.scalars(due.with_for_update(skip_locked=True)))
                if not ids:
                    return []
                target = OutboxMessage.id.in_(ids)
            else:
                target = OutboxMessage.id.in_(due.scalar_subquery())
            claimed = list(
                await session.scalars(
                    update(OutboxMessage)
                    .where(target)
                    .values(
                        status=OutboxStatus.LEASED,
                        leased_until=now + self.lease,
                        lease_owner=self.name,
                        attempts=OutboxMessage.attempts + 1,
                    )
                    .returning(OutboxMessage),
                    execution_options={"synchronize_session": False},
                )
            )
        claimed.sort(key=lambda message: (message.due_at, message.id))
        return claimed

    async def process(self, message: OutboxMessage) -> Outcome:
        """Run the handler for a message this worker claimed, outside any transaction,
        then record the outcome in a second one if the lease is still this worker's."""
        return await self._record(message, await self._run(message))

    async def run_once(self) -> int:
        """Claim one batch and process it; return how many messages were handled."""
        if not await self._anything_due():
            return 0
        claimed = await self.claim()
        for message in claimed:
            await self.process(message)
        return len(claimed)

    async def ensure_periodic(self) -> int:
        """Make sure each periodic job has one open (pending or leased) row; return how
        many rows were added. Safe to call from any number of workers at once."""
        added = 0
        for job in self.registry.periodic_jobs():
            async with self.db.transaction() as session:
                added += await self._ensure_one(session, job, due_at=now_utc())
        return added

    async def run_forever(self, stop: asyncio.Event, poll: float = 1.0) -> None:
        """Process batches until `stop` is set, waiting `poll` seconds when idle.

        A failed pass (the database away or locked, say) is logged and tried again: it
        must never take the app down, and a message it left leased is only late.
        """
        logger.info("Outbox worker %s started", self.name)
        ensured = False
        while not stop.is_set():
            handled = 0
            try:
                if not ensured:
                    await self.ensure_periodic()
                    ensured = True
                handled = await self.run_once()
            except Exception as error:
                # A locked or deadlocked database is expected under load: one line, no
                # traceback. Anything else is logged whole.
                logger.log(
                    logging.WARNING if is_transient(error) else logging.ERROR,
                    "Outbox worker %s: a pass failed; trying again in %s seconds",
                    self.name,
                    poll,
                    exc_info=None if is_transient(error) else error,
                )
            if handled >= self.batch:
                # A full batch: more may be waiting. Yield, then go on without the pause.
                await asyncio.sleep(0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll)
        logger.info("Outbox worker %s stopped", self.name)

    # internals

    async def _anything_due(self) -> bool:
        # A read first: on SQLite an idle poll then never takes the single write lock.
        async with self.db.reading() as session:
            found = await session.scalar(select(OutboxMessage.id).where(_due(now_utc())).limit(1))
        return found is not None

    def _resolve(self, kind: str) -> tuple[Handler | None, PeriodicJob | None]:
        """The handler of a message kind, or the periodic job a "periodic.*" row drives."""
        if kind.startswith(PERIODIC_PREFIX):
            return None, self.registry.periodic_job(kind.removeprefix(PERIODIC_PREFIX))
        return self.registry.handler_for(kind), None

    async def _run(self, message: OutboxMessage) -> _Result:
        handler, job = self._resolve(message.kind)
        if handler is None and job is None:
            return _Result(dead_reason=f"no handler for outbox kind {message.kind!r}")
        if message.attempts > self.max_attempts:
            return _Result(
                dead_reason=f"gave up after {message.attempts - 1} attempts; the last ones"
                " ended without an outcome (the worker stopped or lost its lease)"
            )
        handled: int | None = None
        try:
            async with asyncio.timeout(self.handler_timeout) as deadline:
                if job is not None:
                    handled = await job.run(self.ctx)
                elif handler is not None:
                    await handler(self.ctx, message)
        except Exception as error:
            if isinstance(error, TimeoutError) and deadline.expired():
                error = TimeoutError(
                    f"stopped after {self.handler_timeout:g} s, three quarters of the lease"
                )
            return _Result(error=error)
        return _Result(handled=handled)

    async def _record(self, message: OutboxMessage, result: _Result) -> Outcome:
        now = now_utc()
        _handler, job = self._resolve(message.kind)
        values: dict[str, Any] = {"leased_until": None}
        if result.dead_reason is not None:
            outcome = Outcome.DEAD
            values.update(status=OutboxStatus.DEAD, last_error=result.dead_reason[:500])
        elif result.error is None:
            outcome = Outcome.DONE
            values.update(status=OutboxStatus.DONE, done_at=now)
        elif message.attempts >= self.max_attempts:
            outcome = Outcome.DEAD
            values.update(status=OutboxStatus.DEAD, last_error=describe_error(result.error))
        else:
            outcome = Outcome.RETRY
            wait = backoff(message.attempts)
            if job is not None:
                # A failed period is retried, but never later than the next period.
                wait = min(wait, job.every)
            values.update(
                status=OutboxStatus.PENDING,
                due_at=now + wait,
                lease_owner=None,
                last_error=describe_error(result.error),
            )
        reschedule = job is not None and outcome in (Outcome.DONE, Outcome.DEAD)
        async with self.db.transaction() as session:
            if reschedule and self.db.dialect == "postgresql":
                assert job is not None
                await _lock(session, job.kind)
            recorded = await session.scalar(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == message.id,
                    OutboxMessage.status == OutboxStatus.LEASED,
                    OutboxMessage.lease_owner == self.name,
                    OutboxMessage.attempts == message.attempts,
                )
                .values(**values)
                .returning(OutboxMessage.id),
                execution_options={"synchronize_session": False},
            )
            if recorded is None:
                outcome = Outcome.LOST
            elif reschedule:
                assert job is not None
                await self._ensure_one(session, job, due_at=now + job.every, locked=True)
        self._log(message, outcome, result, values.get("due_at"), periodic=job is not None)
        return outcome

    async def _ensure_one(
        self, session: AsyncSession, job: PeriodicJob, *, due_at: datetime, locked: bool = False
    ) -> int:
        """Add the job's next row unless one is open. PostgreSQL: behind an advisory lock
        on the job, so two transactions cannot both see none and both insert (READ
        COMMITTED: the check runs after the lock, and sees what the last holder
        committed). SQLite: BEGIN IMMEDIATE already serialises the check and the insert."""
        if self.db.dialect == "postgresql" and not locked:
            await _lock(session, job.kind)
        open_row = await session.scalar(
            select(OutboxMessage.id)
            .where(OutboxMessage.kind == job.kind, OutboxMessage.status.in_(_OPEN))
            .limit(1)
        )
        if open_row is not None:
            return 0
        enqueue(session, job.kind, {}, due_at=due_at)
        return 1

    def _log(
        self,
        message: OutboxMessage,
        outcome: Outcome,
        result: _Result,
        retry_at: Any,
        *,
        periodic: bool,
    ) -> None:
        fields: dict[str, Any] = {
            "outbox_id": message.id,
            "kind": message.kind,
            "attempt": message.attempts,
            "outcome": outcome.value,
            "worker": self.name,
        }
        extra = {"fields": fields}
        error = result.error
        error_name = type(error).__name__ if error is not None else ""
        if outcome is Outcome.DONE and periodic:
            fields["handled"] = result.handled
            # A job that found nothing to do says so only at DEBUG: it runs every minute.
            logger.log(
                logging.INFO if result.handled else logging.DEBUG,
                "Outbox message %d (%s) done on attempt %d: %s handled",
                message.id,
                message.kind,
                message.attempts,
                result.handled,
                extra=extra,
            )
        elif outcome is Outcome.DONE:
            logger.info(
                "Outbox message %d (%s) done on attempt %d",
                message.id,
                message.kind,
                message.attempts,
                extra=extra,
            )
        elif outcome is Outcome.RETRY:
            logger.warning(
                "Outbox message %d (%s) failed on attempt %d with %s; next try at %s",
                message.id,
                message.kind,
                message.attempts,
                error_name,
                retry_at.isoformat() if isinstance(retry_at, datetime) else retry_at,
                extra=extra,
                exc_info=None if error is None or is_transient(error) else error,
            )
        elif outcome is Outcome.DEAD:
            reason = error_name or result.dead_reason or ""
            logger.error(
                "Outbox message %d (%s) is dead after attempt %d: %s",
                message.id,
                message.kind,
                message.attempts,
                reason,
                extra=extra,
                exc_info=error,
            )
        else:
            logger.warning(
                "Outbox message %d (%s): the lease passed to another worker before attempt %d"
                " could be recorded; its outcome was dropped",
                message.id,
                message.kind,
                message.attempts,
                extra=extra,
            )


async def _lock(session: AsyncSession, kind: str) -> None:
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_lock_key(kind)}
    )


def build_worker(
    db: Database,
    settings: Settings,
    *,
    name: str | None = None,
    templates: jinja2.Environment | None = None,
    mailer: Mailer | None = None,
    registry: Registry | None = None,
) -> Worker:
    """The worker the app and `clinic worker` run: jobs loaded, mailer from the settings,
    e-mail templates from the app's Jinja2 environment."""
    load_jobs()
    if templates is None:
        from clinic.web.templating import make_templates

        templates = make_templates(settings.timezone).env
    ctx = HandlerContext(
        db=db,
        settings=settings,
        mailer=mailer if mailer is not None else mailer_from_settings(settings),
        templates=templates,
    )
    return Worker(ctx, name=name or default_worker_name(), registry=registry)
