"""The outbox on each database, in a rolled-back transaction: enqueue with the caller's
work, deliver once, retry with back-off, give up, survive workers dying at the claim and
commit boundaries, and drive periodic jobs."""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
from datetime import timedelta
from email.message import EmailMessage

import pytest

from clinic.clock import frozen_at
from clinic.db import Database
from clinic.notifications.mail import stable_message_id
from clinic.outbox.models import OutboxMessage, OutboxStatus
from clinic.outbox.registry import HandlerContext, Registry
from clinic.outbox.service import enqueue
from clinic.settings import Settings
from clinic.worker import Outcome, Worker, backoff, describe_error
from tests.outbox import T0, add_message, count, load, make_worker, open_rows

LEASE = timedelta(minutes=2)


class Killed(BaseException):
    """The process died here (not an Exception: nothing in the worker may catch it)."""


class DiesBeforeRecording(Worker):
    async def _record(self, message: OutboxMessage, result: object) -> Outcome:  # type: ignore[override]
        raise Killed


@pytest.fixture
def registry() -> Registry:
    return Registry()


@pytest.fixture
def calls() -> list[int]:
    return []


@pytest.fixture
def worker_a(db: Database, settings: Settings, registry: Registry) -> Worker:
    return make_worker(db, settings, registry, "worker-a", max_attempts=3)


@pytest.fixture
def worker_b(db: Database, settings: Settings, registry: Registry) -> Worker:
    return make_worker(db, settings, registry, "worker-b", max_attempts=3)


def _record_calls(registry: Registry, calls: list[int], kind: str = "test.record") -> None:
    @registry.handles(kind)
    async def record(ctx: HandlerContext, message: OutboxMessage) -> None:
        calls.append(message.id)


# enqueue


async def test_enqueue_in_a_rolled_back_transaction_leaves_nothing(db: Database) -> None:
    async def book_and_fail() -> None:
        async with db.transaction() as session:
            enqueue(session, "test.rolled_back", {"appointment_id": 1})
            await session.flush()
            raise RuntimeError("the booking failed")

    with pytest.raises(RuntimeError, match="the booking failed"):
        await book_and_fail()
    assert await count(db, "test.rolled_back") == 0


async def test_enqueue_then_commit_leaves_one_pending_row_due_now(db: Database) -> None:
    with frozen_at(T0):
        message_id = await add_message(db, "test.committed", {"appointment_id": 7})
    message = await load(db, message_id)
    assert message.status is OutboxStatus.PENDING
    assert message.payload == {"appointment_id": 7}
    assert message.due_at == message.created_at == T0
    assert (message.attempts, message.lease_owner, message.last_error) == (0, None, "")


async def test_enqueue_takes_a_later_due_time_and_refuses_what_cannot_be_stored(
    db: Database,
) -> None:
    async with db.transaction() as session:
        later = enqueue(session, "test.later", {"id": 1}, due_at=T0 + timedelta(days=1))
        with pytest.raises(ValueError, match="aware"):
            enqueue(session, "test.later", {}, due_at=T0.replace(tzinfo=None))
        with pytest.raises(TypeError):
            enqueue(session, "test.later", {"when": T0})
        with pytest.raises(ValueError, match="1 to 100"):
            enqueue(session, "", {})
    assert (await load(db, later.id)).due_at == T0 + timedelta(days=1)


# delivery, retries, dead letters


async def test_run_once_delivers_a_registered_message_once_and_marks_it_done(
    db: Database, registry: Registry, calls: list[int], worker_a: Worker
) -> None:
    _record_calls(registry, calls)
    with frozen_at(T0):
        message_id = await add_message(db, "test.record", {"appointment_id": 3})
        assert await worker_a.run_once() == 1
        assert await worker_a.run_once() == 0
    assert calls == [message_id]
    message = await load(db, message_id)
    assert (message.status, message.done_at, message.attempts) == (OutboxStatus.DONE, T0, 1)
    assert message.leased_until is None


async def test_a_message_due_later_waits_for_its_time(
    db: Database, registry: Registry, calls: list[int], worker_a: Worker
) -> None:
    _record_calls(registry, calls)
    with frozen_at(T0):
        message_id = await add_message(db, "test.record", due_at=T0 + timedelta(hours=1))
        assert await worker_a.run_once() == 0
    with frozen_at(T0 + timedelta(hours=1)):
        assert await worker_a.run_once() == 1
    assert calls == [message_id]


