"""Scheduling reads for the public pages and the API: the location, its services and
therapists, and free times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.booking.policies import Policies, policies_from
from clinic.clock import now_utc
from clinic.db import Database
from clinic.scheduling.availability import (
    CareNeed,
    RuleOverrides,
    Slot,
    available_slots,
    rooms_in_preference_order,
)
from clinic.scheduling.loading import load_availability_input
from clinic.scheduling.models import Location, Service, service_therapist
from clinic.staff.credentials import CredentialFacts, Qualification, qualification_on
from clinic.staff.models import Credential, Therapist, therapist_location


async def primary_location(session: AsyncSession) -> Location | None:
    return await session.scalar(
        select(Location).where(Location.active.is_(True)).order_by(Location.id).limit(1)
    )


async def public_services(session: AsyncSession) -> list[Service]:
    """Active services offered online, in the clinic's chosen order."""
    rows = await session.scalars(
        select(Service)
        .where(Service.active.is_(True), Service.bookable_online.is_(True))
        .order_by(Service.display_order, Service.name)
    )
    return list(rows)


@dataclass(frozen=True)
class FreeTimes:
    zone: ZoneInfo
    location_id: int
    service: Service
    # The therapists whose calendars were considered (offering the service, active).
    therapist_ids: frozenset[int]
    policies: Policies
    # Rooms that fit the service, in preference order: a booking whose room was taken a
    # moment ago may still get another.
    room_order: tuple[int, ...]
    slots: list[Slot]
    # The service is longer than the care plan's session cap: no times, say why.
    over_session_cap: bool = False


async def free_times(
    db: Database,
    *,
    service_id: int,
    first_day: date,
    last_day: date,
    therapist_id: int | None = None,
    ignoring_appointment: int | None = None,
    only_day_of: datetime | None = None,
    care: CareNeed | None = None,
    overrides: RuleOverrides | None = None,
) -> FreeTimes | None:
    """Free times for a service on local dates first_day..last_day under the clinic's
    policies, or None when the service does not exist. `ignoring_appointment` is the one
    being moved: its own time does not count as busy. `only_day_of`: derive only the local
    day holding that instant (which the caller cannot name before the zone is known; the
    given dates must cover it). `care`: the client's care plan narrows the therapists and
    rooms offered; a service longer than the plan's session cap has no free times.
    `overrides`: the rules the front desk sets aside for this booking (with a reason)."""
    now = now_utc()
    async with db.reading() as session:
        loaded = await load_availability_input(
            session,
            now=now,
            service_id=service_id,
            first_day=first_day,
            last_day=last_day,
            therapist_id=therapist_id,
            ignoring_appointment=ignoring_appointment,
        )
    if loaded is None:
        return None
    policies = policies_from(loaded.policy_values)
    if only_day_of is not None:
        first_day = last_day = only_day_of.astimezone(loaded.zone).date()
    need = care.tighten(loaded.need) if care is not None else loaded.need
    capped = care is not None and not care.allows(loaded.need.duration)
    rules = policies.booking_rules()
    therapists = loaded.therapists
    if overrides:
        rules = overrides.relax(rules)
        therapists = tuple(overrides.widen(therapist) for therapist in therapists)
    slots = (
        []
        if capped
        else available_slots(
            zone=loaded.zone,
            need=need,
            therapists=therapists,
            rooms=loaded.rooms,
            closures=loaded.closures,
            first_day=first_day,
            last_day=last_day,
            now=now,
            rules=rules,
        )
    )
    return FreeTimes(
        zone=loaded.zone,
        location_id=loaded.location.id,
        service=loaded.service,
        therapist_ids=frozenset(t.therapist_id for t in loaded.therapists),
        policies=policies,
        room_order=tuple(rooms_in_preference_order(loaded.rooms, need)),
        slots=slots,
        over_session_cap=capped,
    )


@dataclass(frozen=True)
class PublicTherapist:
    therapist: Therapist
    qualification: Qualification
    service_ids: tuple[int, ...]


async def public_therapists(session: AsyncSession, on: date) -> list[PublicTherapist]:
    """Active therapists at the primary location who offer an online service, with their
    qualification on `on`."""
    location = await primary_location(session)
    if location is None:
        return []
    offered = (
        await session.execute(
            select(service_therapist.c.therapist_id, service_therapist.c.service_id)
            .join(Service, Service.id == service_therapist.c.service_id)
            .where(Service.active.is_(True), Service.bookable_online.is_(True))
            .order_by(service_therapist.c.service_id)
        )
    ).all()
    services: dict[int, list[int]] = {}
    for therapist_id, service_id in offered:
        services.setdefault(therapist_id, []).append(service_id)
    therapists = list(
        await session.scalars(
            select(Therapist)
            .join(therapist_location, therapist_location.c.therapist_id == Therapist.id)
            .where(
                Therapist.active.is_(True),
                therapist_location.c.location_id == location.id,
                Therapist.id.in_(list(services)),
            )
            .order_by(Therapist.display_order, Therapist.display_name, Therapist.id)
        )
    )
    credentials: dict[int, list[CredentialFacts]] = {}
    for credential in await session.scalars(
        select(Credential).where(Credential.therapist_id.in_([t.id for t in therapists]))
    ):
        credentials.setdefault(credential.therapist_id, []).append(credential.facts())
    return [
        PublicTherapist(
            therapist=t,
            qualification=qualification_on(
                credentials.get(t.id, []), on, oncology_sessions=t.oncology_sessions
            ),
            service_ids=tuple(services[t.id]),
        )
        for t in therapists
    ]
