"""One contract over both gateways (offline, and Stripe through its stand-in): deposit,
full price, card saved, fees charged to the saved card (succeeding, declined, needing
authentication), partial and full refunds, and no refund beyond what was captured."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from clinic import clock
from clinic.auth.models import Role
from clinic.booking.bookings import cancel_appointment, mark_no_show
from clinic.booking.statuses import AppointmentStatus, CancelledBy
from clinic.booking.visits import undo_no_show
from clinic.clearance.models import ClearanceStatus
from clinic.clearance.service import (
    Actor,
    Outcome,
    mark_received,
    record_outcome,
    request_clearance,
)
from clinic.clients.models import Consent, ConsentKind
from clinic.db import Database
from clinic.errors import InvalidInput
from clinic.outbox.models import OutboxMessage
from clinic.payments.checkout import online_payment_for_hold, start_booking_checkout
from clinic.payments.desk import refund_by_staff
from clinic.payments.models import Payment, Refund, SavedCard
from clinic.payments.settlement import execute_pending, settle_appointment
from clinic.payments.states import PaymentKind, PaymentState, RefundReason, RefundState
from clinic.settings import Settings
from tests import factories
from tests.intake.answers_factory import signed
from tests.payments.harness import BASE, CLIENT, Harness, harness_for

pytestmark = pytest.mark.usefixtures("frozen")

# Tuesday 1 December 2026 in New York: 10am and 2pm.
MORNING = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
AFTERNOON = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)
SWEDISH_90 = "Swedish massage, 90 min"  # $135
SHORT = "Oncology massage, 30 min"
DAY = "2026-12-02"
BONE_METS = {
    "phase": "in_treatment",
    "bone_mets": True,
    "bone_mets_sites_known": True,
    "bone_mets_sites": ["lower_back"],
}


@pytest.fixture(name="h", params=["offline", "stripe"])
async def harness(
    request: pytest.FixtureRequest,
    seeded: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Harness]:
    async for made in harness_for(request.param, seeded, settings, monkeypatch):
        yield made


async def _booked_with(h: Harness, kind: str, value: int | None, start: datetime = MORNING) -> int:
    service = await h.set_rule(SWEDISH_90, kind, value)
    started = await h.checkout(await h.hold(service, start))
    await h.pay(started.payment_id)
    return started.payment_id


async def test_a_deposit_is_taken_and_the_time_booked(h: Harness) -> None:
    payment_id = await _booked_with(h, "percent", 25)
    payment = await h.payment(payment_id)
    assert payment.state is PaymentState.SUCCEEDED
    assert payment.kind is PaymentKind.DEPOSIT
    assert payment.amount_minor == 3375
    assert payment.provider == h.gateway.provider
    appointment = await h.appointment(payment.appointment_id)
    assert appointment.status is AppointmentStatus.CONFIRMED
    assert appointment.hold_token_hash is None


async def test_the_full_price_is_taken_when_the_rule_says_so(h: Harness) -> None:
    payment = await h.payment(await _booked_with(h, "full", None))
    assert (payment.kind, payment.amount_minor, payment.state) == (
        PaymentKind.FULL,
        13500,
        PaymentState.SUCCEEDED,
    )


async def test_the_card_is_saved_with_the_clients_consent(h: Harness) -> None:
    payment = await h.payment(await _booked_with(h, "fixed", 2000))
    async with h.db.reading() as session:
        cards = list(
            await session.scalars(select(SavedCard).where(SavedCard.client_id == payment.client_id))
        )
        consents = list(
            await session.scalars(
                select(Consent).where(
                    Consent.client_id == payment.client_id,
                    Consent.kind == ConsentKind.CARD_ON_FILE,
                )
            )
        )
    assert [(c.last4, c.client_id) for c in cards] == [("4242", payment.client_id)]
    assert consents
    assert cards[0].consent_id == consents[-1].id
    assert payment.saved_card_id == cards[0].id


async def _no_show_with(h: Harness, card: str) -> Payment:
    service = await h.set_rule(SWEDISH_90, "fixed", 2000)
    started = await h.checkout(await h.hold(service, MORNING))
    await h.pay(started.payment_id, card)
    payment = await h.payment(started.payment_id)
    with clock.frozen_at(datetime(2026, 12, 1, 17, 0, tzinfo=UTC)):
        fee = await mark_no_show(h.db, payment.appointment_id)
        since = h.event_count()
        await settle_appointment(h.db, h.gateway, payment.appointment_id)
        await h.deliver_new(since)
    assert fee == 13500  # the demo's no-show fee is the full price
    async with h.db.reading() as session:
        fee_payment = await session.scalar(
            select(Payment).where(
                Payment.appointment_id == payment.appointment_id,
                Payment.kind == PaymentKind.NO_SHOW_FEE,
            )
        )
    assert fee_payment is not None
    assert fee_payment.amount_minor == 13500 - 2000
    return fee_payment


async def test_a_no_show_fee_is_charged_to_the_saved_card(h: Harness) -> None:
    fee = await _no_show_with(h, "4242")
    assert fee.state is PaymentState.SUCCEEDED


@pytest.mark.parametrize("card", ["0341", "3184"])
async def test_a_declined_or_unauthenticated_fee_awaits_the_client_with_a_pay_link(
    h: Harness, card: str
) -> None:
    fee = await _no_show_with(h, card)
    assert fee.state is PaymentState.AWAITING_CLIENT
    assert fee.failure_code
    async with h.db.reading() as session:
        links = await session.scalar(
            select(func.count()).where(OutboxMessage.kind == "email.payment_link")
        )
    assert links == 1


async def test_partial_refunds_then_the_rest_and_never_more(h: Harness) -> None:
    payment_id = await _booked_with(h, "full", None)
    async with h.db.transaction() as session:
        desk = (await factories.create_user(session, roles=(Role.FRONTDESK,))).id
    first = await refund_by_staff(h.db, payment_id, 2500, note="Short session", staff_user_id=desk)
    second = await refund_by_staff(h.db, payment_id, 1000, note="Goodwill", staff_user_id=desk)
    payment = await h.payment(payment_id)
    await execute_pending(h.db, h.gateway, payment.appointment_id)
    with pytest.raises(InvalidInput) as too_much:
        await refund_by_staff(h.db, payment_id, 10001, note="", staff_user_id=desk)
    assert "more than is left" in too_much.value.field_errors["amount"]
    await refund_by_staff(h.db, payment_id, 10000, note="The rest", staff_user_id=desk)
    await execute_pending(h.db, h.gateway, payment.appointment_id)
    async with h.db.reading() as session:
        refunds = list(
            await session.scalars(
                select(Refund).where(Refund.payment_id == payment_id).order_by(Refund.id)
            )
        )
    assert [r.amount_minor for r in refunds] == [2500, 1000, 10000]
    assert all(r.state is RefundState.SUCCEEDED and r.provider_refund_id for r in refunds)
    assert {first, second} <= {r.id for r in refunds}
    payment = await h.payment(payment_id)
    assert (payment.state, payment.refunded_minor) == (PaymentState.REFUNDED, 13500)
    if h.fake is not None:
        assert sum(r["amount"] for r in h.fake.refunds.values()) == 13500
    with pytest.raises(InvalidInput):
        await refund_by_staff(h.db, payment_id, 1, note="", staff_user_id=desk)


async def test_cancelling_in_time_refunds_the_deposit_in_full(h: Harness) -> None:
    payment = await h.payment(await _booked_with(h, "percent", 25))
    await cancel_appointment(h.db, payment.appointment_id, cancelled_by=CancelledBy.CLIENT)
    await settle_appointment(h.db, h.gateway, payment.appointment_id)
    payment = await h.payment(payment.id)
    assert (payment.state, payment.refunded_minor) == (PaymentState.REFUNDED, 3375)


async def test_a_visit_waiting_for_clearance_saves_the_card_and_charges_once_cleared(
    h: Harness,
) -> None:
    short = await h.set_rule(SHORT, "fixed", 2000)
    intake = await h.http.post("/api/v1/intakes", json=signed(True, **BONE_METS))
    token = intake.json()["intake_token"]
    slots = await h.http.get(
        "/api/v1/availability",
        params={
            "service_id": short,
            "from": "2026-12-02",
            "to": "2026-12-02",
            "intake_token": token,
        },
    )
    slot = slots.json()["slots"][0]
    hold = await h.hold(short, datetime.fromisoformat(slot["start"]), slot["therapist_id"])
    due = await online_payment_for_hold(h.db, hold)
    assert due is not None
    started = await start_booking_checkout(
        h.db, h.gateway, hold_token=hold, client=CLIENT, due=due, base_url=BASE, intake_token=token
    )
    await h.pay(started.payment_id)
    payment = await h.payment(started.payment_id)
    assert (payment.state, payment.card_only) == (PaymentState.SCHEDULED, True)
    assert payment.provider_payment_id is None  # nothing charged
    assert (await h.appointment(payment.appointment_id)).status is (
        AppointmentStatus.PENDING_CLEARANCE
    )
    if h.fake is not None:
        assert h.fake.payment_intents == {}

    async with h.db.transaction() as session:
        desk_user = await factories.create_user(session, roles=(Role.FRONTDESK,))
        lead_user = await factories.create_user(session, roles=(Role.CLINICAL_LEAD,))
    desk = Actor(desk_user.id, frozenset({Role.FRONTDESK}))
    lead = Actor(lead_user.id, frozenset({Role.CLINICAL_LEAD}))
    clearance = await request_clearance(
        h.db,
        payment.appointment_id,
        physician_name="Dr Ana Lee",
        practice="Fox Chase Cancer Center",
        contact="fax (215) 555-0199",
        actor=desk,
    )
    await mark_received(h.db, clearance.id, actor=desk)
    await record_outcome(h.db, clearance.id, Outcome(ClearanceStatus.CLEARED), actor=lead)
    assert (await h.appointment(payment.appointment_id)).status is AppointmentStatus.CONFIRMED
    async with h.db.reading() as session:
        settle_asked = await session.scalar(
            select(func.count()).where(OutboxMessage.kind == "payment.settle")
        )
    assert settle_asked == 1
    since = h.event_count()
    await settle_appointment(h.db, h.gateway, payment.appointment_id)
    await h.deliver_new(since)
    payment = await h.payment(payment.id)
    assert (payment.state, payment.amount_minor) == (PaymentState.SUCCEEDED, 2000)


async def _cancelled_late(h: Harness, *, excused: bool) -> Payment:
    payment = await h.payment(await _booked_with(h, "percent", 25))
    # The evening before the visit: inside the 24-hour window, the fee is half of $135.
    with clock.frozen_at(datetime(2026, 11, 30, 23, 0, tzinfo=UTC)):
        await cancel_appointment(
            h.db,
            payment.appointment_id,
            cancelled_by=CancelledBy.CLIENT,
            medically_excused=excused,
        )
        since = h.event_count()
        await settle_appointment(h.db, h.gateway, payment.appointment_id)
        await h.deliver_new(since)
    return await h.payment(payment.id)


async def test_a_late_cancellation_keeps_the_deposit_and_charges_the_rest(h: Harness) -> None:
    deposit = await _cancelled_late(h, excused=False)
    assert (deposit.state, deposit.refunded_minor) == (PaymentState.SUCCEEDED, 0)
    async with h.db.reading() as session:
        fee = await session.scalar(
            select(Payment).where(
                Payment.appointment_id == deposit.appointment_id,
                Payment.kind == PaymentKind.LATE_CANCELLATION_FEE,
            )
        )
    assert fee is not None
    assert (fee.amount_minor, fee.state) == (6750 - 3375, PaymentState.SUCCEEDED)


async def test_a_medically_excused_cancellation_waives_the_fee_and_refunds(h: Harness) -> None:
    deposit = await _cancelled_late(h, excused=True)
    assert (deposit.state, deposit.refunded_minor) == (PaymentState.REFUNDED, 3375)
    async with h.db.reading() as session:
        reasons = list(
            await session.scalars(select(Refund.reason).where(Refund.payment_id == deposit.id))
        )
        kinds = list(
            await session.scalars(
                select(Payment.kind).where(Payment.appointment_id == deposit.appointment_id)
            )
        )
    assert reasons == [RefundReason.MEDICALLY_EXCUSED]
    assert kinds == [PaymentKind.DEPOSIT]


@pytest.mark.parametrize(
    ("card", "fee_after"), [("4242", PaymentState.REFUNDED), ("0341", PaymentState.CANCELLED)]
)
async def test_undoing_a_no_show_drops_its_fee(
    h: Harness, card: str, fee_after: PaymentState
) -> None:
    fee = await _no_show_with(h, card)
    async with h.db.transaction() as session:
        desk = (await factories.create_user(session, roles=(Role.FRONTDESK,))).id
    with clock.frozen_at(datetime(2026, 12, 1, 17, 5, tzinfo=UTC)):
        await undo_no_show(h.db, fee.appointment_id, actor_user_id=desk)
        since = h.event_count()
        await settle_appointment(h.db, h.gateway, fee.appointment_id)
        await h.deliver_new(since)
    fee = await h.payment(fee.id)
    assert fee.state is fee_after
    assert (await h.appointment(fee.appointment_id)).status is AppointmentStatus.CONFIRMED
