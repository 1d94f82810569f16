"""Cancelling a visit from the desk (/desk/appointments/{id}/cancel): what happens to the
money is shown first for every choice (in time, late, the clinic cancels, the medical
waiver); a reason is required; the cancellation is audited, emailed and settled; a visit
already cancelled or finished gets a clear 409, never a 500."""

from __future__ import annotations

from datetime import timedelta

import httpx2
import pytest
from sqlalchemy import select

from clinic.booking.statuses import AppointmentStatus, CancelledBy
from clinic.db import Database
from clinic.desk.cancels import money_words
from clinic.outbox.models import OutboxMessage
from clinic.payments import SETTLE_PAYMENTS
from clinic.payments.desk import DeskPayment, record_desk_payment
from clinic.payments.states import PaymentMethod
from tests.booking.conftest import NOW
from tests.desk.support import (
    Visit,
    appointment,
    audit_entries,
    make_visit,
    post_form,
    sign_in_desk,
    text_of,
)

# The demo's 60-minute Swedish massage: $95.00, so the late fee (50%) is $47.50.
LATE = timedelta(hours=5)
IN_TIME = timedelta(days=4)


def cancel_url(visit: Visit) -> str:
    return f"{visit.panel}/cancel"


async def cancel(http: httpx2.AsyncClient, visit: Visit, **fields: str) -> httpx2.Response:
    return await post_form(http, cancel_url(visit), cancel_url(visit), fields)


async def queued(db: Database, kind: str, appointment_id: int) -> int:
    async with db.reading() as session:
        messages = await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind))
        return sum(1 for m in messages if m.payload == {"appointment_id": appointment_id})


async def pay(db: Database, visit: Visit, amount_minor: int, staff_user_id: int) -> None:
    await record_desk_payment(
        db,
        visit.appointment_id,
        DeskPayment(amount_minor, 0, PaymentMethod.CASH, ""),
        staff_user_id=staff_user_id,
    )


