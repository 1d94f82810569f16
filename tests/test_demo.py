"""The demo clinic: realistic, consistent with its own rules, and seeded only once."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import httpx2
import pytest
from sqlalchemy import func, select, text

from clinic import clock, demo
from clinic.auth.models import Role
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus, blocking_status_sql_list
from clinic.clearance.models import Clearance as ClearanceRecord
from clinic.clearance.models import ClearanceChase, ClearanceStatus
from clinic.clients.models import Client, Consent, ConsentKind
from clinic.db import Base, Database
from clinic.intake import forms
from clinic.intake.models import AppointmentIntake, Intake, IntakeState
from clinic.intake.plan import Action, Clearance
from clinic.intake.summary import plan_from_json
from clinic.staff.models import Therapist
from clinic.staff.service import therapist_qualification
from tests import factories

TODAY = date(2026, 11, 27)
ZONE = ZoneInfo("America/New_York")


async def _row_counts(db: Database) -> dict[str, int]:
    async with db.reading() as session:
        return {
            table.name: await session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


async def _seed(db: Database) -> demo.DemoSummary:
    return await demo.seed_demo(db, timezone="America/New_York", currency="usd", today=TODAY)


async def test_seeding_twice_changes_nothing(db: Database) -> None:
    first = await _seed(db)
    assert first.seeded
    counts = await _row_counts(db)
    second = await _seed(db)
    assert not second.seeded
    assert await _row_counts(db) == counts
    clients = len(demo.CLIENTS) + len(demo.INTAKE_CLIENTS)
    assert (second.therapists, second.services, second.clients) == (8, 10, clients)
    assert 250 <= second.appointments <= 350
    assert await demo.demo_version(db) == demo.DEMO_VERSION


async def test_seeded_appointments_never_overlap(db: Database) -> None:
    await _seed(db)
    blocking = blocking_status_sql_list()
    async with db.reading() as session:
        clashes = await session.scalar(
            text(
                "SELECT count(*) FROM appointment a JOIN appointment b ON a.id < b.id"
                f" WHERE a.status IN {blocking} AND b.status IN {blocking}"
                " AND a.blocked_from < b.blocked_until AND b.blocked_from < a.blocked_until"
                " AND (a.therapist_id = b.therapist_id OR a.room_id = b.room_id)"
            )
        )
    assert clashes == 0


async def test_seeded_therapists_have_their_intended_oncology_levels(db: Database) -> None:
    await _seed(db)
    async with db.reading() as session:
        therapists = list(await session.scalars(select(Therapist)))
        levels = {
            t.display_name: (await therapist_qualification(session, t, TODAY)).oncology_level
            for t in therapists
        }
        lymphedema = {
            t.display_name
            for t in therapists
            if (await therapist_qualification(session, t, TODAY)).lymphedema
        }
    assert levels == demo.INTENDED_LEVELS
    assert {1, 2, 3} <= set(levels.values())
    assert None in levels.values()  # the therapist whose licence expired
    assert lymphedema == {demo.LYMPHEDEMA_THERAPIST}


async def test_demo_logins_exist_with_their_roles(db: Database) -> None:
    from clinic.auth.models import User
    from clinic.auth.passwords import verify_password

    await _seed(db)
    async with db.reading() as session:
        for login in demo.DEMO_LOGINS:
            user = await session.scalar(select(User).where(User.email == login.email))
            assert user is not None, login.email
            assert verify_password(user.password_hash, login.password)
            assert login.role in {role.value for role in user.roles}


LANDINGS = {
    "admin": "/admin/",
    "frontdesk": "/desk/",
    "clinical_lead": "/therapist/",
    "therapist": "/therapist/",
}


@pytest.mark.parametrize("login", demo.DEMO_LOGINS, ids=lambda login: login.role)
async def test_demo_sign_ins_land_on_their_pages(
    db: Database, http: httpx2.AsyncClient, login: demo.DemoLogin
) -> None:
    await _seed(db)
    token = await factories.form_token(http)
    response = await http.post(
        "/login", data={"email": login.email, "password": login.password, "csrf_token": token}
    )
    assert response.status_code == 303
    assert response.headers["location"] == LANDINGS[login.role]
    page = await http.get(response.headers["location"])
    assert page.status_code == 200
    assert "Sign out" in page.text


async def test_the_demo_desk_sees_todays_appointments_without_clinical_words(
    db: Database, http: httpx2.AsyncClient
) -> None:
    # Seed around the real today so that the desk page (which shows today) has a day's work.
    await demo.seed_demo(db, timezone="America/New_York", currency="usd")
    await factories.sign_in_as(http, db, Role.FRONTDESK)
    page = await http.get("/desk/")
    assert page.status_code == 200
    assert "New York time" in page.text
    for word in ("diagnos", "chemotherapy", "metasta", "lymphedema", "clearance reason"):
        assert word not in page.text.lower()


async def test_every_seeded_intake_validates_against_its_form_version(db: Database) -> None:
    await _seed(db)
    async with db.reading() as session:
        intakes = list(await session.scalars(select(Intake)))
        consents = list(
            await session.scalars(
                select(Consent).where(Consent.kind == ConsentKind.CONTACT_ONCOLOGY_TEAM)
            )
        )
    assert len(intakes) == len(demo.INTAKE_CLIENTS)
    for intake in intakes:
        definition = forms.by_hash(intake.form_hash)
        signed_on = intake.signed_at.astimezone(ZONE).date()
        assert forms.validate(definition, intake.answers, today=signed_on) == intake.answers
        assert intake.client_id is not None
        assert intake.cancer_history is intake.answers[forms.GATE_QUESTION]
    consented = {i.client_id for i in intakes if i.answers.get("contact_consent") is True}
    assert {c.client_id for c in consents} == consented
    assert len(consents) == len(consented) >= 5


async def _planned_visits(
    db: Database,
) -> list[tuple[Appointment, str, str, AppointmentIntake | None]]:
    """Every appointment with its therapist's and client's names and its intake link."""
    async with db.reading() as session:
        rows = await session.execute(
            select(Appointment, Therapist.display_name, Client.name, AppointmentIntake)
            .join(Therapist, Therapist.id == Appointment.therapist_id)
            .join(Client, Client.id == Appointment.client_id)
            .outerjoin(AppointmentIntake, AppointmentIntake.appointment_id == Appointment.id)
            .order_by(Appointment.starts_at)
        )
        return [(a, therapist, client, link) for a, therapist, client, link in rows.all()]


async def test_oncology_clients_are_booked_only_with_therapists_their_plans_allow(
    db: Database,
) -> None:
    await _seed(db)
    async with db.reading() as session:
        oncology_clients = set(
            await session.scalars(select(Intake.client_id).where(Intake.cancer_history.is_(True)))
        )
    assert len(oncology_clients) >= 7
    in_review, checked = [], 0
    for appointment, _, client, link in await _planned_visits(db):
        day = appointment.starts_at.astimezone(ZONE).date()
        if appointment.client_id not in oncology_clients or day < TODAY:
            continue
        assert link is not None, client
        assert link.plan is not None, client
        if link.state is IntakeState.REVIEW:
            in_review.append(appointment.id)
            continue
        assert link.state is IntakeState.COMPLETE
        plan = plan_from_json(link.plan)
        async with db.reading() as session:
            therapist = await session.get(Therapist, appointment.therapist_id)
            assert therapist is not None
            qualification = await therapist_qualification(session, therapist, day)
        assert plan.min_oncology_level is not None
        assert (qualification.oncology_level or 0) >= plan.min_oncology_level, client
        assert qualification.lymphedema or not plan.lymphedema_needed, client
        assert link.required_level == plan.min_oncology_level
        held = plan.action is Action.HOLD or plan.clearance is Clearance.REQUIRED
        if day > TODAY:
            assert (appointment.status is AppointmentStatus.PENDING_CLEARANCE) == held, client
        checked += 1
    assert len(in_review) == 1
    assert checked >= 8


async def test_the_demo_has_intakes_complete_missing_and_in_review(db: Database) -> None:
    await _seed(db)
    visits = await _planned_visits(db)
    states = [link.state for _, _, _, link in visits if link is not None]
    assert {IntakeState.COMPLETE, IntakeState.MISSING, IntakeState.REVIEW} <= set(states)
    assert 2 <= states.count(IntakeState.MISSING) <= 3
    (review,) = [(a, t, link) for a, t, _, link in visits if link and link.state == "review"]
    appointment, therapist, link = review
    assert demo.INTENDED_LEVELS[therapist] == 1
    assert "oncology level 2" in link.review_reason
    assert appointment.starts_at.astimezone(ZONE).date() > TODAY
    # The sessions a plan holds for a clearance are pending, and some are in the demo.
    pending = [a for a, _, _, link in visits if link and a.status == "pending_clearance"]
    assert len(pending) >= 2


async def test_the_demo_has_a_clearance_in_every_status_and_their_effects(db: Database) -> None:
    await _seed(db)
    async with db.reading() as session:
        statuses = set(await session.scalars(select(ClearanceRecord.status)))
        chases = await session.scalar(select(func.count()).select_from(ClearanceChase))
    assert statuses == set(ClearanceStatus)
    assert chases
    # Restrictions from a clearance reach the plan of every visit it covers.
    restricted = [
        plan_from_json(link.plan)
        for appointment, _, _, link in await _planned_visits(db)
        if link is not None
        and link.plan is not None
        and appointment.status is AppointmentStatus.CONFIRMED
        and any("Physician's restrictions" in note for note in plan_from_json(link.plan).notes)
    ]
    assert restricted
    assert all(plan.max_pressure == 1 for plan in restricted)


async def _todays_planned_visit(db: Database, therapist_name: str) -> Appointment:
    for appointment, therapist, _, link in await _planned_visits(db):
        if (
            therapist == therapist_name
            and appointment.starts_at.astimezone(ZONE).date() == TODAY
            and link is not None
            and link.state is IntakeState.COMPLETE
            and link.plan is not None
            and plan_from_json(link.plan).site_rules
            and appointment.status is not AppointmentStatus.CANCELLED
        ):
            return appointment
    raise AssertionError(f"{therapist_name} has no visit today with site rules in its plan")


@pytest.mark.parametrize("therapist", [demo.PLAIN_THERAPIST, demo.CLINICAL_LEAD])
async def test_the_demo_therapists_see_a_care_plan_with_site_rules_today(
    db: Database, http: httpx2.AsyncClient, therapist: str
) -> None:
    login = next(
        login
        for login in demo.DEMO_LOGINS
        if login.email.startswith(therapist.lower().replace(" ", "."))
    )
    with clock.frozen_at(datetime(2026, 11, 27, 17, 0, tzinfo=UTC)):  # noon in New York
        await _seed(db)
        appointment = await _todays_planned_visit(db, therapist)
        assert appointment.status is AppointmentStatus.CONFIRMED
        token = await factories.form_token(http)
        signed_in = await http.post(
            "/login",
            data={"email": login.email, "password": login.password, "csrf_token": token},
        )
        assert signed_in.status_code == 303
        day = await http.get("/therapist/")
        assert f'/therapist/appointments/{appointment.id}">' in day.text
        page = await http.get(f"/therapist/appointments/{appointment.id}")
    assert page.status_code == 200, page.text
    assert "Care plan" in page.text
    assert re.search(r"No massage on|No lotion or oil on|Gentle touch only on", page.text)
