"""One visit's panel (/desk/appointments/{id}), a full page: who, what, when, where, status,
payment and flags; check in from 30 minutes before the start and undo it; mark a no-show
(the payments page's route) and undo it, which drops the fee and asks for a settlement.
Every move is audited, a move the status table refuses is a message (never a 500), and only
the front desk gets in."""

from __future__ import annotations

from datetime import timedelta

import httpx2
import pytest
from sqlalchemy import select

from clinic.auth.models import Role
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.db import Database
from clinic.outbox.models import OutboxMessage
from clinic.payments import SETTLE_PAYMENTS
from clinic.scheduling.models import Location, Service
from clinic.staff.models import Therapist
from tests import factories
from tests.booking.conftest import NOW
from tests.desk.support import (
    CLINICAL_WORDS,
    appointment,
    audit_entries,
    make_visit,
    post_form,
    sign_in_desk,
    text_of,
)

pytestmark = pytest.mark.usefixtures("frozen")


async def _settlements(db: Database, appointment_id: int) -> int:
    async with db.reading() as session:
        messages = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == SETTLE_PAYMENTS)
        )
        return sum(1 for m in messages if m.payload == {"appointment_id": appointment_id})


async def test_the_panel_shows_the_visit_without_anything_clinical(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    visit = await make_visit(seeded, starts_at=NOW + timedelta(hours=2))
    await sign_in_desk(http, seeded)
    page = await http.get(visit.panel)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    words = text_of(page.text)
    assert "Sam Lee, 10am" in words
    assert "Friday 27 November 2026, 10am to 11am (New York time (EST))" in words
    assert "Dana Payton" in words
    assert "Massage, 60 min" in words
    assert "✓ Booked" in words
    assert "Unpaid, balance $95.00" in words
    assert "★ New client" in words
    assert f"/desk/appointments/{visit.appointment_id}/payments" in page.text
    assert "/desk/2026-11-27" in page.text
    # Not waiting for a clearance: no clearance link; nothing that does not exist yet.
    assert f"/desk/appointments/{visit.appointment_id}/clearance" not in page.text
    assert ">Book" not in page.text
    # A booked visit still to come can be moved or cancelled (tests/desk/test_move.py).
    assert f"/desk/appointments/{visit.appointment_id}/move" in page.text
    assert f"/desk/appointments/{visit.appointment_id}/cancel" in page.text
    lowered = page.text.lower()
    for word in CLINICAL_WORDS:
        assert word not in lowered


async def test_check_in_opens_30_minutes_before_the_start(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    visit = await make_visit(seeded, starts_at=NOW + timedelta(minutes=45))
    await sign_in_desk(http, seeded)
    page = await http.get(visit.panel)
    assert "Check-in opens 30 minutes before the visit, at 8:15am" in page.text
    assert "/check-in" not in page.text
    refused = await post_form(http, visit.panel, f"{visit.panel}/check-in")
    assert refused.status_code == 303
    assert refused.headers["location"] == visit.panel
    after = await http.get(visit.panel)
    assert "It is too early to check in" in after.text
    assert (await appointment(seeded, visit.appointment_id)).status is AppointmentStatus.CONFIRMED
    assert await audit_entries(seeded, "appointment.checked_in", visit.appointment_id) == []


async def test_check_in_and_undo_it(seeded: Database, http: httpx2.AsyncClient) -> None:
    visit = await make_visit(seeded, starts_at=NOW + timedelta(minutes=20))
    desk = await sign_in_desk(http, seeded)
    page = await http.get(visit.panel)
    assert f"{visit.panel}/check-in" in page.text

    checked = await post_form(http, visit.panel, f"{visit.panel}/check-in")
    assert checked.status_code == 303
    assert checked.headers["location"] == visit.panel
    page = await http.get(visit.panel)
    assert "Done: Sam Lee checked in." in text_of(page.text)
    assert "➜ Arrived" in text_of(page.text)
    assert f"{visit.panel}/check-in/undo" in page.text
    assert (await appointment(seeded, visit.appointment_id)).status is AppointmentStatus.CHECKED_IN
    [entry] = await audit_entries(seeded, "appointment.checked_in", visit.appointment_id)
    assert entry.actor_user_id == desk.id

    undone = await post_form(http, visit.panel, f"{visit.panel}/check-in/undo")
    assert undone.status_code == 303
    page = await http.get(visit.panel)
    assert "Check-in undone: Sam Lee is booked again." in page.text
    assert "✓ Booked" in text_of(page.text)
    assert (await appointment(seeded, visit.appointment_id)).status is AppointmentStatus.CONFIRMED
    [entry] = await audit_entries(seeded, "appointment.check_in_undone", visit.appointment_id)
    assert entry.actor_user_id == desk.id
    # The day shows it booked again.
    day = await http.get("/desk/")
    assert f"/desk/appointments/{visit.appointment_id}" in day.text


async def test_a_no_show_and_its_undo_drop_the_fee_and_ask_for_a_settlement(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    visit = await make_visit(seeded, starts_at=NOW - timedelta(minutes=40))
    desk = await sign_in_desk(http, seeded)
    page = await http.get(visit.panel)
    assert "charges the fee of $95.00 (100% of the price)" in page.text
    assert f"{visit.panel}/no-show" in page.text

    # The panel posts to the payments page's no-show route, which charges the fee.
    marked = await post_form(http, visit.panel, f"{visit.panel}/no-show")
    assert marked.status_code == 303
    missed = await appointment(seeded, visit.appointment_id)
    assert (missed.status, missed.fee_minor) == (AppointmentStatus.NO_SHOW, 9500)
    page = await http.get(visit.panel)
    words = text_of(page.text)
    assert "✕ No-show" in words
    assert "Fee due, balance $95.00" in words
    assert f"{visit.panel}/no-show/undo" in page.text
    settlements = await _settlements(seeded, visit.appointment_id)

    undone = await post_form(http, visit.panel, f"{visit.panel}/no-show/undo")
    assert undone.status_code == 303
    assert undone.headers["location"] == visit.panel
    page = await http.get(visit.panel)
    assert "No-show undone: Sam Lee is booked again and the no-show fee is dropped." in page.text
    back = await appointment(seeded, visit.appointment_id)
    assert (back.status, back.fee_minor) == (AppointmentStatus.CONFIRMED, 0)
    [entry] = await audit_entries(seeded, "appointment.no_show_undone", visit.appointment_id)
    assert entry.actor_user_id == desk.id
    assert entry.details == {"fee_minor_was": 9500}
    assert await _settlements(seeded, visit.appointment_id) == settlements + 1


async def test_the_desk_may_waive_the_no_show_fee_with_a_reason(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    visit = await make_visit(seeded, starts_at=NOW - timedelta(minutes=40))
    desk = await sign_in_desk(http, seeded)
    unexplained = await post_form(http, visit.panel, f"{visit.panel}/no-show", {"fee": "waive"})
    assert unexplained.status_code == 303
    assert unexplained.headers["location"] == f"{visit.panel}?fee=waive#no-show"
    page = await http.get(unexplained.headers["location"])
    assert "Enter the reason for waiving the no-show fee." in page.text
    assert 'id="fee-waive" name="fee" value="waive" checked' in page.text
    assert (await appointment(seeded, visit.appointment_id)).status is AppointmentStatus.CONFIRMED

    waived = await post_form(
        http,
        visit.panel,
        f"{visit.panel}/no-show",
        {"fee": "waive", "waive_reason": "Hospital admission"},
    )
    assert waived.status_code == 303
    missed = await appointment(seeded, visit.appointment_id)
    assert (missed.status, missed.fee_minor) == (AppointmentStatus.NO_SHOW, 0)
    [entry] = await audit_entries(seeded, "appointment.no_show", visit.appointment_id)
    assert entry.actor_user_id == desk.id
    assert entry.details == {
        "fee_minor": 0,
        "waived_minor": 9500,
        "reason": "Hospital admission",
    }
    page = await http.get(waived.headers["location"])
    assert "The fee is waived" in page.text


async def test_a_no_show_cannot_be_undone_once_its_time_is_booked_again(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    visit = await make_visit(
        seeded, starts_at=NOW - timedelta(minutes=40), status=AppointmentStatus.NO_SHOW
    )
    missed = await appointment(seeded, visit.appointment_id)
    async with seeded.transaction() as session:
        session.add(
            Appointment(
                **factories.appointment_values(
                    location=await session.get(Location, missed.location_id),
                    therapist=await session.get(Therapist, missed.therapist_id),
                    client=await factories.create_client(session, name="Walk In"),
                    service=await session.get(Service, missed.service_id),
                    starts_at=missed.starts_at,
                )
            )
        )
    await sign_in_desk(http, seeded)
    refused = await post_form(http, visit.panel, f"{visit.panel}/no-show/undo")
    assert refused.status_code == 303
    page = await http.get(visit.panel)
    assert "Another appointment has been booked into this time since" in page.text
    assert (await appointment(seeded, visit.appointment_id)).status is AppointmentStatus.NO_SHOW
    assert await audit_entries(seeded, "appointment.no_show_undone", visit.appointment_id) == []


@pytest.mark.parametrize(
    ("status", "action", "sentence"),
    [
        (
            AppointmentStatus.PENDING_CLEARANCE,
            "check-in",
            "This appointment is waiting for clearance, so it cannot be checked in now.",
        ),
        (AppointmentStatus.CHECKED_IN, "check-in", "This appointment is already checked in."),
        (
            AppointmentStatus.COMPLETED,
            "check-in",
            "This appointment is completed, so it cannot be checked in now.",
        ),
        (
            AppointmentStatus.CONFIRMED,
            "check-in/undo",
            "This appointment is booked, not checked in, so there is nothing to undo.",
        ),
        (
            AppointmentStatus.CHECKED_IN,
            "no-show/undo",
            "This appointment is checked in, not marked as a no-show, so there is nothing to undo.",
        ),
    ],
)
async def test_a_move_the_status_table_refuses_is_a_message(
    seeded: Database,
    http: httpx2.AsyncClient,
    status: AppointmentStatus,
    action: str,
    sentence: str,
) -> None:
    visit = await make_visit(seeded, starts_at=NOW + timedelta(minutes=10), status=status)
    await sign_in_desk(http, seeded)
    refused = await post_form(http, visit.panel, f"{visit.panel}/{action}")
    assert refused.status_code == 303
    assert refused.headers["location"] == visit.panel
    page = await http.get(visit.panel)
    assert f"Problem: {sentence}" in text_of(page.text)
    assert (await appointment(seeded, visit.appointment_id)).status is status


async def test_a_visit_waiting_for_a_clearance_links_to_its_clearance_page(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    visit = await make_visit(
        seeded, starts_at=NOW + timedelta(days=4), status=AppointmentStatus.PENDING_CLEARANCE
    )
    await sign_in_desk(http, seeded)
    page = await http.get(visit.panel)
    words = text_of(page.text)
    assert "⚠ Awaiting clearance" in words
    # 72 hours before 8am on Tuesday 1 December.
    assert "⚠ Clearance needed by Sat 28 Nov, 8am" in words
    assert f"/desk/appointments/{visit.appointment_id}/clearance" in page.text
    assert "/check-in" not in page.text
    assert "/no-show" not in page.text


async def test_a_missing_visit_is_not_found(seeded: Database, http: httpx2.AsyncClient) -> None:
    await sign_in_desk(http, seeded)
    assert (await http.get("/desk/appointments/999999")).status_code == 404
    missing = await post_form(http, "/desk/", "/desk/appointments/999999/check-in")
    assert missing.status_code == 404


async def test_a_therapist_cannot_use_the_panel(seeded: Database, http: httpx2.AsyncClient) -> None:
    visit = await make_visit(seeded, starts_at=NOW + timedelta(minutes=20))
    await factories.sign_in_as(http, seeded, Role.THERAPIST)
    assert (await http.get(visit.panel)).status_code == 403
    for action in ("check-in", "check-in/undo", "no-show/undo"):
        refused = await post_form(http, "/therapist/", f"{visit.panel}/{action}")
        assert refused.status_code == 403
    assert (await appointment(seeded, visit.appointment_id)).status is AppointmentStatus.CONFIRMED
