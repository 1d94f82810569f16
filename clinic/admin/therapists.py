"""Therapists for admins: the list, adding one, their details, and deactivating (never
deleting) and reactivating. The record page's read model is in record.py.

Oncology levels are never typed in: they are derived from verified credentials
(clinic.staff.credentials). Every change is audited with the therapist as its subject, so
that the newest entry says who last changed the record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit
from clinic.admin.common import (
    Visits,
    flush_or_refuse,
    get_therapist,
    therapist_locations,
    visits_in,
    zone_of,
)
from clinic.admin.credential_status import expiry_warnings
from clinic.admin.forms import Checker
from clinic.auth.models import Role, User, UserRole
from clinic.db import Database
from clinic.scheduling.models import Location, WeeklyHours
from clinic.staff.credentials import Qualification, qualification_on
from clinic.staff.models import Credential, Therapist, therapist_location

MAX_SESSIONS_ELSEWHERE = 100_000
TAKEN_ACCOUNT = "That staff account is already linked to another therapist"


# The list


@dataclass(frozen=True)
class TherapistRow:
    therapist: Therapist
    qualification: Qualification
    warnings: int  # credentials expiring within the warning window that change something


async def credentials_by_therapist(
    session: AsyncSession, therapist_ids: Iterable[int]
) -> dict[int, list[Credential]]:
    found: dict[int, list[Credential]] = {}
    ids = list(therapist_ids)
    if not ids:
        return found
    for credential in await session.scalars(
        select(Credential)
        .where(Credential.therapist_id.in_(ids))
        .order_by(Credential.therapist_id, Credential.id)
    ):
        found.setdefault(credential.therapist_id, []).append(credential)
    return found


async def list_therapists(db: Database, *, today: date) -> list[TherapistRow]:
    """Every therapist, active first, with today's derived qualification."""
    async with db.reading() as session:
        therapists = list(
            await session.scalars(
                select(Therapist).order_by(
                    Therapist.active.desc(), Therapist.display_name, Therapist.id
                )
            )
        )
        credentials = await credentials_by_therapist(session, (t.id for t in therapists))
    rows = []
    for therapist in therapists:
        facts = [c.facts() for c in credentials.get(therapist.id, [])]
        rows.append(
            TherapistRow(
                therapist=therapist,
                qualification=qualification_on(
                    facts, today, oncology_sessions=therapist.oncology_sessions
                ),
                warnings=len(
                    expiry_warnings(
                        therapist.display_name,
                        facts,
                        today,
                        oncology_sessions=therapist.oncology_sessions,
                    )
                ),
            )
        )
    return rows


# Adding and changing details


@dataclass(frozen=True)
class DetailsChoices:
    locations: list[Location]
    # Staff accounts with the therapist role that no other therapist is linked to.
    accounts: list[User]


async def details_choices(db: Database, therapist_id: int | None = None) -> DetailsChoices:
    async with db.reading() as session:
        locations = list(
            await session.scalars(
                select(Location).where(Location.active.is_(True)).order_by(Location.id)
            )
        )
        linked = select(Therapist.user_id).where(
            Therapist.user_id.is_not(None), Therapist.id != (therapist_id or 0)
        )
        accounts = list(
            await session.scalars(
                select(User)
                .join(UserRole, UserRole.user_id == User.id)
                .where(UserRole.role == Role.THERAPIST, User.id.not_in(linked))
                .order_by(User.name, User.id)
            )
        )
    return DetailsChoices(locations=locations, accounts=accounts)


@dataclass(frozen=True)
class Details:
    display_name: str
    bio: str
    location_ids: tuple[int, ...]
    user_id: int | None
    sessions_elsewhere: int


DETAIL_FIELDS = ("display_name", "bio", "user_id", "sessions_elsewhere")


def read_details(values: Mapping[str, str], locations: Sequence[str]) -> Details:
    """The details form as typed values; InvalidInput names each bad field."""
    check = Checker()
    name = check.text(
        values,
        "display_name",
        missing="Enter the name clients see, like Dana Reyes",
        label="The name",
    )
    bio = check.text(values, "bio", max_length=4000, label="The introduction")
    location_ids: list[int] = []
    for raw in locations:
        if raw.isascii() and raw.isdigit() and len(raw) <= 9:
            location_ids.append(int(raw))
        else:
            check.fail("locations", "Choose the locations from the list")
    if not location_ids and "locations" not in check.errors:
        check.fail("locations", "Choose at least one location where they work")
    raw_user = values.get("user_id", "").strip()
    user_id: int | None = None
    if raw_user:
        if raw_user.isascii() and raw_user.isdigit() and len(raw_user) <= 9:
            user_id = int(raw_user)
        else:
            check.fail("user_id", "Choose a staff account from the list, or none")
    sessions = check.whole_number(
        values,
        "sessions_elsewhere",
        label="The number of sessions",
        low=0,
        high=MAX_SESSIONS_ELSEWHERE,
    )
    check.done()
    return Details(
        display_name=name,
        bio=bio,
        location_ids=tuple(sorted(set(location_ids))),
        user_id=user_id,
        sessions_elsewhere=sessions or 0,
    )


