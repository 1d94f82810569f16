"""Credential-matched booking through the API, end to end on the seeded demo clinic: the
gate, intakes and their plans, matching, deferral near the visit, review when a later
intake asks more, who sees what, and tokens that reveal only their own answers."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from sqlalchemy import func, select

from clinic.audit import AuditEntry
from clinic.auth.models import Role
from clinic.booking.bookings import intake_for_booking
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.clients.models import Consent, ConsentKind
from clinic.db import Database
from clinic.intake.models import AppointmentIntake, Intake, IntakeState
from clinic.intake.rules_store import set_screening_rule
from clinic.intake.service import Signature
from clinic.staff.models import Therapist
from tests import factories
from tests.booking.conftest import CLIENT, free_slots, service_id
from tests.intake.answers_factory import answers, signed

pytestmark = pytest.mark.usefixtures("frozen")

DAY = "2026-12-02"  # a Wednesday, five days after the frozen now
BONE_METS = {
    "phase": "in_treatment",
    "bone_mets": True,
    "bone_mets_sites_known": True,
    "bone_mets_sites": ["lower_back"],
}
SHORT = "Oncology massage, 30 min"
LEFT_AXILLA = {"lymph_nodes": True, "lymph_node_areas": ["left_axilla"]}


async def levels(http: httpx2.AsyncClient) -> dict[int, int | None]:
    response = await http.get("/api/v1/therapists")
    return {t["id"]: t["oncology_level"] for t in response.json()["therapists"]}


async def sign(http: httpx2.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post("/api/v1/intakes", json=body)
    assert response.status_code == 201, response.text
    signed_intake: dict[str, Any] = response.json()
    return signed_intake


async def book(http: httpx2.AsyncClient, slot: dict[str, Any], **extra: Any) -> httpx2.Response:
    return await http.post(
        "/api/v1/bookings",
        json={
            "service_id": extra.pop("service", None) or slot["service_id"],
            "start": slot["start"],
            "therapist_id": slot["therapist_id"],
            "client": extra.pop("client", CLIENT),
            **extra,
        },
    )


async def test_the_gate_yes_offers_only_trained_therapists_for_swedish(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    swedish = await service_id(seeded)
    level_of = await levels(http)
    everyone = {s["therapist_id"] for s in await free_slots(http, swedish, DAY)}
    assert any((level_of[t] or 0) < 1 for t in everyone), "the demo day needs a level-0 therapist"

    gated = await free_slots(http, swedish, DAY, cancer_history="yes")
    assert gated
    assert all((level_of[s["therapist_id"]] or 0) >= 1 for s in gated)
    said_no = {s["therapist_id"] for s in await free_slots(http, swedish, DAY, cancer_history="no")}
    assert said_no == everyone


async def test_bone_metastases_need_level_two_and_a_clearance(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    # In treatment: sessions are capped at 45 minutes, so a 30-minute service.
    swedish = await service_id(seeded, SHORT)
    level_of = await levels(http)
    signed_intake = await sign(http, signed(True, **BONE_METS))
    plan = signed_intake["plan"]
    assert plan["clearance"] == "required"
    assert plan["can_book"] is True

    slots = await free_slots(http, swedish, DAY, intake_token=signed_intake["intake_token"])
    assert slots
    assert {level_of[s["therapist_id"]] or 0 for s in slots} <= {2, 3, 4}

    slot = {**slots[0], "service_id": swedish}
    booked = await book(http, slot, intake_token=signed_intake["intake_token"])
    assert booked.status_code == 201, booked.text
    assert booked.json()["status"] == AppointmentStatus.PENDING_CLEARANCE.value
    assert booked.json()["intake"] == "complete"
    assert booked.json()["intake_url"] is None


async def test_a_level_one_therapist_named_for_bone_metastases_has_no_times(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    swedish = await service_id(seeded, SHORT)
    level_of = await levels(http)
    level_one = next(t for t, level in level_of.items() if level == 1)
    token = (await sign(http, signed(True, **BONE_METS)))["intake_token"]
    assert await free_slots(http, swedish, DAY, therapist_id=level_one, intake_token=token) == []
    plain = await free_slots(http, swedish, DAY, therapist_id=level_one)
    if plain:
        refused = await book(
            http, {**plain[0], "service_id": swedish, "therapist_id": level_one}, intake_token=token
        )
        assert refused.status_code == 409, refused.text


async def test_left_axillary_nodes_reach_the_therapist_and_never_the_desk(
    seeded: Database, http: httpx2.AsyncClient, new_client: Any
) -> None:
    swedish = await service_id(seeded)
    token = (await sign(http, signed(True, **LEFT_AXILLA)))["intake_token"]
    slot = {**(await free_slots(http, swedish, DAY, intake_token=token))[0], "service_id": swedish}
    booked = await book(http, slot, intake_token=token)
    assert booked.status_code == 201, booked.text
    appointment_id = booked.json()["id"]

    async with seeded.reading() as session:
        therapist = await session.get(Therapist, slot["therapist_id"])
    assert therapist is not None
    assert therapist.user_id is not None
    async with new_client() as browser:
        await factories.sign_in_existing(browser, seeded, therapist.user_id)
        page = await browser.get(f"/therapist/appointments/{appointment_id}")
    assert page.status_code == 200, page.text
    # The arm and its quadrant of the trunk (domain row 7).
    assert "Gentle touch only on: left upper trunk, left arm" in page.text
    assert page.headers["cache-control"] == "no-store"
    async with seeded.reading() as session:
        reads = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.action == "intake.read", AuditEntry.actor_user_id == therapist.user_id
            )
        )
    assert reads == 1

    async with new_client() as desk:
        await factories.sign_in_as(desk, seeded, Role.FRONTDESK)
        day = await desk.get("/desk/")
    assert "Health form complete" in day.text or "Health form" in day.text
    for clinical in ("left arm", "Gentle", "axilla", "lymph"):
        assert clinical not in day.text


async def test_a_therapist_cannot_open_another_therapists_appointment(
    seeded: Database, http: httpx2.AsyncClient, new_client: Any
) -> None:
    swedish = await service_id(seeded)
    token = (await sign(http, signed(True, **LEFT_AXILLA)))["intake_token"]
    slot = {**(await free_slots(http, swedish, DAY, intake_token=token))[0], "service_id": swedish}
    appointment_id = (await book(http, slot, intake_token=token)).json()["id"]
    async with seeded.reading() as session:
        other = await session.scalar(
            select(Therapist).where(
                Therapist.id != slot["therapist_id"], Therapist.user_id.is_not(None)
            )
        )
    assert other is not None
    assert other.user_id is not None
    async with new_client() as browser:
        await factories.sign_in_existing(browser, seeded, other.user_id)
        page = await browser.get(f"/therapist/appointments/{appointment_id}")
    # Closed: only break-glass, with a reason, opens it (tests/therapist/test_break_glass.py).
    assert page.status_code == 403
    assert "not on your schedule" in page.text
    assert "left arm" not in page.text


async def test_fever_today_defers_tomorrows_visit_but_not_one_in_three_weeks(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    swedish = await service_id(seeded)
    token = (await sign(http, signed(True, fever_or_chills=True)))["intake_token"]
    tomorrow = await free_slots(http, swedish, "2026-11-28", cancer_history="yes")
    assert tomorrow
    deferred = await book(http, {**tomorrow[0], "service_id": swedish}, intake_token=token)
    assert deferred.status_code == 422, deferred.text
    assert "doctor" in deferred.json()["detail"]

    in_three_weeks = await http.get(
        "/api/v1/availability",
        params={
            "service_id": swedish,
            "from": "2026-12-14",
            "to": "2026-12-20",
            "intake_token": token,
        },
    )
    later = in_three_weeks.json()["slots"]
    assert later, in_three_weeks.text
    booked = await book(http, {**later[0], "service_id": swedish}, intake_token=token)
    assert booked.status_code == 201, booked.text


async def test_booking_without_an_answer_is_flagged_and_asks_for_the_form(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    swedish = await service_id(seeded)
    slot = {**(await free_slots(http, swedish, DAY))[0], "service_id": swedish}
    booked = await book(http, slot)
    assert booked.status_code == 201, booked.text
    body = booked.json()
    assert body["intake"] == "missing"
    assert body["intake_url"].endswith(f"/manage/{body['manage_token']}/intake")
    async with seeded.reading() as session:
        link = await session.get(AppointmentIntake, body["id"])
    assert link is not None
    assert link.state is IntakeState.MISSING


async def test_an_intake_after_booking_that_raises_the_level_sends_it_to_review(
    seeded: Database, http: httpx2.AsyncClient, new_client: Any
) -> None:
    swedish = await service_id(seeded)
    level_of = await levels(http)
    slots = await free_slots(http, swedish, DAY, cancer_history="no")
    level_zero = next(s for s in slots if (level_of[s["therapist_id"]] or 0) == 0)
    booked = await book(http, {**level_zero, "service_id": swedish}, cancer_history="no")
    assert booked.status_code == 201, booked.text
    body = booked.json()

    received = await intake_for_booking(
        seeded,
        body["manage_token"],
        answers(True, **BONE_METS),
        Signature("Ruth Example", agreed=True),
    )
    assert received.state is IntakeState.REVIEW
    async with seeded.reading() as session:
        link = await session.get(AppointmentIntake, body["id"])
        appointment = await session.get(Appointment, body["id"])
        audited = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.action == "appointment.intake_review",
                AuditEntry.subject_id == str(body["id"]),
            )
        )
    assert link is not None
    assert link.state is IntakeState.REVIEW
    assert "oncology level 2" in link.review_reason
    assert appointment is not None
    assert audited == 1

    async with new_client() as lead:
        await factories.sign_in_as(lead, seeded, Role.CLINICAL_LEAD)
        review = await lead.get("/clinical/")
    assert "Appointments needing review" in review.text
    assert "oncology level 2" in review.text
    async with new_client() as desk:
        await factories.sign_in_as(desk, seeded, Role.FRONTDESK)
        day = await desk.get("/desk/")
    # The desk's day is today; the visit is later: only the flag's wording is shared.
    assert "oncology level" not in day.text


async def test_an_intake_after_booking_that_fits_completes_it(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    swedish = await service_id(seeded)
    slot = {**(await free_slots(http, swedish, DAY))[0], "service_id": swedish}
    body = (await book(http, slot)).json()
    received = await intake_for_booking(
        seeded, body["manage_token"], answers(False), Signature("Ruth Example", agreed=True)
    )
    assert received.state is IntakeState.COMPLETE


async def test_a_token_reveals_only_its_own_answers(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    mine = await sign(http, signed(True, **LEFT_AXILLA))
    theirs = await sign(http, signed(False, pregnant=True, pregnancy_trimester="2"))
    read = await http.get(f"/api/v1/intakes/{theirs['intake_token']}")
    assert read.status_code == 200
    assert read.json()["answers"]["pregnant"] is True
    assert "lymph_node_areas" not in read.json()["answers"]
    assert "axilla" not in read.text.lower()
    mine_read = await http.get(f"/api/v1/intakes/{mine['intake_token']}")
    assert mine_read.json()["answers"]["lymph_node_areas"] == ["left_axilla"]
    assert (await http.get("/api/v1/intakes/not-a-real-token-at-all")).status_code == 404


async def test_an_intake_tied_to_one_client_cannot_book_for_another(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    swedish = await service_id(seeded)
    token = (await sign(http, signed(True)))["intake_token"]
    slots = await free_slots(http, swedish, DAY, intake_token=token)
    first = await book(http, {**slots[0], "service_id": swedish}, intake_token=token)
    assert first.status_code == 201, first.text
    someone_else = {**CLIENT, "email": "someone.else@example.com"}
    second = await book(
        http, {**slots[-1], "service_id": swedish}, intake_token=token, client=someone_else
    )
    assert second.status_code == 422
    assert "intake_token" in second.json()["errors"]


async def test_the_oncology_contact_consent_is_recorded_when_the_intake_is_used(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    swedish = await service_id(seeded)
    body = signed(True, contact_consent=True, oncology_contact_name="Dr Ana Lee, Fox Chase")
    token = (await sign(http, body))["intake_token"]
    slot = {**(await free_slots(http, swedish, DAY, intake_token=token))[0], "service_id": swedish}
    assert (await book(http, slot, intake_token=token)).status_code == 201
    async with seeded.reading() as session:
        consent = await session.scalar(
            select(Consent).where(
                Consent.kind == ConsentKind.CONTACT_ONCOLOGY_TEAM,
                Consent.counterparty == "Dr Ana Lee, Fox Chase",
            )
        )
        intake = await session.scalar(select(Intake).order_by(Intake.id.desc()).limit(1))
    assert consent is not None
    assert consent.counterparty == "Dr Ana Lee, Fox Chase"
    assert intake is not None
    assert intake.client_id == consent.client_id


async def test_bad_intakes_get_every_problem_and_nothing_is_stored(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    async with seeded.reading() as session:
        before = await session.scalar(select(func.count()).select_from(Intake))
    body = signed(True, bone_mets="perhaps")
    body["signature"] = {"name": " ", "agreed": False}
    refused = await http.post("/api/v1/intakes", json=body)
    assert refused.status_code == 422
    errors = refused.json()["errors"]
    assert {"bone_mets", "signed_name", "agreed"} <= set(errors)
    async with seeded.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Intake)) == before


async def test_a_service_longer_than_the_plans_cap_says_so(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    longest = await service_id(seeded)
    token = (await sign(http, signed(True, phase="in_treatment")))["intake_token"]
    response = await http.get(
        "/api/v1/availability",
        params={"service_id": longest, "from": DAY, "to": DAY, "intake_token": token},
    )
    assert response.status_code == 422, response.text
    assert "minutes" in response.json()["errors"]["service_id"]


async def test_a_hold_and_its_booking_follow_the_plan(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    short = await service_id(seeded, SHORT)
    level_of = await levels(http)
    token = (await sign(http, signed(True, **BONE_METS)))["intake_token"]
    slot = (await free_slots(http, short, DAY, intake_token=token))[0]
    held = await http.post(
        "/api/v1/holds",
        json={"service_id": short, "start": slot["start"], "intake_token": token},
    )
    assert held.status_code == 201, held.text
    assert (level_of[held.json()["therapist_id"]] or 0) >= 2
    booked = await http.post(
        "/api/v1/bookings",
        json={"hold_token": held.json()["hold_token"], "client": CLIENT, "intake_token": token},
    )
    assert booked.status_code == 201, booked.text
    assert booked.json()["status"] == AppointmentStatus.PENDING_CLEARANCE.value


async def test_a_hold_made_without_the_plan_does_not_fit_it(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    short = await service_id(seeded, SHORT)
    level_of = await levels(http)
    plain = await free_slots(http, short, DAY)
    level_one = next(s for s in plain if level_of[s["therapist_id"]] == 1)
    held = await http.post(
        "/api/v1/holds",
        json={
            "service_id": short,
            "start": level_one["start"],
            "therapist_id": level_one["therapist_id"],
        },
    )
    assert held.status_code == 201, held.text
    token = (await sign(http, signed(True, **BONE_METS)))["intake_token"]
    refused = await http.post(
        "/api/v1/bookings",
        json={"hold_token": held.json()["hold_token"], "client": CLIENT, "intake_token": token},
    )
    assert refused.status_code == 409, refused.text
    assert "health form" in refused.json()["detail"]


async def test_the_hospital_model_asks_a_clearance_of_every_oncology_client(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    before = await sign(http, signed(True))
    await set_screening_rule(seeded, "hospital_model_requires_clearance", True)
    after = await sign(http, signed(True))
    assert before["plan"]["clearance"] == "none"
    assert after["plan"]["clearance"] == "required"
