"""The clearance workflow on the seeded demo clinic: a visit whose plan needs a clearance
waits for one, is confirmed when a covering one is recorded, takes its restrictions, waits
again when it expires or is voided, and is released at its deadline. Only a clinical lead
or the treating, qualified therapist records an outcome."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx2
import pytest
from sqlalchemy import func, select

from clinic import clock
from clinic.audit import AuditEntry
from clinic.auth.models import Role
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus, CancelledBy
from clinic.clearance.jobs import expire_clearances, release_overdue
from clinic.clearance.models import ChaseMethod, Clearance, ClearanceStatus
from clinic.clearance.service import (
    Actor,
    Outcome,
    log_chase,
    mark_received,
    record_outcome,
    request_clearance,
    void_clearance,
)
from clinic.db import Database
from clinic.errors import InvalidInput, PermissionDenied
from clinic.intake.models import AppointmentIntake
from clinic.intake.summary import plan_from_json
from clinic.outbox.models import OutboxMessage
from clinic.settings import Settings
from clinic.staff.models import Therapist
from clinic.worker import build_worker
from tests import factories
from tests.booking.conftest import CLIENT, NOW, free_slots, service_id
from tests.booking.test_emails import mail_in
from tests.intake.answers_factory import signed

pytestmark = pytest.mark.usefixtures("frozen")

SHORT = "Oncology massage, 30 min"
BONE_METS = {
    "phase": "in_treatment",
    "bone_mets": True,
    "bone_mets_sites_known": True,
    "bone_mets_sites": ["lower_back"],
}


async def actor(db: Database, *roles: Role, **overrides: Any) -> Actor:
    async with db.transaction() as session:
        user = await factories.create_user(session, roles=roles, **overrides)
    return Actor(user.id, frozenset(roles))


async def book_pending(
    db: Database, http: httpx2.AsyncClient, *days: str, client: dict[str, str] = CLIENT
) -> list[dict[str, Any]]:
    """Bone metastases: one pending visit on each day, all planned from one intake."""
    short = await service_id(db, SHORT)
    token = (await http.post("/api/v1/intakes", json=signed(True, **BONE_METS))).json()[
        "intake_token"
    ]
    booked = []
    for day in days:
        slot = (await free_slots(http, short, day, intake_token=token))[0]
        response = await http.post(
            "/api/v1/bookings",
            json={
                "service_id": short,
                "start": slot["start"],
                "client": client,
                "intake_token": token,
            },
        )
        assert response.status_code == 201, response.text
        booked.append(response.json())
    return booked


async def status_of(db: Database, appointment_id: int) -> AppointmentStatus:
    async with db.reading() as session:
        appointment = await session.get(Appointment, appointment_id)
    assert appointment is not None
    return appointment.status


async def requested(db: Database, appointment_id: int, desk: Actor) -> Clearance:
    return await request_clearance(
        db,
        appointment_id,
        physician_name="Dr Ana Lee",
        practice="Fox Chase Cancer Center",
        contact="fax (215) 555-0199",
        actor=desk,
    )


async def test_bone_metastases_wait_until_a_covering_clearance_confirms_them(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    [visit] = await book_pending(seeded, http, "2026-12-02")
    assert visit["status"] == "pending_clearance"
    desk = await actor(seeded, Role.FRONTDESK)
    lead = await actor(seeded, Role.CLINICAL_LEAD)

    clearance = await requested(seeded, visit["id"], desk)
    await log_chase(
        seeded,
        clearance.id,
        method=ChaseMethod.PHONE,
        outcome="Left a message with the nurse line",
        next_on=date(2026, 11, 30),
        actor=desk,
        today=date(2026, 11, 27),
    )
    await mark_received(seeded, clearance.id, actor=desk)
    with pytest.raises(PermissionDenied):
        await record_outcome(seeded, clearance.id, Outcome(ClearanceStatus.CLEARED), actor=desk)
    assert await status_of(seeded, visit["id"]) is AppointmentStatus.PENDING_CLEARANCE

    await record_outcome(seeded, clearance.id, Outcome(ClearanceStatus.CLEARED), actor=lead)
    assert await status_of(seeded, visit["id"]) is AppointmentStatus.CONFIRMED
    async with seeded.reading() as session:
        decided = await session.get(Clearance, clearance.id)
        actions = set(
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.action.like("clearance.%"))
            )
        )
    assert decided is not None
    # In treatment: the clinic's default lifetime is 90 days.
    assert decided.valid_until == date(2026, 11, 27) + timedelta(days=90)
    assert {"clearance.requested", "clearance.chased", "clearance.received"} <= actions
    assert "clearance.decided" in actions


async def test_a_lower_pressure_cap_reaches_the_therapists_plan(
    seeded: Database, http: httpx2.AsyncClient, new_client: Any
) -> None:
    [visit] = await book_pending(seeded, http, "2026-12-02")
    lead = await actor(seeded, Role.CLINICAL_LEAD)
    clearance = await requested(seeded, visit["id"], await actor(seeded, Role.FRONTDESK))
    restricted = Outcome(
        ClearanceStatus.CLEARED_WITH_RESTRICTIONS,
        max_pressure=1,
        restrictions="No work over the lumbar spine.",
    )
    await record_outcome(seeded, clearance.id, restricted, actor=lead)

    async with seeded.reading() as session:
        link = await session.get(AppointmentIntake, visit["id"])
        therapist = await session.get(Therapist, visit["therapist_id"])
    assert link is not None
    assert link.plan is not None
    assert plan_from_json(link.plan).max_pressure == 1
    assert therapist is not None
    assert therapist.user_id is not None
    async with new_client() as browser:
        await factories.sign_in_existing(browser, seeded, therapist.user_id)
        page = await browser.get(f"/therapist/appointments/{visit['id']}")
    assert "very light touch (level 1 of 5)" in page.text
    assert "No work over the lumbar spine." in page.text


async def test_with_restrictions_needs_the_restrictions(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    [visit] = await book_pending(seeded, http, "2026-12-02")
    clearance = await requested(seeded, visit["id"], await actor(seeded, Role.FRONTDESK))
    with pytest.raises(InvalidInput) as refused:
        await record_outcome(
            seeded,
            clearance.id,
            Outcome(ClearanceStatus.CLEARED_WITH_RESTRICTIONS),
            actor=await actor(seeded, Role.CLINICAL_LEAD),
        )
    assert "restrictions" in refused.value.field_errors


async def test_a_visit_past_the_clearance_date_waits_and_voiding_makes_all_wait_again(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    near, far = await book_pending(seeded, http, "2026-12-02", "2026-12-16")
    lead = await actor(seeded, Role.CLINICAL_LEAD)
    clearance = await requested(seeded, near["id"], await actor(seeded, Role.FRONTDESK))
    await record_outcome(
        seeded,
        clearance.id,
        Outcome(ClearanceStatus.CLEARED, valid_until=date(2026, 12, 10)),
        actor=lead,
    )
    assert await status_of(seeded, near["id"]) is AppointmentStatus.CONFIRMED
    assert await status_of(seeded, far["id"]) is AppointmentStatus.PENDING_CLEARANCE

    async with seeded.transaction() as session:
        found = await session.get(Clearance, clearance.id)
        assert found is not None
        await void_clearance(session, found, "New bone pain reported", actor_user_id=None)
    assert await status_of(seeded, near["id"]) is AppointmentStatus.PENDING_CLEARANCE


async def test_an_expired_clearance_makes_the_next_visit_wait_again(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    [visit] = await book_pending(seeded, http, "2026-12-16")
    lead = await actor(seeded, Role.CLINICAL_LEAD)
    clearance = await requested(seeded, visit["id"], await actor(seeded, Role.FRONTDESK))
    await record_outcome(
        seeded,
        clearance.id,
        Outcome(ClearanceStatus.CLEARED, valid_until=date(2026, 12, 20)),
        actor=lead,
    )
    assert await status_of(seeded, visit["id"]) is AppointmentStatus.CONFIRMED
    # The clinic shortens what it accepts: a later clearance date rule does not matter;
    # what matters is the record passing its date before the visit.
    async with seeded.transaction() as session:
        found = await session.get(Clearance, clearance.id)
        assert found is not None
        found.valid_until = date(2026, 11, 26)
    assert await expire_clearances(seeded) == 1
    assert await status_of(seeded, visit["id"]) is AppointmentStatus.PENDING_CLEARANCE


async def test_a_client_already_cleared_is_confirmed_when_booking(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    first, second = await book_pending(seeded, http, "2026-12-02", "2026-12-03")
    lead = await actor(seeded, Role.CLINICAL_LEAD)
    clearance = await requested(seeded, first["id"], await actor(seeded, Role.FRONTDESK))
    await record_outcome(seeded, clearance.id, Outcome(ClearanceStatus.CLEARED), actor=lead)
    assert await status_of(seeded, second["id"]) is AppointmentStatus.CONFIRMED


async def test_the_deadline_releases_the_slot_and_tells_the_client(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    [visit] = await book_pending(seeded, http, "2026-11-30")
    # 72 hours before Monday's visit has not come yet on Friday at 8am.
    assert await release_overdue(seeded) == 0
    with clock.frozen_at(NOW + timedelta(days=1)):
        assert await release_overdue(seeded) == 1
    async with seeded.reading() as session:
        appointment = await session.get(Appointment, visit["id"])
        emails = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == "email.clearance_deadline_passed")
        )
    assert appointment is not None
    assert appointment.status is AppointmentStatus.CANCELLED
    assert appointment.cancelled_by is CancelledBy.SYSTEM
    assert appointment.fee_minor == 0
    # Its own email says what happens now, in place of the generic cancellation.
    assert emails == 1


async def test_a_treating_qualified_therapist_may_decide_and_another_may_not(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    [visit] = await book_pending(seeded, http, "2026-12-02")
    clearance = await requested(seeded, visit["id"], await actor(seeded, Role.FRONTDESK))
    async with seeded.reading() as session:
        treating = await session.get(Therapist, visit["therapist_id"])
        other = await session.scalar(
            select(Therapist).where(
                Therapist.id != visit["therapist_id"], Therapist.user_id.is_not(None)
            )
        )
    assert treating is not None
    assert treating.user_id is not None
    assert other is not None
    assert other.user_id is not None
    with pytest.raises(PermissionDenied):
        await record_outcome(
            seeded,
            clearance.id,
            Outcome(ClearanceStatus.CLEARED),
            actor=Actor(other.user_id, frozenset({Role.THERAPIST})),
        )
    await record_outcome(
        seeded,
        clearance.id,
        Outcome(ClearanceStatus.CLEARED),
        actor=Actor(treating.user_id, frozenset({Role.THERAPIST})),
    )
    assert await status_of(seeded, visit["id"]) is AppointmentStatus.CONFIRMED


async def test_in_the_demo_the_lead_records_the_waiting_reply_and_the_visit_is_confirmed(
    seeded: Database,
) -> None:
    async with seeded.reading() as session:
        waiting = await session.scalar(
            select(Clearance).where(Clearance.status == ClearanceStatus.RECEIVED)
        )
        assert waiting is not None
        pending = list(
            await session.scalars(
                select(Appointment.id).where(
                    Appointment.client_id == waiting.client_id,
                    Appointment.status == AppointmentStatus.PENDING_CLEARANCE,
                )
            )
        )
    assert pending
    lead = await actor(seeded, Role.CLINICAL_LEAD)
    await record_outcome(seeded, waiting.id, Outcome(ClearanceStatus.CLEARED), actor=lead)
    for appointment_id in pending:
        assert await status_of(seeded, appointment_id) is AppointmentStatus.CONFIRMED


async def test_moving_a_visit_past_its_clearance_makes_it_wait_and_back_confirms_it(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    """A clearance covers visits up to its date: a move is judged at the new date."""
    [visit] = await book_pending(seeded, http, "2026-12-02")
    lead = await actor(seeded, Role.CLINICAL_LEAD)
    clearance = await requested(seeded, visit["id"], await actor(seeded, Role.FRONTDESK))
    await record_outcome(
        seeded,
        clearance.id,
        Outcome(ClearanceStatus.CLEARED, valid_until=date(2026, 12, 10)),
        actor=lead,
    )
    assert await status_of(seeded, visit["id"]) is AppointmentStatus.CONFIRMED
    short = await service_id(seeded, SHORT)
    token = visit["manage_token"]
    worker = build_worker(seeded, settings)
    while await worker.run_once():  # the confirmation goes: a move now sends "Changed"
        pass

    async def free_with_same_therapist(day: str) -> dict[str, Any]:
        slots = await free_slots(http, short, day)
        return next(s for s in slots if s["therapist_id"] == visit["therapist_id"])

    later = await free_with_same_therapist("2026-12-16")
    moved = await http.post(f"/api/v1/bookings/{token}/reschedule", json={"start": later["start"]})
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "pending_clearance"
    assert await status_of(seeded, visit["id"]) is AppointmentStatus.PENDING_CLEARANCE
    # Its "Changed" email says it waits (the one email about this move).
    async with seeded.reading() as session:
        kinds = list(
            await session.scalars(
                select(OutboxMessage.kind).where(
                    OutboxMessage.payload["appointment_id"].as_integer() == visit["id"],
                    OutboxMessage.kind.like("email.%"),
                    OutboxMessage.created_at >= NOW,
                )
            )
        )
    assert "email.clearance_requested" not in kinds
    worker = build_worker(seeded, settings)
    while await worker.run_once():
        pass
    [changed] = [
        m for m in mail_in(settings.var_dir / "mail") if m["Subject"].startswith("Changed")
    ]
    text = changed.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "We need one more thing before this visit" in text

    back = await free_with_same_therapist("2026-12-04")
    moved = await http.post(f"/api/v1/bookings/{token}/reschedule", json={"start": back["start"]})
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "confirmed"
    assert await status_of(seeded, visit["id"]) is AppointmentStatus.CONFIRMED
