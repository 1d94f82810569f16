"""Back-off for failed sign-ins, per account and per address, kept in the database so that
every app process sees the same counts.

Back-off rather than a hard lock (OWASP WSTG "weak lock-out"): the first few failures
cost nothing, then each one doubles the wait, capped. NIST SP 800-63B 5.2.2 asks for a
stop at or before 100 consecutive failures on one account: that stop lasts until an
admin unlocks the account.

Second-factor codes have their own count per account ("second_factor:<user id>"), so a
right password does not reset the count of wrong codes, with the same back-off and stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.auth.models import SignInThrottle

# "Blocked until an admin unlocks the account."
LOCKED = datetime(9999, 12, 31, tzinfo=UTC)


@dataclass(frozen=True)
class BackOff:
    free_failures: int
    max_delay: timedelta
    # Failures older than this are forgotten (None: only a success clears them).
    forget_after: timedelta | None
    hard_stop_after: int | None

    def blocked_until(self, failures: int, last_failure_at: datetime) -> datetime | None:
        """When the next attempt is allowed; LOCKED for a hard stop; None if now."""
        if self.hard_stop_after is not None and failures >= self.hard_stop_after:
            return LOCKED
        if failures < self.free_failures:
            return None
        # The exponent is capped too: 2**90 seconds is past what a timedelta holds.
        doublings = min(failures - self.free_failures, 30)
        return last_failure_at + min(timedelta(seconds=2**doublings), self.max_delay)


ACCOUNT = BackOff(
    free_failures=5, max_delay=timedelta(minutes=15), forget_after=None, hard_stop_after=100
)
ADDRESS = BackOff(
    free_failures=20,
    max_delay=timedelta(minutes=15),
    forget_after=timedelta(hours=1),
    hard_stop_after=None,
)

SECOND_FACTOR = BackOff(
    free_failures=5, max_delay=timedelta(minutes=15), forget_after=None, hard_stop_after=100
)


def account_key(email: str) -> str:
    return f"account:{email}"


def address_key(address: str) -> str:
    return f"ip:{address}"


def second_factor_key(user_id: int) -> str:
    return f"second_factor:{user_id}"


def _rule(key: str) -> BackOff:
    if key.startswith("account:"):
        return ACCOUNT
    if key.startswith("second_factor:"):
        return SECOND_FACTOR
    return ADDRESS


def _live_failures(row: SignInThrottle, now: datetime) -> int:
    rule = _rule(row.key)
    if rule.forget_after is not None and now - row.last_failure_at > rule.forget_after:
        return 0
    return row.failures


async def wait_until(session: AsyncSession, keys: list[str], now: datetime) -> datetime | None:
    """The latest time any of `keys` is blocked until, if that is still in the future."""
    latest: datetime | None = None
    for key in keys:
        row = await session.get(SignInThrottle, key)
        if row is None:
            continue
        until = _rule(key).blocked_until(_live_failures(row, now), row.last_failure_at)
        if until is not None and until > now and (latest is None or until > latest):
            latest = until
    return latest


async def take_attempt(session: AsyncSession, keys: list[str], now: datetime) -> datetime | None:
    """Count an attempt as a failure before its password is checked, or say until when
    it must wait. Counting first means parallel guesses cannot all slip through the gap
    between the check and the hash: each one locks and counts in turn, and a success
    takes its count back (`forgive`)."""
    rows = [await _locked_row(session, key, now) for key in keys]
    waits = [
        until
        for row in rows
        if (until := _rule(row.key).blocked_until(_live_failures(row, now), row.last_failure_at))
        is not None
        and until > now
    ]
    if waits:
        return max(waits)
    for row in rows:
        row.failures = _live_failures(row, now) + 1
        row.last_failure_at = now
        row.blocked_until = _rule(row.key).blocked_until(row.failures, now)
    return None


async def forgive(session: AsyncSession, key: str) -> None:
    """Take back the attempt `take_attempt` counted against `key` (after a success)."""
    await session.execute(
        update(SignInThrottle)
        .where(SignInThrottle.key == key, SignInThrottle.failures > 0)
        .values(failures=SignInThrottle.failures - 1)
    )


async def _locked_row(session: AsyncSession, key: str, now: datetime) -> SignInThrottle:
    # Two first attempts at once must not collide on the primary key: make sure the row
    # exists, then lock it. Callers lock keys in one order (account, then address), so
    # two attempts cannot wait on each other.
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(SignInThrottle)
        .values(key=key, failures=0, last_failure_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    row = await session.scalar(
        select(SignInThrottle)
        .where(SignInThrottle.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


async def clear(session: AsyncSession, key: str) -> None:
    await session.execute(delete(SignInThrottle).where(SignInThrottle.key == key))


def is_hard_stopped(row: SignInThrottle | None) -> bool:
    if row is None or row.key.startswith("ip:"):
        return False
    stop = _rule(row.key).hard_stop_after
    return stop is not None and row.failures >= stop


async def hard_stopped_keys(session: AsyncSession) -> set[str]:
    """The account and second-factor keys stopped until an admin unlocks them."""
    stops = [r.hard_stop_after for r in (ACCOUNT, SECOND_FACTOR) if r.hard_stop_after]
    rows = await session.scalars(
        select(SignInThrottle).where(
            or_(
                SignInThrottle.key.startswith("account:"),
                SignInThrottle.key.startswith("second_factor:"),
            ),
            SignInThrottle.failures >= min(stops),
        )
    )
    return {row.key for row in rows if is_hard_stopped(row)}
