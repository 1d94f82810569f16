"""Holds: a chosen time kept for the client while they give their details.

A hold is an appointment in status `held` with an expiry and a secret, so the database
guard covers it like a booking. One live hold per browser or email (a new one replaces
it), at most three live holds per network address; expired holds never block anyone.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentSource, AppointmentStatus
from clinic.booking.taking import (
    SlotRequest,
    expire_holds_where,
    insert_first_free,
    new_appointment,
    offer_for,
    release_expired_holds,
    slot_taken,
)
from clinic.clock import now_utc
from clinic.db import Database, with_retries
from clinic.errors import ClinicError
from clinic.scheduling.availability import Slot
from clinic.tokens import token_hash

MAX_HOLDS_PER_ADDRESS = 3


class TooManyHolds(ClinicError):
    status_code = 429
    title = "Too many times held"

    def __init__(self) -> None:
        super().__init__(
            "You are already holding three times. Finish or cancel one of those bookings, "
            "or wait a few minutes for them to be released."
        )


def owner_key(kind: str, value: str) -> str:
    """An opaque key for "one live hold per browser or email": never the address itself."""
    return hashlib.sha256(f"{kind}:{value.strip().lower()}".encode()).hexdigest()


@dataclass(frozen=True)
class Hold:
    appointment_id: int
    token: str
    expires_at: datetime
    service_id: int
    therapist_id: int
    room_id: int | None
    start: datetime
    end: datetime


async def place_hold(
    db: Database,
    request: SlotRequest,
    *,
    owner: str | None,
    address: str,
    source: AppointmentSource,
    currency: str,
) -> Hold:
    offer = await offer_for(db, request)
    if not offer.candidates:
        raise slot_taken(offer, request, raced=False)
    token = secrets.token_urlsafe(32)
    service = offer.service

    async def attempt() -> Hold:
        now = now_utc()
        expires_at = now + offer.policies.hold_length
        async with db.transaction() as session:
            if owner is not None:
                await _release_owner_holds(session, owner, now)
            live = await session.scalar(
                select(func.count()).where(
                    Appointment.status == AppointmentStatus.HELD,
                    Appointment.hold_address == address,
                    Appointment.hold_expires_at > now,
                )
            )
            if (live or 0) >= MAX_HOLDS_PER_ADDRESS:
                raise TooManyHolds()
            await release_expired_holds(session, offer.candidates, service, now)

            def make(slot: Slot) -> Appointment:
                return new_appointment(
                    offer,
                    slot,
                    status=AppointmentStatus.HELD,
                    source=source,
                    currency=currency,
                    chosen=request.therapist_id is not None,
                    hold_expires_at=expires_at,
                    hold_token_hash=token_hash(token),
                    hold_owner=owner,
                    hold_address=address[:64],
                )

            held = await insert_first_free(session, offer, make)
            if held is None:
                raise slot_taken(offer, request)
            audit.record(
                session,
                "appointment.held",
                actor_label="client",
                subject_type="appointment",
                subject_id=held.id,
                details={"source": source.value, "therapist_chosen": held.therapist_chosen},
            )
        return Hold(
            appointment_id=held.id,
            token=token,
            expires_at=expires_at,
            service_id=service.id,
            therapist_id=held.therapist_id,
            room_id=held.room_id,
            start=held.starts_at,
            end=held.ends_at,
        )

    return await with_retries(attempt)


async def _release_owner_holds(session: AsyncSession, owner: str, now: datetime) -> None:
    await expire_holds_where(
        session,
        Appointment.hold_owner == owner,
        now=now,
        actor="client",
        reason="replaced by a new hold",
    )


async def expire_holds(db: Database) -> int:
    """Release every hold past its expiry (the worker runs this every minute)."""
    now = now_utc()
    async with db.transaction() as session:
        return await expire_holds_where(
            session,
            Appointment.hold_expires_at <= now,
            now=now,
            actor="worker",
            reason="hold expired",
        )
