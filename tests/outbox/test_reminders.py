"""Reminder emails (clinic/booking/reminders.py): due at the same local time the day before,
which across a clock change is 23 or 25 real hours; queued once however many workers scan;
never for a cancelled visit, a client who opted out, or a time given too late for one; a
move earns the new time its own reminder. The clock is frozen in-process."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx2
import pytest
from sqlalchemy import func, select, update

from clinic import clock
from clinic.booking import reminders
from clinic.booking.bookings import cancel_appointment
from clinic.booking.jobs import REMINDER_SCAN_EVERY, queue_reminders, send_booking_reminder
from clinic.booking.models import Appointment, ReminderOptOut
from clinic.booking.notices import BOOKING_REMINDER
from clinic.booking.policies import Policies, reminder_moment
from clinic.booking.policy_store import set_policy
from clinic.booking.reminders import Candidate, queue_due_reminders, set_reminders
from clinic.booking.statuses import AppointmentStatus, CancelledBy
from clinic.db import Database
from clinic.outbox.models import OutboxMessage
from clinic.outbox.registry import Registry
from clinic.settings import Settings
from clinic.worker import Worker, build_worker
from tests.booking.test_emails import booking_mail_in
from tests.booking.test_pages import get_page, see_other, submit, text_of
from tests.outbox.visits import PUBLIC_NAME, Visit, appointment, book_visit

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
# 2027: New York springs forward on Sunday 14 March and falls back on Sunday 7 November;
# London springs forward on Sunday 28 March.
SPRING_SUNDAY_930 = datetime(2027, 3, 14, 9, 30, tzinfo=NEW_YORK)
SPRING_MONDAY_930 = datetime(2027, 3, 15, 9, 30, tzinfo=NEW_YORK)
FALL_SUNDAY_930 = datetime(2027, 11, 7, 9, 30, tzinfo=NEW_YORK)
LONG_BEFORE = datetime(2027, 2, 1, 12, 0, tzinfo=UTC)


def utc(local: datetime) -> datetime:
    return local.astimezone(UTC)


def test_the_reminder_is_at_the_same_local_time_the_day_before() -> None:
    day_before = Policies()
    # Saturday 9:30 EST for Sunday 9:30 EDT: 23 real hours.
    moment = reminder_moment(day_before, utc(SPRING_SUNDAY_930), NEW_YORK)
    assert moment == datetime(2027, 3, 13, 14, 30, tzinfo=UTC)
    assert utc(SPRING_SUNDAY_930) - moment == timedelta(hours=23)
    # Sunday 9:30 EDT for Monday 9:30 EDT: both after the change, 24 hours.
    monday = reminder_moment(day_before, utc(SPRING_MONDAY_930), NEW_YORK)
    assert monday == datetime(2027, 3, 14, 13, 30, tzinfo=UTC)
    # Saturday 9:30 EDT for Sunday 9:30 EST: 25 hours.
    fall = reminder_moment(day_before, utc(FALL_SUNDAY_930), NEW_YORK)
    assert fall is not None
    assert utc(FALL_SUNDAY_930) - fall == timedelta(hours=25)
    assert fall.astimezone(NEW_YORK).time() == SPRING_SUNDAY_930.time()
    # London: Saturday 9:30 GMT for Sunday 9:30 BST.
    london = datetime(2027, 3, 28, 9, 30, tzinfo=LONDON)
    assert reminder_moment(day_before, utc(london), LONDON) == datetime(
        2027, 3, 27, 9, 30, tzinfo=UTC
    )


def test_other_leads_count_whole_days_on_the_calendar_then_hours() -> None:
    sunday = utc(SPRING_SUNDAY_930)
    two_days = reminder_moment(Policies(reminder_hours_before=48), sunday, NEW_YORK)
    assert two_days == datetime(2027, 3, 12, 14, 30, tzinfo=UTC)  # Friday 9:30 EST
    # A day and 6 hours: Saturday 3:30am EST.
    assert reminder_moment(Policies(reminder_hours_before=30), sunday, NEW_YORK) == datetime(
        2027, 3, 13, 8, 30, tzinfo=UTC
    )
    assert reminder_moment(Policies(reminder_hours_before=3), sunday, NEW_YORK) == sunday - (
        timedelta(hours=3)
    )
    assert reminder_moment(Policies(reminder_hours_before=0), sunday, NEW_YORK) is None
    # 2:30am on the Sunday does not exist in New York: the day before a Monday 2:30am
    # visit reads as 3:30am EDT, 23 hours ahead.
    early_monday = datetime(2027, 3, 15, 2, 30, tzinfo=NEW_YORK)
    gap = reminder_moment(Policies(), utc(early_monday), NEW_YORK)
    assert gap == datetime(2027, 3, 14, 7, 30, tzinfo=UTC)


def test_a_time_given_after_its_reminder_moment_gets_none() -> None:
    policies = Policies()
    starts = utc(SPRING_MONDAY_930)
    moment = starts - timedelta(hours=24)
    told_early = Candidate(1, starts, moment - timedelta(minutes=1), NEW_YORK)
    told_late = Candidate(1, starts, moment + timedelta(minutes=1), NEW_YORK)
    assert not reminders.is_due(policies, told_early, moment - timedelta(seconds=1))
    assert reminders.is_due(policies, told_early, moment)
    assert not reminders.is_due(policies, told_late, moment + timedelta(hours=1))
    # Late (a worker was down) is still sent while the visit is ahead; never after.
    assert reminders.is_due(policies, told_early, starts - timedelta(minutes=5))
    assert not reminders.is_due(policies, told_early, starts)


@pytest.fixture
def reminder_worker(db: Database, settings: Settings) -> Worker:
    """A worker that knows only the reminder handler and the reminder scan."""
    registry = Registry()
    registry.handles(BOOKING_REMINDER)(send_booking_reminder)
    registry.periodic("reminders.queue", every=REMINDER_SCAN_EVERY)(queue_reminders)
    return build_worker(db, settings, registry=registry)


async def deliver(worker: Worker) -> None:
    while await worker.run_once():
        pass


async def scan_and_deliver(db: Database, worker: Worker, at: datetime) -> int:
    """One reminder scan at `at`, then the worker sends what it queued."""
    with clock.frozen_at(at):
        queued = await queue_due_reminders(db)
        await deliver(worker)
    return queued


async def queued_reminders(db: Database, appointment_id: int) -> int:
    async with db.reading() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.kind == BOOKING_REMINDER,
                OutboxMessage.payload["appointment_id"].as_integer() == appointment_id,
            )
        )
    return int(count or 0)


async def test_a_reminder_goes_at_the_local_time_the_day_before_across_spring_forward_once(
    db: Database, settings: Settings, reminder_worker: Worker
) -> None:
    visit = await book_visit(db, starts_at=utc(SPRING_SUNDAY_930), booked_at=LONG_BEFORE)
    moment = datetime(2027, 3, 13, 14, 30, tzinfo=UTC)  # Saturday 9:30am EST
    mail = settings.var_dir / "mail"

    assert await scan_and_deliver(db, reminder_worker, moment - timedelta(seconds=1)) == 0
    assert booking_mail_in(mail) == []
    assert await scan_and_deliver(db, reminder_worker, moment) == 1
    [message] = booking_mail_in(mail)
    assert message["Subject"] == "Reminder: tomorrow at 9:30am"
    assert message["To"] == visit.client_email
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert PUBLIC_NAME in text
    assert "Sunday 14 March 2027, 9:30am" in text
    assert "oncology" not in text.lower()
    # How to stop them: the manage link, which works.
    stop = text.split("To stop reminder emails", 1)[1]
    assert f"{settings.base_url}/manage/" in stop
    stored = await appointment(db, visit.appointment_id)
    assert stored.reminder_sent_at == moment
    assert stored.updated_at == LONG_BEFORE  # not a change of the appointment

    # Later passes, by this worker and another, send nothing more.
    other = build_worker(db, settings, registry=reminder_worker.registry)
    for later in (moment + timedelta(minutes=5), moment + timedelta(hours=12)):
        assert await scan_and_deliver(db, reminder_worker, later) == 0
        assert await scan_and_deliver(db, other, later) == 0
    assert len(booking_mail_in(mail)) == 1
    assert await queued_reminders(db, visit.appointment_id) == 1


async def test_across_fall_back_the_reminder_is_25_hours_ahead(
    db: Database, settings: Settings, reminder_worker: Worker
) -> None:
    await book_visit(db, starts_at=utc(FALL_SUNDAY_930), booked_at=LONG_BEFORE)
    moment = datetime(2027, 11, 6, 13, 30, tzinfo=UTC)  # Saturday 9:30am EDT
    assert utc(FALL_SUNDAY_930) - moment == timedelta(hours=25)
    assert await scan_and_deliver(db, reminder_worker, moment - timedelta(seconds=1)) == 0
    assert await scan_and_deliver(db, reminder_worker, moment) == 1
    [message] = booking_mail_in(settings.var_dir / "mail")
    assert message["Subject"] == "Reminder: tomorrow at 9:30am"


async def test_the_periodic_job_run_by_two_workers_queues_each_reminder_once(
    db: Database, settings: Settings, reminder_worker: Worker
) -> None:
    visit = await book_visit(db, starts_at=utc(SPRING_MONDAY_930), booked_at=LONG_BEFORE)
    other = build_worker(db, settings, registry=reminder_worker.registry)
    # The scan runs every few minutes: the first pass at or after the moment sends it.
    with clock.frozen_at(datetime(2027, 3, 14, 13, 32, tzinfo=UTC)):
        for worker in (reminder_worker, other):
            await worker.ensure_periodic()
        for worker in (reminder_worker, other, reminder_worker):
            await deliver(worker)
    with clock.frozen_at(datetime(2027, 3, 14, 13, 40, tzinfo=UTC)):
        for worker in (other, reminder_worker):
            await deliver(worker)
    [message] = booking_mail_in(settings.var_dir / "mail")
    assert message["Subject"] == "Reminder: tomorrow at 9:30am"
    assert await queued_reminders(db, visit.appointment_id) == 1


async def test_a_scan_that_lost_the_race_queues_nothing(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two scans read the same due visit; the second's UPDATE finds it marked already."""
    visit = await book_visit(db, starts_at=utc(SPRING_MONDAY_930), booked_at=LONG_BEFORE)
    moment = datetime(2027, 3, 14, 13, 30, tzinfo=UTC)
    with clock.frozen_at(moment):
        async with db.reading() as session:
            seen = await reminders.due_reminders(session, moment)
        assert [c.appointment_id for c in seen] == [visit.appointment_id]
        assert await queue_due_reminders(db) == 1

        async def stale(*_: object) -> list[Candidate]:
            return seen

        monkeypatch.setattr(reminders, "due_reminders", stale)
        assert await queue_due_reminders(db) == 0
    assert await queued_reminders(db, visit.appointment_id) == 1


