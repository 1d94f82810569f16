"""A therapist's record page, read in one go: details, services offered, weekly hours,
time off still to come, credentials with their tags, today's derived qualification, the
expiry warnings, why clients cannot book them online (if they cannot), and who last
changed the record (the newest audit entry about it). Reads only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.admin.common import (
    LastChange,
    get_therapist,
    last_change,
    primary_location,
    therapist_locations,
    zone_of,
)
from clinic.admin.credential_status import (
    KIND_LABELS,
    ExpiryWarning,
    Tag,
    credential_tag,
    expiry_warnings,
)
from clinic.admin.hours import Shift
from clinic.auth.models import User
from clinic.db import Database
from clinic.scheduling.models import Location, Service, TimeOff, WeeklyHours, service_therapist
from clinic.staff.credentials import CredentialFacts, Qualification, qualification_on
from clinic.staff.models import Credential, CredentialKind, Therapist


@dataclass(frozen=True)
class CredentialView:
    credential: Credential
    kind_label: str
    tag: Tag
    verified_by: str | None


@dataclass(frozen=True)
class ShiftView:
    shift: Shift
    location_name: str


@dataclass(frozen=True)
class TherapistRecord:
    therapist: Therapist
    zone: ZoneInfo
    locations: list[Location]
    account: User | None
    services: list[Service]
    shifts: list[ShiftView]
    time_off: list[TimeOff]
    credentials: list[CredentialView]
    qualification: Qualification
    warnings: list[ExpiryWarning]
    # Why clients cannot book this therapist online now (empty when they can).
    not_bookable: list[str]
    last_change: LastChange | None


async def therapist_shifts(session: AsyncSession, therapist_id: int) -> list[Shift]:
    rows = await session.scalars(
        select(WeeklyHours).where(WeeklyHours.therapist_id == therapist_id)
    )
    return sorted(Shift(h.weekday, h.start_time, h.end_time, h.location_id) for h in rows)


async def offered_services(session: AsyncSession, therapist_id: int) -> list[Service]:
    return list(
        await session.scalars(
            select(Service)
            .join(service_therapist, service_therapist.c.service_id == Service.id)
            .where(service_therapist.c.therapist_id == therapist_id)
            .order_by(Service.display_order, Service.name)
        )
    )


def _why_not_bookable(
    therapist: Therapist,
    qualification: Qualification,
    primary: Location | None,
    locations: list[Location],
    shifts: list[Shift],
    services: list[Service],
) -> list[str]:
    reasons: list[str] = []
    if not therapist.active:
        reasons.append("Deactivated.")
    reasons.extend(qualification.reasons)
    if primary is None or primary.id not in {loc.id for loc in locations}:
        where = primary.name if primary is not None else "the clinic"
        reasons.append(f"Does not work at {where}, where clients book online.")
    elif not any(s.location_id == primary.id for s in shifts):
        reasons.append(f"Has no weekly hours at {primary.name}.")
    if not any(s.active and s.bookable_online for s in services):
        reasons.append("Offers no service that clients can book online.")
    return reasons


async def therapist_record(
    db: Database, therapist_id: int, *, today: date, now: datetime, fallback_zone: ZoneInfo
) -> TherapistRecord:
    async with db.reading() as session:
        therapist = await get_therapist(session, therapist_id)
        locations = await therapist_locations(session, therapist_id)
        account = await session.get(User, therapist.user_id) if therapist.user_id else None
        services = await offered_services(session, therapist_id)
        shifts = await therapist_shifts(session, therapist_id)
        time_off = list(
            await session.scalars(
                select(TimeOff)
                .where(TimeOff.therapist_id == therapist_id, TimeOff.ends_at > now)
                .order_by(TimeOff.starts_at, TimeOff.id)
            )
        )
        credentials = list(
            await session.scalars(
                select(Credential)
                .where(Credential.therapist_id == therapist_id)
                .order_by(Credential.id)
            )
        )
        # Licence and insurance first (the order of CredentialKind), the latest expiry
        # of each kind first.
        kind_order = {kind: n for n, kind in enumerate(CredentialKind)}
        credentials.sort(
            key=lambda c: (
                kind_order[c.kind],
                -(c.expires_on or date.max).toordinal(),
                c.id,
            )
        )
        verifier_ids = {c.verified_by_user_id for c in credentials if c.verified_by_user_id}
        verifiers = {
            user.id: user.name
            for user in await session.scalars(select(User).where(User.id.in_(verifier_ids)))
        }
        primary = await primary_location(session)
        changed = await last_change(session, "therapist", therapist_id)
    facts: list[CredentialFacts] = [c.facts() for c in credentials]
    qualification = qualification_on(facts, today, oncology_sessions=therapist.oncology_sessions)
    names = {loc.id: loc.name for loc in locations}
    return TherapistRecord(
        therapist=therapist,
        zone=zone_of(locations, fallback_zone),
        locations=locations,
        account=account,
        services=services,
        shifts=[ShiftView(s, names.get(s.location_id, "another location")) for s in shifts],
        time_off=time_off,
        credentials=[
            CredentialView(
                credential=c,
                kind_label=KIND_LABELS[c.kind],
                tag=credential_tag(f, today),
                verified_by=verifiers.get(c.verified_by_user_id or 0),
            )
            for c, f in zip(credentials, facts, strict=True)
        ],
        qualification=qualification,
        warnings=expiry_warnings(
            therapist.display_name, facts, today, oncology_sessions=therapist.oncology_sessions
        ),
        not_bookable=_why_not_bookable(
            therapist, qualification, primary, locations, shifts, services
        ),
        last_change=changed,
    )