async def test_a_failing_handler_is_retried_with_backoff_then_dead(
    db: Database, registry: Registry, worker_a: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[int] = []

    @registry.handles("test.flaky")
    async def flaky(ctx: HandlerContext, message: OutboxMessage) -> None:
        attempts.append(message.attempts)
        raise ConnectionError("relay refused mail for jane.doe@example.com")

    caplog.set_level(logging.INFO, logger="clinic.outbox")
    now = T0
    with frozen_at(now):
        message_id = await add_message(db, "test.flaky", {"appointment_id": 4242})
        assert await worker_a.run_once() == 1
    message = await load(db, message_id)
    assert message.status is OutboxStatus.PENDING
    assert message.due_at == T0 + timedelta(seconds=30)
    assert message.lease_owner is None
    assert message.last_error.startswith("ConnectionError: relay refused mail for j***@")
    assert "jane.doe" not in message.last_error

    with frozen_at(T0 + timedelta(seconds=29)):
        assert await worker_a.run_once() == 0
    with frozen_at(T0 + timedelta(seconds=30)):
        assert await worker_a.run_once() == 1
    assert (await load(db, message_id)).due_at == T0 + timedelta(seconds=90)
    with frozen_at(T0 + timedelta(seconds=90)):
        assert await worker_a.run_once() == 1
    with frozen_at(T0 + timedelta(days=1)):
        assert await worker_a.run_once() == 0

    message = await load(db, message_id)
    assert (message.status, message.attempts) == (OutboxStatus.DEAD, 3)
    assert attempts == [1, 2, 3]
    lines = [
        r for r in caplog.records if r.name == "clinic.outbox" and "test.flaky" in r.getMessage()
    ]
    assert [r.levelname for r in lines] == ["WARNING", "WARNING", "ERROR"]
    for record in lines:
        assert "4242" not in record.getMessage()
        assert "4242" not in str(getattr(record, "fields", {}))


async def test_a_handler_that_outlives_its_lease_is_stopped_and_retried(
    db: Database, settings: Settings, registry: Registry
) -> None:
    @registry.handles("test.stuck")
    async def stuck(ctx: HandlerContext, message: OutboxMessage) -> None:
        await asyncio.sleep(5)

    worker = make_worker(db, settings, registry, "worker-a", lease=timedelta(seconds=0.04))
    with frozen_at(T0):
        message_id = await add_message(db, "test.stuck")
        assert await worker.run_once() == 1
    message = await load(db, message_id)
    assert message.status is OutboxStatus.PENDING
    assert message.last_error == "TimeoutError: stopped after 0.03 s, three quarters of the lease"


async def test_an_unknown_kind_is_dead_at_once(db: Database, worker_a: Worker) -> None:
    with frozen_at(T0):
        message_id = await add_message(db, "test.nobody_handles_this")
        assert await worker_a.run_once() == 1
    message = await load(db, message_id)
    assert (message.status, message.attempts) == (OutboxStatus.DEAD, 1)
    assert "no handler" in message.last_error
    assert "test.nobody_handles_this" in message.last_error


def test_backoff_doubles_from_thirty_seconds_and_stops_at_an_hour() -> None:
    assert [backoff(n).total_seconds() for n in range(1, 9)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
    ]
    assert backoff(1000) == timedelta(hours=1)


def test_last_error_is_short_and_redacted() -> None:
    error = ValueError("password=hunter2 for sam@example.com\n" + "x" * 2000)
    described = describe_error(error)
    assert described.startswith("ValueError: password=[redacted] for s***@example.com x")
    assert len(described) <= 500
    assert describe_error(TimeoutError()) == "TimeoutError"


# killed at the claim and commit boundaries


async def test_a_worker_killed_after_claiming_loses_nothing(
    db: Database, registry: Registry, calls: list[int], worker_a: Worker, worker_b: Worker
) -> None:
    _record_calls(registry, calls)
    with frozen_at(T0):
        message_id = await add_message(db, "test.record")
        assert [m.id for m in await worker_a.claim()] == [message_id]
        # worker-a dies here, holding the lease.
        assert await worker_b.run_once() == 0
    with frozen_at(T0 + LEASE - timedelta(seconds=1)):
        assert await worker_b.run_once() == 0
    with frozen_at(T0 + LEASE + timedelta(seconds=1)):
        assert await worker_b.run_once() == 1
        assert await worker_b.run_once() == 0
    assert calls == [message_id]
    message = await load(db, message_id)
    assert (message.status, message.lease_owner, message.attempts) == (
        OutboxStatus.DONE,
        "worker-b",
        2,
    )


async def test_a_worker_killed_after_delivering_redelivers_with_the_same_message_id(
    db: Database, settings: Settings, registry: Registry, worker_b: Worker
) -> None:
    @registry.handles("test.email")
    async def send(ctx: HandlerContext, message: OutboxMessage) -> None:
        await ctx.send_email(
            message,
            to="Jo Client <jo@example.com>",
            template="test_sample",
            context={"first_name": "Jo", "day": "Tuesday"},
        )

    dying = make_worker(db, settings, registry, "worker-a", cls=DiesBeforeRecording)
    with frozen_at(T0):
        message_id = await add_message(db, "test.email", {"appointment_id": 1})
        with pytest.raises(Killed):
            await dying.run_once()
        assert await worker_b.run_once() == 0
    with frozen_at(T0 + LEASE + timedelta(seconds=1)):
        assert await worker_b.run_once() == 1

    files = sorted((settings.var_dir / "mail").glob("*.eml"))
    assert len(files) == 2  # at least once: the first copy went out before the crash
    sent = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]
    assert all(isinstance(m, EmailMessage) for m in sent)
    expected = stable_message_id(message_id, T0, settings.mail_from)
    assert [m["Message-ID"] for m in sent] == [expected, expected]
    assert expected.startswith(f"<outbox-{message_id}.")
    assert expected.endswith("@willowoak.test>")
    message = await load(db, message_id)
    assert (message.status, message.lease_owner) == (OutboxStatus.DONE, "worker-b")


