"""The clinical lead's review queue: a visit sent to review by a later health form or by the
pre-visit check is confirmed as booked (only when it fits its plan), has its plan adjusted,
or is made to wait for a clearance; every decision and every read is audited."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from sqlalchemy import func, select

from clinic.audit import AuditEntry
from clinic.auth.models import Role
from clinic.booking.bookings import appointment_for_token, intake_for_booking
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.clearance.previsit import QUESTIONS, answer_check
from clinic.db import Database
from clinic.intake.models import AppointmentIntake, IntakeState
from clinic.intake.service import Signature
from clinic.intake.summary import plan_from_json
from tests import factories
from tests.booking.conftest import CLIENT, free_slots, service_id
from tests.booking.test_clearance import BONE_METS
from tests.intake.answers_factory import answers, signed

pytestmark = pytest.mark.usefixtures("frozen")

DAY = "2026-12-02"


async def level_zero_review(db: Database, http: httpx2.AsyncClient) -> int:
    """Booked with a level-0 therapist, then a form needing level 2 arrived: in review."""
    swedish = await service_id(db, "Oncology massage, 30 min")
    therapists = (await http.get("/api/v1/therapists")).json()["therapists"]
    level = {t["id"]: t["oncology_level"] or 0 for t in therapists}
    general = await service_id(db)
    slot = next(s for s in await free_slots(http, general, DAY) if level[s["therapist_id"]] == 0)
    booked = await http.post(
        "/api/v1/bookings",
        json={
            "service_id": general,
            "start": slot["start"],
            "therapist_id": slot["therapist_id"],
            "client": CLIENT,
            "cancer_history": "no",
        },
    )
    assert booked.status_code == 201, booked.text
    assert swedish
    await intake_for_booking(
        db, booked.json()["manage_token"], answers(True, **BONE_METS), Signature("R E", True)
    )
    appointment_id: int = booked.json()["id"]
    return appointment_id


async def previsit_review(db: Database, http: httpx2.AsyncClient) -> int:
    """A fitting visit the pre-visit check sent to review (a hospital stay)."""
    short = await service_id(db, "Oncology massage, 30 min")
    token = (await http.post("/api/v1/intakes", json=signed(True, phase="in_treatment"))).json()[
        "intake_token"
    ]
    slot = (await free_slots(http, short, DAY, intake_token=token))[0]
    booked = (
        await http.post(
            "/api/v1/bookings",
            json={
                "service_id": short,
                "start": slot["start"],
                "client": CLIENT,
                "intake_token": token,
            },
        )
    ).json()
    async with db.transaction() as session:
        appointment = await appointment_for_token(session, booked["manage_token"])
        values = {name: "no" for name, _ in QUESTIONS}
        await answer_check(session, appointment, {**values, "hospital_stay": "yes"})
    appointment_id: int = booked["id"]
    return appointment_id


async def lead(db: Database, new_client: Any) -> httpx2.AsyncClient:
    browser: httpx2.AsyncClient = new_client()
    await browser.__aenter__()
    await factories.sign_in_as(browser, db, Role.CLINICAL_LEAD)
    return browser


async def post(browser: httpx2.AsyncClient, path: str, **data: str) -> httpx2.Response:
    page = await browser.get(path.rsplit("/", 1)[0] if path.count("/") > 3 else path)
    token = factories.CSRF_FIELD.search(page.text)
    assert token is not None, page.text[:500]
    return await browser.post(path, data={"csrf_token": token.group(1), **data})


async def link_of(db: Database, appointment_id: int) -> AppointmentIntake:
    async with db.reading() as session:
        link = await session.get(AppointmentIntake, appointment_id)
    assert link is not None
    return link


async def audits(db: Database, action: str) -> int:
    async with db.reading() as session:
        count = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
        )
    return count or 0


async def test_the_lead_sees_the_visit_and_the_read_is_audited(
    seeded: Database, http: httpx2.AsyncClient, new_client: Any
) -> None:
    appointment_id = await level_zero_review(seeded, http)
    browser = await lead(seeded, new_client)
    listing = await browser.get("/clinical/")
    assert f"/clinical/reviews/{appointment_id}" in listing.text
    reads = await audits(seeded, "intake.read")
    page = await browser.get(f"/clinical/reviews/{appointment_id}")
    assert page.status_code == 200
    assert "oncology level 2" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert await audits(seeded, "intake.read") == reads + 1
    await browser.aclose()


async def test_a_visit_that_does_not_fit_cannot_be_confirmed_as_booked(
    seeded: Database, http: httpx2.AsyncClient, new_client: Any
) -> None:
    appointment_id = await level_zero_review(seeded, http)
    browser = await lead(seeded, new_client)
    refused = await post(browser, f"/clinical/reviews/{appointment_id}/confirm")
    assert refused.status_code == 303
    shown = await browser.get(refused.headers["location"])
    assert "move it to a suitable therapist" in shown.text
    assert (await link_of(seeded, appointment_id)).state is IntakeState.REVIEW
    await browser.aclose()


async def test_a_fitting_visit_is_confirmed_and_leaves_the_queue(
    seeded: Database, http: httpx2.AsyncClient, new_client: Any
) -> None:
    appointment_id = await previsit_review(seeded, http)
    browser = await lead(seeded, new_client)
    done = await post(browser, f"/clinical/reviews/{appointment_id}/confirm")
    assert done.status_code == 303
    assert done.headers["location"].endswith("/clinical/")
    assert (await link_of(seeded, appointment_id)).state is IntakeState.COMPLETE
    assert await audits(seeded, "review.confirmed") == 1
    await browser.aclose()


async def test_the_plan_is_adjusted_for_the_therapist(
    seeded: Database, http: httpx2.AsyncClient, new_client: Any
) -> None:
    appointment_id = await level_zero_review(seeded, http)
    browser = await lead(seeded, new_client)
    empty = await post(browser, f"/clinical/reviews/{appointment_id}/plan")
    assert empty.status_code == 422
    assert "Lower the pressure or write a note" in empty.text
    adjusted = await post(
        browser,
        f"/clinical/reviews/{appointment_id}/plan",
        max_pressure="1",
        note="Hands and feet only this time.",
    )
    assert adjusted.status_code == 303
    link = await link_of(seeded, appointment_id)
    assert link.state is IntakeState.COMPLETE
    assert link.plan is not None
    plan = plan_from_json(link.plan)
    assert plan.max_pressure == 1
    assert "Clinical lead: Hands and feet only this time." in plan.notes
    assert await audits(seeded, "review.plan_adjusted") == 1
    await browser.aclose()


async def test_asking_for_a_clearance_makes_the_visit_wait(
    seeded: Database, http: httpx2.AsyncClient, new_client: Any
) -> None:
    appointment_id = await previsit_review(seeded, http)
    browser = await lead(seeded, new_client)
    asked = await post(browser, f"/clinical/reviews/{appointment_id}/clearance")
    assert asked.status_code == 303
    async with seeded.reading() as session:
        appointment = await session.get(Appointment, appointment_id)
    assert appointment is not None
    assert appointment.status is AppointmentStatus.PENDING_CLEARANCE
    assert await audits(seeded, "review.clearance_asked") == 1
    await browser.aclose()