async def test_no_reminder_for_a_cancelled_visit_even_one_already_queued(
    db: Database, settings: Settings, reminder_worker: Worker
) -> None:
    moment = datetime(2027, 3, 14, 13, 30, tzinfo=UTC)
    cancelled = await book_visit(db, starts_at=utc(SPRING_MONDAY_930), booked_at=LONG_BEFORE)
    with clock.frozen_at(moment - timedelta(days=2)):
        await cancel_appointment(db, cancelled.appointment_id, cancelled_by=CancelledBy.CLIENT)
    assert await scan_and_deliver(db, reminder_worker, moment) == 0

    queued_then_cancelled = await book_visit(
        db, starts_at=utc(SPRING_MONDAY_930) + timedelta(hours=2), booked_at=LONG_BEFORE
    )
    later = moment + timedelta(hours=2)
    with clock.frozen_at(later):
        assert await queue_due_reminders(db) == 1
        await cancel_appointment(
            db, queued_then_cancelled.appointment_id, cancelled_by=CancelledBy.CLINIC
        )
        await deliver(reminder_worker)
    assert booking_mail_in(settings.var_dir / "mail") == []


async def test_no_reminder_after_the_client_opts_out_and_one_again_after_opting_in(
    db: Database, settings: Settings, reminder_worker: Worker
) -> None:
    visit = await book_visit(db, starts_at=utc(SPRING_MONDAY_930), booked_at=LONG_BEFORE)
    moment = datetime(2027, 3, 14, 13, 30, tzinfo=UTC)
    mail = settings.var_dir / "mail"
    with clock.frozen_at(LONG_BEFORE):
        assert await set_reminders(db, visit.manage_token, wanted=False)
        assert not await set_reminders(db, visit.manage_token, wanted=False)  # already off
    assert await scan_and_deliver(db, reminder_worker, moment) == 0
    assert booking_mail_in(mail) == []

    with clock.frozen_at(moment + timedelta(minutes=1)):
        assert await set_reminders(db, visit.manage_token, wanted=True)
    assert await scan_and_deliver(db, reminder_worker, moment + timedelta(minutes=5)) == 1
    assert len(booking_mail_in(mail)) == 1

    # Opting out between the scan and the sending stops the queued one too.
    second = await book_visit(
        db, starts_at=utc(SPRING_MONDAY_930) + timedelta(hours=3), booked_at=LONG_BEFORE
    )
    with clock.frozen_at(moment + timedelta(hours=3)):
        assert await queue_due_reminders(db) == 1
        await set_reminders(db, second.manage_token, wanted=False)
        await deliver(reminder_worker)
    assert len(booking_mail_in(mail)) == 1


