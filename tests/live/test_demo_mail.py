"""Issue 11's end to end: the demo clinic served with CLINIC_SMTP_URL pointing at a real
SMTP server on 127.0.0.1 delivers a booking's confirmation, with its calendar file, within
seconds of the booking (the demo sends confirmations at once; a clinic's own default waits
its grace period)."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import httpx2
import icalendar
import pytest

from clinic.clock import today_in
from tests.live.conftest import TIMEZONE, LiveServer
from tests.smtp_sink import Inbox, running_inbox

SWEDISH_60 = "Swedish massage, 60 min"
DELIVERY_SECONDS = 15.0
CLIENT = {"name": "Rosa Mendel", "email": "rosa.mendel@example.com", "phone": "(215) 555-0199"}


@pytest.fixture(scope="module")
def inbox() -> Iterator[tuple[Inbox, int]]:
    with running_inbox() as running:
        yield running


@pytest.fixture(scope="module")
def live_env(inbox: tuple[Inbox, int]) -> dict[str, str]:
    return {"CLINIC_SMTP_URL": f"smtp://127.0.0.1:{inbox[1]}?timeout=5"}


@pytest.fixture
async def http(live_server: LiveServer) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=live_server.base_url, timeout=10.0) as client:
        yield client


async def _book(http: httpx2.AsyncClient) -> dict[str, object]:
    services = (await http.get("/api/v1/services")).json()["services"]
    service = next(s["id"] for s in services if s["name"] == SWEDISH_60)
    first = today_in(ZoneInfo(TIMEZONE)) + timedelta(days=3)
    response = await http.get(
        "/api/v1/availability",
        params={
            "service_id": service,
            "from": first.isoformat(),
            "to": (first + timedelta(days=7)).isoformat(),
        },
    )
    slot = response.json()["slots"][0]
    booked = await http.post(
        "/api/v1/bookings",
        json={
            "service_id": service,
            "start": slot["start"],
            "therapist_id": slot["therapist_id"],
            "client": CLIENT,
        },
    )
    assert booked.status_code == 201, booked.text
    body: dict[str, object] = booked.json()
    return body


async def _delivered_to(inbox: Inbox, address: str) -> EmailMessage:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DELIVERY_SECONDS
    while loop.time() < deadline:
        for envelope in inbox.received:
            if address in envelope.rcpt_tos:
                assert isinstance(envelope.content, bytes)
                message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                assert isinstance(message, EmailMessage)
                return message
        await asyncio.sleep(0.2)
    raise AssertionError(f"nothing reached {address} within {DELIVERY_SECONDS:.0f} s")


async def test_a_demo_booking_delivers_its_confirmation_with_a_calendar_file(
    live_server: LiveServer, http: httpx2.AsyncClient, inbox: tuple[Inbox, int]
) -> None:
    booked = await _book(http)

    message = await _delivered_to(inbox[0], CLIENT["email"])

    start = datetime.fromisoformat(str(booked["start"]))
    assert message["Subject"].startswith("Booked: ")
    [attachment] = [
        part for part in message.iter_attachments() if part.get_content_type() == "text/calendar"
    ]
    calendar = icalendar.Calendar.from_ical(attachment.get_content())
    [event] = calendar.walk("VEVENT")
    assert event.decoded("DTSTART") == start
    assert str(event["DTSTART"].params["TZID"]) == TIMEZONE
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == [TIMEZONE]
    assert "massage" in str(event["SUMMARY"]).lower()
    assert "Traceback" not in live_server.log_text()
