"""A therapist's calendar subscription: a secret link to an iCalendar feed of their own
appointments that phone calendars poll. The token is the credential (256 random bits,
shown once, stored as SHA-256, never logged); a therapist has at most one live link, and
replacing it revokes the old one.

The feed holds nothing clinical: each event is the service's public name, the client's
first name and last initial, the room and the times. No service's internal name ("Oncology
massage"), no plan, no intake. So reading it audits nothing; issuing and revoking do.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import STATUS, Calendar, Event
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit
from clinic.booking.models import Appointment
from clinic.booking.service import short_name, therapist_for_user
from clinic.booking.statuses import AppointmentStatus
from clinic.clients.models import Client
from clinic.clock import now_utc
from clinic.db import Database, with_retries
from clinic.errors import NotFound
from clinic.notifications.ics import add_timezones
from clinic.scheduling.models import Location, Room, Service
from clinic.staff.models import Therapist
from clinic.therapist.models import CalendarFeed
from clinic.tokens import token_hash

DAYS_BACK = 30
DAYS_AHEAD = 180
TOKEN_BYTES = 32  # 256 bits
# Longer than any token we issue: not worth hashing.
MAX_TOKEN_LENGTH = 100
REFRESH = timedelta(hours=1)
# Appointments that hold the therapist's time. Held (a client mid-booking), expired and
# cancelled ones are left out; waiting for clearance is tentative.
FEED_STATUS = {
    AppointmentStatus.PENDING_CLEARANCE: STATUS.TENTATIVE,
    AppointmentStatus.CONFIRMED: STATUS.CONFIRMED,
    AppointmentStatus.CHECKED_IN: STATUS.CONFIRMED,
    AppointmentStatus.COMPLETED: STATUS.CONFIRMED,
    AppointmentStatus.NO_SHOW: STATUS.CONFIRMED,
}


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


# Issuing and revoking


async def live_feed(session: AsyncSession, therapist_id: int) -> CalendarFeed | None:
    return await session.scalar(
        select(CalendarFeed).where(
            CalendarFeed.therapist_id == therapist_id, CalendarFeed.revoked_at.is_(None)
        )
    )


async def _locked_therapist(session: AsyncSession, user_id: int) -> Therapist:
    therapist = await therapist_for_user(session, user_id)
    if therapist is None:
        raise NotFound("Your account is not linked to a therapist profile.")
    # One issuer at a time per therapist: the partial unique index would refuse a second
    # live link, and this turns that race into a queue.
    await session.execute(
        select(Therapist.id).where(Therapist.id == therapist.id).with_for_update()
    )
    return therapist


async def _revoke_live(session: AsyncSession, therapist_id: int, now: datetime) -> int | None:
    """Revoke the live link, if any; its id."""
    live = await live_feed(session, therapist_id)
    if live is None:
        return None
    await session.execute(
        update(CalendarFeed)
        .where(CalendarFeed.id == live.id, CalendarFeed.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return live.id


async def issue_feed(db: Database, *, user_id: int) -> str:
    """A new link for the signed-in therapist, revoking the one they had. Returns the
    token: the caller shows it once and keeps it nowhere."""
    token = new_token()

    async def attempt() -> None:
        now = now_utc()
        async with db.transaction() as session:
            therapist = await _locked_therapist(session, user_id)
            replaced = await _revoke_live(session, therapist.id, now)
            await session.flush()
            feed = CalendarFeed(
                therapist_id=therapist.id, token_hash=token_hash(token), created_at=now
            )
            session.add(feed)
            await session.flush()
            audit.record(
                session,
                "calendar_feed.created",
                actor_user_id=user_id,
                subject_type="calendar_feed",
                subject_id=feed.id,
                details={"therapist_id": therapist.id, "replaced_feed_id": replaced},
            )

    await with_retries(attempt)
    return token


async def revoke_feed(db: Database, *, user_id: int) -> bool:
    """Turn off the signed-in therapist's link; False when there was none."""

    async def attempt() -> bool:
        async with db.transaction() as session:
            therapist = await _locked_therapist(session, user_id)
            revoked = await _revoke_live(session, therapist.id, now_utc())
            if revoked is None:
                return False
            audit.record(
                session,
                "calendar_feed.revoked",
                actor_user_id=user_id,
                subject_type="calendar_feed",
                subject_id=revoked,
                details={"therapist_id": therapist.id},
            )
            return True

    return await with_retries(attempt)


@dataclass(frozen=True)
class FeedStatus:
    linked: bool  # the account has a therapist profile
    live_since: datetime | None


