"""Real SMTP (clinic/notifications/smtp.py) against an aiosmtpd server on 127.0.0.1: the
message arrives whole, its calendar attachment parses; a booking confirmation sent by the
worker after its grace period carries an .ics at the right instant in the right zone; a
refusing or silent server is a `MailNotSent` the outbox retries, logged without the
recipient or the subject; and CLINIC_SMTP_URL is read strictly."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from clinic.booking.notices import queue_confirmation
from clinic.clock import frozen_at
from clinic.db import Database
from clinic.notifications.mail import build_message, mailer_from_settings
from clinic.notifications.smtp import MailNotSent, SmtpMailer
from clinic.settings import (
    DEFAULT_MAIL_FROM,
    Settings,
    SettingsError,
    SmtpSecurity,
    SmtpServer,
    smtp_server,
)
from clinic.worker import build_worker
from tests.outbox.visits import PUBLIC_NAME, book_visit
from tests.servers import free_port
from tests.smtp_sink import Inbox, running_inbox

TO = "Jo Client <jo@example.com>"
SUBJECT = "Booked: Tue 1 Dec, 10am"
CALENDAR = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Willow & Oak//clinic//EN\r
BEGIN:VEVENT\r
UID:appointment-12@willowoak.test\r
DTSTAMP:20261127T130000Z\r
DTSTART:20261201T150000Z\r
DTEND:20261201T160000Z\r
SUMMARY:Massage\\, 60 min\r
END:VEVENT\r
END:VCALENDAR\r
"""


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    with running_inbox() as running:
        yield running


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """Accepts connections and never says a word (no greeting)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


def _plain(port: int, timeout: float = 5.0) -> SmtpServer:
    return SmtpServer("127.0.0.1", port, SmtpSecurity.OPPORTUNISTIC, timeout_seconds=timeout)


def _message() -> EmailMessage:
    return build_message(
        to=TO,
        subject=SUBJECT,
        text="Your visit is booked.\\n",
        html="<p>Your visit is booked.</p>",
        mail_from=DEFAULT_MAIL_FROM,
        message_id="<outbox-12.1764601200@willowoak.test>",
        attachments=[("appointment.ics", "text/calendar", CALENDAR)],
    )


async def test_a_message_arrives_whole_with_its_calendar_attachment(
    inbox: tuple[Inbox, int],
) -> None:
    handler, port = inbox
    await SmtpMailer(_plain(port)).send(_message())
    [envelope] = handler.received
    assert envelope.rcpt_tos == ["jo@example.com"]
    assert isinstance(envelope.content, bytes)
    received = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(received, EmailMessage)
    assert received["Subject"] == SUBJECT
    assert received["Message-ID"] == "<outbox-12.1764601200@willowoak.test>"
    [attachment] = list(received.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_filename() == "appointment.ics"
    [event] = icalendar.Calendar.from_ical(attachment.get_content()).walk("VEVENT")
    assert event.decoded("DTSTART") == datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    assert str(event.get("SUMMARY")) == "Massage, 60 min"


async def test_a_refusal_is_mail_not_sent_and_logs_no_address_or_subject(
    inbox: tuple[Inbox, int], caplog: pytest.LogCaptureFixture
) -> None:
    handler, port = inbox
    handler.refusal = "451 4.3.0 Mailbox jo@example.com busy, try again later"
    with caplog.at_level(logging.INFO, logger="clinic.mail"), pytest.raises(MailNotSent):
        await SmtpMailer(_plain(port)).send(_message())
    assert handler.received == []
    logged = caplog.text
    assert "451" in logged
    assert "jo@example.com" not in logged
    assert "Booked" not in logged
    # The server is back: the outbox's next attempt delivers.
    handler.refusal = None
    await SmtpMailer(_plain(port)).send(_message())
    assert len(handler.received) == 1


async def test_a_server_that_never_answers_times_out_as_mail_not_sent() -> None:
    async with silent_server() as port:
        started = asyncio.get_running_loop().time()
        with pytest.raises(MailNotSent, match="Timeout"):
            await SmtpMailer(_plain(port, timeout=1.0)).send(_message())
        assert asyncio.get_running_loop().time() - started < 5


async def test_nobody_listening_is_mail_not_sent() -> None:
    with pytest.raises(MailNotSent):
        await SmtpMailer(_plain(free_port())).send(_message())


def test_the_smtp_url_is_read_strictly(tmp_path: Path) -> None:
    assert smtp_server("") is None
    assert smtp_server("smtp://relay.internal") == SmtpServer(
        "relay.internal", 25, SmtpSecurity.OPPORTUNISTIC
    )
    tls = smtp_server("smtps://desk%40clinic.example:p%40ss%3Aword@mail.example.com?timeout=10")
    assert tls == SmtpServer(
        "mail.example.com",
        465,
        SmtpSecurity.TLS,
        username="desk@clinic.example",
        password="p@ss:word",
        timeout_seconds=10.0,
    )
    assert "p@ss" not in repr(tls)
    starttls = smtp_server("smtp+starttls://mail.example.com:2587?verify=0")
    assert starttls is not None
    assert (starttls.port, starttls.security, starttls.verify_certificate) == (
        2587,
        SmtpSecurity.STARTTLS,
        False,
    )
    for bad in (
        "http://mail.example.com",
        "smtp://",
        "smtp://mail.example.com:port",
        "smtp://mail.example.com?timeout=0",
        "smtp://mail.example.com?verify=maybe",
        "smtp://mail.example.com?tls=1",
    ):
        with pytest.raises(SettingsError, match="CLINIC_SMTP_URL"):
            smtp_server(bad)
    settings = Settings.from_env(
        {"CLINIC_VAR_DIR": str(tmp_path), "CLINIC_SMTP_URL": "smtp://127.0.0.1:2525"}
    )
    mailer = mailer_from_settings(settings)
    assert isinstance(mailer, SmtpMailer)
    assert mailer.server.port == 2525


async def test_a_booking_confirmation_arrives_by_smtp_with_a_calendar_file_at_the_right_instant(
    inbox: tuple[Inbox, int], db: Database, settings: Settings
) -> None:
    handler, port = inbox
    zone = ZoneInfo("America/New_York")
    # Monday after the spring change, 9:30am EDT: 13:30 UTC (14:30 before the change).
    starts = datetime(2027, 3, 15, 9, 30, tzinfo=zone)
    booked_at = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)
    visit = await book_visit(db, starts_at=starts.astimezone(UTC), booked_at=booked_at)
    with frozen_at(booked_at):
        async with db.transaction() as session:
            await queue_confirmation(session, visit.appointment_id)
    worker = build_worker(db, replace(settings, smtp=_plain(port)))
    with frozen_at(booked_at + timedelta(seconds=119)):
        assert await worker.run_once() == 0  # the grace period
    with frozen_at(booked_at + timedelta(minutes=2)):
        assert await worker.run_once() == 1

    [envelope] = handler.received
    assert envelope.rcpt_tos == [visit.client_email]
    assert isinstance(envelope.content, bytes)
    received = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(received, EmailMessage)
    assert received["Subject"] == "Booked: Mon 15 Mar, 9:30am"
    [attachment] = list(received.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    # Mail programs read the method from the part's header, not the file.
    assert attachment.get_param("method") == "PUBLISH"
    assert attachment.get_filename() == "appointment.ics"
    calendar = icalendar.Calendar.from_ical(attachment.get_content())
    assert str(calendar["METHOD"]) == "PUBLISH"
    [event] = calendar.walk("VEVENT")
    assert event.decoded("DTSTART") == datetime(2027, 3, 15, 13, 30, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2027, 3, 15, 14, 30, tzinfo=UTC)
    assert event["DTSTART"].params["TZID"] == "America/New_York"
    [timezone] = calendar.walk("VTIMEZONE")
    assert str(timezone["TZID"]) == "America/New_York"
    assert str(event["UID"]) == f"booking-{visit.appointment_id}@willowoak.test"
    assert event.decoded("SEQUENCE") == 0
    summary = str(event["SUMMARY"])
    assert summary == f"{PUBLIC_NAME} at Willow & Oak Massage Therapy"
    whole = attachment.get_content().lower()
    for word in ("oncology", "cancer", "chemo", "lymph", "clearance", "tumo"):
        assert word not in whole, word
    assert "12 elm street" in str(event["LOCATION"]).lower()
