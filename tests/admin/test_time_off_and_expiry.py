"""Time off over booked visits shows them and asks before adding (it cancels nothing), and
takes the therapist's free times away; credentials about to expire warn from 60 days out
with what their expiry changes, on the therapist's page and on the "Expiring soon" list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import httpx2
import pytest
from sqlalchemy import insert, select

from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.db import Database
from clinic.scheduling.models import Location, Service, TimeOff, service_therapist
from clinic.staff.models import CredentialKind, Therapist, therapist_location
from tests import factories
from tests.admin.support import (
    date_parts,
    post_form,
    sign_in_demo,
    text_of,
    therapist_audit,
)
from tests.booking.conftest import TODAY, free_slots

pytestmark = pytest.mark.usefixtures("frozen")

SWEDISH = "Swedish massage, 60 min"
# Tuesday 1 December 2026, 10am in Philadelphia.
TUESDAY_10AM = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Made:
    therapist_id: int
    service_id: int
    location_id: int


async def make_therapist(
    db: Database,
    name: str,
    *,
    licence_expires: date | None = date(2028, 1, 1),
    extra: tuple[tuple[CredentialKind, dict[str, object]], ...] = (),
) -> Made:
    """A bookable therapist at the demo's location who offers Swedish 60 on Tuesdays."""
    async with db.transaction() as session:
        location = await session.scalar(select(Location).order_by(Location.id).limit(1))
        service = await session.scalar(select(Service).where(Service.name == SWEDISH))
        assert location is not None
        assert service is not None
        therapist = await factories.create_therapist(session, display_name=name)
        await session.execute(
            insert(therapist_location).values(therapist_id=therapist.id, location_id=location.id)
        )
        await session.execute(
            insert(service_therapist).values(therapist_id=therapist.id, service_id=service.id)
        )
        await factories.create_credential(
            session,
            therapist=therapist,
            kind=CredentialKind.MASSAGE_LICENCE,
            title="Licensed Massage Therapist",
            expires_on=licence_expires,
        )
        await factories.create_credential(
            session,
            therapist=therapist,
            kind=CredentialKind.LIABILITY_INSURANCE,
            title="Liability insurance",
            expires_on=date(2028, 1, 1),
        )
        for kind, values in extra:
            await factories.create_credential(session, therapist=therapist, kind=kind, **values)
        await factories.create_weekly_hours(
            session, therapist=therapist, location=location, weekday=1
        )
        return Made(therapist.id, service.id, location.id)


async def book(db: Database, made: Made, starts_at: datetime, client_name: str) -> int:
    async with db.transaction() as session:
        location = await session.get(Location, made.location_id)
        service = await session.get(Service, made.service_id)
        therapist = await session.get(Therapist, made.therapist_id)
        assert location is not None
        assert service is not None
        assert therapist is not None
        client = await factories.create_client(session, name=client_name)
        appointment = await factories.create_appointment(
            session,
            location=location,
            therapist=therapist,
            client=client,
            service=service,
            starts_at=starts_at,
        )
        return appointment.id


async def slots(api: httpx2.AsyncClient, made: Made, day: str = "2026-12-01") -> list[str]:
    return [
        s["start"]
        for s in await free_slots(api, made.service_id, day)
        if s["therapist_id"] == made.therapist_id
    ]


async def test_time_off_over_booked_visits_asks_first_and_cancels_nothing(
    seeded: Database, http: httpx2.AsyncClient, api: httpx2.AsyncClient
) -> None:
    made = await make_therapist(seeded, "Ada Moss")
    visit = await book(seeded, made, TUESDAY_10AM, "Ruth Example")
    await sign_in_demo(http, seeded)
    assert await slots(api, made)

    url = f"/admin/therapists/{made.therapist_id}/time-off"
    form = {
        **date_parts("from", 1, 12, 2026),
        **date_parts("to", 1, 12, 2026),
        "reason": "Training",
    }
    confirm = await post_form(http, url, url, form)
    assert confirm.status_code == 200
    words = text_of(confirm.text)
    assert "1 booked visit falls inside this time off" in words
    assert "Ada Moss: Tuesday 1 December 2026 (whole day)." in words
    assert (
        "Tuesday 1 December 2026, 10am to 11am Ruth Example Swedish massage, 60 min Booked" in words
    )
    assert "does not cancel or move these visits" in words
    async with seeded.reading() as session:
        assert not list(
            await session.scalars(select(TimeOff).where(TimeOff.therapist_id == made.therapist_id))
        )
    # The confirm form carries what was typed.
    assert 'name="reason" value="Training"' in confirm.text
    assert 'name="confirmed" value="yes"' in confirm.text

    added = await post_form(http, url, url, {**form, "confirmed": "yes"})
    assert added.status_code == 303
    record = text_of((await http.get(added.headers["location"])).text)
    assert "Time off added for Ada Moss. 1 visit inside it still need moving" in record
    assert "Tuesday 1 December 2026 (whole day): Training" in record
    assert await slots(api, made) == []
    async with seeded.reading() as session:
        appointment = await session.get(Appointment, visit)
        entry = await session.scalar(
            select(TimeOff).where(TimeOff.therapist_id == made.therapist_id)
        )
    assert appointment is not None
    assert appointment.status is AppointmentStatus.CONFIRMED
    assert entry is not None
    assert entry.starts_at == datetime(2026, 12, 1, 5, tzinfo=UTC)
    assert entry.ends_at == datetime(2026, 12, 2, 5, tzinfo=UTC)
    audit = (await therapist_audit(seeded, made.therapist_id))[-1]
    assert audit.action == "therapist.time_off_added"
    assert audit.details == {"time_off_id": entry.id, "visits_inside": 1}
    assert "Training" not in str(audit.details)

    removed = await post_form(http, url, f"{url}/{entry.id}/remove")
    assert removed.status_code == 303
    assert await slots(api, made)
    assert (await therapist_audit(seeded, made.therapist_id))[-1].action == (
        "therapist.time_off_removed"
    )


