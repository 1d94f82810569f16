"""The database itself refuses two blocking appointments that overlap for one therapist
or one room: exclusion constraints on PostgreSQL, a trigger on SQLite (reliability.md 1).
Alembic's drift check cannot see either, so this file looks for them directly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.booking.models import Appointment
from clinic.booking.statuses import BLOCKING_STATUSES, AppointmentStatus
from clinic.clients.models import Client
from clinic.db import Database, is_overlap_violation
from clinic.scheduling.models import Location, Room, Service
from clinic.staff.models import Therapist
from tests import factories

NON_BLOCKING = [s for s in AppointmentStatus if s not in BLOCKING_STATUSES]
NINE = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)  # 9:00 in New York on the Monday after DST


@dataclass
class Scene:
    location: Location
    therapist: Therapist
    other_therapist: Therapist
    room: Room
    other_room: Room
    client: Client
    service: Service


async def _scene(session: AsyncSession) -> Scene:
    location = await factories.create_location(session)
    return Scene(
        location=location,
        therapist=await factories.create_therapist(session),
        other_therapist=await factories.create_therapist(session),
        room=await factories.create_room(session, location=location),
        other_room=await factories.create_room(session, location=location),
        client=await factories.create_client(session),
        service=await factories.create_service(
            session, buffer_before_minutes=0, buffer_after_minutes=15
        ),
    )


async def _insert(session: AsyncSession, scene: Scene, **overrides: object) -> None:
    values = factories.appointment_values(
        location=scene.location,
        therapist=overrides.pop("therapist", scene.therapist),  # type: ignore[arg-type]
        client=scene.client,
        service=scene.service,
        starts_at=overrides.pop("starts_at", NINE),  # type: ignore[arg-type]
        room=overrides.pop("room", scene.room),  # type: ignore[arg-type]
        **overrides,
    )
    await session.execute(insert(Appointment).values(**values))


async def _refused(session: AsyncSession, scene: Scene, **overrides: object) -> bool:
    """True when the database refuses the insert as an overlap."""
    try:
        async with session.begin_nested():
            await _insert(session, scene, **overrides)
    except IntegrityError as error:
        if not is_overlap_violation(error):
            raise
        return True
    return False


async def test_postgres_has_the_exclusion_constraints_and_btree_gist(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL only")
    async with db.reading() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE contype = 'x' AND conrelid = 'appointment'::regclass"
                )
            )
        ).all()
        extension = await session.scalar(
            text("SELECT extname FROM pg_extension WHERE extname = 'btree_gist'")
        )
    definitions = dict(rows)
    assert set(definitions) == {"ex_appointment_therapist_overlap", "ex_appointment_room_overlap"}
    for definition in definitions.values():
        assert "tstzrange(blocked_from, blocked_until, '[)'::text)" in definition
        for status in AppointmentStatus:
            assert (f"'{status.value}'" in definition) == (status in BLOCKING_STATUSES)
    assert extension == "btree_gist"


async def test_sqlite_has_the_overlap_triggers(db: Database) -> None:
    if db.dialect != "sqlite":
        pytest.skip("SQLite only")
    async with db.reading() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT name, sql FROM sqlite_master"
                    " WHERE type = 'trigger' AND tbl_name = 'appointment'"
                )
            )
        ).all()
    triggers = dict(rows)
    assert set(triggers) == {"appointment_no_overlap_insert", "appointment_no_overlap_update"}
    for sql in triggers.values():
        for status in AppointmentStatus:
            assert (f"'{status.value}'" in sql) == (status in BLOCKING_STATUSES)


@pytest.mark.parametrize("existing", BLOCKING_STATUSES, ids=str)
@pytest.mark.parametrize("new", BLOCKING_STATUSES, ids=str)
async def test_overlap_for_one_therapist_is_refused_for_every_blocking_status(
    db: Database, existing: AppointmentStatus, new: AppointmentStatus
) -> None:
    async with db.transaction() as session:
        scene = await _scene(session)
        await _insert(session, scene, status=existing)
        # Another room, starting 30 minutes in: only the therapist is shared.
        assert await _refused(
            session,
            scene,
            status=new,
            room=scene.other_room,
            starts_at=NINE + timedelta(minutes=30),
        )


@pytest.mark.parametrize("new", BLOCKING_STATUSES, ids=str)
async def test_overlap_for_one_room_is_refused(db: Database, new: AppointmentStatus) -> None:
    async with db.transaction() as session:
        scene = await _scene(session)
        await _insert(session, scene)
        assert await _refused(
            session,
            scene,
            status=new,
            therapist=scene.other_therapist,
            starts_at=NINE - timedelta(minutes=45),
        )


async def test_the_after_buffer_blocks_the_next_start(db: Database) -> None:
    async with db.transaction() as session:
        scene = await _scene(session)
        await _insert(session, scene)  # 9:00-10:00, blocked until 10:15
        assert await _refused(
            session, scene, room=scene.other_room, starts_at=NINE + timedelta(minutes=70)
        )
        assert not await _refused(
            session, scene, room=scene.other_room, starts_at=NINE + timedelta(minutes=75)
        )


async def test_room_less_appointments_of_different_therapists_coexist(db: Database) -> None:
    async with db.transaction() as session:
        scene = await _scene(session)
        await _insert(session, scene, room=None)
        assert not await _refused(session, scene, room=None, therapist=scene.other_therapist)


@pytest.mark.parametrize("status", NON_BLOCKING, ids=str)
async def test_non_blocking_appointments_may_overlap(
    db: Database, status: AppointmentStatus
) -> None:
    async with db.transaction() as session:
        scene = await _scene(session)
        await _insert(session, scene)
        assert not await _refused(session, scene, status=status)
        assert not await _refused(session, scene, status=status)


async def test_reviving_a_cancelled_appointment_over_a_booking_is_refused(db: Database) -> None:
    async with db.transaction() as session:
        scene = await _scene(session)
        await _insert(session, scene, status=AppointmentStatus.CANCELLED)
        await _insert(session, scene, starts_at=NINE + timedelta(minutes=15))
        cancelled_id = await session.scalar(
            text("SELECT id FROM appointment WHERE status = 'cancelled'")
        )
        with pytest.raises(IntegrityError) as refused:
            async with session.begin_nested():
                await session.execute(
                    update(Appointment)
                    .where(Appointment.id == cancelled_id)
                    .values(status=AppointmentStatus.CONFIRMED)
                )
        assert is_overlap_violation(refused.value)


async def test_the_same_start_for_one_therapist_is_an_overlap_on_both_databases(
    db: Database,
) -> None:
    # On PostgreSQL the partial unique index on (therapist, start) fires before the
    # exclusion constraint; both must read as "that time was just taken".
    async with db.transaction() as session:
        scene = await _scene(session)
        await _insert(session, scene)
        assert await _refused(session, scene, room=scene.other_room)