async def test_a_slow_worker_cannot_overwrite_the_new_owners_outcome(
    db: Database, registry: Registry, worker_a: Worker, worker_b: Worker
) -> None:
    fail_for = {"worker-a"}

    @registry.handles("test.slow")
    async def slow(ctx: HandlerContext, message: OutboxMessage) -> None:
        if message.lease_owner in fail_for:
            raise RuntimeError("too late anyway")

    with frozen_at(T0):
        first_id = await add_message(db, "test.slow")
        [stale] = await worker_a.claim()
    with frozen_at(T0 + LEASE + timedelta(seconds=1)):
        # worker-b takes the expired lease and finishes first ...
        assert await worker_b.run_once() == 1
        # ... then worker-a wakes up and fails: it must not put the row back to pending.
        assert await worker_a.process(stale) is Outcome.LOST
    message = await load(db, first_id)
    assert (message.status, message.lease_owner, message.last_error) == (
        OutboxStatus.DONE,
        "worker-b",
        "",
    )

    # The other order: worker-b holds the newer lease while the stale worker-a succeeds.
    fail_for.clear()
    with frozen_at(T0 + timedelta(minutes=10)):
        second_id = await add_message(db, "test.slow")
        [stale] = await worker_a.claim()
    with frozen_at(T0 + timedelta(minutes=10) + LEASE + timedelta(seconds=1)):
        [fresh] = await worker_b.claim()
        assert await worker_a.process(stale) is Outcome.LOST
        assert (await load(db, second_id)).status is OutboxStatus.LEASED
        assert await worker_b.process(fresh) is Outcome.DONE
    message = await load(db, second_id)
    assert (message.status, message.lease_owner, message.attempts) == (
        OutboxStatus.DONE,
        "worker-b",
        2,
    )


async def test_a_message_whose_workers_keep_dying_is_given_up(
    db: Database, registry: Registry, calls: list[int], worker_a: Worker
) -> None:
    _record_calls(registry, calls)
    with frozen_at(T0):
        message_id = await add_message(db, "test.record")
    for n in range(3):
        with frozen_at(T0 + n * (LEASE + timedelta(seconds=1))):
            assert len(await worker_a.claim()) == 1  # and the worker dies each time
    with frozen_at(T0 + 3 * (LEASE + timedelta(seconds=1))):
        assert await worker_a.run_once() == 1
    message = await load(db, message_id)
    assert (message.status, message.attempts) == (OutboxStatus.DEAD, 4)
    assert "gave up" in message.last_error
    assert calls == []


