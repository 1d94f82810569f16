"""The front desk's daily digest: one email a day to each active front-desk user listing
the clearances to chase and the booked visits that can no longer go ahead as booked, over
the same coming days as the desk's day page (`calendar.CHASE_DAYS`).

The lists are the desk's own: visits waiting for a clearance come from the day page's
to-do query (`clinic/desk/calendar.py`), what each needs from the visit panel's open
clearance (`clinic/desk/chasing.py`), and the visits to review from the "Needs attention"
list (`clinic/desk/attention.py`). Nothing here decides differently from those pages.

When: at `Settings.staff_digest_at` (CLINIC_STAFF_DIGEST_AT, 07:00 by default) in the
clinic location's zone, worked out per local date, so a change of clock does not move it.
A periodic job looks every minute; the first run at or after that instant claims the day
by recording it in `clinic_option` (under a lock on PostgreSQL; SQLite's single writer
already serialises), so however many workers and processes run it, a day is digested
once. A day with nothing to chase, or with no front-desk user, is claimed and sends
nothing.

Front desk only: the people who chase clearances and move visits. Admins who also work
the desk have the role too. The email names clients, times, therapists and the service's
public name, never anything clinical (no diagnosis, precautions, plan levels or review
reasons), and links to the desk pages where the details are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.auth.models import Role, User, UserRole
from clinic.auth.service import email_while_in_role
from clinic.clock import now_utc
from clinic.db import Database, with_retries
from clinic.desk.attention import AttentionItem, Problem, Reason, needs_attention
from clinic.desk.calendar import CHASE_DAYS, visits_waiting_for_clearance
from clinic.desk.cards import desk_settings
from clinic.desk.chasing import open_clearance
from clinic.intake.service import location_zone
from clinic.options import get_option, set_option
from clinic.outbox.models import OutboxMessage
from clinic.outbox.registry import HandlerContext, handles, periodic
from clinic.outbox.service import enqueue
from clinic.web.formatting import clock_time, long_date, short_date
from clinic.worker import advisory_lock_key

DIGEST_EMAIL = "email.staff_digest"
# The last local date digested, as "YYYY-MM-DD" (ISO dates order as strings do).
LAST_DAY_OPTION = "notifications.staff_digest.last_day"
# How often the job looks whether the day's digest is due: the digest goes out at most
# this long after its time.
CHECK_EVERY = timedelta(minutes=1)


def digest_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant of `at` on the local `day` in `zone`. A time the clock skips (spring
    forward) reads with the offset before the change, so it lands just after the gap; a
    time that happens twice (fall back) is its first occurrence. Pure."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def due_day(now: datetime, at: time, zone: ZoneInfo) -> date | None:
    """The local date whose digest is due at `now`, or None before today's time. Pure."""
    today = now.astimezone(zone).date()
    return today if now >= digest_instant(today, at, zone) else None


# What the digest lists


@dataclass(frozen=True)
class ChaseLine:
    """A visit waiting for a clearance, and what the desk does about it."""

    client_name: str
    therapist_name: str
    when: str
    deadline: str
    todo: str
    url: str


@dataclass(frozen=True)
class ReviewLine:
    """A booked visit that can no longer go ahead as booked."""

    client_name: str
    therapist_name: str
    service_name: str
    when: str
    # Each problem as (what is wrong, what to do).
    problems: tuple[tuple[str, str], ...]
    url: str


@dataclass(frozen=True)
class Digest:
    chase: tuple[ChaseLine, ...]
    review: tuple[ReviewLine, ...]

    @property
    def empty(self) -> bool:
        return not (self.chase or self.review)


def _when(instant: datetime, zone: ZoneInfo) -> str:
    return f"{short_date(instant, zone)}, {clock_time(instant, zone)}"


def problem_lines(item: AttentionItem) -> tuple[tuple[str, str], ...]:
    """The attention list's problems as an email may say them. A training problem may come
    from the client's care plan, so it is said without the level the plan asks for (and
    without the clinical lead's review): the visit's panel has the rest."""
    lines: list[tuple[str, str]] = []
    for problem in item.problems:
        line = _email_words(problem, item.therapist_name)
        if line not in lines:
            lines.append(line)
    return tuple(lines)


def _email_words(problem: Problem, therapist: str) -> tuple[str, str]:
    if problem.reason is Reason.TRAINING:
        return (
            f"{therapist} does not have the training this visit needs.",
            "Move the visit to another therapist, or cancel it.",
        )
    # Deactivation, time off and credentials are facts about the therapist.
    return problem.words, problem.todo


