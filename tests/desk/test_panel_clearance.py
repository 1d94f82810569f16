"""The visit panel's clearance forms: "Log clearance chase" and "Mark received" post to the
clearance page's routes and come back to the panel (`back=panel`, a fixed choice: any other
value goes to the clearance page). The panel shows no physician, chase log or outcome."""

from __future__ import annotations

from datetime import timedelta

import httpx2
import pytest
from sqlalchemy import select

from clinic import clock
from clinic.audit import AuditEntry
from clinic.auth.models import Role
from clinic.booking.statuses import AppointmentStatus
from clinic.clearance.models import (
    ChaseMethod,
    Clearance,
    ClearanceChase,
    ClearanceStatus,
)
from clinic.clearance.service import Actor, request_clearance
from clinic.db import Database
from tests.booking.conftest import NOW
from tests.desk.support import Visit, make_visit, post_form, sign_in_desk, text_of

pytestmark = pytest.mark.usefixtures("frozen")

PHYSICIAN = "Dr Helen Marsh"


async def waiting_visit(db: Database, desk_user_id: int, *, requested: bool = True) -> Visit:
    """A visit waiting for a clearance, with the request sent (or not yet)."""
    visit = await make_visit(
        db, starts_at=NOW + timedelta(days=4), status=AppointmentStatus.PENDING_CLEARANCE
    )
    if requested:
        await request_clearance(
            db,
            visit.appointment_id,
            physician_name=PHYSICIAN,
            practice="Penn Oncology",
            contact="fax (215) 555-0188",
            actor=Actor(desk_user_id, frozenset({Role.FRONTDESK})),
        )
    return visit


async def the_clearance(db: Database, visit: Visit) -> Clearance:
    async with db.reading() as session:
        found = await session.scalar(
            select(Clearance).where(Clearance.client_id == visit.client_id)
        )
    assert found is not None
    return found


def chase_url(visit: Visit) -> str:
    return f"{visit.panel}/clearance/chase"


async def test_the_panel_logs_a_chase_and_comes_back(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    desk = await sign_in_desk(http, seeded)
    visit = await waiting_visit(seeded, desk.id)
    clearance = await the_clearance(seeded, visit)
    panel = await http.get(visit.panel)
    words = text_of(panel.text)
    assert "Requested: waiting for the physician's reply." in words
    assert "Log clearance chase" in words
    assert f'name="clearance_id" value="{clearance.id}"' in panel.text
    assert 'name="back" value="panel"' in panel.text
    assert "Mark received" in words
    # Nothing of the request itself on the panel.
    assert PHYSICIAN not in panel.text
    assert "555-0188" not in panel.text

    logged = await post_form(
        http,
        visit.panel,
        chase_url(visit),
        {
            "clearance_id": str(clearance.id),
            "method": "phone",
            "outcome": "Left a message with the nurse",
            "next_on": "2026-11-30",
            "back": "panel",
        },
    )
    assert logged.status_code == 303
    assert logged.headers["location"] == visit.panel
    back = await http.get(visit.panel)
    assert "Done: Chase logged." in text_of(back.text)
    async with seeded.reading() as session:
        [chase] = list(
            await session.scalars(
                select(ClearanceChase).where(ClearanceChase.clearance_id == clearance.id)
            )
        )
        audited = list(
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "clearance.chased",
                    AuditEntry.subject_id == str(clearance.id),
                )
            )
        )
    assert (chase.method, chase.outcome, chase.by_user_id) == (
        ChaseMethod.PHONE,
        "Left a message with the nurse",
        desk.id,
    )
    assert chase.next_on is not None
    assert chase.next_on.isoformat() == "2026-11-30"
    assert [entry.actor_user_id for entry in audited] == [desk.id]


