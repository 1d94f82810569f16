"""Admin set-up of therapists (/admin/therapists): adding one with credentials, hours and a
service makes them bookable through the public availability API; each change is audited and
the record says who last changed it; deactivating lists the visits it leaves behind, takes
the therapist out of booking and cancels nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx2
import pytest
from sqlalchemy import select

from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.db import Database
from clinic.scheduling.models import WeeklyHours, service_therapist
from clinic.staff.models import Credential, CredentialKind, Therapist
from tests import factories
from tests.admin.support import (
    date_parts,
    post_form,
    primary_location,
    service_named,
    sign_in_demo,
    text_of,
    therapist_audit,
    therapist_named,
)
from tests.booking.conftest import TODAY, free_slots

pytestmark = pytest.mark.usefixtures("frozen")

ZONE = ZoneInfo("America/New_York")
TUESDAY = "2026-12-01"  # the Tuesday after the frozen Friday, 27 November 2026


async def _slots_for(http: httpx2.AsyncClient, service_id: int, therapist_id: int) -> list[str]:
    slots = await free_slots(http, service_id, TUESDAY)
    return [s["start"] for s in slots if s["therapist_id"] == therapist_id]


async def test_an_admin_adds_a_therapist_with_hours_who_becomes_bookable(
    seeded: Database, http: httpx2.AsyncClient, api: httpx2.AsyncClient
) -> None:
    admin = await sign_in_demo(http, seeded)
    location = await primary_location(seeded)
    swedish = await service_named(seeded, "Swedish massage, 60 min")

    page = await http.get("/admin/therapists/new")
    assert page.status_code == 200
    created = await post_form(
        http,
        "/admin/therapists/new",
        "/admin/therapists/new",
        {
            "display_name": "Dana Reyes",
            "bio": "Gentle work.",
            "locations": str(location.id),
            "sessions_elsewhere": "0",
        },
    )
    assert created.status_code == 303
    record_url = created.headers["location"]
    therapist = await therapist_named(seeded, "Dana Reyes")
    assert record_url == f"/admin/therapists/{therapist.id}"

    record = text_of((await http.get(record_url)).text)
    assert "Dana Reyes added." in record
    assert "Why clients cannot book Dana Reyes online" in record
    assert "No verified massage licence." in record
    assert "No verified liability insurance." in record
    assert "Has no weekly hours at" in record
    assert "Offers no service that clients can book online." in record

    # A licence verified as it is added, and insurance added first and verified after.
    licence = await post_form(
        http,
        f"{record_url}/credentials/new",
        f"{record_url}/credentials/new",
        {
            "kind": "massage_licence",
            "title": "Licensed Massage Therapist",
            "issuer": "Pennsylvania State Board of Massage Therapy",
            "number": "MT.099001",
            "jurisdiction": "PA",
            **date_parts("issued", 1, 3, 2024),
            **date_parts("expires", 31, 10, 2028),
            "verified": "yes",
        },
    )
    assert licence.status_code == 303, licence.text
    insurance = await post_form(
        http,
        f"{record_url}/credentials/new",
        f"{record_url}/credentials/new",
        {
            "kind": "liability_insurance",
            "title": "Professional liability insurance",
            **date_parts("expires", 1, 6, 2027),
        },
    )
    assert insurance.status_code == 303
    record = text_of((await http.get(record_url)).text)
    assert "Not verified" in record
    assert "No verified liability insurance." in record
    async with seeded.reading() as session:
        unverified = await session.scalar(
            select(Credential).where(
                Credential.therapist_id == therapist.id,
                Credential.kind == CredentialKind.LIABILITY_INSURANCE,
            )
        )
    assert unverified is not None
    verified = await post_form(http, record_url, f"{record_url}/credentials/{unverified.id}/verify")
    assert verified.status_code == 303

    hours = await post_form(
        http,
        f"{record_url}/hours",
        f"{record_url}/hours",
        {
            "hours-1-0-start": "9:00",
            "hours-1-0-end": "13:00",
            "hours-1-1-start": "2pm",
            "hours-1-1-end": "18:00",
        },
    )
    assert hours.status_code == 303, hours.text

    # Hours and credentials, but no service yet: not offered.
    assert await _slots_for(api, swedish.id, therapist.id) == []

    services = await post_form(
        http, f"{record_url}/services", f"{record_url}/services", {"services": str(swedish.id)}
    )
    assert services.status_code == 303

    times = await _slots_for(api, swedish.id, therapist.id)
    assert times, "the new therapist should be offered on Tuesday"
    assert times[0] == "2026-12-01T09:00:00-05:00"
    # Nothing that would run into the break between 1pm and 2pm.
    assert "2026-12-01T12:30:00-05:00" not in times
    assert "2026-12-01T14:00:00-05:00" in times

    record = text_of((await http.get(record_url)).text)
    assert "Bookable online" in record
    assert "Why clients cannot book" not in record
    assert "Oncology level: Level 0 (no oncology training)" in record
    assert "Tuesday 9am to 1pm, 2pm to 6pm" in record
    assert "Valid" in record
    assert "Does not expire" not in record
    assert f"Last changed by {admin.name} on Friday 27 November 2026 at 8am." in record
    assert f"By {admin.name} on Friday 27 November 2026" in record

    actions = [entry.action for entry in await therapist_audit(seeded, therapist.id)]
    assert actions == [
        "therapist.created",
        "therapist.credential_added",
        "therapist.credential_added",
        "therapist.credential_verified",
        "therapist.hours_changed",
        "therapist.services_changed",
    ]
    for entry in await therapist_audit(seeded, therapist.id):
        assert entry.actor_user_id == admin.id

    listing = text_of((await http.get("/admin/therapists")).text)
    assert "Dana Reyes Active Level 0 (no oncology training) Change" in listing


async def test_the_list_shows_status_and_derived_level_with_a_change_link_per_row(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    await sign_in_demo(http, seeded)
    page = await http.get("/admin/therapists")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    words = text_of(page.text)
    assert "Naomi Okafor Active Level 4 Change" in words
    assert "Elena Vasquez Active" in words
    assert "lymphedema trained" in words
    # The licence lapsed ten days ago.
    assert "Tomás Reyes Not bookable Not bookable Change" in words
    tomas = await therapist_named(seeded, "Tomás Reyes")
    assert f'/admin/therapists/{tomas.id}">Change' in page.text
    assert '<span class="visually-hidden"> Tomás Reyes</span>' in page.text
    record = text_of((await http.get(f"/admin/therapists/{tomas.id}")).text)
    expired_on = (TODAY - timedelta(days=10)).day
    assert f"Massage licence expired on {expired_on} November 2026." in record
    assert "Expired" in record


async def test_details_change_is_audited_and_kept(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    admin = await sign_in_demo(http, seeded)
    jordan = await therapist_named(seeded, "Jordan Kim")
    location = await primary_location(seeded)
    url = f"/admin/therapists/{jordan.id}/details"
    form = await http.get(url)
    assert 'value="Jordan Kim"' in form.text
    # Jordan's own staff account is offered and chosen.
    assert f'<option value="{jordan.user_id}" selected>' in form.text
    saved = await post_form(
        http,
        url,
        url,
        {
            "display_name": "Jordan Kim-Lee",
            "bio": "New bio.",
            "locations": str(location.id),
            "user_id": str(jordan.user_id),
            "sessions_elsewhere": "12",
        },
    )
    assert saved.status_code == 303
    async with seeded.reading() as session:
        changed = await session.get(Therapist, jordan.id)
    assert changed is not None
    assert (changed.display_name, changed.bio, changed.oncology_sessions_elsewhere) == (
        "Jordan Kim-Lee",
        "New bio.",
        12,
    )
    entries = await therapist_audit(seeded, jordan.id)
    assert entries[-1].action == "therapist.details_changed"
    assert set(entries[-1].details["fields"]) == {
        "display_name",
        "bio",
        "oncology_sessions_elsewhere",
    }
    assert entries[-1].actor_user_id == admin.id


async def test_a_staff_account_links_to_one_therapist_only(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    await sign_in_demo(http, seeded)
    jordan = await therapist_named(seeded, "Jordan Kim")
    location = await primary_location(seeded)
    refused = await post_form(
        http,
        "/admin/therapists/new",
        "/admin/therapists/new",
        {"display_name": "Copy", "locations": str(location.id), "user_id": str(jordan.user_id)},
    )
    assert refused.status_code == 422
    assert "already linked to another therapist" in refused.text
    async with seeded.transaction() as session:
        desk_only = await factories.create_user(session)
    refused = await post_form(
        http,
        "/admin/therapists/new",
        "/admin/therapists/new",
        {"display_name": "Copy", "locations": str(location.id), "user_id": str(desk_only.id)},
    )
    assert refused.status_code == 422
    assert "Choose a staff account with the therapist role, or none" in refused.text


async def test_deactivating_lists_the_visits_left_behind_and_cancels_none(
    seeded: Database, http: httpx2.AsyncClient, api: httpx2.AsyncClient
) -> None:
    admin = await sign_in_demo(http, seeded)
    therapist = await therapist_named(seeded, "Sam Whitaker")
    swedish = await service_named(seeded, "Swedish massage, 60 min")
    async with seeded.reading() as session:
        offers = await session.scalar(
            select(service_therapist.c.therapist_id).where(
                service_therapist.c.service_id == swedish.id,
                service_therapist.c.therapist_id == therapist.id,
            )
        )
        upcoming = list(
            await session.scalars(
                select(Appointment).where(
                    Appointment.therapist_id == therapist.id,
                    Appointment.starts_at > datetime(2026, 11, 27, 13, tzinfo=UTC),
                    Appointment.status.in_(
                        [AppointmentStatus.CONFIRMED, AppointmentStatus.PENDING_CLEARANCE]
                    ),
                )
            )
        )
    assert offers is not None
    assert upcoming, "the demo books Sam Whitaker's coming weeks"
    assert await _slots_for(api, swedish.id, therapist.id)

    url = f"/admin/therapists/{therapist.id}/deactivate"
    confirm = await http.get(url)
    assert confirm.status_code == 200
    words = text_of(confirm.text)
    assert "Deactivate Sam Whitaker?" in words
    assert f"{len(upcoming)} booked visit" in words
    first = min(upcoming, key=lambda a: a.starts_at)
    assert first.starts_at.astimezone(ZONE).strftime("%-d %B %Y") in words

    done = await post_form(http, url, url)
    assert done.status_code == 303
    record = text_of((await http.get(done.headers["location"])).text)
    assert "Sam Whitaker deactivated" in record
    assert "they were not cancelled" in record
    assert "Deactivated" in record
    assert await _slots_for(api, swedish.id, therapist.id) == []
    async with seeded.reading() as session:
        statuses = {
            a.status
            for a in await session.scalars(
                select(Appointment).where(Appointment.id.in_([a.id for a in upcoming]))
            )
        }
        still_there = await session.get(Therapist, therapist.id)
    assert statuses <= {AppointmentStatus.CONFIRMED, AppointmentStatus.PENDING_CLEARANCE}
    assert still_there is not None
    assert still_there.active is False

    back = await post_form(
        http, f"/admin/therapists/{therapist.id}", f"/admin/therapists/{therapist.id}/reactivate"
    )
    assert back.status_code == 303
    assert await _slots_for(api, swedish.id, therapist.id)
    entries = await therapist_audit(seeded, therapist.id)
    assert [e.action for e in entries[-2:]] == ["therapist.deactivated", "therapist.reactivated"]
    assert entries[-2].details == {"upcoming_visits": len(upcoming)}
    assert {e.actor_user_id for e in entries[-2:]} == {admin.id}


async def test_saving_services_and_hours_replaces_them(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    await sign_in_demo(http, seeded)
    therapist = await therapist_named(seeded, "Priya Raman")
    url = f"/admin/therapists/{therapist.id}/hours"
    form = await http.get(url)
    assert form.status_code == 200
    assert 'name="hours-0-0-start" type="text" autocomplete="off" value="12:00"' in form.text
    saved = await post_form(http, url, url, {"hours-4-0-start": "08:00", "hours-4-0-end": "12:00"})
    assert saved.status_code == 303
    async with seeded.reading() as session:
        rows = list(
            await session.scalars(
                select(WeeklyHours).where(WeeklyHours.therapist_id == therapist.id)
            )
        )
    assert [(r.weekday, r.start_time.hour, r.end_time.hour) for r in rows] == [(4, 8, 12)]
    entry = (await therapist_audit(seeded, therapist.id))[-1]
    assert entry.action == "therapist.hours_changed"
    assert entry.details["after"] == [f"4 08:00-12:00 @{rows[0].location_id}"]

    services_url = f"/admin/therapists/{therapist.id}/services"
    cleared = await post_form(http, services_url, services_url, {})
    assert cleared.status_code == 303
    record = text_of((await http.get(f"/admin/therapists/{therapist.id}")).text)
    assert "Offers no service that clients can book online." in record
    assert (await therapist_audit(seeded, therapist.id))[-1].action == (
        "therapist.services_changed"
    )


async def test_a_missing_therapist_is_not_found(seeded: Database, http: httpx2.AsyncClient) -> None:
    await sign_in_demo(http, seeded)
    assert (await http.get("/admin/therapists/999999")).status_code == 404
    other = await therapist_named(seeded, "Jordan Kim")
    async with seeded.reading() as session:
        credential = await session.scalar(
            select(Credential).where(Credential.therapist_id != other.id).limit(1)
        )
    assert credential is not None
    # Someone else's credential under this therapist's address.
    wrong = await post_form(
        http,
        f"/admin/therapists/{other.id}",
        f"/admin/therapists/{other.id}/credentials/{credential.id}/verify",
    )
    assert wrong.status_code == 404
