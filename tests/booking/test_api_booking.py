"""Booking through the API: holds, bookings, the manage token, idempotency, and bad input
answered with a problem body on every operation."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx2
import pytest
from sqlalchemy import func, select

from clinic import clock
from clinic.audit import AuditEntry
from clinic.booking.bookings import reschedule_appointment
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.clients.models import Client
from clinic.db import Database
from clinic.outbox.models import OutboxMessage
from tests.api.test_read_api import _conforms
from tests.booking.conftest import CLIENT, NOW, free_slots, service_id

pytestmark = pytest.mark.usefixtures("frozen")


async def test_hold_then_book_then_manage(seeded: Database, http: httpx2.AsyncClient) -> None:
    service = await service_id(seeded)
    slot = (await free_slots(http, service))[0]
    hold = await http.post(
        "/api/v1/holds",
        json={"service_id": service, "start": slot["start"], "therapist_id": slot["therapist_id"]},
    )
    assert hold.status_code == 201, hold.text
    held = hold.json()
    _conforms(held, "HoldOut")
    assert held["start"] == slot["start"]
    assert datetime.fromisoformat(held["expires_at"]) == NOW + timedelta(minutes=10)
    # The held time is no longer offered.
    again = await free_slots(http, service, therapist_id=slot["therapist_id"])
    assert slot["start"] not in [s["start"] for s in again]

    booking = await http.post(
        "/api/v1/bookings", json={"hold_token": held["hold_token"], "client": CLIENT}
    )
    assert booking.status_code == 201, booking.text
    booked = booking.json()
    _conforms(booked, "BookedOut")
    assert booked["status"] == "confirmed"
    token = booked["manage_token"]
    assert len(token) >= 22  # at least 128 bits, URL-safe

    shown = await http.get(f"/api/v1/bookings/{token}")
    assert shown.status_code == 200
    body = shown.json()
    _conforms(body, "BookingOut")
    assert body["start"] == slot["start"]
    assert body["timezone"] == "America/New_York"
    assert body["cancellation"]["fee_if_cancelled_now"]["amount"] == 0

    async with seeded.reading() as session:
        appointment = await session.get(Appointment, booked["id"])
        assert appointment is not None
        assert appointment.hold_token_hash is None
        actions = list(
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.subject_id == str(booked["id"]))
            )
        )
        queued = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == "email.booking_confirmed")
        )
    assert actions == ["appointment.held", "appointment.booked"]
    assert queued == 1


async def test_one_step_booking_with_anyone_suitable(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service = await service_id(seeded)
    slot = (await free_slots(http, service))[0]
    response = await http.post(
        "/api/v1/bookings", json={"service_id": service, "start": slot["start"], "client": CLIENT}
    )
    assert response.status_code == 201, response.text
    assert response.json()["start"] == slot["start"]


async def test_a_taken_time_is_409_with_fresh_alternatives(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service = await service_id(seeded)
    slot = (await free_slots(http, service))[0]
    request = {
        "service_id": service,
        "start": slot["start"],
        "therapist_id": slot["therapist_id"],
        "client": CLIENT,
    }
    assert (await http.post("/api/v1/bookings", json=request)).status_code == 201
    lost = await http.post(
        "/api/v1/bookings", json={**request, "client": {**CLIENT, "email": "x@example.com"}}
    )
    assert lost.status_code == 409
    assert lost.headers["content-type"] == "application/problem+json"
    problem = lost.json()
    _conforms(problem, "Problem")
    # Asked after the first booking committed, the time is simply no longer offered.
    assert problem["detail"] == "That time is not available. Choose another."
    assert problem["alternatives"]
    assert slot["start"] not in [
        a["start"] for a in problem["alternatives"] if a["therapist_id"] == slot["therapist_id"]
    ]


async def test_booking_with_a_known_email_never_changes_that_client(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    async with seeded.reading() as session:
        existing = await session.scalar(select(Client).where(Client.email.is_not(None)).limit(1))
    assert existing is not None
    service = await service_id(seeded)
    slot = (await free_slots(http, service))[0]
    response = await http.post(
        "/api/v1/bookings",
        json={
            "service_id": service,
            "start": slot["start"],
            "client": {
                "name": "Someone Else",
                "email": existing.email.upper(),
                "phone": "555 0100 99",
            },
        },
    )
    assert response.status_code == 201
    async with seeded.reading() as session:
        after = await session.get(Client, existing.id, populate_existing=True)
        booked = await session.get(Appointment, response.json()["id"])
    assert after is not None
    assert booked is not None
    assert (after.name, after.phone) == (existing.name, existing.phone)
    assert booked.client_id == existing.id
    shown = (await http.get(f"/api/v1/bookings/{response.json()['manage_token']}")).json()
    # Someone who only knows the email learns nothing from the existing record.
    assert existing.phone not in str(shown)
    assert existing.name not in str(shown)


async def test_reschedule_moves_atomically_and_cancel_states_the_fee(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service = await service_id(seeded)
    slots = await free_slots(http, service)
    first = slots[0]
    booked = (
        await http.post(
            "/api/v1/bookings",
            json={
                "service_id": service,
                "start": first["start"],
                "therapist_id": first["therapist_id"],
                "client": CLIENT,
            },
        )
    ).json()
    token = booked["manage_token"]
    # Fifteen minutes later overlaps the booking itself: the move must still work.
    nudged = next(
        s
        for s in slots
        if s["therapist_id"] == first["therapist_id"] and s["start"] > first["start"]
    )
    nudge = await http.post(f"/api/v1/bookings/{token}/reschedule", json={"start": nudged["start"]})
    assert nudge.status_code == 200, nudge.text
    clear_of_it = datetime.fromisoformat(first["start"]) + timedelta(hours=2)
    later = next(
        s
        for s in slots
        if s["therapist_id"] == first["therapist_id"]
        and datetime.fromisoformat(s["start"]) >= clear_of_it
    )
    moved = await http.post(f"/api/v1/bookings/{token}/reschedule", json={"start": later["start"]})
    assert moved.status_code == 200, moved.text
    assert moved.json()["start"] == later["start"]
    # The old time is free again; the new one is not offered.
    starts = [
        s["start"] for s in await free_slots(http, service, therapist_id=first["therapist_id"])
    ]
    assert first["start"] in starts
    assert later["start"] not in starts

    cancelled = await http.post(f"/api/v1/bookings/{token}/cancel", json={"reason": "Travelling"})
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["fee"]["amount"] == 0
    again = await http.post(f"/api/v1/bookings/{token}/cancel", json={})
    assert again.status_code == 409


async def test_a_late_cancellation_costs_the_fee_unless_medical(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service = await service_id(seeded)
    tokens, starts = [], []
    for n in range(2):
        slot = (await free_slots(http, service))[0]
        client = {**CLIENT, "email": f"late{n}@example.com"}
        booked = await http.post(
            "/api/v1/bookings",
            json={
                "service_id": service,
                "start": slot["start"],
                "therapist_id": slot["therapist_id"],
                "client": client,
            },
        )
        assert booked.status_code == 201, booked.text
        tokens.append(booked.json()["manage_token"])
        starts.append(datetime.fromisoformat(slot["start"]))
    free = (await http.get(f"/api/v1/bookings/{tokens[0]}")).json()
    assert free["cancellation"]["fee_if_cancelled_now"]["amount"] == 0
    # Twenty hours before: inside the 24-hour window.
    with clock.frozen_at(min(starts) - timedelta(hours=20)):
        shown = (await http.get(f"/api/v1/bookings/{tokens[0]}")).json()
        fee = shown["cancellation"]["fee_if_cancelled_now"]["amount"]
        assert fee == shown["price"]["amount"] // 2
        late = await http.post(f"/api/v1/bookings/{tokens[0]}/cancel", json={"reason": "busy"})
        assert late.json()["fee"]["amount"] == fee
        excused = await http.post(
            f"/api/v1/bookings/{tokens[1]}/cancel",
            json={"reason": "fever", "medically_excused": True},
        )
        assert excused.json()["fee"]["amount"] == 0


async def test_idempotency_key_replays_and_refuses_a_different_body(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service = await service_id(seeded)
    slot = (await free_slots(http, service))[0]
    body = {
        "service_id": service,
        "start": slot["start"],
        "therapist_id": slot["therapist_id"],
        "client": CLIENT,
    }
    headers = {"Idempotency-Key": "booking-7f3a"}
    answers = [await http.post("/api/v1/bookings", json=body, headers=headers) for _ in range(10)]
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["manage_token"] for a in answers}) == 1
    assert [a.headers.get("idempotent-replayed") for a in answers[1:]] == ["true"] * 9
    async with seeded.reading() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Appointment)
            .where(Appointment.starts_at == datetime.fromisoformat(slot["start"]))
        )
    assert count == 1
    other = await http.post(
        "/api/v1/bookings", json={**body, "client": {**CLIENT, "name": "Other"}}, headers=headers
    )
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()["errors"]


async def test_an_expired_hold_frees_its_slot(seeded: Database, http: httpx2.AsyncClient) -> None:
    service = await service_id(seeded)
    slot = (await free_slots(http, service))[0]
    request = {"service_id": service, "start": slot["start"], "therapist_id": slot["therapist_id"]}
    assert (await http.post("/api/v1/holds", json=request)).status_code == 201
    assert (await http.post("/api/v1/holds", json=request)).status_code == 409
    with clock.frozen_at(NOW + timedelta(minutes=11)):
        # Offered again before any sweep, and taken by releasing the stale hold.
        starts = [
            s["start"] for s in await free_slots(http, service, therapist_id=slot["therapist_id"])
        ]
        assert slot["start"] in starts
        second = await http.post("/api/v1/holds", json=request)
        assert second.status_code == 201, second.text
    async with seeded.reading() as session:
        statuses = sorted(
            s.value
            for s in await session.scalars(
                select(Appointment.status).where(
                    Appointment.starts_at == datetime.fromisoformat(slot["start"]),
                    Appointment.therapist_id == slot["therapist_id"],
                )
            )
        )
    assert statuses == [AppointmentStatus.EXPIRED.value, AppointmentStatus.HELD.value]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/holds", {}, "service_id"),
        ("/api/v1/holds", {"service_id": 1, "start": "2026-12-01T09:00:00"}, "start"),
        (
            "/api/v1/holds",
            {"service_id": "one", "start": "2026-12-01T09:00:00-05:00"},
            "service_id",
        ),
        ("/api/v1/holds", {"service_id": 1, "start": "tomorrow"}, "start"),
        (
            "/api/v1/holds",
            {"service_id": 99999, "start": "2026-12-01T09:00:00-05:00"},
            "service_id",
        ),
        (
            "/api/v1/holds",
            {"service_id": 1, "start": "2026-12-01T09:00:00-05:00", "extra": 1},
            "extra",
        ),
        (
            "/api/v1/bookings",
            {"client": {"name": "A", "email": "a@example.com", "phone": "2155550100"}},
            "service_id",
        ),
        (
            "/api/v1/bookings",
            {
                "hold_token": "x" * 20,
                "service_id": 1,
                "client": {"name": "A", "email": "a@example.com", "phone": "2155550100"},
            },
            "hold_token",
        ),
        (
            "/api/v1/bookings",
            {
                "service_id": 1,
                "start": "2026-12-01T09:00:00-05:00",
                "client": {"name": "A", "email": "not-an-email", "phone": "2155550100"},
            },
            "email",
        ),
        (
            "/api/v1/bookings",
            {
                "service_id": 1,
                "start": "2026-12-01T09:00:00-05:00",
                "client": {"name": "", "email": "a@example.com", "phone": "2155550100"},
            },
            "client.name",
        ),
        ("/api/v1/bookings", {"service_id": 1, "start": "2026-12-01T09:00:00-05:00"}, "client"),
        ("/api/v1/bookings", [], "body"),
    ],
)
async def test_bad_input_is_a_422_problem_naming_the_field(
    seeded: Database, http: httpx2.AsyncClient, path: str, body: object, field: str
) -> None:
    response = await http.post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert any(key == field or key.endswith(field) or key.startswith(field) for key in errors), (
        errors
    )


async def test_non_json_bodies_are_refused_clearly(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    form = await http.post("/api/v1/holds", data={"service_id": "1"})
    assert form.status_code == 415
    broken = await http.post(
        "/api/v1/holds", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422
    huge = await http.post(
        "/api/v1/holds", content=b" " * (70 * 1024), headers={"content-type": "application/json"}
    )
    assert huge.status_code == 413


async def test_an_unknown_manage_token_is_404(seeded: Database, http: httpx2.AsyncClient) -> None:
    for path in ("/api/v1/bookings/not-a-token",):
        assert (await http.get(path)).status_code == 404
    response = await http.post("/api/v1/bookings/not-a-token/cancel", json={})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_revoked_manage_link_stops_working(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    from clinic.booking.bookings import revoke_manage_links

    service = await service_id(seeded)
    slot = (await free_slots(http, service))[0]
    booked = (
        await http.post(
            "/api/v1/bookings",
            json={"service_id": service, "start": slot["start"], "client": CLIENT},
        )
    ).json()
    assert (await http.get(f"/api/v1/bookings/{booked['manage_token']}")).status_code == 200
    assert await revoke_manage_links(seeded, booked["id"]) == 1
    assert (await http.get(f"/api/v1/bookings/{booked['manage_token']}")).status_code == 404


async def test_a_key_still_in_flight_is_409(seeded: Database, http: httpx2.AsyncClient) -> None:
    from clinic.api.idempotency import request_hash
    from clinic.booking.models import IdempotencyRecord

    body = {"service_id": 1, "start": "2026-12-01T09:00:00-05:00"}
    async with seeded.transaction() as session:
        session.add(
            IdempotencyRecord(
                scope="POST /api/v1/holds",
                key="running-key",
                request_hash=request_hash(body),
                created_at=NOW,
                expires_at=NOW + timedelta(hours=24),
            )
        )
    response = await http.post(
        "/api/v1/holds", json=body, headers={"Idempotency-Key": "running-key"}
    )
    assert response.status_code == 409
    assert "still being answered" in response.json()["detail"]


async def test_a_clinic_cancellation_costs_nothing_and_asks_for_rebooking(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    from clinic.booking.bookings import cancel_appointment
    from clinic.booking.statuses import CancelledBy

    service = await service_id(seeded)
    slot = (await free_slots(http, service))[0]
    booked = (
        await http.post(
            "/api/v1/bookings",
            json={"service_id": service, "start": slot["start"], "client": CLIENT},
        )
    ).json()
    with clock.frozen_at(datetime.fromisoformat(slot["start"]) - timedelta(hours=2)):
        view = await cancel_appointment(
            seeded, booked["id"], cancelled_by=CancelledBy.CLINIC, reason="Therapist unwell"
        )
    assert view.status is AppointmentStatus.CANCELLED
    assert view.fee_minor == 0
    async with seeded.reading() as session:
        appointment = await session.get(Appointment, booked["id"])
    assert appointment is not None
    assert appointment.needs_rebooking
    assert appointment.cancelled_by is CancelledBy.CLINIC


async def test_a_therapist_named_in_a_move_stays_chosen_for_later_moves(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    """Booked with "anyone suitable", then moved to a named therapist: later moves keep
    that therapist rather than taking anyone again."""
    service = await service_id(seeded)
    slots = await free_slots(http, service)
    booked = (
        await http.post(
            "/api/v1/bookings",
            json={"service_id": service, "start": slots[0]["start"], "client": CLIENT},
        )
    ).json()
    async with seeded.reading() as session:
        appointment = await session.get(Appointment, booked["id"])
    assert appointment is not None
    assert not appointment.therapist_chosen

    other = next(s for s in slots if s["therapist_id"] != booked["therapist_id"])
    await reschedule_appointment(
        seeded,
        booked["id"],
        start=datetime.fromisoformat(other["start"]),
        therapist_id=other["therapist_id"],
    )

    async with seeded.reading() as session:
        moved = await session.get(Appointment, booked["id"], populate_existing=True)
    assert moved is not None
    assert moved.therapist_id == other["therapist_id"]
    assert moved.therapist_chosen