async def test_the_panel_marks_the_reply_received(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    desk = await sign_in_desk(http, seeded)
    visit = await waiting_visit(seeded, desk.id)
    clearance = await the_clearance(seeded, visit)
    received = await post_form(
        http,
        visit.panel,
        f"{visit.panel}/clearance/received",
        {"clearance_id": str(clearance.id), "back": "panel"},
    )
    assert received.status_code == 303
    assert received.headers["location"] == visit.panel
    assert (await the_clearance(seeded, visit)).status is ClearanceStatus.RECEIVED
    panel = await http.get(visit.panel)
    words = text_of(panel.text)
    assert "Marked received. A clinician will record the outcome." in words
    assert "Reply received: a clinician records the outcome." in words
    # Received already: only chasing is left.
    assert "Mark received" not in words
    assert "Log clearance chase" in words


@pytest.mark.parametrize("back", ["", "clearance", "https://elsewhere.example/", "/desk/"])
async def test_any_other_return_goes_to_the_clearance_page(
    seeded: Database, http: httpx2.AsyncClient, back: str
) -> None:
    desk = await sign_in_desk(http, seeded)
    visit = await waiting_visit(seeded, desk.id)
    clearance = await the_clearance(seeded, visit)
    logged = await post_form(
        http,
        visit.panel,
        chase_url(visit),
        {"clearance_id": str(clearance.id), "method": "fax", "outcome": "Sent", "back": back},
    )
    assert logged.status_code == 303
    assert logged.headers["location"] == f"{visit.panel}/clearance"


async def test_a_chase_from_the_panel_with_a_problem_shows_it_on_the_clearance_page(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    desk = await sign_in_desk(http, seeded)
    visit = await waiting_visit(seeded, desk.id)
    clearance = await the_clearance(seeded, visit)
    refused = await post_form(
        http,
        visit.panel,
        chase_url(visit),
        {"clearance_id": str(clearance.id), "outcome": "Called", "back": "panel"},
    )
    assert refused.status_code == 422
    words = text_of(refused.text)
    assert "Choose how you chased the physician" in words
    assert 'value="Called"' in refused.text
    # Fixed there, the chase still goes back to the panel it came from.
    assert '<input type="hidden" name="back" value="panel">' in refused.text


async def test_without_a_request_the_panel_points_to_the_clearance_page(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    desk = await sign_in_desk(http, seeded)
    visit = await waiting_visit(seeded, desk.id, requested=False)
    panel = await http.get(visit.panel)
    words = text_of(panel.text)
    assert "No clearance has been requested for this client yet" in words
    assert "Log clearance chase" not in words
    assert f'{visit.panel}/clearance">request one' in panel.text


async def test_a_visit_that_needs_no_clearance_has_no_clearance_forms(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    visit = await make_visit(seeded, starts_at=NOW + timedelta(days=2))
    await sign_in_desk(http, seeded)
    panel = await http.get(visit.panel)
    assert "Log clearance chase" not in panel.text
    assert "/clearance/chase" not in panel.text


async def test_late_in_the_evening_the_next_chase_may_be_the_clinics_today(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    """At 9pm in New York it is already tomorrow in UTC: "today" is the clinic's date."""
    evening = NOW.replace(hour=2) + timedelta(days=1)  # 9pm on Friday 27 November
    with clock.frozen_at(evening):
        desk = await sign_in_desk(http, seeded)
        visit = await waiting_visit(seeded, desk.id)
        clearance = await the_clearance(seeded, visit)
        logged = await post_form(
            http,
            visit.panel,
            chase_url(visit),
            {
                "clearance_id": str(clearance.id),
                "method": "phone",
                "outcome": "Office closed; try again tonight",
                "next_on": "2026-11-27",
                "back": "panel",
            },
        )
        refused = await post_form(
            http,
            visit.panel,
            chase_url(visit),
            {
                "clearance_id": str(clearance.id),
                "method": "phone",
                "outcome": "Office closed",
                "next_on": "2026-11-26",
                "back": "panel",
            },
        )
    assert logged.status_code == 303
    assert refused.status_code == 422
    assert "The next chase must be today or later" in refused.text