@pytest.mark.usefixtures("frozen")
async def test_the_page_shows_what_each_choice_does_to_the_money_before_the_form(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    visit = await make_visit(seeded, starts_at=NOW + IN_TIME)
    await sign_in_desk(http, seeded)
    panel = await http.get(visit.panel)
    assert cancel_url(visit) in panel.text

    page = await http.get(cancel_url(visit))
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    words = text_of(page.text)
    assert "Cancel Sam Lee's visit?" in words
    money = words.index("What happens to the money")
    assert money < words.index("Who is cancelling?")
    assert "Price $95.00. Paid towards it so far: $0.00." in words
    assert "Free to cancel until 8am on Monday 30 November 2026." in words
    assert (
        "The client asked to cancel No fee: cancelled in time Cancelling at least 24 hours "
        "ahead is free, and it is before 8am on Monday 30 November 2026."
    ) in words
    assert "The clinic cancels No fee: the clinic cancels" in words
    # In time, the waiver changes nothing, so it is not offered.
    assert "Waive the fee" not in words
    assert 'name="late_shown" value="no"' in page.text


@pytest.mark.usefixtures("frozen")
async def test_a_late_cancellation_by_the_client_charges_the_fee(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    visit = await make_visit(seeded, starts_at=NOW + LATE)
    desk = await sign_in_desk(http, seeded)
    page = await http.get(cancel_url(visit))
    words = text_of(page.text)
    assert "The client asked to cancel Fee $47.50: cancelled late" in words
    assert "free cancellation ended at 1pm on Thursday 26 November 2026" in words
    assert "Nothing has been paid, so the fee is due from the client." in words
    assert "The client asked, for a medical reason No fee: waived for a medical reason" in words
    assert "Waive the fee: medical reason" in words

    done = await cancel(http, visit, cancelled_by="client", reason="Called: cannot make it")
    assert done.status_code == 303
    assert done.headers["location"] == "/desk/2026-11-27"
    cancelled = await appointment(seeded, visit.appointment_id)
    assert cancelled.status is AppointmentStatus.CANCELLED
    assert cancelled.cancelled_by is CancelledBy.CLIENT
    assert cancelled.fee_minor == 4750
    assert cancelled.cancellation_reason == "Called: cannot make it"
    assert not cancelled.medically_excused
    [entry] = await audit_entries(seeded, "appointment.cancelled", visit.appointment_id)
    assert entry.actor_user_id == desk.id
    assert entry.details["late"] is True
    assert await queued(seeded, "email.booking_cancelled", visit.appointment_id) == 1
    assert await queued(seeded, SETTLE_PAYMENTS, visit.appointment_id) == 1
    day = await http.get(done.headers["location"])
    assert (
        "Cancelled: Sam Lee, Fri 27 Nov at 1pm. Fee $47.50: cancelled late. "
        "Nothing has been paid, so the fee is due from the client."
    ) in text_of(day.text)


@pytest.mark.usefixtures("frozen")
async def test_the_clinic_cancelling_late_costs_the_client_nothing(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    visit = await make_visit(seeded, starts_at=NOW + LATE)
    desk = await sign_in_desk(http, seeded)
    await pay(seeded, visit, 9500, desk.id)
    page = await http.get(cancel_url(visit))
    assert "The clinic cancels No fee: the clinic cancels" in text_of(page.text)
    assert "The $95.00 paid is refunded in full." in text_of(page.text)
    # Asking for the waiver as well changes nothing: the clinic's choice decides.
    done = await cancel(
        http, visit, cancelled_by="clinic", medically_excused="yes", reason="Therapist unwell"
    )
    assert done.status_code == 303
    cancelled = await appointment(seeded, visit.appointment_id)
    assert (cancelled.status, cancelled.cancelled_by) == (
        AppointmentStatus.CANCELLED,
        CancelledBy.CLINIC,
    )
    assert cancelled.fee_minor == 0
    assert cancelled.needs_rebooking
    assert not cancelled.medically_excused
    day = await http.get(done.headers["location"])
    assert "No fee: the clinic cancels. The $95.00 paid is refunded in full." in text_of(day.text)


@pytest.mark.usefixtures("frozen")
async def test_the_medical_waiver_drops_the_late_fee(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    visit = await make_visit(seeded, starts_at=NOW + LATE)
    desk = await sign_in_desk(http, seeded)
    await pay(seeded, visit, 3000, desk.id)
    page = await http.get(cancel_url(visit))
    words = text_of(page.text)
    # Paid $30.00 against a $47.50 fee, or nothing owed with the waiver.
    assert (
        "The $30.00 paid counts towards the fee; the rest, $17.50, is due from the client."
    ) in words
    assert "The $30.00 paid is refunded in full." in words

    done = await cancel(
        http, visit, cancelled_by="client", medically_excused="yes", reason="Medical reason"
    )
    assert done.status_code == 303
    cancelled = await appointment(seeded, visit.appointment_id)
    assert cancelled.fee_minor == 0
    assert cancelled.medically_excused
    [entry] = await audit_entries(seeded, "appointment.cancelled", visit.appointment_id)
    assert entry.details["medically_excused"] is True
    day = await http.get(done.headers["location"])
    assert "No fee: waived for a medical reason. The $30.00 paid is refunded in full." in (
        text_of(day.text)
    )


@pytest.mark.usefixtures("frozen")
async def test_a_reason_is_required_and_the_form_keeps_what_was_entered(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    visit = await make_visit(seeded, starts_at=NOW + LATE)
    await sign_in_desk(http, seeded)
    missing = await cancel(http, visit, cancelled_by="clinic", reason="   ")
    assert missing.status_code == 422
    assert "<title>Error: Cancel Sam Lee's visit" in missing.text.replace("&#39;", "'")
    words = text_of(missing.text)
    assert words.count("Enter why the visit is cancelled") == 2
    assert 'value="clinic" checked' in missing.text
    assert "What happens to the money" in words

    long = "x" * 501
    too_long = await cancel(
        http, visit, cancelled_by="client", medically_excused="yes", reason=long
    )
    assert too_long.status_code == 422
    assert "The reason must be 500 characters or fewer" in text_of(too_long.text)
    assert f">{long}</textarea>" in too_long.text
    assert 'value="client" checked' in too_long.text
    assert (
        'name="medically_excused" value="yes" aria-describedby="medically_excused-hint" checked'
        in (too_long.text)
    )

    nobody = await cancel(http, visit, reason="Called")
    assert nobody.status_code == 422
    assert "Choose who is cancelling: the client or the clinic" in text_of(nobody.text)
    assert ">Called</textarea>" in nobody.text
    still = await appointment(seeded, visit.appointment_id)
    assert still.status is AppointmentStatus.CONFIRMED
    assert await audit_entries(seeded, "appointment.cancelled", visit.appointment_id) == []


@pytest.mark.usefixtures("frozen")
async def test_a_free_cancellation_that_has_turned_late_is_asked_again(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    visit = await make_visit(seeded, starts_at=NOW + LATE)
    await sign_in_desk(http, seeded)
    # The form was shown while cancelling was still free.
    stale = await cancel(http, visit, cancelled_by="client", reason="Called", late_shown="no")
    assert stale.status_code == 409
    words = text_of(stale.text)
    assert "The free cancellation time has just passed: cancelling now costs $47.50." in words
    assert 'name="late_shown" value="yes"' in stale.text
    assert (await appointment(seeded, visit.appointment_id)).status is AppointmentStatus.CONFIRMED


@pytest.mark.usefixtures("frozen")
@pytest.mark.parametrize(
    ("status", "sentence"),
    [
        (AppointmentStatus.CANCELLED, "This visit is already cancelled."),
        (AppointmentStatus.COMPLETED, "This visit is completed, so it cannot be cancelled."),
        (AppointmentStatus.CHECKED_IN, "This visit is checked in, so it cannot be cancelled."),
        (AppointmentStatus.NO_SHOW, "This visit is marked as a no-show, so it cannot be"),
    ],
)
async def test_a_visit_already_cancelled_or_finished_gets_a_clear_409(
    seeded: Database, http: httpx2.AsyncClient, status: AppointmentStatus, sentence: str
) -> None:
    visit = await make_visit(seeded, starts_at=NOW - timedelta(hours=2), status=status)
    await sign_in_desk(http, seeded)
    panel = await http.get(visit.panel)
    assert cancel_url(visit) not in panel.text
    page = await http.get(cancel_url(visit))
    assert page.status_code == 409
    assert "This visit cannot be cancelled" in page.text
    assert sentence in text_of(page.text)
    posted = await post_form(
        http, visit.panel, cancel_url(visit), {"cancelled_by": "client", "reason": "Called"}
    )
    assert posted.status_code == 409
    assert sentence in text_of(posted.text)
    assert (await appointment(seeded, visit.appointment_id)).status is status
    assert await audit_entries(seeded, "appointment.cancelled", visit.appointment_id) == []


@pytest.mark.parametrize(
    ("paid", "fee", "card", "words"),
    [
        (0, 0, False, "Nothing has been paid and nothing is owed."),
        (0, 4750, True, "Nothing has been paid, so the fee is charged to the client's saved card."),
        (9500, 0, False, "The $95.00 paid is refunded in full."),
        (9500, 4750, False, "The fee comes out of the $95.00 paid; $47.50 is refunded."),
        (4750, 4750, False, "The fee is covered by the $47.50 paid."),
        (
            2000,
            4750,
            True,
            "The $20.00 paid counts towards the fee; the rest, $27.50, is charged to the "
            "client's saved card.",
        ),
    ],
)
def test_money_words_follow_the_settlement(paid: int, fee: int, card: bool, words: str) -> None:
    assert money_words(paid_minor=paid, fee_minor=fee, currency="usd", has_card=card) == words