async def _check_links(session: AsyncSession, details: Details, therapist_id: int | None) -> None:
    """The chosen locations and staff account exist and may be linked; else field errors."""
    check = Checker()
    active = set(
        await session.scalars(
            select(Location.id).where(
                Location.id.in_(details.location_ids), Location.active.is_(True)
            )
        )
    )
    if active != set(details.location_ids):
        check.fail("locations", "Choose the locations from the list")
    if details.user_id is not None:
        user = await session.get(User, details.user_id)
        taken = await session.scalar(
            select(func.count()).where(
                Therapist.user_id == details.user_id, Therapist.id != (therapist_id or 0)
            )
        )
        if user is None or Role.THERAPIST not in user.roles:
            check.fail("user_id", "Choose a staff account with the therapist role, or none")
        elif taken:
            check.fail("user_id", TAKEN_ACCOUNT)
    if therapist_id is not None:
        kept = set(details.location_ids)
        hours_elsewhere = await session.scalars(
            select(Location.name)
            .join(WeeklyHours, WeeklyHours.location_id == Location.id)
            .where(WeeklyHours.therapist_id == therapist_id, Location.id.not_in(kept))
            .distinct()
        )
        names = sorted(hours_elsewhere)
        if names:
            check.fail(
                "locations",
                f"They have weekly hours at {', '.join(names)}: clear those hours first",
            )
    check.done()


@dataclass(frozen=True)
class DetailsValues:
    therapist: Therapist
    values: dict[str, str]
    chosen: list[str]


async def details_of(db: Database, therapist_id: int) -> DetailsValues:
    """The details form filled in from the record."""
    async with db.reading() as session:
        therapist = await get_therapist(session, therapist_id)
        locations = await therapist_locations(session, therapist_id)
    return DetailsValues(
        therapist=therapist,
        values={
            "display_name": therapist.display_name,
            "bio": therapist.bio,
            "user_id": str(therapist.user_id or ""),
            "sessions_elsewhere": str(therapist.oncology_sessions_elsewhere),
        },
        chosen=[str(loc.id) for loc in locations],
    )


async def create_therapist(db: Database, details: Details, *, actor_user_id: int) -> Therapist:
    async with db.transaction() as session:
        await _check_links(session, details, None)
        therapist = Therapist(
            display_name=details.display_name,
            bio=details.bio,
            user_id=details.user_id,
            active=True,
            oncology_sessions_elsewhere=details.sessions_elsewhere,
            oncology_sessions_here=0,
        )
        session.add(therapist)
        await flush_or_refuse(session, "user_id", TAKEN_ACCOUNT)
        await session.execute(
            insert(therapist_location),
            [{"therapist_id": therapist.id, "location_id": i} for i in details.location_ids],
        )
        audit.record(
            session,
            "therapist.created",
            actor_user_id=actor_user_id,
            subject_type="therapist",
            subject_id=therapist.id,
            details={
                "location_ids": list(details.location_ids),
                "user_id": details.user_id,
            },
        )
    return therapist


async def update_details(
    db: Database, therapist_id: int, details: Details, *, actor_user_id: int
) -> Therapist:
    async with db.transaction() as session:
        therapist = await get_therapist(session, therapist_id, lock=True)
        await _check_links(session, details, therapist_id)
        before_locations = {loc.id for loc in await therapist_locations(session, therapist_id)}
        changed = [
            name
            for name, old, new in (
                ("display_name", therapist.display_name, details.display_name),
                ("bio", therapist.bio, details.bio),
                ("user_id", therapist.user_id, details.user_id),
                (
                    "oncology_sessions_elsewhere",
                    therapist.oncology_sessions_elsewhere,
                    details.sessions_elsewhere,
                ),
            )
            if old != new
        ]
        therapist.display_name = details.display_name
        therapist.bio = details.bio
        therapist.user_id = details.user_id
        therapist.oncology_sessions_elsewhere = details.sessions_elsewhere
        await flush_or_refuse(session, "user_id", TAKEN_ACCOUNT)
        after_locations = set(details.location_ids)
        if after_locations != before_locations:
            changed.append("locations")
            await session.execute(
                delete(therapist_location).where(
                    therapist_location.c.therapist_id == therapist_id,
                    therapist_location.c.location_id.not_in(after_locations),
                )
            )
            added = sorted(after_locations - before_locations)
            if added:
                await session.execute(
                    insert(therapist_location),
                    [{"therapist_id": therapist_id, "location_id": i} for i in added],
                )
        if changed:
            audit.record(
                session,
                "therapist.details_changed",
                actor_user_id=actor_user_id,
                subject_type="therapist",
                subject_id=therapist_id,
                details={"fields": changed},
            )
    return therapist


# Deactivating and reactivating


@dataclass(frozen=True)
class Deactivation:
    therapist: Therapist
    zone: ZoneInfo
    visits: Visits


async def deactivation_preview(
    db: Database, therapist_id: int, *, now: datetime, fallback_zone: ZoneInfo
) -> Deactivation:
    """The therapist and the visits still to come that deactivating leaves without them."""
    async with db.reading() as session:
        therapist = await get_therapist(session, therapist_id)
        locations = await therapist_locations(session, therapist_id)
        visits = await visits_in(session, now=now, therapist_id=therapist_id)
    return Deactivation(therapist, zone_of(locations, fallback_zone), visits)


async def set_active(
    db: Database, therapist_id: int, *, active: bool, actor_user_id: int, now: datetime
) -> tuple[Therapist, int]:
    """Deactivate or reactivate. Nothing is deleted and no visit is cancelled: deactivated
    therapists leave online booking, and their visits still to come stay for the desk to
    move. Returns the therapist and how many such visits there are."""
    async with db.transaction() as session:
        therapist = await get_therapist(session, therapist_id, lock=True)
        visits = await visits_in(session, now=now, therapist_id=therapist_id)
        if therapist.active == active:
            return therapist, visits.total
        therapist.active = active
        audit.record(
            session,
            "therapist.reactivated" if active else "therapist.deactivated",
            actor_user_id=actor_user_id,
            subject_type="therapist",
            subject_id=therapist_id,
            details={} if active else {"upcoming_visits": visits.total},
        )
    return therapist, visits.total
