"""A therapist marks their own checked-in session completed, and can undo it; the counter
of completed oncology sessions follows both ways."""

from __future__ import annotations

import httpx2
from sqlalchemy import func, select

from clinic import demo
from clinic.audit import AuditEntry
from clinic.booking.models import Appointment
from clinic.booking.service import day_bounds
from clinic.booking.statuses import AppointmentStatus
from clinic.db import Database
from clinic.scheduling.models import Service
from clinic.staff.models import Therapist
from tests import factories
from tests.therapist.conftest import TODAY, ZONE, demo_therapist


async def _todays(db: Database, therapist: Therapist, *, oncology: bool) -> Appointment:
    start, end = day_bounds(TODAY, ZONE)
    async with db.reading() as session:
        found = await session.scalar(
            select(Appointment)
            .join(Service, Service.id == Appointment.service_id)
            .where(
                Appointment.therapist_id == therapist.id,
                Appointment.status == AppointmentStatus.CONFIRMED,
                Appointment.starts_at >= start,
                Appointment.starts_at < end,
                func.coalesce(Service.min_oncology_level, 0) >= 1
                if oncology
                else func.coalesce(Service.min_oncology_level, 0) == 0,
            )
            .order_by(Appointment.starts_at.desc())
        )
    assert found is not None
    return found


async def _set_status(db: Database, appointment_id: int, status: AppointmentStatus) -> None:
    async with db.transaction() as session:
        row = await session.get(Appointment, appointment_id)
        assert row is not None
        row.status = status


async def _state(db: Database, appointment_id: int, therapist_id: int) -> tuple[str, int]:
    async with db.reading() as session:
        status = await session.scalar(
            select(Appointment.status).where(Appointment.id == appointment_id)
        )
        counter = await session.scalar(
            select(Therapist.oncology_sessions_here).where(Therapist.id == therapist_id)
        )
    assert status is not None
    assert counter is not None
    return status.value, counter


async def _post(http: httpx2.AsyncClient, path: str) -> httpx2.Response:
    token = await factories.form_token(http, "/therapist/")
    return await http.post(path, data={"csrf_token": token})


async def test_completing_and_undoing_an_oncology_session_keeps_the_counter(
    seeded: Database, http: httpx2.AsyncClient, jordan: Therapist
) -> None:
    visit = await _todays(seeded, jordan, oncology=True)
    await _set_status(seeded, visit.id, AppointmentStatus.CHECKED_IN)
    _, before = await _state(seeded, visit.id, jordan.id)
    page = await http.get("/therapist/")
    assert f"/therapist/appointments/{visit.id}/complete" in page.text

    done = await _post(http, f"/therapist/appointments/{visit.id}/complete")

    assert done.status_code == 303
    assert done.headers["location"] == f"/therapist/{TODAY.isoformat()}#visit-{visit.id}"
    assert await _state(seeded, visit.id, jordan.id) == ("completed", before + 1)
    after = await http.get(done.headers["location"])
    assert "session marked as completed" in after.text
    assert f"/therapist/appointments/{visit.id}/uncomplete" in after.text

    undone = await _post(http, f"/therapist/appointments/{visit.id}/uncomplete")

    assert undone.status_code == 303
    assert await _state(seeded, visit.id, jordan.id) == ("checked_in", before)
    again = await _post(http, f"/therapist/appointments/{visit.id}/uncomplete")
    assert again.status_code == 409
    assert "nothing to undo" in again.text
    assert await _state(seeded, visit.id, jordan.id) == ("checked_in", before)
    async with seeded.reading() as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.subject_type == "appointment")
                .where(AuditEntry.subject_id == str(visit.id))
                .order_by(AuditEntry.id)
            )
        )
    assert actions[-2:] == ["appointment.completed", "appointment.completion_undone"]


async def test_a_session_that_is_not_oncology_leaves_the_counter_alone(
    seeded: Database, http: httpx2.AsyncClient, jordan: Therapist
) -> None:
    visit = await _todays(seeded, jordan, oncology=False)
    await _set_status(seeded, visit.id, AppointmentStatus.CHECKED_IN)
    _, before = await _state(seeded, visit.id, jordan.id)

    done = await _post(http, f"/therapist/appointments/{visit.id}/complete")

    assert done.status_code == 303
    assert await _state(seeded, visit.id, jordan.id) == ("completed", before)


async def test_only_a_checked_in_session_can_be_completed(
    seeded: Database, http: httpx2.AsyncClient, jordan: Therapist
) -> None:
    visit = await _todays(seeded, jordan, oncology=True)
    _, before = await _state(seeded, visit.id, jordan.id)
    page = await http.get("/therapist/")
    assert f"/therapist/appointments/{visit.id}/complete" not in page.text

    refused = await _post(http, f"/therapist/appointments/{visit.id}/complete")

    assert refused.status_code == 409
    assert await _state(seeded, visit.id, jordan.id) == ("confirmed", before)


async def test_another_therapists_session_is_not_found(
    seeded: Database, http: httpx2.AsyncClient, jordan: Therapist
) -> None:
    marcus = await demo_therapist(seeded, demo.CLINICAL_LEAD)
    theirs = await _todays(seeded, marcus, oncology=True)
    await _set_status(seeded, theirs.id, AppointmentStatus.CHECKED_IN)
    _, before = await _state(seeded, theirs.id, marcus.id)

    refused = await _post(http, f"/therapist/appointments/{theirs.id}/complete")

    assert refused.status_code == 404
    assert await _state(seeded, theirs.id, marcus.id) == ("checked_in", before)
