"""What the front desk sees while booking for a client: the client's contact facts and
whether a health form is on file, the services and therapists to choose from, and a
day's free times for that client, grouped by therapist. Reads only; the booking itself
is clinic/booking/bookings.py `book_slot`, the one path every booking takes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.clients.models import Client
from clinic.clock import now_utc
from clinic.db import Database
from clinic.desk import calendar
from clinic.desk.overrides import possible_therapists
from clinic.errors import NotFound
from clinic.intake.service import current_intake, listing_care_for_client
from clinic.scheduling.availability import CareNeed, Slot
from clinic.scheduling.models import Service
from clinic.scheduling.service import free_times

# A walk-in starts at the next multiple of this, from now.
WALK_IN_ROUNDING = timedelta(minutes=5)


@dataclass(frozen=True)
class ClientCard:
    client_id: int
    name: str
    email: str
    phone: str


@dataclass(frozen=True)
class Choices:
    client: ClientCard
    # A current health form is on file: its plan narrows the times. Without one the
    # desk asks the gate question (cancer or its treatment, ever) before listing times.
    has_intake: bool
    services: list[Service]
    therapists: list[tuple[int, str]]

    def service(self, service_id: int | None) -> Service | None:
        return next((s for s in self.services if s.id == service_id), None)

    def therapist_name(self, therapist_id: int) -> str:
        return dict(self.therapists).get(therapist_id, "")


@dataclass(frozen=True)
class TherapistTimes:
    therapist_id: int
    name: str
    slots: list[Slot]


@dataclass(frozen=True)
class DayTimes:
    day: date
    columns: list[TherapistTimes]
    # Why there is nothing to list, in a sentence (None when there are times).
    empty_reason: str | None
    # Who the "outside the usual rules" form offers, in the therapist list's order.
    possible: tuple[tuple[int, str], ...] = ()


async def choices_for(session: AsyncSession, client_id: int) -> Choices:
    client = await session.get(Client, client_id)
    if client is None:
        raise NotFound("There is no such client.")
    services = list(
        await session.scalars(
            select(Service)
            .where(Service.active.is_(True))
            .order_by(Service.display_order, Service.name)
        )
    )
    return Choices(
        client=ClientCard(client.id, client.name, client.email or "", client.phone),
        has_intake=await current_intake(session, client.id, now_utc()) is not None,
        services=services,
        therapists=await calendar.therapists(session),
    )


async def care_of(db: Database, client_id: int, cancer_history: bool | None) -> CareNeed | None:
    async with db.reading() as session:
        need, _ = await listing_care_for_client(session, client_id, cancer_history=cancer_history)
    return need


async def day_times(
    db: Database,
    choices: Choices,
    *,
    service_id: int,
    therapist_id: int | None,
    day: date,
    care: CareNeed | None,
) -> DayTimes:
    """The free times of `day` under the clinic's rules for this client's care, by
    therapist in the order of the therapist list."""
    found = await free_times(
        db,
        service_id=service_id,
        first_day=day,
        last_day=day,
        therapist_id=therapist_id,
        care=care,
    )
    could = await possible_therapists(db, service_id=service_id, day=day, care=care)
    possible = tuple((tid, name) for tid, name in choices.therapists if tid in could)
    if found is None:
        return DayTimes(day, [], "That service cannot be booked.", possible)
    if found.over_session_cap and care is not None:
        return DayTimes(
            day,
            [],
            f"The client's care plan limits sessions to {care.session_cap_minutes} minutes: "
            "choose a shorter service.",
            possible,
        )
    by_therapist: dict[int, list[Slot]] = {}
    for slot in found.slots:
        by_therapist.setdefault(slot.therapist_id, []).append(slot)
    columns = [
        TherapistTimes(therapist_id, name, by_therapist[therapist_id])
        for therapist_id, name in choices.therapists
        if therapist_id in by_therapist
    ]
    if columns:
        return DayTimes(day, columns, None, possible)
    reason = (
        "No free times that day for a therapist who is suitable for this client."
        if care is not None and care.min_oncology_level is not None
        else "No free times that day."
    )
    return DayTimes(day, [], reason + " Try another day or therapist.", possible)


def walk_in_start(now: datetime) -> datetime:
    """Now, rounded up to the next five minutes (in UTC: every zone's offset is a whole
    multiple of five minutes, so the local clock shows a round time too)."""
    now = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    step = int(WALK_IN_ROUNDING.total_seconds() // 60)
    return now + timedelta(minutes=-now.minute % step)