async def feed_status(session: AsyncSession, *, user_id: int) -> FeedStatus:
    therapist = await therapist_for_user(session, user_id)
    if therapist is None:
        return FeedStatus(False, None)
    live = await live_feed(session, therapist.id)
    return FeedStatus(True, live.created_at if live is not None else None)


# The feed


@dataclass(frozen=True)
class FeedEvent:
    appointment_id: int
    starts_at: datetime
    ends_at: datetime
    zone: ZoneInfo
    status: AppointmentStatus
    service_public_name: str
    client_name: str
    room_name: str | None
    updated_at: datetime


@dataclass(frozen=True)
class Feed:
    feed_id: int
    calendar_name: str
    zone: ZoneInfo  # the clinic's: its VTIMEZONE is there even when no event uses it
    events: list[FeedEvent]


async def feed_for_token(db: Database, token: str, *, clinic_zone: ZoneInfo) -> Feed:
    """The appointments behind a live link, from DAYS_BACK days ago to DAYS_AHEAD days
    ahead; an unknown or revoked token is "not found"."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise NotFound("There is no such calendar.")
    now = now_utc()
    async with db.reading() as session:
        feed = await session.scalar(
            select(CalendarFeed).where(
                CalendarFeed.token_hash == token_hash(token), CalendarFeed.revoked_at.is_(None)
            )
        )
        if feed is None:
            raise NotFound("There is no such calendar.")
        rows = await session.execute(
            select(Appointment, Service.public_name, Client.name, Room.name, Location.timezone)
            .join(Service, Service.id == Appointment.service_id)
            .join(Client, Client.id == Appointment.client_id)
            .join(Location, Location.id == Appointment.location_id)
            .outerjoin(Room, Room.id == Appointment.room_id)
            .where(
                Appointment.therapist_id == feed.therapist_id,
                Appointment.status.in_(tuple(FEED_STATUS)),
                Appointment.ends_at > now - timedelta(days=DAYS_BACK),
                Appointment.starts_at < now + timedelta(days=DAYS_AHEAD),
            )
            .order_by(Appointment.starts_at, Appointment.id)
        )
        events = [
            FeedEvent(
                appointment_id=appointment.id,
                starts_at=appointment.starts_at,
                ends_at=appointment.ends_at,
                zone=ZoneInfo(timezone),
                status=appointment.status,
                service_public_name=public_name,
                client_name=client_name,
                room_name=room_name,
                updated_at=appointment.updated_at,
            )
            for appointment, public_name, client_name, room_name, timezone in rows
        ]
        location = (
            await session.execute(
                select(Location.name, Location.timezone)
                .where(Location.active.is_(True))
                .order_by(Location.id)
                .limit(1)
            )
        ).one_or_none()
    name, timezone = location if location is not None else ("Clinic", clinic_zone.key)
    return Feed(feed.id, f"{name}: my appointments", ZoneInfo(timezone), events)


def event_summary(event: FeedEvent) -> str:
    """ "Massage, 30 min: Peter L.": the public name, never the internal one."""
    return f"{event.service_public_name}: {short_name(event.client_name)}"


def render_calendar(
    feed: Feed, *, domain: str, appointment_url: Callable[[int], str], today: date
) -> bytes:
    """The feed as iCalendar text: one VEVENT per appointment, times in their location's
    zone with a VTIMEZONE for each zone used. Deterministic for the same rows, so the
    body's hash is a fair ETag. `appointment_url` gives the staff page of an appointment
    (it asks for sign-in)."""
    calendar = Calendar.new(
        prodid="-//Clinic//Therapist appointments//EN",
        name=feed.calendar_name,
        uid=f"calendar-feed-{feed.feed_id}@{domain}",
        refresh_interval=REFRESH,
    )
    calendar.add("X-PUBLISHED-TTL", REFRESH)
    for item in feed.events:
        calendar.add_component(
            Event.new(
                uid=f"appointment-{item.appointment_id}@{domain}",
                start=item.starts_at.astimezone(item.zone),
                end=item.ends_at.astimezone(item.zone),
                summary=event_summary(item),
                location=item.room_name or None,
                status=FEED_STATUS[item.status],
                stamp=item.updated_at,
                last_modified=item.updated_at,
                url=appointment_url(item.appointment_id),
            )
        )
    # Transitions for a year either side of the window: enough for every event shown,
    # and a calendar that keeps old events still places them right.
    add_timezones(
        calendar,
        first_date=today - timedelta(days=DAYS_BACK + 366),
        last_date=today + timedelta(days=DAYS_AHEAD + 366),
        zones=(feed.zone,),
    )
    body: bytes = calendar.to_ical()
    return body
