"""The front desk's daily digest: due at the set local time in the clinic's zone on both
sides of a change of clock, queued once a day however many workers run the job, sent to
the active front desk only, listing the clearances to chase and the visits to review with
what to do and links, nothing when there is nothing to do, and nothing clinical."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from clinic import clock
from clinic.auth.models import Role, User
from clinic.booking.statuses import AppointmentStatus
from clinic.db import Database
from clinic.intake.models import AppointmentIntake, IntakeState
from clinic.notifications.staff_digest import (
    CHECK_EVERY,
    DIGEST_EMAIL,
    LAST_DAY_OPTION,
    digest_instant,
    due_day,
    queue_daily_digest,
    queue_digest,
    send_digest,
)
from clinic.options import get_option
from clinic.outbox.models import OutboxMessage
from clinic.outbox.registry import Registry
from clinic.outbox.service import enqueue
from clinic.settings import Settings, SettingsError
from clinic.staff.models import CredentialKind, Therapist
from clinic.worker import build_worker
from tests import factories
from tests.booking.conftest import NOW, frozen, seeded
from tests.booking.test_emails import mail_in

__all__ = ["frozen", "seeded"]

ZONE = ZoneInfo("America/New_York")
SEVEN = time(7, 0)
BASE = "https://testserver"
# Clocks go forward in New York at 2am on Sunday 8 March 2026 (EST to EDT).
SAT = date(2026, 3, 7)
SUN = date(2026, 3, 8)
# Health words from forms, plans, clearances and review reasons, and plan levels.
CLINICAL_WORDS = (
    "oncology",
    "cancer",
    "chemo",
    "lymph",
    "metast",
    "pressure",
    "precaution",
    "diagnos",
    "bone",
    "level",
    "radiation",
)


def test_the_digest_is_due_at_seven_local_on_both_sides_of_the_change() -> None:
    assert digest_instant(SAT, SEVEN, ZONE) == datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
    assert digest_instant(SUN, SEVEN, ZONE) == datetime(2026, 3, 8, 11, 0, tzinfo=UTC)
    assert due_day(datetime(2026, 3, 7, 11, 59, tzinfo=UTC), SEVEN, ZONE) is None
    assert due_day(datetime(2026, 3, 7, 12, 0, tzinfo=UTC), SEVEN, ZONE) == SAT
    assert due_day(datetime(2026, 3, 8, 10, 59, tzinfo=UTC), SEVEN, ZONE) is None
    assert due_day(datetime(2026, 3, 8, 11, 0, tzinfo=UTC), SEVEN, ZONE) == SUN
    # Back to EST on Sunday 1 November 2026: 7am is 12:00 UTC again.
    assert digest_instant(date(2026, 11, 1), SEVEN, ZONE) == datetime(
        2026, 11, 1, 12, 0, tzinfo=UTC
    )
    # Late in the evening it is still that day's digest; just after midnight, not yet.
    assert due_day(datetime(2026, 3, 9, 3, 59, tzinfo=UTC), SEVEN, ZONE) == SUN
    assert due_day(datetime(2026, 3, 9, 4, 0, tzinfo=UTC), SEVEN, ZONE) is None


def test_a_time_the_clock_skips_lands_just_after_the_gap() -> None:
    # 2:30am does not happen on 8 March: it reads as 3:30am EDT.
    assert digest_instant(SUN, time(2, 30), ZONE) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "at"), [("07:00", SEVEN), ("6:30", time(6, 30)), ("23:59", time(23, 59))]
)
def test_the_time_is_a_setting(tmp_path: Path, value: str, at: time) -> None:
    env = {"CLINIC_VAR_DIR": str(tmp_path)}
    assert Settings.from_env(env).staff_digest_at == SEVEN
    assert Settings.from_env({**env, "CLINIC_STAFF_DIGEST_AT": value}).staff_digest_at == at


@pytest.mark.parametrize("value", ["24:00", "7", "7:5", "07:00:00", "seven", "-1:00"])
def test_a_time_that_is_not_one_stops_start_up_naming_the_variable(
    tmp_path: Path, value: str
) -> None:
    env = {"CLINIC_VAR_DIR": str(tmp_path), "CLINIC_STAFF_DIGEST_AT": value}
    with pytest.raises(SettingsError, match="CLINIC_STAFF_DIGEST_AT must be a 24-hour time"):
        Settings.from_env(env)


@dataclass(frozen=True)
class Clinic:
    desk: User
    chase_visit: int
    review_visit: int
    training_visit: int


async def _therapist(db: Database, name: str, *, credentialed: bool) -> Therapist:
    async with db.transaction() as session:
        therapist = await factories.create_therapist(session, display_name=name)
        if credentialed:
            for kind in (CredentialKind.MASSAGE_LICENCE, CredentialKind.LIABILITY_INSURANCE):
                await factories.create_credential(session, therapist=therapist, kind=kind)
        return therapist


async def _clinic(db: Database, around: date) -> Clinic:
    """A clinic in New York with a visit five days after `around` waiting for a clearance
    nobody has requested and, three days after `around`, one whose therapist has no
    verified licence and one
    whose care plan asks for more training than its therapist has (under review, with a
    clinical reason the email must never show). Staff: one active front desk, one disabled,
    an admin and a therapist."""
    fine = await _therapist(db, "Dana Payton", credentialed=True)
    unlicensed = await _therapist(db, "Jo Ames", credentialed=False)
    at = datetime.combine(around + timedelta(days=2), time(10, 0), tzinfo=ZONE)
    async with db.transaction() as session:
        location = await factories.create_location(session, phone="(215) 555-0170")
        service = await factories.create_service(session)
        desk = await factories.create_user(session, roles=(Role.FRONTDESK,), name="Luis Ortega")
        await factories.create_user(session, roles=(Role.FRONTDESK,), active=False)
        await factories.create_user(session, roles=(Role.ADMIN,))
        await factories.create_user(session, roles=(Role.THERAPIST,))
        visits = []
        for client_name, therapist, status, starts in (
            ("Sam Lee", fine, AppointmentStatus.PENDING_CLEARANCE, at + timedelta(days=3)),
            ("Ann Cho", unlicensed, AppointmentStatus.CONFIRMED, at + timedelta(days=1)),
            ("Bea Ruiz", fine, AppointmentStatus.CONFIRMED, at + timedelta(days=1, hours=2)),
        ):
            client = await factories.create_client(session, name=client_name)
            appointment = await factories.create_appointment(
                session,
                location=location,
                therapist=therapist,
                client=client,
                service=service,
                starts_at=starts.astimezone(UTC),
                status=status,
            )
            visits.append(appointment.id)
        session.add(
            AppointmentIntake(
                appointment_id=visits[2],
                state=IntakeState.REVIEW,
                required_level=2,
                review_reason="Bone metastases in the lower back: avoid deep pressure.",
            )
        )
    return Clinic(desk, *visits)


async def _queued(db: Database) -> list[OutboxMessage]:
    async with db.reading() as session:
        return list(
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind == DIGEST_EMAIL)
                .order_by(OutboxMessage.id)
            )
        )


def _digest_registry() -> Registry:
    registry = Registry()
    registry.periodic("staff.daily_digest", every=CHECK_EVERY)(queue_daily_digest)
    registry.handles(DIGEST_EMAIL)(send_digest)
    return registry


def _words(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    return str(text.get_content()), str(html.get_content()).replace("&#39;", "'")


async def test_queued_at_seven_local_once_a_day_across_the_change_of_clock(db: Database) -> None:
    clinic = await _clinic(db, SAT)

    async def run(at: datetime) -> int:
        with clock.frozen_at(at):
            return await queue_digest(db, at=SEVEN, base_url=BASE, now=at)

    # Saturday is EST: 7am is 12:00 UTC.
    assert await run(datetime(2026, 3, 7, 11, 59, tzinfo=UTC)) == 0
    assert await run(datetime(2026, 3, 7, 12, 0, tzinfo=UTC)) == 1
    assert await run(datetime(2026, 3, 7, 12, 1, tzinfo=UTC)) == 0
    assert await run(datetime(2026, 3, 7, 23, 0, tzinfo=UTC)) == 0
    # Sunday is EDT: 7am is 11:00 UTC, an hour earlier in UTC, still 7am on the wall.
    assert await run(datetime(2026, 3, 8, 10, 59, tzinfo=UTC)) == 0
    assert await run(datetime(2026, 3, 8, 11, 0, tzinfo=UTC)) == 1
    assert await run(datetime(2026, 3, 8, 11, 30, tzinfo=UTC)) == 0
    queued = await _queued(db)
    assert [m.payload for m in queued] == [
        {"user_id": clinic.desk.id, "day": "2026-03-07"},
        {"user_id": clinic.desk.id, "day": "2026-03-08"},
    ]
    assert [m.created_at for m in queued] == [
        datetime(2026, 3, 7, 12, 0, tzinfo=UTC),
        datetime(2026, 3, 8, 11, 0, tzinfo=UTC),
    ]
    async with db.reading() as session:
        assert await get_option(session, LAST_DAY_OPTION) == "2026-03-08"


async def test_two_workers_send_one_digest_at_seven_on_the_day_clocks_go_forward(
    db: Database, settings: Settings
) -> None:
    clinic = await _clinic(db, SUN)
    registry = _digest_registry()
    first = build_worker(db, settings, name="worker-a", registry=registry)
    second = build_worker(db, settings, name="worker-b", registry=registry)
    # 6:58am and 6:59:30am EDT: the job looks and finds it is not time yet.
    with clock.frozen_at(datetime(2026, 3, 8, 10, 58, tzinfo=UTC)):
        assert await first.ensure_periodic() == 1
        assert await second.ensure_periodic() == 0
        assert await first.run_once() == 1
    with clock.frozen_at(datetime(2026, 3, 8, 10, 59, 30, tzinfo=UTC)):
        assert await second.run_once() == 1
        assert await first.run_once() == 0
    assert await _queued(db) == []
    # 7:00:30am EDT: one worker's pass queues it, the other's sends it.
    with clock.frozen_at(datetime(2026, 3, 8, 11, 0, 30, tzinfo=UTC)):
        assert await first.run_once() == 1
        assert len(await _queued(db)) == 1
        assert await second.run_once() == 1
    # Later passes of both workers, the same day: nothing more.
    for minutes in (2, 3, 30):
        with clock.frozen_at(datetime(2026, 3, 8, 11, minutes, 30, tzinfo=UTC)):
            await first.run_once()
            await second.run_once()
    assert len(await _queued(db)) == 1

    [message] = mail_in(settings.var_dir / "mail")
    assert message["To"] == clinic.desk.email
    assert message["Subject"] == "Desk to-do, Sun 8 Mar: 1 to chase, 2 to review"
    text, html = _words(message)
    for body in (text, html):
        assert "Sam Lee" in body
        assert "Fri 13 Mar, 10am with Dana Payton" in body
        # Released 72 hours before: 10am EDT on the Tuesday.
        assert "Request the clearance. Needed by Tue 10 Mar, 10am." in body
        assert "Ann Cho" in body
        assert "Jo Ames has no verified massage licence." in body
        assert "Bea Ruiz" in body
        assert "Dana Payton does not have the training this visit needs." in body
        assert f"{BASE}/desk/appointments/{clinic.chase_visit}" in body
        assert f"{BASE}/desk/appointments/{clinic.review_visit}" in body
        assert f"{BASE}/desk/appointments/{clinic.training_visit}" in body
        assert f"{BASE}/desk/attention" in body
        assert "because you work the front desk" in body
        for word in CLINICAL_WORDS:
            assert word not in body.lower(), word


async def test_nothing_to_chase_sends_nothing_and_the_day_is_still_done(db: Database) -> None:
    async with db.transaction() as session:
        await factories.create_location(session)
        await factories.create_user(session, roles=(Role.FRONTDESK,))
    at = datetime(2026, 3, 9, 11, 0, tzinfo=UTC)
    with clock.frozen_at(at):
        assert await queue_digest(db, at=SEVEN, base_url=BASE, now=at) == 0
    assert await _queued(db) == []
    async with db.reading() as session:
        assert await get_option(session, LAST_DAY_OPTION) == "2026-03-09"


async def test_a_digest_held_up_past_its_day_or_for_someone_gone_is_not_sent(
    db: Database, settings: Settings
) -> None:
    clinic = await _clinic(db, SUN)
    async with db.transaction() as session:
        stale = enqueue(session, DIGEST_EMAIL, {"user_id": clinic.desk.id, "day": "2026-03-07"})
        gone_user = await factories.create_user(session, roles=(Role.FRONTDESK,), active=False)
        gone = enqueue(session, DIGEST_EMAIL, {"user_id": gone_user.id, "day": "2026-03-08"})
        admin = await factories.create_user(session, roles=(Role.ADMIN,))
        not_desk = enqueue(session, DIGEST_EMAIL, {"user_id": admin.id, "day": "2026-03-08"})
    ctx = build_worker(db, settings).ctx
    with clock.frozen_at(datetime(2026, 3, 8, 12, 0, tzinfo=UTC)):
        for message in (stale, gone, not_desk):
            await send_digest(ctx, message)
    assert not (settings.var_dir / "mail").exists() or mail_in(settings.var_dir / "mail") == []


@pytest.mark.usefixtures("frozen")
async def test_the_demo_desk_digest_names_no_health_details(
    seeded: Database, settings: Settings
) -> None:
    assert await queue_digest(seeded, at=SEVEN, base_url=BASE, now=NOW) >= 1
    ctx = build_worker(seeded, settings).ctx
    for queued in await _queued(seeded):
        await send_digest(ctx, queued)
    sent = mail_in(settings.var_dir / "mail")
    assert sent
    for message in sent:
        text, html = _words(message)
        words = f"{message['Subject']}\n{text}\n{html}".lower()
        assert "to chase" in words or "to review" in words
        for word in CLINICAL_WORDS:
            assert word not in words, (message["Subject"], word)
