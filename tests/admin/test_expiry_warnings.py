"""Credential expiry warnings by email: the admins hear of a credential whose expiry
changes who clients can book once at 60, 30 and 7 days before and on the day, never twice,
and never of an inactive therapist or a credential already renewed."""

from __future__ import annotations

import email
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import func, select

from clinic import clock
from clinic.admin.expiry_warnings import EMAIL, queue_expiry_warnings, threshold_reached
from clinic.auth.models import Role, User
from clinic.db import Database
from clinic.outbox.models import OutboxMessage
from clinic.settings import Settings
from clinic.staff.models import CredentialExpiryWarning, CredentialKind, Therapist
from clinic.worker import build_worker
from tests import factories

TODAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)  # 8am in Philadelphia
CLINICAL_WORDS = ("oncology", "cancer", "chemo", "lymph", "clearance", "diagnos", "tumou")


@pytest.mark.parametrize(
    ("days_left", "threshold"),
    [
        (61, None),
        (60, 60),
        (31, 60),
        (30, 30),
        (8, 30),
        (7, 7),
        (1, 7),
        (0, 0),
        (-7, 0),
        (-8, None),
    ],
)
def test_the_threshold_reached_is_the_most_urgent_one(days_left: int, threshold: int) -> None:
    assert threshold_reached(days_left) == threshold


async def add_therapist(
    db: Database, name: str, *, licence_expires: date, active: bool = True
) -> Therapist:
    """A bookable therapist whose licence expires on `licence_expires`."""
    async with db.transaction() as session:
        therapist = await factories.create_therapist(session, display_name=name, active=active)
        await factories.create_credential(
            session,
            therapist=therapist,
            kind=CredentialKind.MASSAGE_LICENCE,
            expires_on=licence_expires,
        )
        await factories.create_credential(
            session,
            therapist=therapist,
            kind=CredentialKind.LIABILITY_INSURANCE,
            expires_on=date(2030, 1, 1),
        )
    return therapist


async def add_admins(db: Database) -> tuple[User, User]:
    """An admin, a disabled admin and a front desk account: only the first hears."""
    async with db.transaction() as session:
        admin = await factories.create_user(session, roles=(Role.ADMIN, Role.THERAPIST))
        await factories.create_user(session, roles=(Role.ADMIN,), active=False)
        desk = await factories.create_user(session, roles=(Role.FRONTDESK,))
    return admin, desk


async def sent_thresholds(db: Database) -> list[int]:
    async with db.reading() as session:
        return list(
            await session.scalars(
                select(CredentialExpiryWarning.threshold_days).order_by(CredentialExpiryWarning.id)
            )
        )


async def queued_emails(db: Database) -> int:
    async with db.reading() as session:
        found = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == EMAIL)
        )
    return found or 0


async def test_each_threshold_is_warned_of_once(db: Database) -> None:
    await add_admins(db)
    expires = TODAY + timedelta(days=45)
    await add_therapist(db, "Dana Reyes", licence_expires=expires)

    runs = []
    for days_left in (45, 45, 31, 30, 30, 10, 7, 1, 0, 0, -1):
        day = expires - timedelta(days=days_left)
        runs.append(await queue_expiry_warnings(db, today=day, now=NOW))
    assert runs == [1, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0]
    assert await sent_thresholds(db) == [60, 30, 7, 0]
    # One email per warning to the one active admin.
    assert await queued_emails(db) == 4


async def test_a_credential_first_seen_late_gets_only_the_warnings_still_ahead(
    db: Database,
) -> None:
    await add_admins(db)
    await add_therapist(db, "Dana Reyes", licence_expires=TODAY + timedelta(days=5))
    assert await queue_expiry_warnings(db, today=TODAY, now=NOW) == 1
    assert await queue_expiry_warnings(db, today=TODAY + timedelta(days=1), now=NOW) == 0
    assert await queue_expiry_warnings(db, today=TODAY + timedelta(days=5), now=NOW) == 1
    assert await sent_thresholds(db) == [7, 0]


async def test_no_warning_for_an_inactive_therapist_a_renewal_or_nobody_to_tell(
    db: Database,
) -> None:
    await add_therapist(db, "Dana Reyes", licence_expires=TODAY + timedelta(days=20))
    # No admin yet: nothing is recorded, so the admin added later still hears of it.
    assert await queue_expiry_warnings(db, today=TODAY, now=NOW) == 0
    await add_admins(db)
    await add_therapist(
        db, "Former Colleague", licence_expires=TODAY + timedelta(days=20), active=False
    )
    renewed = await add_therapist(db, "Sam Renewed", licence_expires=TODAY + timedelta(days=20))
    async with db.transaction() as session:
        await factories.create_credential(
            session,
            therapist=renewed,
            kind=CredentialKind.MASSAGE_LICENCE,
            issued_on=TODAY,
            expires_on=date(2028, 12, 31),
        )
    assert await queue_expiry_warnings(db, today=TODAY, now=NOW) == 1
    assert await sent_thresholds(db) == [30]


def mail_in(folder: Path) -> list[EmailMessage]:
    return [
        email.message_from_bytes(path.read_bytes(), policy=default)
        for path in sorted(folder.glob("*.eml"))
    ]


async def test_the_worker_emails_the_admins_the_consequence_once(
    db: Database, settings: Settings
) -> None:
    admin, desk = await add_admins(db)
    await add_therapist(db, "Dana Reyes", licence_expires=date(2026, 12, 27))
    worker = build_worker(db, settings)
    with clock.frozen_at(NOW):
        await worker.ensure_periodic()
        assert await worker.run_once() >= 1  # the periodic jobs: one queues the email
        assert await worker.run_once() == 1  # the email
    with clock.frozen_at(NOW + timedelta(hours=1, minutes=1)):
        await worker.ensure_periodic()
        await worker.run_once()  # the next period: nothing new to say
        assert await worker.run_once() == 0

    [message] = mail_in(settings.var_dir / "mail")
    assert message["To"] == admin.email
    assert message["Subject"] == "Expires 27 December: Dana Reyes's massage licence"
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    for body in (text, html.replace("&#39;", "'")):
        assert "Dana Reyes's massage licence expires on Sunday 27 December 2026" in body
        assert "After 27 December, Dana Reyes stops appearing in online booking." in body
    assert "/admin/therapists/" in text
    assert desk.email not in message["To"]
    for word in CLINICAL_WORDS:
        assert word not in (message["Subject"] + text + html).lower(), word
