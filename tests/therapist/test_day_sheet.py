"""The therapist's day sheet, its print and the week: only their own visits, each with its
care-plan box, every read of health details audited."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import httpx2
from sqlalchemy import select

from clinic import demo
from clinic.audit import AuditEntry
from clinic.booking.models import Appointment
from clinic.booking.service import day_bounds
from clinic.booking.statuses import AppointmentStatus
from clinic.clients.models import Client
from clinic.db import Database
from clinic.intake.models import AppointmentIntake, IntakeState
from clinic.intake.summary import plan_from_json, plan_to_json
from clinic.staff.models import Therapist
from tests.therapist.conftest import TODAY, ZONE, demo_therapist


async def _todays_visits(db: Database, therapist: Therapist) -> list[tuple[Appointment, str]]:
    start, end = day_bounds(TODAY, ZONE)
    async with db.reading() as session:
        rows = await session.execute(
            select(Appointment, Client.name)
            .join(Client, Client.id == Appointment.client_id)
            .where(
                Appointment.therapist_id == therapist.id,
                Appointment.starts_at >= start,
                Appointment.starts_at < end,
            )
            .order_by(Appointment.starts_at)
        )
        return [(appointment, name) for appointment, name in rows]


async def _capped_visit(db: Database, therapist: Therapist, cap: int) -> tuple[Appointment, str]:
    """The therapist's visit today whose stored plan caps pressure at `cap`."""
    async with db.reading() as session:
        for appointment, name in await _todays_visits(db, therapist):
            link = await session.get(AppointmentIntake, appointment.id)
            if link is not None and link.plan and plan_from_json(link.plan).max_pressure == cap:
                return appointment, name
    raise AssertionError(f"{therapist.display_name} has no visit today capped at {cap}")


async def _reads_by(db: Database, user_id: int) -> list[AuditEntry]:
    async with db.reading() as session:
        return list(
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "intake.read", AuditEntry.actor_user_id == user_id
                )
            )
        )


def _visit_block(page: str, appointment_id: int) -> str:
    """The part of the page about one visit, up to the next visit or the list's end."""
    match = re.search(
        rf'<li class="sheet-visit[^"]*" id="visit-{appointment_id}">'
        r'(.*?)</li>(?=<li class="sheet|</ol>)',
        page,
        re.S,
    )
    assert match, f"visit {appointment_id} is not on the page"
    return match.group(1)


async def test_the_day_sheet_shows_the_care_box_of_an_oncology_client_and_audits_it(
    seeded: Database, http: httpx2.AsyncClient, jordan: Therapist
) -> None:
    visit, _ = await _capped_visit(seeded, jordan, 2)

    page = await http.get("/therapist/")

    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    assert "Times are New York time (EST)." in page.text
    block = _visit_block(page.text, visit.id)
    assert "Max 2 of 5" in block
    assert block.count('class="dot dot-on"') == 2
    assert block.count('class="dot"') == 3
    assert re.search(r"<strong>Visit \d+</strong>", block)
    assert "Right upper trunk" in block
    assert "no massage" in block
    # Pressure, sites, position, other, clearance: always in that order.
    sections = ("Pressure", "Sites", "Position", "Other", "Clearance")
    order = [block.index(f"<dt>{section}") for section in sections]
    assert order == sorted(order)
    # The demo has a clearance on file for this client, though the plan needs none.
    assert re.search(r"Cleared until \d{1,2} \w+ \d{4}\.", block)

    reads = await _reads_by(seeded, jordan.user_id or 0)
    shown = [entry.details["appointment_id"] for entry in reads]
    assert visit.id in shown
    assert len(shown) == len(set(shown)), "one entry per visit shown"
    assert {entry.details["view"] for entry in reads} == {"day_sheet"}
    own = {appointment.id for appointment, _ in await _todays_visits(seeded, jordan)}
    assert set(shown) <= own


async def test_another_therapists_visits_never_appear(
    seeded: Database, http: httpx2.AsyncClient, jordan: Therapist
) -> None:
    marcus = await demo_therapist(seeded, demo.CLINICAL_LEAD)
    theirs = await _todays_visits(seeded, marcus)
    assert theirs

    page = await http.get(f"/therapist/{TODAY.isoformat()}")

    assert page.status_code == 200
    for appointment, _ in theirs:
        assert f'id="visit-{appointment.id}"' not in page.text
        assert f"/therapist/appointments/{appointment.id}" not in page.text
    for entry in await _reads_by(seeded, jordan.user_id or 0):
        assert entry.details["appointment_id"] not in {a.id for a, _ in theirs}
    # Their visit page offers break-glass only (tests/therapist/test_break_glass.py).
    other = await http.get(f"/therapist/appointments/{theirs[0][0].id}")
    assert other.status_code == 403
    assert "not on your schedule" in other.text


async def test_a_day_links_to_the_days_either_side_and_the_week(
    seeded: Database, http: httpx2.AsyncClient, jordan: Therapist
) -> None:
    page = await http.get("/therapist/2026-11-30")
    assert page.status_code == 200
    assert "<h1>Monday 30 November 2026</h1>" in page.text
    assert "/therapist/2026-11-29" in page.text
    assert "/therapist/2026-12-01" in page.text
    assert "/therapist/week?start=2026-11-30" in page.text
    assert "/therapist/2026-11-30/print" in page.text


