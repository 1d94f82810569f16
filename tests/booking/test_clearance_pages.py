"""The clearance pages: the desk requests, chases and marks received through its page and
prints the physician letter; a clinician records the outcome on the clinical page. The desk
never sees clinical words, cannot record an outcome, and every staff read is audited."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx2
import pytest
from sqlalchemy import func, select

from clinic.audit import AuditEntry
from clinic.auth.models import Role
from clinic.booking.statuses import AppointmentStatus
from clinic.clearance.models import Clearance, ClearanceStatus
from clinic.db import Database
from clinic.staff.models import Therapist
from tests import factories
from tests.booking.conftest import NOW
from tests.booking.test_clearance import actor, book_pending, requested, status_of

pytestmark = pytest.mark.usefixtures("frozen")

CLINICAL_WORDS = ("lumbar", "bone", "metasta", "lymph")


async def audit_count(db: Database, action: str, user_id: int) -> int:
    async with db.reading() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == action, AuditEntry.actor_user_id == user_id)
        )
    return int(count or 0)


async def post(
    browser: httpx2.AsyncClient, form_page: str, url: str, data: dict[str, str]
) -> httpx2.Response:
    token = await factories.form_token(browser, form_page)
    return await browser.post(url, data={**data, "csrf_token": token})


def assert_not_clinical(text: str) -> None:
    lowered = text.lower()
    for word in CLINICAL_WORDS:
        assert word not in lowered, f"the desk page shows {word!r}"


async def test_the_desk_requests_chases_and_marks_received_through_its_page(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    [visit] = await book_pending(seeded, http, "2026-12-02")
    desk = await factories.sign_in_as(http, seeded, Role.FRONTDESK)
    page_url = f"/desk/appointments/{visit['id']}/clearance"

    page = await http.get(page_url)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "Clearance needed" in page.text
    # 72 hours before the visit, with the zone named.
    assert "Needed by" in page.text
    assert "Eastern" in page.text or "Toronto" in page.text or "New York" in page.text
    assert_not_clinical(page.text)

    # An empty request: the page again with the errors, the values kept.
    refused = await post(
        http, page_url, f"{page_url}/request", {"physician_name": "", "practice": "Jefferson"}
    )
    assert refused.status_code == 422
    assert "<title>Error: " in refused.text
    assert "There is a problem" in refused.text
    assert 'value="Jefferson"' in refused.text

    sent = await post(
        http,
        page_url,
        f"{page_url}/request",
        {"physician_name": "Dr Ana Lee", "practice": "Jefferson", "contact": "fax 215-555-0199"},
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == page_url
    page = await http.get(page_url)
    assert "Clearance requested on" in page.text
    assert "Dr Ana Lee" in page.text
    assert "Print the physician letter" in page.text  # the flash

    async with seeded.reading() as session:
        clearance = await session.scalar(select(Clearance).order_by(Clearance.id.desc()))
    assert clearance is not None
    assert f'name="clearance_id" value="{clearance.id}"' in page.text
    named = {"clearance_id": str(clearance.id)}

    no_method = await post(
        http, page_url, f"{page_url}/chase", {**named, "outcome": "Left a message", "next_on": ""}
    )
    assert no_method.status_code == 422
    assert "Choose how you chased the physician" in no_method.text
    assert 'value="Left a message"' in no_method.text

    chased = await post(
        http,
        page_url,
        f"{page_url}/chase",
        {**named, "method": "phone", "outcome": "Left a message with the nurse line"},
    )
    assert chased.status_code == 303
    page = await http.get(page_url)
    assert "Left a message with the nurse line" in page.text
    assert "Phone" in page.text

    received = await post(http, page_url, f"{page_url}/received", named)
    assert received.status_code == 303
    page = await http.get(page_url)
    assert "Received on" in page.text
    assert_not_clinical(page.text)
    async with seeded.reading() as session:
        found = await session.get(Clearance, clearance.id)
    assert found is not None
    assert found.status is ClearanceStatus.RECEIVED
    # Every desk read of the clearance was audited (once per page showing it).
    assert await audit_count(seeded, "clearance.read", desk.id) >= 5


async def test_the_desk_cannot_record_an_outcome(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    [visit] = await book_pending(seeded, http, "2026-12-02")
    clearance = await requested(seeded, visit["id"], await actor(seeded, Role.FRONTDESK))
    await factories.sign_in_as(http, seeded, Role.FRONTDESK)
    refused = await post(
        http,
        "/desk/",
        f"/clinical/clearances/{clearance.id}",
        {"status": "cleared"},
    )
    assert refused.status_code == 403
    assert (await http.get(f"/clinical/clearances/{clearance.id}")).status_code == 403
    assert await status_of(seeded, visit["id"]) is AppointmentStatus.PENDING_CLEARANCE


async def test_a_lead_records_restrictions_and_the_therapist_sees_the_lower_pressure(
    seeded: Database, http: httpx2.AsyncClient, new_client: Callable[[], Any]
) -> None:
    [visit] = await book_pending(seeded, http, "2026-12-02")
    clearance = await requested(seeded, visit["id"], await actor(seeded, Role.FRONTDESK))
    lead = await factories.sign_in_as(http, seeded, Role.CLINICAL_LEAD)
    page_url = f"/clinical/clearances/{clearance.id}"

    review = await http.get("/clinical/")
    assert "Clearances to record" in review.text
    assert page_url in review.text

    page = await http.get(page_url)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "Record the outcome" in page.text
    assert "Leave blank for the clinic's default" in page.text

    missing = await post(http, page_url, page_url, {"status": "cleared_with_restrictions"})
    assert missing.status_code == 422
    assert "<title>Error: " in missing.text
    assert "Write the physician" in missing.text
    assert 'value="cleared_with_restrictions" checked' in missing.text

    recorded = await post(
        http,
        page_url,
        page_url,
        {
            "status": "cleared_with_restrictions",
            "max_pressure": "1",
            "restrictions": "No work over the lumbar spine.",
            "valid_until": "",
        },
    )
    assert recorded.status_code == 303, recorded.text
    assert await status_of(seeded, visit["id"]) is AppointmentStatus.CONFIRMED
    assert await audit_count(seeded, "clearance.read", lead.id) >= 2

    async with seeded.reading() as session:
        therapist = await session.get(Therapist, visit["therapist_id"])
    assert therapist is not None
    assert therapist.user_id is not None
    async with new_client() as browser:
        await factories.sign_in_existing(browser, seeded, therapist.user_id)
        sheet = await browser.get(f"/therapist/appointments/{visit['id']}")
    assert "very light touch (level 1 of 5)" in sheet.text
    assert "No work over the lumbar spine." in sheet.text

    # The desk's page, now the clearance is on file: still nothing clinical.
    async with new_client() as browser:
        await factories.sign_in_as(browser, seeded, Role.FRONTDESK)
        desk_page = await browser.get(f"/desk/appointments/{visit['id']}/clearance")
    assert "Clearance on file until" in desk_page.text
    assert_not_clinical(desk_page.text)


async def test_a_therapist_not_treating_the_client_is_refused(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    [visit] = await book_pending(seeded, http, "2026-12-02")
    clearance = await requested(seeded, visit["id"], await actor(seeded, Role.FRONTDESK))
    await factories.sign_in_as(http, seeded, Role.THERAPIST)
    page = await http.get(f"/clinical/clearances/{clearance.id}")
    # As if it did not exist: a therapist cannot learn which clearance numbers exist.
    assert page.status_code == 404
    missing = await http.get("/clinical/clearances/999999")
    assert missing.status_code == 404


async def test_the_letter_shows_the_walton_pressure_and_signature_lines_and_is_audited(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    [visit] = await book_pending(seeded, http, "2026-12-02")
    clearance = await requested(seeded, visit["id"], await actor(seeded, Role.FRONTDESK))
    desk = await factories.sign_in_as(http, seeded, Role.FRONTDESK)

    letter = await http.get(f"/desk/appointments/{visit['id']}/clearance/letter")
    assert letter.status_code == 200
    assert letter.headers["cache-control"] == "no-store"
    assert "Walton" in letter.text
    assert "of 5" in letter.text
    assert "Ruth Example" in letter.text
    assert "Dr Ana Lee" in letter.text
    for line in ("Signature", "Client signature", "Cleared with these modifications"):
        assert line in letter.text
    assert "Not advisable now" in letter.text
    assert "Low platelets or easy bruising" in letter.text
    # Printing is wired by static/desk.js: the CSP refuses inline handlers.
    assert "data-print hidden>Print this letter</button>" in letter.text
    assert not re.search(r"\son[a-z]+=", letter.text)
    async with seeded.reading() as session:
        entry = await session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "clearance.letter", AuditEntry.actor_user_id == desk.id
            )
        )
    assert entry is not None
    assert entry.subject_type == "clearance"
    assert entry.subject_id == str(clearance.id)


async def test_the_desk_day_flags_a_visit_waiting_for_a_clearance(
    db: Database, http: httpx2.AsyncClient
) -> None:
    # Built directly: a visit today still waiting, past the point booking would allow.
    async with db.transaction() as session:
        location = await factories.create_location(session)
        therapist = await factories.create_therapist(session)
        client = await factories.create_client(session)
        service = await factories.create_service(session)
        appointment = await factories.create_appointment(
            session,
            location=location,
            therapist=therapist,
            client=client,
            service=service,
            starts_at=NOW + timedelta(hours=5),
            status=AppointmentStatus.PENDING_CLEARANCE,
        )
    await factories.sign_in_as(http, db, Role.FRONTDESK)
    day = await http.get("/desk/")
    assert day.status_code == 200
    assert "Clearance needed" in day.text
    # 72 hours before 6pm UTC (1pm in New York) on 27 November.
    assert "Tuesday 24 November" in day.text
    assert f"/desk/appointments/{appointment.id}/clearance" in day.text
