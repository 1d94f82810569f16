"""Break-glass (reliability.md section 4, HIPAA emergency access): a therapist opens a
visit's health details outside their access only with a reason; the grant covers one
visit for a limited time; opening it and each read under it are audited with the reason;
admins see the list. And the care window itself is a setting."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta

import httpx2
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from clinic import clock, demo
from clinic.access.break_glass import ReasonProblem, clean_reason
from clinic.access.models import BreakGlassGrant
from clinic.access.window import CareWindow
from clinic.app import create_app
from clinic.audit import AuditEntry
from clinic.auth.models import Role
from clinic.booking.models import Appointment
from clinic.booking.service import day_bounds
from clinic.db import Database
from clinic.intake.models import AppointmentIntake
from clinic.settings import Settings, SettingsError
from clinic.staff.models import Therapist
from tests import factories
from tests.therapist.conftest import NOW, TODAY, ZONE, demo_therapist, sign_in_therapist

REASON = "Covering Marcus's visit this afternoon while he is off sick."


async def _planned_visit_of(db: Database, therapist: Therapist) -> Appointment:
    """The therapist's first visit today that has a care plan: health details to open."""
    start, end = day_bounds(TODAY, ZONE)
    async with db.reading() as session:
        found = await session.scalar(
            select(Appointment)
            .join(AppointmentIntake, AppointmentIntake.appointment_id == Appointment.id)
            .where(
                Appointment.therapist_id == therapist.id,
                Appointment.starts_at >= start,
                Appointment.starts_at < end,
                AppointmentIntake.plan.is_not(None),
            )
            .order_by(Appointment.starts_at)
            .limit(1)
        )
    assert found is not None, f"{therapist.display_name} has no planned visit today"
    return found


async def _entries(db: Database, action: str, user_id: int) -> list[AuditEntry]:
    async with db.reading() as session:
        return list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == action, AuditEntry.actor_user_id == user_id)
                .order_by(AuditEntry.id)
            )
        )


async def _reads_of(db: Database, user_id: int, appointment_id: int) -> list[AuditEntry]:
    entries = await _entries(db, "intake.read", user_id)
    return [entry for entry in entries if entry.details["appointment_id"] == appointment_id]


async def _open(http: httpx2.AsyncClient, appointment_id: int, reason: str) -> httpx2.Response:
    token = await factories.form_token(http, "/therapist/")
    return await http.post(
        f"/therapist/appointments/{appointment_id}/break-glass",
        data={"csrf_token": token, "reason": reason},
    )


@pytest.fixture
async def colleagues_visit(seeded: Database) -> Appointment:
    """A visit with a care plan today on the clinical lead's schedule, not Jordan's."""
    return await _planned_visit_of(seeded, await demo_therapist(seeded, demo.CLINICAL_LEAD))


async def test_a_colleagues_visit_is_closed_and_says_how_to_open_it(
    seeded: Database, http: httpx2.AsyncClient, jordan: Therapist, colleagues_visit: Appointment
) -> None:
    page = await http.get(f"/therapist/appointments/{colleagues_visit.id}")

    assert page.status_code == 403
    assert page.headers["cache-control"] == "no-store"
    assert "This visit is not on your schedule." in page.text
    assert 'name="reason"' in page.text
    assert "Care plan" not in page.text
    assert await _entries(seeded, "intake.read", jordan.user_id or 0) == []


async def test_a_reason_opens_the_record_for_a_while_and_every_read_is_audited(
    seeded: Database, http: httpx2.AsyncClient, jordan: Therapist, colleagues_visit: Appointment
) -> None:
    opened = await _open(http, colleagues_visit.id, f"  {REASON}\n ")

    assert opened.status_code == 303
    assert opened.headers["location"] == f"/therapist/appointments/{colleagues_visit.id}"
    page = await http.get(opened.headers["location"])
    assert page.status_code == 200, page.text
    assert "Care plan" in page.text

    user_id = jordan.user_id or 0
    [grant_entry] = await _entries(seeded, "break_glass.opened", user_id)
    assert grant_entry.subject_type == "appointment"
    assert grant_entry.subject_id == str(colleagues_visit.id)
    assert grant_entry.details["reason"] == REASON
    # (Fetching the form's token read Jordan's own day sheet: those reads are his own.)
    [read] = await _reads_of(seeded, user_id, colleagues_visit.id)
    assert read.details["by"] == "break_glass"
    assert read.details["grant_id"] == grant_entry.details["grant_id"]
    assert read.details["reason"] == REASON

    # The grant ends on time: the record is closed again, and nothing more is read.
    async with seeded.reading() as session:
        grant = await session.scalar(select(BreakGlassGrant))
    assert grant is not None
    assert grant.expires_at - grant.granted_at == timedelta(minutes=60)
    # Open until it ends (looked at every 12 minutes: the staff session stays alive).
    for minutes in (12, 24, 36, 48, 59):
        with clock.frozen_at(grant.granted_at + timedelta(minutes=minutes)):
            still = await http.get(f"/therapist/appointments/{colleagues_visit.id}")
        assert still.status_code == 200, minutes
    with clock.frozen_at(grant.expires_at):
        again = await http.get(f"/therapist/appointments/{colleagues_visit.id}")
    assert again.status_code == 403
    assert len(await _reads_of(seeded, user_id, colleagues_visit.id)) == 6