async def test_a_time_booked_inside_the_lead_gets_no_reminder(
    db: Database, settings: Settings, reminder_worker: Worker
) -> None:
    moment = datetime(2027, 3, 14, 13, 30, tzinfo=UTC)
    # Booked on Sunday afternoon for Monday morning: the confirmation was the reminder.
    await book_visit(db, starts_at=utc(SPRING_MONDAY_930), booked_at=moment + timedelta(hours=5))
    for at in (moment + timedelta(hours=5, minutes=5), moment + timedelta(hours=20)):
        assert await scan_and_deliver(db, reminder_worker, at) == 0
    assert booking_mail_in(settings.var_dir / "mail") == []


async def test_a_move_clears_the_mark_and_the_new_time_gets_its_own_reminder(
    db: Database, settings: Settings, reminder_worker: Worker
) -> None:
    visit = await book_visit(db, starts_at=utc(SPRING_MONDAY_930), booked_at=LONG_BEFORE)
    moment = datetime(2027, 3, 14, 13, 30, tzinfo=UTC)
    mail = settings.var_dir / "mail"
    new_start = utc(SPRING_MONDAY_930) + timedelta(days=1)
    with clock.frozen_at(moment):
        assert await queue_due_reminders(db) == 1
        # Moved before the worker sent it, as reschedule_appointment's UPDATE does.
        async with db.transaction() as session:
            await session.execute(
                update(Appointment)
                .where(Appointment.id == visit.appointment_id)
                .values(
                    starts_at=new_start,
                    ends_at=new_start + timedelta(hours=1),
                    blocked_from=new_start,
                    blocked_until=new_start + timedelta(hours=1, minutes=15),
                    rescheduled_at=moment,
                    reminder_sent_at=None,
                    calendar_sequence=Appointment.calendar_sequence + 1,
                )
            )
        await deliver(reminder_worker)
    assert booking_mail_in(mail) == []  # the queued one was for the old time
    assert await scan_and_deliver(db, reminder_worker, moment + timedelta(hours=23)) == 0
    assert await scan_and_deliver(db, reminder_worker, moment + timedelta(days=1)) == 1
    [message] = booking_mail_in(mail)
    assert message["Subject"] == "Reminder: tomorrow at 9:30am"
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "Tuesday 16 March 2027, 9:30am" in text