async def digest_of(
    session: AsyncSession, *, now: datetime, zone: ZoneInfo, base_url: str
) -> Digest:
    """The clearances to chase and the visits to review from `now` to CHASE_DAYS ahead."""
    settings = await desk_settings(session)
    waiting = await visits_waiting_for_clearance(
        session, now, now + timedelta(days=CHASE_DAYS), settings.deadline_hours
    )
    chase = []
    for visit in waiting:
        clearance = await open_clearance(session, visit.appointment_id)
        if clearance is None:
            todo = "Request the clearance."
        elif clearance.awaiting_reply:
            todo = "Chase the reply."
        else:
            # The reply is in: the clinical lead decides next, the desk has nothing to do.
            continue
        chase.append(
            ChaseLine(
                client_name=visit.client_name,
                therapist_name=visit.therapist_name,
                when=_when(visit.starts_at, zone),
                deadline=_when(visit.deadline, zone),
                todo=todo,
                url=f"{base_url}/desk/appointments/{visit.appointment_id}",
            )
        )
    review = [
        ReviewLine(
            client_name=item.client_name,
            therapist_name=item.therapist_name,
            service_name=item.service_name,
            when=_when(item.starts_at, zone),
            problems=problem_lines(item),
            url=f"{base_url}/desk/appointments/{item.appointment_id}",
        )
        for item in await needs_attention(session, now=now, days=CHASE_DAYS)
    ]
    return Digest(tuple(chase), tuple(review))


# Queuing: once per local day


async def _front_desk_ids(session: AsyncSession) -> list[int]:
    return list(
        await session.scalars(
            select(User.id)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == Role.FRONTDESK, User.active.is_(True))
            .order_by(User.id)
        )
    )


async def _digested(session: AsyncSession, day: date) -> bool:
    last = await get_option(session, LAST_DAY_OPTION)
    return isinstance(last, str) and last >= day.isoformat()


async def queue_digest(db: Database, *, at: time, base_url: str, now: datetime) -> int:
    """Claim today's digest once its time has come and queue one email per front-desk
    user; how many were queued (0 before the time, once claimed, or with nothing to say).
    """
    async with db.reading() as session:
        zone = await location_zone(session)
        day = due_day(now, at, zone)
        # Read first: before the time and once done, a run takes no write lock.
        if day is None or await _digested(session, day):
            return 0
    async with db.transaction() as session:
        if db.dialect == "postgresql":
            # Two runs at once: the second waits here, then reads the first one's day.
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"),
                {"key": advisory_lock_key(LAST_DAY_OPTION)},
            )
        if await _digested(session, day):
            return 0
        await set_option(session, LAST_DAY_OPTION, day.isoformat())
        recipients = await _front_desk_ids(session)
        if not recipients:
            return 0
        digest = await digest_of(session, now=now, zone=zone, base_url=base_url)
        if digest.empty:
            return 0
        for user_id in recipients:
            enqueue(session, DIGEST_EMAIL, {"user_id": user_id, "day": day.isoformat()})
    return len(recipients)


@periodic("staff.daily_digest", every=CHECK_EVERY)
async def queue_daily_digest(ctx: HandlerContext) -> int:
    settings = ctx.settings
    return await with_retries(
        lambda: queue_digest(
            ctx.db, at=settings.staff_digest_at, base_url=settings.base_url, now=now_utc()
        )
    )


# Sending


def subject_of(digest: Digest, day: date) -> str:
    """ "Desk to-do, Fri 27 Nov: 3 to chase, 1 to review": what and when first."""
    parts = []
    if digest.chase:
        parts.append(f"{len(digest.chase)} to chase")
    if digest.review:
        parts.append(f"{len(digest.review)} to review")
    return f"Desk to-do, {day:%a} {day.day} {day:%b}: {', '.join(parts)}"


@handles(DIGEST_EMAIL)
async def send_digest(ctx: HandlerContext, message: OutboxMessage) -> None:
    payload: dict[str, Any] = message.payload
    now = now_utc()
    async with ctx.db.reading() as session:
        to = await email_while_in_role(session, int(payload["user_id"]), Role.FRONTDESK)
        if to is None:
            # No longer at the desk, or disabled since: not theirs to hear.
            return
        zone = await location_zone(session)
        day = now.astimezone(zone).date()
        if day.isoformat() != payload["day"]:
            # Held up past its day (the mail server away): that day's digest replaces it.
            return
        digest = await digest_of(session, now=now, zone=zone, base_url=ctx.settings.base_url)
    if digest.empty:
        # Done since it was queued.
        return
    base_url = ctx.settings.base_url
    await ctx.send_email(
        message,
        to=to,
        template="staff_digest",
        context={
            "subject": subject_of(digest, day),
            "day": long_date(day),
            "days": CHASE_DAYS,
            "chase": digest.chase,
            "review": digest.review,
            "today_url": f"{base_url}/desk/",
            "attention_url": f"{base_url}/desk/attention",
        },
    )
