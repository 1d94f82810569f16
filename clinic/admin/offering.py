"""What a therapist offers and when: the services they take (service_therapist) and their
weekly hours. Saving either replaces the whole set, in one audited transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import delete, insert, select

from clinic import audit
from clinic.admin.common import get_therapist, therapist_locations
from clinic.admin.hours import Shift, read_shifts
from clinic.admin.record import offered_services, therapist_shifts
from clinic.db import Database
from clinic.errors import InvalidInput
from clinic.scheduling.models import Location, Service, WeeklyHours, service_therapist
from clinic.staff.models import Therapist


@dataclass(frozen=True)
class ServicesForm:
    therapist: Therapist
    services: list[Service]  # every service, active first
    offered: frozenset[int]


async def services_form(db: Database, therapist_id: int) -> ServicesForm:
    async with db.reading() as session:
        therapist = await get_therapist(session, therapist_id)
        services = list(
            await session.scalars(
                select(Service).order_by(Service.active.desc(), Service.display_order, Service.name)
            )
        )
        offered = frozenset(s.id for s in await offered_services(session, therapist_id))
    return ServicesForm(therapist, services, offered)


def read_service_ids(raw: Iterable[str]) -> frozenset[int]:
    ids: set[int] = set()
    for value in raw:
        if not (value.isascii() and value.isdigit() and len(value) <= 9):
            raise InvalidInput(
                "Check the highlighted answers.",
                field_errors={"services": "Choose services from the list"},
            )
        ids.add(int(value))
    return frozenset(ids)


async def set_services(
    db: Database, therapist_id: int, service_ids: frozenset[int], *, actor_user_id: int
) -> Therapist:
    async with db.transaction() as session:
        therapist = await get_therapist(session, therapist_id, lock=True)
        known = set(await session.scalars(select(Service.id).where(Service.id.in_(service_ids))))
        if known != service_ids:
            raise InvalidInput(
                "Check the highlighted answers.",
                field_errors={"services": "Choose services from the list"},
            )
        before = {s.id for s in await offered_services(session, therapist_id)}
        added, removed = sorted(service_ids - before), sorted(before - service_ids)
        if removed:
            await session.execute(
                delete(service_therapist).where(
                    service_therapist.c.therapist_id == therapist_id,
                    service_therapist.c.service_id.in_(removed),
                )
            )
        if added:
            await session.execute(
                insert(service_therapist),
                [{"therapist_id": therapist_id, "service_id": i} for i in added],
            )
        if added or removed:
            audit.record(
                session,
                "therapist.services_changed",
                actor_user_id=actor_user_id,
                subject_type="therapist",
                subject_id=therapist_id,
                details={"added": added, "removed": removed},
            )
    return therapist


@dataclass(frozen=True)
class HoursForm:
    therapist: Therapist
    locations: list[Location]
    shifts: list[Shift]


async def hours_form(db: Database, therapist_id: int) -> HoursForm:
    async with db.reading() as session:
        therapist = await get_therapist(session, therapist_id)
        locations = await therapist_locations(session, therapist_id)
        shifts = await therapist_shifts(session, therapist_id)
    return HoursForm(therapist, locations, shifts)


def _shift_text(shifts: Iterable[Shift]) -> list[str]:
    return [f"{s.weekday} {s.start:%H:%M}-{s.end:%H:%M} @{s.location_id}" for s in shifts]


async def set_hours(
    db: Database, therapist_id: int, values: Mapping[str, str], *, actor_user_id: int
) -> list[Shift]:
    """Replace the therapist's weekly hours with those on the form. Visits already booked
    outside the new hours stay booked: the desk sees them and moves them if needed."""
    async with db.transaction() as session:
        await get_therapist(session, therapist_id, lock=True)
        locations = await therapist_locations(session, therapist_id)
        if not locations:
            raise InvalidInput(
                "Add a location first.",
                field_errors={
                    "hours-0-0-start": "Choose where they work on the details page first"
                },
            )
        shifts = read_shifts(
            values,
            location_ids=[loc.id for loc in locations],
            default_location=locations[0].id,
        )
        before = await therapist_shifts(session, therapist_id)
        if before == shifts:
            return shifts
        await session.execute(delete(WeeklyHours).where(WeeklyHours.therapist_id == therapist_id))
        if shifts:
            await session.execute(
                insert(WeeklyHours),
                [
                    {
                        "therapist_id": therapist_id,
                        "location_id": s.location_id,
                        "weekday": s.weekday,
                        "start_time": s.start,
                        "end_time": s.end,
                    }
                    for s in shifts
                ],
            )
        audit.record(
            session,
            "therapist.hours_changed",
            actor_user_id=actor_user_id,
            subject_type="therapist",
            subject_id=therapist_id,
            details={"before": _shift_text(before), "after": _shift_text(shifts)},
        )
    return shifts