async def test_a_late_reminder_says_today(
    db: Database, settings: Settings, reminder_worker: Worker
) -> None:
    await book_visit(db, starts_at=utc(SPRING_MONDAY_930), booked_at=LONG_BEFORE)
    # The worker was down from Sunday morning until Monday 7am.
    assert (
        await scan_and_deliver(db, reminder_worker, utc(SPRING_MONDAY_930) - timedelta(hours=2))
        == 1
    )
    [message] = booking_mail_in(settings.var_dir / "mail")
    assert message["Subject"] == "Reminder: today at 9:30am"


async def test_the_lead_is_a_policy_and_zero_sends_none(
    db: Database, settings: Settings, reminder_worker: Worker
) -> None:
    await book_visit(db, starts_at=utc(SPRING_MONDAY_930), booked_at=LONG_BEFORE)
    await set_policy(db, "reminder_hours_before", 0)
    assert await scan_and_deliver(db, reminder_worker, datetime(2027, 3, 14, 14, tzinfo=UTC)) == 0
    await set_policy(db, "reminder_hours_before", 48)
    two_days = datetime(2027, 3, 13, 14, 30, tzinfo=UTC)  # Saturday 9:30am EST
    assert await scan_and_deliver(db, reminder_worker, two_days - timedelta(seconds=1)) == 0
    assert await scan_and_deliver(db, reminder_worker, two_days) == 1
    [message] = booking_mail_in(settings.var_dir / "mail")
    assert message["Subject"] == "Reminder: Mon 15 Mar at 9:30am"