async def test_time_off_with_no_visits_inside_is_added_at_once(
    seeded: Database, http: httpx2.AsyncClient, api: httpx2.AsyncClient
) -> None:
    made = await make_therapist(seeded, "Ada Moss")
    await sign_in_demo(http, seeded)
    url = f"/admin/therapists/{made.therapist_id}/time-off"
    added = await post_form(
        http,
        url,
        url,
        {
            **date_parts("from", 1, 12, 2026),
            "from-time": "13:00",
            **date_parts("to", 1, 12, 2026),
            "to-time": "5pm",
            "reason": "Dentist",
        },
    )
    assert added.status_code == 303
    times = await slots(api, made)
    assert "2026-12-01T09:00:00-05:00" in times
    assert "2026-12-01T12:30:00-05:00" not in times  # would run into the time off
    assert not [t for t in times if "T13:" in t or "T14:" in t or "T15:" in t]
    page = text_of((await http.get(url)).text)
    assert "Tuesday 1 December 2026, 1pm to 5pm: Dentist" in page


async def test_an_expiring_licence_warns_with_its_consequence(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    expiry = TODAY + timedelta(days=23)  # Sunday 20 December 2026
    made = await make_therapist(seeded, "Dana Reyes", licence_expires=expiry)
    await book(seeded, made, datetime(2026, 12, 22, 15, tzinfo=UTC), "Late Client")
    await sign_in_demo(http, seeded)

    record = text_of((await http.get(f"/admin/therapists/{made.therapist_id}")).text)
    assert "Expires in 23 days" in record
    assert (
        "Massage licence expires on Sunday 20 December 2026 (in 23 days). "
        "After 20 December, Dana Reyes stops appearing in online booking."
    ) in record
    assert "Bookable online" in record

    listing = text_of((await http.get("/admin/therapists")).text)
    assert "Dana Reyes Active Expiring soon" in listing
    assert "1 credential expires within 60 days" in listing

    expiring = text_of((await http.get("/admin/credentials/expiring")).text)
    assert (
        "Dana Reyes Massage licence Licensed Massage Therapist Sunday 20 December 2026 "
        "Expires in 23 days After 20 December, Dana Reyes stops appearing in online booking. "
        "1 visit already booked after that date may need another therapist."
    ) in expiring
    # The demo's lapsed licence is listed as not bookable now.
    assert "Tomás Reyes Massage licence expired on 17 November 2026." in expiring


async def test_a_verified_renewal_or_a_far_expiry_gives_no_warning(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    expiry = TODAY + timedelta(days=23)
    renewed = await make_therapist(
        seeded,
        "Renewed Already",
        licence_expires=expiry,
        extra=(
            (
                CredentialKind.MASSAGE_LICENCE,
                {"issued_on": expiry + timedelta(days=1), "expires_on": date(2029, 1, 1)},
            ),
        ),
    )
    far = await make_therapist(seeded, "Far Away", licence_expires=TODAY + timedelta(days=61))
    await sign_in_demo(http, seeded)
    for made in (renewed, far):
        record = text_of((await http.get(f"/admin/therapists/{made.therapist_id}")).text)
        assert "stops appearing" not in record
    assert "Valid from 21 December 2026" in text_of(
        (await http.get(f"/admin/therapists/{renewed.therapist_id}")).text
    )
    assert "Expires in 23 days" in text_of(
        (await http.get(f"/admin/therapists/{renewed.therapist_id}")).text
    )
    expiring = text_of((await http.get("/admin/credentials/expiring")).text)
    assert "Renewed Already" not in expiring
    assert "Far Away" not in expiring


async def test_losing_hospital_credentialing_or_lymphedema_training_says_what_changes(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    ends = TODAY + timedelta(days=40)  # Wednesday 6 January 2027
    foundational = {"hours": 32, "supervised_hands_on": True, "expires_on": None}
    made = await make_therapist(
        seeded,
        "Hospital Hana",
        extra=(
            (CredentialKind.ONCOLOGY_FOUNDATIONAL, foundational),
            (CredentialKind.HOSPITAL_CREDENTIALING, {"expires_on": ends}),
            (CredentialKind.LYMPHEDEMA_MLD_CDT, {"expires_on": ends + timedelta(days=1)}),
        ),
    )
    await sign_in_demo(http, seeded)
    record = text_of((await http.get(f"/admin/therapists/{made.therapist_id}")).text)
    assert "Oncology level: Level 4; lymphedema trained" in record
    assert (
        "After 6 January 2027, Hospital Hana's oncology level falls from 4 to 1, so services "
        "that need a higher level stop offering them."
    ) in record
    assert "After 7 January 2027, Hospital Hana can no longer be booked for lymphedema visits." in (
        record
    )
