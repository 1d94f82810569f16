"""The one source of "now". Tests freeze it here; nothing else calls datetime.now()."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

_now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now_utc() -> datetime:
    return _now()


def today_in(zone: ZoneInfo) -> date:
    return now_utc().astimezone(zone).date()


@contextmanager
def frozen_at(instant: datetime) -> Iterator[None]:
    """Freeze the clock in-process. It cannot reach another process (a live server)."""
    global _now
    if instant.tzinfo is None:
        raise ValueError("freeze the clock at an aware instant")
    previous = _now
    _now = lambda: instant  # noqa: E731
    try:
        yield
    finally:
        _now = previous
