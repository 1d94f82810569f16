"""Credential expiry warnings emailed to the admins: from 60 days out, once per credential
at each threshold (60, 30 and 7 days before, and on expiry), saying what the expiry changes
for clients. Each warning is recorded when it is queued, so none goes out twice. Emails
name the therapist, the credential and the consequence: never anything about clients.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.admin.credential_status import (
    KIND_LABELS,
    WARN_DAYS,
    expiry_consequence,
    short_date,
)
from clinic.auth.models import Role, User, UserRole
from clinic.auth.service import email_while_in_role
from clinic.clock import now_utc
from clinic.db import Database, with_retries
from clinic.outbox.models import OutboxMessage
from clinic.outbox.registry import HandlerContext, handles, periodic
from clinic.outbox.service import enqueue
from clinic.staff.credentials import CredentialFacts, expiring_within
from clinic.staff.models import Credential, CredentialExpiryWarning, Therapist
from clinic.web.formatting import long_date

EMAIL = "email.credential_expiry"
# Days before expiry at which the admins hear of it; 0 is the day it expires.
THRESHOLDS = (WARN_DAYS, 30, 7, 0)
# A credential that expired while no worker ran is still reported for this many days.
LATE_DAYS = 7


def threshold_reached(days_left: int) -> int | None:
    """The most urgent threshold reached with `days_left` days to go (0 from the expiry
    day on, for LATE_DAYS), or None outside the warning window. Pure."""
    if days_left < -LATE_DAYS or days_left > THRESHOLDS[0]:
        return None
    return min(t for t in THRESHOLDS if days_left <= t)


def watched(facts: CredentialFacts, today: date) -> bool:
    """A verified credential of a kind whose expiry matters, inside the warning window."""
    first = today - timedelta(days=LATE_DAYS + 1)
    return bool(expiring_within([facts], first, WARN_DAYS + LATE_DAYS + 1))


@dataclass(frozen=True)
class Due:
    credential: Credential
    therapist: Therapist
    threshold: int
    consequence: str


def due_warnings(
    therapist: Therapist,
    credentials: Iterable[Credential],
    today: date,
    already: set[tuple[int, date, int]],
) -> list[Due]:
    """The therapist's warnings to send today: a threshold reached whose expiry changes
    something (a verified renewal means none), not sent before at it or a later one."""
    rows = list(credentials)
    facts = [row.facts() for row in rows]
    found = []
    for row, fact in zip(rows, facts, strict=True):
        if row.expires_on is None or not watched(fact, today):
            continue
        threshold = threshold_reached((row.expires_on - today).days)
        if threshold is None:
            continue
        if any((row.id, row.expires_on, t) in already for t in THRESHOLDS if t <= threshold):
            continue
        consequence = expiry_consequence(
            therapist.display_name,
            facts,
            row.expires_on,
            today,
            oncology_sessions=therapist.oncology_sessions,
        )
        if consequence is not None:
            found.append(Due(row, therapist, threshold, consequence))
    return found


async def _credentials_of(
    session: AsyncSession, therapist_ids: list[int]
) -> dict[int, list[Credential]]:
    found: dict[int, list[Credential]] = {}
    for credential in await session.scalars(
        select(Credential)
        .where(Credential.therapist_id.in_(therapist_ids))
        .order_by(Credential.therapist_id, Credential.id)
    ):
        found.setdefault(credential.therapist_id, []).append(credential)
    return found


async def _admin_ids(session: AsyncSession) -> list[int]:
    return list(
        await session.scalars(
            select(User.id)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == Role.ADMIN, User.active.is_(True))
            .order_by(User.id)
        )
    )


async def queue_expiry_warnings(db: Database, *, today: date, now: datetime) -> int:
    """Record the warnings due today and queue one email per admin listing them; how many
    warnings. With no admin to tell, nothing is recorded (the next run tries again)."""
    async with db.transaction() as session:
        admins = await _admin_ids(session)
        if not admins:
            return 0
        therapists = list(
            await session.scalars(
                select(Therapist).where(Therapist.active.is_(True)).order_by(Therapist.id)
            )
        )
        credentials = await _credentials_of(session, [t.id for t in therapists])
        ids = [c.id for rows in credentials.values() for c in rows]
        already = {
            (row.credential_id, row.expires_on, row.threshold_days)
            for row in await session.scalars(
                select(CredentialExpiryWarning).where(
                    CredentialExpiryWarning.credential_id.in_(ids)
                )
            )
        }
        due = [
            warning
            for therapist in therapists
            for warning in due_warnings(
                therapist, credentials.get(therapist.id, []), today, already
            )
        ]
        if not due:
            return 0
        recorded = [
            CredentialExpiryWarning(
                credential_id=d.credential.id,
                expires_on=d.credential.expires_on,
                threshold_days=d.threshold,
                queued_at=now,
            )
            for d in due
        ]
        session.add_all(recorded)
        await session.flush()
        for admin_id in admins:
            enqueue(session, EMAIL, {"user_id": admin_id, "warning_ids": [r.id for r in recorded]})
    return len(due)


@periodic("credentials.expiry_warnings", every=timedelta(hours=1))
async def warn_of_expiring_credentials(ctx: HandlerContext) -> int:
    now = now_utc()
    today = now.astimezone(ctx.settings.zone).date()
    return await with_retries(lambda: queue_expiry_warnings(ctx.db, today=today, now=now))


def when_words(expires_on: date, today: date) -> str:
    """ "expires today", "expires tomorrow", "expires on Monday 1 June 2027 (in 30 days)",
    "expired on 1 June (2 days ago)"."""
    days = (expires_on - today).days
    if days == 0:
        return "expires today"
    if days == 1:
        return "expires tomorrow"
    if days < 0:
        ago = "yesterday" if days == -1 else f"{-days} days ago"
        return f"expired on {short_date(expires_on, today)} ({ago})"
    return f"expires on {long_date(expires_on)} (in {days} days)"


def subject_when(expires_on: date, today: date) -> str:
    """What and when first, short: "Expires 1 June", "Expires today", "Expired 1 June"."""
    days = (expires_on - today).days
    if days == 0:
        return "Expires today"
    if days == 1:
        return "Expires tomorrow"
    return f"{'Expired' if days < 0 else 'Expires'} {short_date(expires_on, today)}"


@dataclass(frozen=True)
class Item:
    therapist: str
    credential: str
    expires_on: date
    when: str
    consequence: str
    url: str


async def _still_true(ctx: HandlerContext, warning_ids: list[int], today: date) -> list[Item]:
    """What is still true of each warning now, soonest first: a renewal verified since, a
    changed expiry date or a deactivated therapist drops it."""
    async with ctx.db.reading() as session:
        rows = (
            await session.execute(
                select(CredentialExpiryWarning, Credential, Therapist)
                .join(Credential, Credential.id == CredentialExpiryWarning.credential_id)
                .join(Therapist, Therapist.id == Credential.therapist_id)
                .where(CredentialExpiryWarning.id.in_(warning_ids))
                .order_by(CredentialExpiryWarning.expires_on, Therapist.display_name, Credential.id)
            )
        ).all()
        credentials = await _credentials_of(session, sorted({t.id for _, _, t in rows}))
    items = []
    for warning, credential, therapist in rows:
        if not therapist.active or credential.expires_on != warning.expires_on:
            continue
        consequence = expiry_consequence(
            therapist.display_name,
            [c.facts() for c in credentials.get(therapist.id, [])],
            warning.expires_on,
            today,
            oncology_sessions=therapist.oncology_sessions,
        )
        if consequence is not None:
            items.append(
                Item(
                    therapist=therapist.display_name,
                    credential=KIND_LABELS[credential.kind].lower(),
                    expires_on=warning.expires_on,
                    when=when_words(warning.expires_on, today),
                    consequence=consequence,
                    url=f"{ctx.settings.base_url}/admin/therapists/{therapist.id}",
                )
            )
    return items


@handles(EMAIL)
async def send_expiry_warning(ctx: HandlerContext, message: OutboxMessage) -> None:
    payload: dict[str, Any] = message.payload
    today = now_utc().astimezone(ctx.settings.zone).date()
    async with ctx.db.reading() as session:
        to = await email_while_in_role(session, int(payload["user_id"]), Role.ADMIN)
    if to is None:
        # No longer an admin, or disabled since: not theirs to hear.
        return
    items = await _still_true(ctx, [int(i) for i in payload["warning_ids"]], today)
    if not items:
        return
    first = items[0]
    if len(items) == 1:
        subject = f"{subject_when(first.expires_on, today)}: {first.therapist}'s {first.credential}"
    else:
        subject = f"{len(items)} credentials expiring from {short_date(first.expires_on, today)}"
    await ctx.send_email(
        message,
        to=to,
        template="credential_expiry",
        context={
            "subject": subject,
            "items": items,
            "expiring_url": f"{ctx.settings.base_url}/admin/credentials/expiring",
        },
    )
