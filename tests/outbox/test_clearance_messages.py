"""The client's clearance emails: each queued by its cause in the cause's transaction and
only then (a visit that starts waiting, a recorded clearance that confirms it, the release at
its deadline, a clearance on file that ends before a coming visit), delivered once, skipped
when no longer true by the time it goes, with dates in the location's zone and nothing
clinical: never the word clearance, the physician, the reason or the restrictions."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import httpx2
import pytest
from sqlalchemy import func, select

from clinic import clock
from clinic.auth.models import Role
from clinic.booking.bookings import cancel_appointment
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus, CancelledBy
from clinic.clearance.jobs import _release, expire_clearances, release_overdue
from clinic.clearance.jobs import renew_lapsing_clearances as renewals
from clinic.clearance.models import Clearance, ClearanceStatus
from clinic.clearance.review import ask_for_clearance, in_review
from clinic.clearance.service import Outcome, mark_received, record_outcome, void_clearance
from clinic.db import Database
from clinic.outbox.models import OutboxMessage
from clinic.settings import Settings
from clinic.web.formatting import clock_time
from clinic.worker import build_worker
from tests.booking.conftest import NOW, frozen, seeded
from tests.booking.test_clearance import actor, book_pending, requested, status_of
from tests.booking.test_email_privacy import CLINICAL_WORDS
from tests.booking.test_emails import mail_in
from tests.booking.test_review_queue import previsit_review

__all__ = ["frozen", "seeded"]

pytestmark = pytest.mark.usefixtures("frozen")

NEW_YORK = ZoneInfo("America/New_York")
CLEARANCE_KINDS = (
    "email.clearance_requested",
    "email.clearance_recorded",
    "email.clearance_deadline_passed",
    "email.clearance_expiring",
)
RESTRICTIONS = "No work over the port or the lumbar spine."
VOID_REASON = "New bone pain reported"


async def queued(db: Database, kind: str | None = None) -> list[OutboxMessage]:
    """Clearance messages in the outbox (all four kinds, or one), oldest first."""
    async with db.reading() as session:
        return list(
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind.in_((kind,) if kind else CLEARANCE_KINDS))
                .order_by(OutboxMessage.id)
            )
        )


async def deliver(db: Database, settings: Settings) -> list[EmailMessage]:
    """Run the worker until nothing is due; every email written so far."""
    worker = build_worker(db, settings)
    while await worker.run_once():
        pass
    return mail_in(settings.var_dir / "mail")


def with_subject(messages: list[EmailMessage], prefix: str) -> list[EmailMessage]:
    return [m for m in messages if str(m["Subject"]).startswith(prefix)]


def bodies(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    return text, html


def assert_nothing_clinical(message: EmailMessage) -> None:
    words = " ".join((str(message["Subject"]), *bodies(message))).lower()
    for word in CLINICAL_WORDS:
        assert not re.search(rf"\b{word}", words), word
    for detail in ("lumbar", "bone", "dr ana lee", "fox chase", "deadline"):
        assert detail not in words, detail


def start_of(visit: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(visit["start"]))


async def manage_link_works(http: httpx2.AsyncClient, settings: Settings, text: str) -> None:
    link = next(line.strip() for line in text.splitlines() if "/manage/" in line)
    page = await http.get(link.replace(settings.base_url, ""))
    assert page.status_code == 200


async def cleared(
    db: Database, visit_id: int, *, valid_until: date | None = None, restrictions: str = ""
) -> Clearance:
    """A clearance requested for the visit and recorded by a clinical lead."""
    clearance = await requested(db, visit_id, await actor(db, Role.FRONTDESK))
    outcome = (
        Outcome(
            ClearanceStatus.CLEARED_WITH_RESTRICTIONS,
            max_pressure=2,
            restrictions=restrictions,
            valid_until=valid_until,
        )
        if restrictions
        else Outcome(ClearanceStatus.CLEARED, valid_until=valid_until)
    )
    return await record_outcome(
        db, clearance.id, outcome, actor=await actor(db, Role.CLINICAL_LEAD)
    )


async def test_a_recorded_clearance_confirms_the_waiting_visit_in_one_email(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    [visit] = await book_pending(seeded, http, "2026-12-02")
    # Booked waiting: its confirmation says so; none of these yet.
    assert await queued(seeded) == []
    desk = await actor(seeded, Role.FRONTDESK)
    clearance = await requested(seeded, visit["id"], desk)
    await mark_received(seeded, clearance.id, actor=desk)
    assert await queued(seeded) == []

    await record_outcome(
        seeded,
        clearance.id,
        Outcome(
            ClearanceStatus.CLEARED_WITH_RESTRICTIONS, max_pressure=2, restrictions=RESTRICTIONS
        ),
        actor=await actor(seeded, Role.CLINICAL_LEAD),
    )
    [recorded] = await queued(seeded)
    assert recorded.kind == "email.clearance_recorded"
    assert recorded.payload == {"appointment_id": visit["id"]}

    messages = await deliver(seeded, settings)
    at = clock_time(start_of(visit), NEW_YORK)
    [message] = with_subject(messages, "Confirmed: ")
    assert message["Subject"] == f"Confirmed: Wed 2 Dec, {at}"
    assert message["To"] == "ruth.example@example.com"
    for body in bodies(message):
        assert "Your appointment is confirmed" in body
        assert f"Wednesday 2 December 2026, {at} to" in body
        assert "New York time" in body
        assert "Massage, 30 min" in body
    assert_nothing_clinical(message)
    await manage_link_works(http, settings, bodies(message)[0])
    # Delivered once: another pass sends nothing more.
    assert len(await deliver(seeded, settings)) == len(messages)


async def test_a_refusal_confirms_nothing_and_tells_nothing(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    [visit] = await book_pending(seeded, http, "2026-12-02")
    clearance = await requested(seeded, visit["id"], await actor(seeded, Role.FRONTDESK))
    await record_outcome(
        seeded,
        clearance.id,
        Outcome(ClearanceStatus.NOT_CLEARED),
        actor=await actor(seeded, Role.CLINICAL_LEAD),
    )
    assert await status_of(seeded, visit["id"]) is AppointmentStatus.PENDING_CLEARANCE
    assert await queued(seeded) == []


async def test_a_confirmed_visit_that_must_wait_again_is_told_one_more_thing_is_needed(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    [visit] = await book_pending(seeded, http, "2026-12-02")
    clearance = await cleared(seeded, visit["id"])
    async with seeded.transaction() as session:
        found = await session.get(Clearance, clearance.id)
        assert found is not None
        await void_clearance(session, found, VOID_REASON, actor_user_id=None)
    assert await status_of(seeded, visit["id"]) is AppointmentStatus.PENDING_CLEARANCE
    kinds = [m.kind for m in await queued(seeded)]
    assert kinds == ["email.clearance_recorded", "email.clearance_requested"]

    messages = await deliver(seeded, settings)
    # The confirmation no longer holds when the worker runs: only the request goes.
    assert with_subject(messages, "Confirmed: ") == []
    [message] = with_subject(messages, "Action needed")
    assert message["Subject"] == "Action needed before Wed 2 Dec"
    text, html = bodies(message)
    for body in (text, html):
        assert "We need one more thing before your visit on Wednesday 2 December 2026" in body
        # 72 hours before the visit, in New York.
        deadline = start_of(visit) - timedelta(hours=72)
        assert f"{clock_time(deadline, NEW_YORK)} on Sunday 29 November 2026" in body
    assert_nothing_clinical(message)
    assert VOID_REASON.lower() not in text.lower()
    await manage_link_works(http, settings, text)


async def test_the_clinical_leads_request_for_a_clearance_tells_the_client(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    appointment_id = await previsit_review(seeded, http)
    lead = await actor(seeded, Role.CLINICAL_LEAD)
    assert await queued(seeded) == []
    async with seeded.transaction() as session:
        review = await in_review(session, appointment_id, user_id=lead.user_id)
        await ask_for_clearance(session, review, user_id=lead.user_id)
    [message] = await queued(seeded)
    assert (message.kind, message.payload) == (
        "email.clearance_requested",
        {"appointment_id": appointment_id},
    )
    [sent] = with_subject(await deliver(seeded, settings), "Action needed")
    assert_nothing_clinical(sent)


async def test_a_request_is_not_sent_once_the_visit_is_inside_its_deadline(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    [visit] = await book_pending(seeded, http, "2026-12-02")
    clearance = await cleared(seeded, visit["id"])
    async with seeded.transaction() as session:
        found = await session.get(Clearance, clearance.id)
        assert found is not None
        await void_clearance(session, found, VOID_REASON, actor_user_id=None)
    # The worker was away until after the deadline: the release tells the client instead.
    with clock.frozen_at(start_of(visit) - timedelta(hours=71)):
        messages = await deliver(seeded, settings)
    assert with_subject(messages, "Action needed") == []


async def test_the_deadline_cancels_the_visit_and_says_what_happens_now_once(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    [visit] = await book_pending(seeded, http, "2026-11-30")
    assert await release_overdue(seeded) == 0
    assert await queued(seeded) == []
    later = NOW + timedelta(days=1)
    with clock.frozen_at(later):
        assert await release_overdue(seeded) == 1
        assert await release_overdue(seeded) == 0
        [message] = await queued(seeded)
        assert message.kind == "email.clearance_deadline_passed"
        async with seeded.reading() as session:
            appointment = await session.get(Appointment, visit["id"])
            generic = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.kind == "email.booking_cancelled")
            )
            settles = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.kind == "payment.settle",
                    OutboxMessage.created_at == later,
                )
            )
        assert appointment is not None
        assert appointment.status is AppointmentStatus.CANCELLED
        assert appointment.cancelled_by is CancelledBy.SYSTEM
        assert appointment.fee_minor == 0
        # One email to the client, not the generic cancellation as well.
        assert generic == 0
        assert settles == 1
        messages = await deliver(seeded, settings)
        assert len(await deliver(seeded, settings)) == len(messages)
    at = clock_time(start_of(visit), NEW_YORK)
    [sent] = with_subject(messages, "Cancelled: ")
    assert sent["Subject"] == f"Cancelled: Mon 30 Nov, {at}"
    text, html = bodies(sent)
    for body in (text, html):
        assert f"cancelled your appointment on Monday 30 November 2026 at {at}" in body
        assert "What happens now" in body
        assert "There is nothing to pay." in body
    # No link to a cancelled booking; the way back is to call or book again.
    assert "/manage/" not in text
    assert f"{settings.base_url}/book" in text
    assert_nothing_clinical(sent)


async def test_a_visit_confirmed_just_before_its_release_is_left_alone(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    [visit] = await book_pending(seeded, http, "2026-11-30")
    await cleared(seeded, visit["id"])
    with clock.frozen_at(NOW + timedelta(days=1)):
        # The release's list was read while it waited; under the lock it is confirmed.
        assert await _release(seeded, visit["id"]) == 0
    assert await status_of(seeded, visit["id"]) is AppointmentStatus.CONFIRMED
    assert [m.kind for m in await queued(seeded)] == ["email.clearance_recorded"]


async def test_a_clearance_ending_before_a_coming_visit_asks_for_a_new_one_once(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    near, far, _farther = await book_pending(seeded, http, "2026-12-02", "2026-12-16", "2026-12-21")
    clearance = await cleared(
        seeded, near["id"], valid_until=date(2026, 12, 10), restrictions=RESTRICTIONS
    )
    assert await status_of(seeded, far["id"]) is AppointmentStatus.PENDING_CLEARANCE
    # Recording it confirmed the near visit; the far ones wait, found by the hourly scan.
    assert [m.kind for m in await queued(seeded)] == ["email.clearance_recorded"]
    assert await renewals(seeded) == 1
    assert await renewals(seeded) == 0
    [notice] = await queued(seeded, "email.clearance_expiring")
    # One notice for the clearance, naming the first visit it does not reach.
    assert notice.payload == {"appointment_id": far["id"], "clearance_id": clearance.id}

    messages = await deliver(seeded, settings)
    [sent] = with_subject(messages, "Update needed")
    assert sent["Subject"] == "Update needed before Wed 16 Dec"
    text, html = bodies(sent)
    for body in (text, html):
        assert "valid until Thursday 10 December 2026" in body
        assert "before your appointment on Wednesday 16 December 2026" in body
        assert "We need a new one" in body
    assert_nothing_clinical(sent)
    await manage_link_works(http, settings, text)
    assert len(await deliver(seeded, settings)) == len(messages)


async def test_a_renewal_notice_is_skipped_when_a_new_clearance_arrives_first(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    near, far = await book_pending(seeded, http, "2026-12-02", "2026-12-16")
    await cleared(seeded, near["id"], valid_until=date(2026, 12, 10))
    assert await renewals(seeded) == 1
    await cleared(seeded, far["id"], valid_until=date(2026, 12, 31))
    messages = await deliver(seeded, settings)
    assert with_subject(messages, "Update needed") == []
    assert len(with_subject(messages, "Confirmed: ")) == 2


async def test_a_clearance_that_expires_asks_for_a_new_one_not_for_one_more_thing(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    [visit] = await book_pending(seeded, http, "2026-12-16")
    clearance = await cleared(seeded, visit["id"], valid_until=date(2026, 12, 20))
    async with seeded.transaction() as session:
        found = await session.get(Clearance, clearance.id)
        assert found is not None
        found.valid_until = date(2026, 11, 26)
    assert await expire_clearances(seeded) == 1
    assert await status_of(seeded, visit["id"]) is AppointmentStatus.PENDING_CLEARANCE
    assert await queued(seeded, "email.clearance_requested") == []
    assert await renewals(seeded) == 1
    [sent] = with_subject(await deliver(seeded, settings), "Update needed")
    assert "valid until Thursday 26 November 2026" in bodies(sent)[0]


async def test_no_renewal_notice_for_a_voided_clearance_or_a_visit_inside_its_deadline(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    near, soon = await book_pending(seeded, http, "2026-12-02", "2026-12-08")
    clearance = await cleared(seeded, near["id"], valid_until=date(2026, 12, 4))
    # Inside its deadline: the release comes first and says so.
    with clock.frozen_at(start_of(soon) - timedelta(hours=71)):
        assert await renewals(seeded) == 0
    async with seeded.transaction() as session:
        found = await session.get(Clearance, clearance.id)
        assert found is not None
        await void_clearance(session, found, VOID_REASON, actor_user_id=None)
    assert await renewals(seeded) == 0


async def test_a_cancelled_visit_is_told_nothing_more(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    [visit] = await book_pending(seeded, http, "2026-12-02")
    clearance = await cleared(seeded, visit["id"])
    async with seeded.transaction() as session:
        found = await session.get(Clearance, clearance.id)
        assert found is not None
        await void_clearance(session, found, VOID_REASON, actor_user_id=None)
    await cancel_appointment(seeded, visit["id"], cancelled_by=CancelledBy.CLIENT)
    messages = await deliver(seeded, settings)
    assert with_subject(messages, "Action needed") == []
    assert with_subject(messages, "Confirmed: ") == []
