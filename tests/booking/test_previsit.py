"""The pre-visit check: who is asked and when, and what each answer does to the visit, its
clearance and its plan."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx2
import pytest
from sqlalchemy import func, select

from clinic import clock
from clinic.auth.models import Role
from clinic.booking.bookings import appointment_for_token
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.clearance.models import Clearance, ClearanceStatus, PrevisitCheck
from clinic.clearance.previsit import QUESTIONS, answer_check, send_due_checks
from clinic.clearance.service import Outcome, record_outcome, request_clearance
from clinic.db import Database
from clinic.errors import InvalidInput
from clinic.intake.models import AppointmentIntake, IntakeState
from clinic.outbox.models import OutboxMessage
from clinic.staff.models import Therapist
from tests import factories
from tests.booking.conftest import CLIENT, NOW, free_slots, service_id
from tests.booking.test_clearance import BONE_METS, SHORT, actor
from tests.intake.answers_factory import signed

pytestmark = pytest.mark.usefixtures("frozen")

NOTHING_NEW = {name: "no" for name, _ in QUESTIONS}


async def book(db: Database, http: httpx2.AsyncClient, day: str, **answers: Any) -> dict[str, Any]:
    short = await service_id(db, SHORT)
    token = (await http.post("/api/v1/intakes", json=signed(True, **answers))).json()[
        "intake_token"
    ]
    slot = (await free_slots(http, short, day, intake_token=token))[0]
    response = await http.post(
        "/api/v1/bookings",
        json={"service_id": short, "start": slot["start"], "client": CLIENT, "intake_token": token},
    )
    assert response.status_code == 201, response.text
    booked: dict[str, Any] = response.json()
    return booked


async def answer(db: Database, manage_token: str, values: dict[str, str]) -> str:
    async with db.transaction() as session:
        appointment = await appointment_for_token(session, manage_token)
        return (await answer_check(session, appointment, values)).outcome


async def status_of(db: Database, appointment_id: int) -> AppointmentStatus:
    async with db.reading() as session:
        appointment = await session.get(Appointment, appointment_id)
    assert appointment is not None
    return appointment.status


async def checks_sent(db: Database) -> int:
    async with db.transaction() as session:
        return await send_due_checks(session)


async def asked(db: Database) -> set[int]:
    async with db.reading() as session:
        return set(await session.scalars(select(PrevisitCheck.appointment_id)))


async def test_clients_in_treatment_are_asked_once_inside_the_window(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    in_treatment = await book(seeded, http, "2026-12-03", phase="in_treatment")
    after_treatment = await book(seeded, http, "2026-12-03", phase="survivorship")
    # Thursday's visit is more than 72 hours away on Friday morning.
    await checks_sent(seeded)
    assert in_treatment["id"] not in await asked(seeded)
    with clock.frozen_at(NOW + timedelta(days=4)):
        await checks_sent(seeded)
        assert await checks_sent(seeded) == 0
    assert in_treatment["id"] in await asked(seeded)
    assert after_treatment["id"] not in await asked(seeded)
    async with seeded.reading() as session:
        emails = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == "email.previsit_check")
        )
    assert emails == len(await asked(seeded))


async def test_nothing_new_keeps_the_visit_as_it_is(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    visit = await book(seeded, http, "2026-12-02", phase="in_treatment")
    assert await answer(seeded, visit["manage_token"], NOTHING_NEW) == "nothing_new"
    assert await status_of(seeded, visit["id"]) is AppointmentStatus.CONFIRMED


async def test_every_question_must_be_answered(seeded: Database, http: httpx2.AsyncClient) -> None:
    visit = await book(seeded, http, "2026-12-02", phase="in_treatment")
    with pytest.raises(InvalidInput) as refused:
        await answer(seeded, visit["manage_token"], {"fever": "maybe"})
    assert set(refused.value.field_errors) == {name for name, _ in QUESTIONS}


async def test_a_new_device_voids_the_clearance_and_sends_the_visit_to_review(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    visit = await book(seeded, http, "2026-12-02", **BONE_METS)
    clearance = await request_clearance(
        seeded,
        visit["id"],
        physician_name="Dr Ana Lee",
        practice="",
        contact="fax (215) 555-0199",
        actor=await actor(seeded, Role.FRONTDESK),
    )
    await record_outcome(
        seeded,
        clearance.id,
        Outcome(ClearanceStatus.CLEARED),
        actor=await actor(seeded, Role.CLINICAL_LEAD),
    )
    assert await status_of(seeded, visit["id"]) is AppointmentStatus.CONFIRMED

    outcome = await answer(seeded, visit["manage_token"], {**NOTHING_NEW, "new_device": "yes"})
    assert outcome == "review"
    async with seeded.reading() as session:
        voided = await session.get(Clearance, clearance.id)
        link = await session.get(AppointmentIntake, visit["id"])
    assert voided is not None
    assert voided.status is ClearanceStatus.VOIDED
    assert "new device" in voided.void_reason
    assert link is not None
    assert link.state is IntakeState.REVIEW
    assert "new health form" in link.review_reason
    assert link.intake_id is None  # reopened: the manage link asks for a new form
    assert await status_of(seeded, visit["id"]) is AppointmentStatus.PENDING_CLEARANCE


async def test_fever_close_to_the_visit_defers_it_without_a_fee(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    visit = await book(seeded, http, "2026-12-02", phase="in_treatment")
    with clock.frozen_at(NOW + timedelta(days=4)):
        outcome = await answer(seeded, visit["manage_token"], {**NOTHING_NEW, "fever": "yes"})
    assert outcome == "deferred"
    async with seeded.reading() as session:
        appointment = await session.get(Appointment, visit["id"])
    assert appointment is not None
    assert appointment.status is AppointmentStatus.CANCELLED
    assert appointment.fee_minor == 0
    assert appointment.needs_rebooking


async def test_fever_weeks_before_the_visit_asks_for_review_instead(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    visit = await book(seeded, http, "2026-12-16", phase="in_treatment")
    outcome = await answer(seeded, visit["manage_token"], {**NOTHING_NEW, "fever": "yes"})
    assert outcome == "review"
    assert await status_of(seeded, visit["id"]) is AppointmentStatus.CONFIRMED


async def test_the_manage_link_asks_and_answers_through_the_page(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    visit = await book(seeded, http, "2026-12-02", phase="in_treatment")
    path = f"/manage/{visit['manage_token']}/check"
    page = await http.get(path)
    assert page.status_code == 200
    assert "Have you stayed in hospital?" in page.text
    token = factories.CSRF_FIELD.search(page.text)
    assert token is not None
    missing = await http.post(path, data={"csrf_token": token.group(1), "fever": "no"})
    assert missing.status_code == 422
    assert "Select yes or no" in missing.text
    assert 'value="no" checked' in missing.text
    sent = await http.post(path, data={"csrf_token": token.group(1), **NOTHING_NEW})
    assert sent.status_code == 303
    shown = await http.get(sent.headers["location"])
    assert "We look forward to seeing you" in shown.text


async def test_the_therapist_still_sees_the_plan_of_a_reopened_visit(
    seeded: Database, http: httpx2.AsyncClient, new_client: Any
) -> None:
    visit = await book(seeded, http, "2026-12-02", phase="in_treatment")
    await answer(seeded, visit["manage_token"], {**NOTHING_NEW, "hospital_stay": "yes"})
    async with seeded.reading() as session:
        appointment = await session.get(Appointment, visit["id"])
        assert appointment is not None
        therapist = await session.get(Therapist, appointment.therapist_id)
    assert therapist is not None
    assert therapist.user_id is not None
    async with new_client() as browser:
        await factories.sign_in_existing(browser, seeded, therapist.user_id)
        page = await browser.get(f"/therapist/appointments/{visit['id']}")
    assert page.status_code == 200, page.text
    assert "Needs review before this visit" in page.text
    assert "fill in the health form again" in page.text