async def test_a_bad_date_is_a_clear_not_found_page(
    seeded: Database, http: httpx2.AsyncClient, jordan: Therapist
) -> None:
    for bad in ("2026-13-01", "2026-02-30", "20261127", "tomorrow", "9999-12-31", "0001-01-01"):
        page = await http.get(f"/therapist/{bad}")
        assert page.status_code == 404, bad
        assert "Days in this address look like 2026-11-27" in page.text
        printed = await http.get(f"/therapist/{bad}/print")
        assert printed.status_code == 404, bad
    week = await http.get("/therapist/week", params={"start": "2026-02-30"})
    assert week.status_code == 400
    assert "2026-11-27" in week.text


async def test_the_printable_sheet_has_no_forms_and_says_it_is_confidential(
    seeded: Database, http: httpx2.AsyncClient, jordan: Therapist
) -> None:
    visit, _ = await _capped_visit(seeded, jordan, 2)

    page = await http.get(f"/therapist/{TODAY.isoformat()}/print")

    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "<form" not in page.text
    assert "<button" not in page.text
    assert "Max 2 of 5" in _visit_block(page.text, visit.id)
    assert "Printed at 8am on Friday 27 November 2026" in page.text
    assert "Check the screen for later changes." in page.text
    assert re.search(r'<footer class="print-footer">\s*<p><strong>Confidential:', page.text)
    reads = await _reads_by(seeded, jordan.user_id or 0)
    assert visit.id in [entry.details["appointment_id"] for entry in reads]
    assert {entry.details["view"] for entry in reads} == {"day_print"}


async def test_the_week_lists_times_names_and_services_without_health_details(
    seeded: Database, http: httpx2.AsyncClient, jordan: Therapist
) -> None:
    visit, name = await _capped_visit(seeded, jordan, 2)

    page = await http.get("/therapist/week", params={"start": TODAY.isoformat()})

    assert page.status_code == 200
    # The week of Friday 27 November runs Monday 23 to Sunday 29.
    assert "My week: Monday 23 November 2026 to Sunday 29 November 2026" in page.text
    monday = TODAY - timedelta(days=4)
    for n in range(7):
        assert f'id="day-{(monday + timedelta(days=n)).isoformat()}"' in page.text
    first, last = name.split()[0], name.split()[-1]
    assert f"<strong>{first} {last[0]}.</strong>, Oncology massage, 30 min" in page.text
    assert "Max 2 of 5" not in page.text
    assert "Right upper trunk" not in page.text
    assert "?start=2026-11-16" in page.text
    assert "?start=2026-11-30" in page.text
    assert await _reads_by(seeded, jordan.user_id or 0) == []
    assert visit.id


def _section(block: str, name: str) -> str:
    match = re.search(rf"<dt>{name} (.*?)</div>", block, re.S)
    assert match, name
    return match.group(1)


async def test_what_changed_since_the_clients_last_visit_is_tagged(
    seeded: Database, http: httpx2.AsyncClient, jordan: Therapist
) -> None:
    visit, _ = await _capped_visit(seeded, jordan, 2)
    async with seeded.transaction() as session:
        link = await session.get(AppointmentIntake, visit.id)
        assert link is not None
        assert link.plan is not None
        plan = plan_from_json(link.plan)
        # A visit a week earlier, at 6am (no one else's time), on a looser plan.
        earlier = visit.starts_at.replace(hour=11, minute=0) - timedelta(days=7)
        shift = earlier - visit.starts_at
        before = Appointment(
            location_id=visit.location_id,
            therapist_id=visit.therapist_id,
            client_id=visit.client_id,
            service_id=visit.service_id,
            starts_at=visit.starts_at + shift,
            ends_at=visit.ends_at + shift,
            blocked_from=visit.blocked_from + shift,
            blocked_until=visit.blocked_until + shift,
            status=AppointmentStatus.COMPLETED,
            price_minor=visit.price_minor,
            currency=visit.currency,
            source=visit.source,
        )
        session.add(before)
        await session.flush()
        session.add(
            AppointmentIntake(
                appointment_id=before.id,
                state=IntakeState.COMPLETE,
                plan=plan_to_json(replace(plan, max_pressure=3, site_rules=())),
                modifications=True,
            )
        )

    page = await http.get("/therapist/")

    block = _visit_block(page.text, visit.id)
    assert "<strong>Visit 2</strong>" in block
    tag = "Changed since last visit"
    assert tag in _section(block, "Pressure")
    assert tag in _section(block, "Sites")
    for same in ("Position", "Other", "Clearance"):
        assert tag not in _section(block, same), same


async def test_a_visit_waiting_for_clearance_says_do_not_start(
    seeded: Database, http: httpx2.AsyncClient, jordan: Therapist
) -> None:
    visit, _ = await _capped_visit(seeded, jordan, 2)
    async with seeded.transaction() as session:
        row = await session.get(Appointment, visit.id)
        assert row is not None
        row.status = AppointmentStatus.PENDING_CLEARANCE

    page = await http.get("/therapist/")

    block = _visit_block(page.text, visit.id)
    assert '<section class="care-box care-box-stop"' in block
    assert "<strong>Do not start: see front desk.</strong>" in block
    assert "Waiting for a physician&#39;s clearance." in block