# The opt-out through the manage link


async def _visit_for_pages(db: Database) -> Visit:
    return await book_visit(
        db,
        starts_at=datetime(2026, 12, 1, 15, 0, tzinfo=UTC),
        booked_at=datetime(2026, 11, 20, tzinfo=UTC),
    )


@pytest.fixture
def frozen_before_the_visit() -> Iterator[None]:
    with clock.frozen_at(datetime(2026, 11, 27, 13, 0, tzinfo=UTC)):
        yield


@pytest.mark.usefixtures("frozen_before_the_visit")
async def test_the_manage_page_turns_reminders_off_and_on(
    db: Database, http: httpx2.AsyncClient
) -> None:
    visit = await _visit_for_pages(db)
    page = await get_page(http, f"/manage/{visit.manage_token}")
    assert "We email you a reminder the day before, at the same time" in text_of(page)
    assert 'id="reminders"' in page

    back = see_other(await submit(http, page, "/reminders"))
    assert back == f"/manage/{visit.manage_token}#reminders"
    page = await get_page(http, back.split("#")[0])
    words = text_of(page)
    assert "Reminder emails are off." in words
    assert "You have turned reminder emails off." in words
    async with db.reading() as session:
        assert await session.get(ReminderOptOut, visit.client_id) is not None

    see_other(await submit(http, page, "/reminders"))
    page = await get_page(http, f"/manage/{visit.manage_token}")
    assert "Reminder emails are on." in text_of(page)
    assert "Stop reminders" in text_of(page)
    async with db.reading() as session:
        assert await session.get(ReminderOptOut, visit.client_id) is None


@pytest.mark.usefixtures("frozen_before_the_visit")
async def test_a_crafted_reminder_choice_changes_nothing_and_says_so(
    db: Database, http: httpx2.AsyncClient
) -> None:
    visit = await _visit_for_pages(db)
    page = await get_page(http, f"/manage/{visit.manage_token}")
    back = see_other(await submit(http, page, "/reminders", reminders="sometimes"))
    page = await get_page(http, back.split("#")[0])
    assert "Choose whether to get reminder emails." in text_of(page)
    async with db.reading() as session:
        assert await session.get(ReminderOptOut, visit.client_id) is None
    # Without its CSRF token the post is refused.
    refused = await http.post(f"/manage/{visit.manage_token}/reminders", data={"reminders": "off"})
    assert refused.status_code == 403


@pytest.mark.usefixtures("frozen_before_the_visit")
async def test_a_cancelled_visit_shows_no_reminder_form(
    db: Database, http: httpx2.AsyncClient
) -> None:
    visit = await _visit_for_pages(db)
    await cancel_appointment(db, visit.appointment_id, cancelled_by=CancelledBy.CLIENT)
    page = await get_page(http, f"/manage/{visit.manage_token}")
    assert "Stop reminders" not in text_of(page)
    assert (await appointment(db, visit.appointment_id)).status is AppointmentStatus.CANCELLED
