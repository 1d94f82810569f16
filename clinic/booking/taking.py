"""Taking a time: the one write path shared by holds, bookings and the desk.

The server re-derives availability for the exact instant the client was shown, then tries
the candidates in order, each inside a savepoint; the database guard is the arbiter, so a
lost race is a clean "that time was just taken" with fresh alternatives, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit
from clinic.booking.models import Appointment
from clinic.booking.policies import Policies
from clinic.booking.service import day_bounds
from clinic.booking.statuses import BLOCKING_STATUSES, AppointmentSource, AppointmentStatus
from clinic.db import Database, is_overlap_violation
from clinic.errors import Conflict, InvalidInput
from clinic.scheduling.availability import NO_OVERRIDES, CareNeed, RuleOverrides, Slot
from clinic.scheduling.models import Service
from clinic.scheduling.service import free_times


class SlotTaken(Conflict):
    """The time was free when offered and taken before this request got it."""

    title = "That time was just taken"

    def __init__(self, alternatives: list[Slot], zone: ZoneInfo, message: str | None = None):
        super().__init__(message or "That time has just been booked. Choose another.")
        self.alternatives = alternatives
        self.zone = zone

    def problem_extra(self) -> dict[str, Any]:
        return {
            "alternatives": [
                {
                    "start": s.start.astimezone(self.zone).isoformat(),
                    "end": s.end.astimezone(self.zone).isoformat(),
                    "therapist_id": s.therapist_id,
                    "room_id": s.room_id,
                }
                for s in self.alternatives
            ]
        }


# No visit is ever this far from today. The bounds keep the date arithmetic behind an
# offer (a day either side of the start, in the location's zone) inside the calendar,
# whose ends (years 1 and 9999) it would otherwise overflow: a 500 instead of an answer.
EARLIEST_START = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_START = datetime(2999, 12, 31, tzinfo=UTC)
OUT_OF_RANGE = "Choose a time inside the booking window."


def plausible_start(start: datetime) -> bool:
    return EARLIEST_START <= start <= LATEST_START


@dataclass(frozen=True)
class SlotRequest:
    service_id: int
    start: datetime
    # None: "anyone suitable", the clinic chooses.
    therapist_id: int | None = None
    # What the client's care plan (or their gate answer) adds: matched therapists and rooms.
    care: CareNeed | None = None
    # The rules the front desk sets aside for this one booking (never the overlap guard).
    overrides: RuleOverrides = NO_OVERRIDES


@dataclass(frozen=True)
class Offer:
    service: Service
    location_id: int
    zone: ZoneInfo
    policies: Policies
    # The slots at exactly the requested start, in the order to try them.
    candidates: list[Slot]
    # Every free slot of the same local day, for a 409's alternatives.
    same_day: list[Slot]


async def offer_for(
    db: Database, request: SlotRequest, *, ignoring_appointment: int | None = None
) -> Offer:
    """What the clinic would offer at `request.start` right now, or an error saying why not."""
    if request.start.tzinfo is None:
        raise InvalidInput(
            "Give the time with its offset.",
            field_errors={
                "start": "Give the start with its offset, like 2026-12-01T09:00:00-05:00."
            },
        )
    if not plausible_start(request.start):
        raise InvalidInput(OUT_OF_RANGE, field_errors={"start": OUT_OF_RANGE})
    # The local day is one of these three whatever the zone; the engine derives only it.
    utc_day = request.start.date()
    found = await free_times(
        db,
        service_id=request.service_id,
        first_day=utc_day - timedelta(days=1),
        last_day=utc_day + timedelta(days=1),
        therapist_id=request.therapist_id,
        ignoring_appointment=ignoring_appointment,
        only_day_of=request.start,
        care=request.care,
        overrides=request.overrides,
    )
    if found is None or not found.service.active:
        raise InvalidInput(
            "That service cannot be booked.",
            field_errors={"service_id": "There is no service with that id that can be booked."},
        )
    if found.over_session_cap and request.care is not None:
        raise over_session_cap(request.care)
    if request.therapist_id is not None and request.therapist_id not in found.therapist_ids:
        raise InvalidInput(
            "That therapist does not offer this service.",
            field_errors={"therapist_id": "No active therapist with that id offers this service."},
        )
    local_day = request.start.astimezone(found.zone).date()
    same_day = [s for s in found.slots if s.start.astimezone(found.zone).date() == local_day]
    candidates = [s for s in same_day if s.start == request.start]
    if len(candidates) > 1:
        candidates = await _fewest_bookings_first(db, candidates, local_day, found.zone)
    candidates += _other_rooms(candidates, found.room_order)
    return Offer(found.service, found.location_id, found.zone, found.policies, candidates, same_day)


async def _fewest_bookings_first(
    db: Database, candidates: list[Slot], day: date, zone: ZoneInfo
) -> list[Slot]:
    """ "Anyone suitable": the therapist with the fewest bookings that day, then the lowest id,
    so work spreads evenly and the choice is stable."""
    start, end = day_bounds(day, zone)
    async with db.reading() as session:
        counts = dict(
            (
                await session.execute(
                    select(Appointment.therapist_id, func.count())
                    .where(
                        Appointment.therapist_id.in_([c.therapist_id for c in candidates]),
                        Appointment.status.in_(BLOCKING_STATUSES),
                        Appointment.starts_at >= start,
                        Appointment.starts_at < end,
                    )
                    .group_by(Appointment.therapist_id)
                )
            ).all()
        )
    return sorted(candidates, key=lambda s: (counts.get(s.therapist_id, 0), s.therapist_id))


def _other_rooms(candidates: list[Slot], room_order: tuple[int, ...]) -> list[Slot]:
    """After every first choice, the same therapist and time in each other fitting room:
    the engine picks one room per slot, and that room may be taken by the time we insert."""
    return [
        replace(slot, room_id=room_id)
        for slot in candidates
        if slot.room_id is not None
        for room_id in room_order
        if room_id != slot.room_id
    ]


def blocked_range(slot: Slot, service: Service) -> tuple[datetime, datetime]:
    return (
        slot.start - timedelta(minutes=service.buffer_before_minutes),
        slot.end + timedelta(minutes=service.buffer_after_minutes),
    )


def new_appointment(
    offer: Offer,
    slot: Slot,
    *,
    status: AppointmentStatus,
    source: AppointmentSource,
    currency: str,
    chosen: bool,
    client_id: int | None = None,
    created_by_user_id: int | None = None,
    **hold: Any,
) -> Appointment:
    """An appointment row for `slot`, with its blocked range frozen from the service's
    buffers; `hold` carries the hold's columns when it is one."""
    blocked_from, blocked_until = blocked_range(slot, offer.service)
    return Appointment(
        location_id=offer.location_id,
        therapist_id=slot.therapist_id,
        client_id=client_id,
        service_id=offer.service.id,
        room_id=slot.room_id,
        starts_at=slot.start,
        ends_at=slot.end,
        blocked_from=blocked_from,
        blocked_until=blocked_until,
        status=status,
        price_minor=offer.service.price_minor,
        currency=currency,
        source=source,
        therapist_chosen=chosen,
        created_by_user_id=created_by_user_id,
        **hold,
    )