# periodic jobs


async def test_workers_starting_together_create_one_pending_periodic_row(
    db: Database, registry: Registry, worker_a: Worker, worker_b: Worker
) -> None:
    @registry.periodic("test.tick", every=timedelta(minutes=5))
    async def tick(ctx: HandlerContext) -> int:
        return 0

    with frozen_at(T0):
        assert await worker_a.ensure_periodic() == 1
        assert await worker_b.ensure_periodic() == 0
        assert await worker_a.ensure_periodic() == 0
    [row] = await open_rows(db, "periodic.test.tick")
    assert (row.status, row.due_at, row.payload) == (OutboxStatus.PENDING, T0, {})


async def test_a_periodic_job_runs_once_per_period_and_reschedules_itself(
    db: Database, registry: Registry, worker_a: Worker, worker_b: Worker
) -> None:
    every = timedelta(minutes=5)
    runs: list[str] = []

    @registry.periodic("test.sweep", every=every)
    async def sweep(ctx: HandlerContext) -> int:
        runs.append("ran")
        return 3

    with frozen_at(T0):
        await worker_a.ensure_periodic()
        await worker_b.ensure_periodic()
        assert await worker_a.run_once() == 1
        assert await worker_b.run_once() == 0
    assert len(runs) == 1
    [row] = await open_rows(db, "periodic.test.sweep")
    assert (row.status, row.due_at) == (OutboxStatus.PENDING, T0 + every)

    with frozen_at(T0 + every - timedelta(seconds=1)):
        assert await worker_a.run_once() + await worker_b.run_once() == 0
    with frozen_at(T0 + every):
        assert await worker_b.run_once() == 1
        assert await worker_a.run_once() == 0
        await worker_a.ensure_periodic()  # a restart adds nothing
    assert len(runs) == 2
    [row] = await open_rows(db, "periodic.test.sweep")
    assert row.due_at == T0 + 2 * every
    assert await count(db, "periodic.test.sweep", OutboxStatus.DONE) == 2


async def test_a_failing_periodic_job_retries_within_its_period_and_keeps_its_schedule(
    db: Database, registry: Registry, worker_a: Worker
) -> None:
    every = timedelta(seconds=45)

    @registry.periodic("test.broken", every=every)
    async def broken(ctx: HandlerContext) -> int:
        raise RuntimeError("job failed")

    with frozen_at(T0):
        await worker_a.ensure_periodic()
        await worker_a.run_once()
    [row] = await open_rows(db, "periodic.test.broken")
    assert row.due_at == T0 + timedelta(seconds=30)
    with frozen_at(T0 + timedelta(seconds=30)):
        await worker_a.run_once()
    [row] = await open_rows(db, "periodic.test.broken")
    assert row.due_at == T0 + timedelta(seconds=75)  # min(60 s of back-off, 45 s period)
    with frozen_at(T0 + timedelta(seconds=75)):
        await worker_a.run_once()  # the third and last attempt
    assert await count(db, "periodic.test.broken", OutboxStatus.DEAD) == 1
    [row] = await open_rows(db, "periodic.test.broken")
    assert (row.attempts, row.due_at) == (0, T0 + timedelta(seconds=75) + every)


def test_the_registry_refuses_clashing_registrations() -> None:
    registry = Registry()

    @registry.handles("test.once")
    async def first(ctx: HandlerContext, message: OutboxMessage) -> None:
        return None

    assert registry.handles("test.once")(first) is first  # the same function again is fine

    async def second(ctx: HandlerContext, message: OutboxMessage) -> None:
        return None

    with pytest.raises(ValueError, match="already has a handler"):
        registry.handles("test.once")(second)
    with pytest.raises(ValueError, match="@periodic"):
        registry.handles("periodic.sneaky")
    with pytest.raises(ValueError, match="positive"):
        registry.periodic("test.never", every=timedelta(0))
    assert registry.kinds() == ("test.once",)
