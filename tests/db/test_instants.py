"""Instants are stored in UTC on both databases and come back equal, in order, and aware."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from clinic.db import Database, epoch_micros
from clinic.scheduling.models import TimeOff
from tests import factories

NEW_YORK = ZoneInfo("America/New_York")


async def test_instants_round_trip_across_a_daylight_saving_change(db: Database) -> None:
    # 01:30 happens twice in New York on 1 November 2026; fold picks the second (EST).
    first = datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK)
    second = datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NEW_YORK)
    assert second - first == timedelta(0)  # same wall clock, same zone: Python compares walls
    assert second.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=1)
    async with db.transaction() as session:
        therapist = await factories.create_therapist(session)
        # Arithmetic happens in UTC: adding to a local datetime drops its fold.
        ends_at = second.astimezone(UTC) + timedelta(minutes=1)
        session.add(TimeOff(therapist_id=therapist.id, starts_at=first, ends_at=ends_at))
    async with db.reading() as session:
        stored = await session.scalar(select(TimeOff).where(TimeOff.therapist_id == therapist.id))
    assert stored is not None
    assert stored.starts_at == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert stored.ends_at == datetime(2026, 11, 1, 6, 31, tzinfo=UTC)
    assert stored.starts_at.tzinfo is not None
    assert stored.starts_at.utcoffset() == timedelta(0)


async def test_instants_compare_by_instant_not_by_text(db: Database) -> None:
    # 10:00 in Sydney is earlier than 09:00 in London on the same date.
    sydney = datetime(2026, 3, 8, 10, 0, tzinfo=ZoneInfo("Australia/Sydney"))
    london = datetime(2026, 3, 8, 9, 0, tzinfo=ZoneInfo("Europe/London"))
    async with db.transaction() as session:
        therapist = await factories.create_therapist(session)
        for start in (london, sydney):
            session.add(
                TimeOff(
                    therapist_id=therapist.id, starts_at=start, ends_at=start + timedelta(hours=1)
                )
            )
    async with db.reading() as session:
        ordered = list(
            await session.scalars(
                select(TimeOff.starts_at)
                .where(TimeOff.therapist_id == therapist.id)
                .order_by(TimeOff.starts_at)
            )
        )
        earlier = await session.scalar(
            select(TimeOff.starts_at).where(
                TimeOff.therapist_id == therapist.id, TimeOff.starts_at < london
            )
        )
    assert ordered == [sydney, london]
    assert earlier == sydney


async def test_a_naive_datetime_is_refused(db: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"):  # noqa: PT012
        async with db.transaction() as session:
            therapist = await factories.create_therapist(session)
            session.add(
                TimeOff(
                    therapist_id=therapist.id,
                    starts_at=datetime(2026, 1, 1, 9, 0),  # noqa: DTZ001
                    ends_at=datetime(2026, 1, 1, 10, 0, tzinfo=UTC),
                )
            )


@pytest.mark.parametrize(
    "instant",
    [
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2038, 1, 19, 3, 14, 8, 1, tzinfo=UTC),
        datetime(2026, 11, 27, 12, 0, 0, 123_456, tzinfo=UTC),
    ],
)
def test_epoch_microseconds_are_exact(instant: datetime) -> None:
    from clinic.db import EPOCH

    assert EPOCH + timedelta(microseconds=epoch_micros(instant)) == instant