async def expire_holds_where(
    session: AsyncSession, condition: Any, *, now: datetime, actor: str, reason: str
) -> int:
    """Move matching held appointments to expired, each with an audit entry."""
    expired = list(
        await session.scalars(
            update(Appointment)
            .where(Appointment.status == AppointmentStatus.HELD, condition)
            .values(status=AppointmentStatus.EXPIRED, updated_at=now)
            .returning(Appointment.id)
        )
    )
    for appointment_id in expired:
        audit.record(
            session,
            "appointment.expired",
            actor_label=actor,
            subject_type="appointment",
            subject_id=appointment_id,
            details={"reason": reason},
        )
    return len(expired)


async def release_expired_holds(
    session: AsyncSession, slots: list[Slot], service: Service, now: datetime
) -> None:
    """Expired holds never block anyone: those overlapping the time wanted are released
    here, inside the taking transaction, before the guard looks (the sweeper does the rest).
    One statement for all candidates: they share the start, so only owners differ."""
    if not slots:
        return
    blocked_from = min(blocked_range(slot, service)[0] for slot in slots)
    blocked_until = max(blocked_range(slot, service)[1] for slot in slots)
    therapists = {slot.therapist_id for slot in slots}
    rooms = {slot.room_id for slot in slots if slot.room_id is not None}
    overlapping_expired = and_(
        Appointment.hold_expires_at <= now,
        Appointment.blocked_from < blocked_until,
        Appointment.blocked_until > blocked_from,
        or_(Appointment.therapist_id.in_(therapists), Appointment.room_id.in_(rooms)),
    )
    await expire_holds_where(
        session,
        overlapping_expired,
        now=now,
        actor="system",
        reason="released for a new booking",
    )


async def insert_first_free(
    session: AsyncSession, offer: Offer, make: Callable[[Slot], Appointment]
) -> Appointment | None:
    """Insert the first candidate the database accepts, each try in its own savepoint."""
    for slot in offer.candidates:
        appointment = make(slot)
        try:
            async with session.begin_nested():
                session.add(appointment)
                await session.flush()
        except IntegrityError as refused:
            if not is_overlap_violation(refused):
                raise
            continue
        return appointment
    return None


def slot_taken(offer: Offer, request: SlotRequest, *, raced: bool = True) -> SlotTaken:
    """The 409 for a time that cannot be had, with other free times that day. `raced`:
    it was offered and someone got it first; otherwise it is simply not available."""
    alternatives = [s for s in offer.same_day if s.start != request.start][:12]
    message = None if raced else "That time is not available. Choose another."
    return SlotTaken(alternatives, offer.zone, message)


def over_session_cap(care: CareNeed) -> InvalidInput:
    return InvalidInput(
        "That service is longer than your care plan allows.",
        field_errors={
            "service_id": f"Your care plan limits sessions to {care.session_cap_minutes} minutes."
            " Choose a shorter service."
        },
    )
