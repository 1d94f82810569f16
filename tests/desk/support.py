"""What the desk tests share: signing in as the demo's front desk, a visit of its own, and
reading a page's cards."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime

import httpx2
from sqlalchemy import select

from clinic.audit import AuditEntry
from clinic.auth.models import User
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.db import Database
from clinic.scheduling.models import Location, Service
from tests import factories

DESK_EMAIL = "frontdesk@willowoak.test"
# Words from health forms, care plans and clearances that the desk must never see.
CLINICAL_WORDS = (
    "oncology",
    "cancer",
    "chemo",
    "lymph",
    "metast",
    "pressure",
    "precaution",
    "diagnos",
)


@dataclass(frozen=True)
class Visit:
    appointment_id: int
    client_id: int
    therapist_id: int

    @property
    def panel(self) -> str:
        return f"/desk/appointments/{self.appointment_id}"


async def sign_in_desk(http: httpx2.AsyncClient, db: Database) -> User:
    """Sign in as the demo's front desk (Luis Ortega)."""
    async with db.reading() as session:
        user_id = await session.scalar(select(User.id).where(User.email == DESK_EMAIL))
    assert user_id is not None
    return await factories.sign_in_existing(http, db, user_id)


async def make_visit(
    db: Database,
    *,
    starts_at: datetime,
    status: AppointmentStatus = AppointmentStatus.CONFIRMED,
    client_name: str = "Sam Lee",
    therapist_name: str = "Dana Payton",
) -> Visit:
    """A visit with its own therapist and client, so that nothing else overlaps it."""
    async with db.transaction() as session:
        location = await session.scalar(select(Location).order_by(Location.id).limit(1))
        service = await session.scalar(
            select(Service).where(Service.name == "Swedish massage, 60 min")
        )
        if location is None:
            location = await factories.create_location(session)
        if service is None:
            service = await factories.create_service(session)
        therapist = await factories.create_therapist(session, display_name=therapist_name)
        client = await factories.create_client(session, name=client_name)
        appointment = await factories.create_appointment(
            session,
            location=location,
            therapist=therapist,
            client=client,
            service=service,
            starts_at=starts_at,
            status=status,
        )
        return Visit(appointment.id, client.id, therapist.id)


async def post_form(
    http: httpx2.AsyncClient, form_page: str, url: str, data: dict[str, str] | None = None
) -> httpx2.Response:
    token = await factories.form_token(http, form_page)
    return await http.post(url, data={**(data or {}), "csrf_token": token})


async def appointment(db: Database, appointment_id: int) -> Appointment:
    async with db.reading() as session:
        found = await session.get(Appointment, appointment_id)
    assert found is not None
    return found


async def audit_entries(db: Database, action: str, appointment_id: int) -> list[AuditEntry]:
    async with db.reading() as session:
        return list(
            await session.scalars(
                select(AuditEntry)
                .where(
                    AuditEntry.action == action,
                    AuditEntry.subject_type == "appointment",
                    AuditEntry.subject_id == str(appointment_id),
                )
                .order_by(AuditEntry.id)
            )
        )


def text_of(page: str) -> str:
    """A page's visible words from its messages on, tags and hidden helper text left out,
    spaces squeezed."""
    main = page[page.index('id="messages"') :] if 'id="messages"' in page else page
    main = re.sub(r'<span class="visually-hidden">.*?</span>', "", main, flags=re.S)
    words = html.unescape(re.sub(r"<[^>]+>", " ", main))
    return re.sub(r"\s+", " ", words)


def sections(page: str) -> dict[str, str]:
    """Each therapist column of a day page, by the therapist's name."""
    found = {}
    for match in re.finditer(
        r'<section class="desk-col[^"]*"[^>]*>\s*<div class="desk-head">\s*<h2[^>]*>(.*?)</h2>'
        r"(.*?)</section>",
        page,
        flags=re.S,
    ):
        found[html.unescape(match.group(1))] = match.group(2)
    return found


def card_ids(fragment: str) -> list[int]:
    """The appointments a fragment's cards open, in page order."""
    pattern = r'class="desk-card-open" href="[^"]*/desk/appointments/(\d+)"'
    return [int(found) for found in re.findall(pattern, fragment)]
