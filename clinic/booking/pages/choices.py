"""The clinic as the booking pages see it, the choices so far (they travel in the query
string: service, therapist or "any", date) and the time this browser holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from clinic.booking.models import Appointment
from clinic.booking.pages.cookies import hold_token
from clinic.booking.policies import Policies
from clinic.booking.policy_store import stored_policies
from clinic.booking.statuses import AppointmentStatus
from clinic.clock import now_utc
from clinic.scheduling.availability import CareNeed
from clinic.scheduling.models import Location, Service
from clinic.scheduling.service import primary_location, public_services
from clinic.scheduling.service import public_therapists as load_public_therapists
from clinic.settings import Settings
from clinic.staff.credentials import Qualification
from clinic.staff.models import Therapist
from clinic.tokens import token_hash
from clinic.web.context import db_of, settings_of
from clinic.web.ids import parse_id

ANY = "any"


@dataclass(frozen=True)
class Clinic:
    name: str
    address: str
    phone: str
    zone: ZoneInfo
    today: date
    # The last local date online bookings are open for.
    last_day: date
    policies: Policies


async def load_clinic(session: AsyncSession, settings: Settings) -> Clinic:
    location = await primary_location(session)
    zone = ZoneInfo(location.timezone) if location else settings.zone
    policies = await stored_policies(session)
    now = now_utc()
    return Clinic(
        name=location.name if location else "Massage therapy",
        address=location.address if location else "",
        phone=location.phone if location else "",
        zone=zone,
        today=now.astimezone(zone).date(),
        last_day=(now + policies.booking_rules().booking_window).astimezone(zone).date(),
        policies=policies,
    )


def suits(qualification: Qualification, service: Service) -> bool:
    """Qualified for the service today (the reason one is not is never shown)."""
    if not qualification.bookable:
        return False
    level = qualification.oncology_level or 0
    if service.min_oncology_level is not None and level < service.min_oncology_level:
        return False
    return qualification.lymphedema or not service.needs_lymphedema


def suits_care(qualification: Qualification, need: CareNeed | None) -> bool:
    """Qualified for what the client's care plan adds to the service's own need."""
    if need is None:
        return True
    level = qualification.oncology_level or 0
    if need.min_oncology_level is not None and level < need.min_oncology_level:
        return False
    return qualification.lymphedema or not need.lymphedema


def find_service(services: list[Service], raw: str | None) -> Service | None:
    service_id = parse_id(raw or "")
    return next((s for s in services if s.id == service_id), None)


def therapist_key(therapist_id: int | None) -> str:
    """How the query string names a therapist: their id, or "any" for anyone suitable."""
    return str(therapist_id) if therapist_id is not None else ANY


@dataclass(frozen=True)
class Choice:
    clinic: Clinic
    service: Service
    # Who offers the service and is qualified for it today.
    therapists: list[Therapist]
    # None: anyone suitable.
    therapist: Therapist | None
    # False when the query named a therapist who is not among `therapists`.
    therapist_valid: bool
    # What the client's care plan adds: `therapists` are only those it allows.
    care: CareNeed | None = None

    @property
    def therapist_id(self) -> int | None:
        return self.therapist.id if self.therapist else None

    @property
    def therapist_key(self) -> str:
        return therapist_key(self.therapist_id)


async def load_choice(
    request: Request,
    service_raw: str | None,
    therapist_raw: str | None,
    care: CareNeed | None = None,
) -> Choice | None:
    """The choices named so far, or None when the service is not one bookable online.
    `care`: the client's care need, which leaves out the therapists it does not allow."""
    async with db_of(request).reading() as session:
        clinic = await load_clinic(session, settings_of(request))
        service = find_service(await public_services(session), service_raw)
        if service is None:
            return None
        rows = await load_public_therapists(session, clinic.today)
    therapists = [
        row.therapist
        for row in rows
        if service.id in row.service_ids
        and suits(row.qualification, service)
        and suits_care(row.qualification, care)
    ]
    therapist: Therapist | None = None
    valid = True
    if therapist_raw and therapist_raw != ANY:
        therapist = next((t for t in therapists if str(t.id) == therapist_raw), None)
        valid = therapist is not None
    return Choice(clinic, service, therapists, therapist, valid, care)


@dataclass(frozen=True)
class HeldTime:
    """The time this browser holds, from its hold cookie."""

    status: AppointmentStatus
    service: Service
    therapist_id: int
    therapist_name: str
    therapist_chosen: bool
    start: datetime
    end: datetime
    expires_at: datetime | None
    price_minor: int
    currency: str
    zone: ZoneInfo
    clinic: Clinic
    # The hold's secret, which booking it needs.
    token: str = field(repr=False)

    @property
    def live(self) -> bool:
        return (
            self.status is AppointmentStatus.HELD
            and self.expires_at is not None
            and self.expires_at > now_utc()
        )

    @property
    def therapist_key(self) -> str:
        return therapist_key(self.therapist_id if self.therapist_chosen else None)

    @property
    def day(self) -> date:
        return self.start.astimezone(self.zone).date()


async def held_time(request: Request) -> HeldTime | None:
    token = hold_token(request)
    if token is None:
        return None
    async with db_of(request).reading() as session:
        row = (
            await session.execute(
                select(Appointment, Service, Therapist.display_name, Location.timezone)
                .join(Service, Service.id == Appointment.service_id)
                .join(Therapist, Therapist.id == Appointment.therapist_id)
                .join(Location, Location.id == Appointment.location_id)
                .where(
                    Appointment.hold_token_hash == token_hash(token),
                    Appointment.status.in_((AppointmentStatus.HELD, AppointmentStatus.EXPIRED)),
                )
            )
        ).one_or_none()
        if row is None:
            return None
        appointment, service, therapist_name, timezone = row
        clinic = await load_clinic(session, settings_of(request))
    return HeldTime(
        status=appointment.status,
        service=service,
        therapist_id=appointment.therapist_id,
        therapist_name=therapist_name,
        therapist_chosen=appointment.therapist_chosen,
        start=appointment.starts_at,
        end=appointment.ends_at,
        expires_at=appointment.hold_expires_at,
        price_minor=appointment.price_minor,
        currency=appointment.currency,
        zone=ZoneInfo(timezone),
        clinic=clinic,
        token=token,
    )