async def test_a_grant_covers_only_its_own_visit_and_its_own_therapist(
    seeded: Database,
    http: httpx2.AsyncClient,
    new_client: Callable[[], httpx2.AsyncClient],
    jordan: Therapist,
    colleagues_visit: Appointment,
) -> None:
    assert (await _open(http, colleagues_visit.id, REASON)).status_code == 303
    marcus = await demo_therapist(seeded, demo.CLINICAL_LEAD)
    start, end = day_bounds(TODAY, ZONE)
    async with seeded.reading() as session:
        other_visit = await session.scalar(
            select(Appointment.id).where(
                Appointment.therapist_id == marcus.id,
                Appointment.id != colleagues_visit.id,
                Appointment.starts_at >= start,
                Appointment.starts_at < end,
            )
        )
    assert other_visit is not None
    assert (await http.get(f"/therapist/appointments/{other_visit}")).status_code == 403

    # Another therapist signed in elsewhere does not share Jordan's grant.
    async with new_client() as other_browser:
        await sign_in_therapist(other_browser, seeded, demo.LYMPHEDEMA_THERAPIST)
        page = await other_browser.get(f"/therapist/appointments/{colleagues_visit.id}")
    assert page.status_code == 403


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "Say why you need to open this record."),
        ("   \n  ", "Say why you need to open this record."),
        ("just looking", "at least 20 characters (you wrote 12)"),
        ("x" * 501, "Keep it to 500 characters (you wrote 501)."),
    ],
)
async def test_a_missing_or_thin_reason_is_refused_with_the_form_kept(
    seeded: Database,
    http: httpx2.AsyncClient,
    jordan: Therapist,
    colleagues_visit: Appointment,
    reason: str,
    message: str,
) -> None:
    page = await _open(http, colleagues_visit.id, reason)

    assert page.status_code == 422
    assert "<title>Error: " in page.text
    assert message in page.text
    if reason.strip():
        assert reason in page.text
    async with seeded.reading() as session:
        assert await session.scalar(select(BreakGlassGrant)) is None
    assert await _entries(seeded, "break_glass.opened", jordan.user_id or 0) == []


async def test_no_such_appointment_is_not_found(
    seeded: Database, http: httpx2.AsyncClient, jordan: Therapist
) -> None:
    assert (await _open(http, 999_999, REASON)).status_code == 404
    assert (await http.get("/therapist/appointments/999999")).status_code == 404


async def test_admins_see_each_grant_with_who_why_and_until_when(
    seeded: Database,
    http: httpx2.AsyncClient,
    new_client: Callable[[], httpx2.AsyncClient],
    jordan: Therapist,
    colleagues_visit: Appointment,
) -> None:
    assert (await _open(http, colleagues_visit.id, REASON)).status_code == 303

    async with new_client() as admin:
        await factories.sign_in_as(admin, seeded, Role.ADMIN)
        page = await admin.get("/admin/break-glass")

    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert REASON.replace("'", "&#39;") in page.text
    assert jordan.display_name in page.text or "Jordan" in page.text
    assert f"appointment {colleagues_visit.id}" in page.text
    assert "Open now" in page.text


def _app_with_window(settings: Settings, db: Database, window: CareWindow) -> Starlette:
    return create_app(dataclasses.replace(settings, care_window=window), db=db)


async def test_the_care_window_is_a_setting_for_the_day_sheet_and_the_visit_page(
    seeded: Database, settings: Settings, jordan: Therapist
) -> None:
    visit = await _planned_visit_of(seeded, jordan)
    assert visit.starts_at > NOW, "a visit later today, so a zero-day window excludes it"
    closed = _app_with_window(settings, seeded, CareWindow(days_back=0, days_ahead=0))
    transport = httpx2.ASGITransport(app=closed)
    async with httpx2.AsyncClient(transport=transport, base_url="https://testserver") as http:
        await factories.sign_in_existing(http, seeded, jordan.user_id or 0)
        sheet = await http.get("/therapist/")
        page = await http.get(f"/therapist/appointments/{visit.id}")

    assert sheet.status_code == 200
    assert "Max 2 of 5" not in sheet.text
    assert page.status_code == 403
    assert "from 0 days before a visit until 0 days after it" in page.text
    assert await _entries(seeded, "intake.read", jordan.user_id or 0) == []


def test_the_window_holds_from_days_ahead_before_to_days_back_after() -> None:
    window = CareWindow(days_back=30, days_ahead=14)
    starts, ends = NOW, NOW + timedelta(hours=1)
    assert window.holds(starts, ends, starts - timedelta(days=14))
    assert not window.holds(starts, ends, starts - timedelta(days=14, seconds=1))
    assert window.holds(starts, ends, ends + timedelta(days=30))
    assert not window.holds(starts, ends, ends + timedelta(days=30, seconds=1))
    with pytest.raises(ValueError, match="days_back"):
        CareWindow(days_back=-1)


def test_the_window_and_grant_length_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "CLINIC_CARE_WINDOW_DAYS_BACK": "7",
            "CLINIC_CARE_WINDOW_DAYS_AHEAD": "2",
            "CLINIC_BREAK_GLASS_MINUTES": "15",
        }
    )
    assert settings.care_window == CareWindow(days_back=7, days_ahead=2)
    assert settings.break_glass_minutes == 15
    assert Settings.from_env({}).care_window == CareWindow(days_back=30, days_ahead=14)
    for name, value in [
        ("CLINIC_CARE_WINDOW_DAYS_BACK", "-1"),
        ("CLINIC_CARE_WINDOW_DAYS_AHEAD", "a week"),
        ("CLINIC_BREAK_GLASS_MINUTES", "2"),
    ]:
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: value})


def test_a_reason_is_trimmed_and_bounded() -> None:
    assert clean_reason(f"  {REASON[:30]}\n\n  {REASON[30:]}  ") == f"{REASON[:30]} {REASON[30:]}"
    with pytest.raises(ReasonProblem):
        clean_reason("short")
