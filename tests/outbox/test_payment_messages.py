"""The client's payment receipt and refund notice: queued by their cause, in its
transaction, exactly once per payment or refund whatever the path (the demo checkout,
Stripe's webhooks delivered many times and out of order, an off-session charge, the desk),
never for a refund that is only promised or for a refund that fails and puts the money
back; and saying what was paid, for what, how, and what is left, with no more of a card
than its last four digits."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from clinic import clock
from clinic.auth.models import Role
from clinic.booking.bookings import mark_no_show
from clinic.db import Database
from clinic.outbox.models import OutboxMessage
from clinic.payments.desk import DeskPayment, record_desk_payment, refund_by_staff
from clinic.payments.ledger import RECEIPT_EMAIL, REFUND_EMAIL
from clinic.payments.models import Payment, Refund
from clinic.payments.notices import send_receipt, send_refund_notice
from clinic.payments.settlement import execute_pending, settle_appointment
from clinic.payments.states import PaymentKind, PaymentMethod, PaymentState, RefundState
from clinic.settings import Settings
from clinic.worker import build_worker
from tests import factories
from tests.booking.conftest import frozen, seeded
from tests.booking.test_emails import mail_in
from tests.payments.harness import CLIENT, Harness, harness_for

__all__ = ["frozen", "seeded"]

pytestmark = pytest.mark.usefixtures("frozen")

# Tuesday 1 December 2026, 10am in New York.
MORNING = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
SWEDISH_90 = "Swedish massage, 90 min"  # $135, public name "Massage, 90 min"
VISIT_WORDS = "Tuesday 1 December 2026, 10am (New York time)"


@pytest.fixture(name="h", params=["offline", "stripe"])
async def harness(
    request: pytest.FixtureRequest,
    seeded: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Harness]:
    async for made in harness_for(request.param, seeded, settings, monkeypatch):
        yield made


async def _queued(db: Database, kind: str) -> list[OutboxMessage]:
    async with db.reading() as session:
        return list(
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        )


async def _receipts_for(db: Database, payment_id: int) -> int:
    return sum(m.payload == {"payment_id": payment_id} for m in await _queued(db, RECEIPT_EMAIL))


async def _send_queued(db: Database, settings: Settings, kind: str) -> list[EmailMessage]:
    """Carry out every queued message of `kind` with the worker's handler; the mail sent."""
    ctx = build_worker(db, settings).ctx
    handler = send_receipt if kind == RECEIPT_EMAIL else send_refund_notice
    folder = settings.var_dir / "mail"
    before = len(mail_in(folder)) if folder.exists() else 0
    for message in await _queued(db, kind):
        await handler(ctx, message)
    return mail_in(folder)[before:]


def _bodies(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    return str(text.get_content()), str(html.get_content())


def _no_card_number(words: str) -> None:
    """At most the last four digits of the test card (4242 4242 4242 4242)."""
    assert "42424242" not in re.sub(r"[\s-]", "", words), words


async def _paid_online(h: Harness, kind: str, value: int | None) -> Payment:
    service = await h.set_rule(SWEDISH_90, kind, value)
    started = await h.checkout(await h.hold(service, MORNING))
    await h.pay(started.payment_id)
    payment = await h.payment(started.payment_id)
    assert payment.state is PaymentState.SUCCEEDED
    return payment


async def _desk_user(db: Database) -> int:
    async with db.transaction() as session:
        return (await factories.create_user(session, roles=(Role.FRONTDESK,))).id


# Receipts


async def test_an_online_deposit_gets_one_receipt_saying_what_it_paid_for(
    h: Harness, settings: Settings
) -> None:
    payment = await _paid_online(h, "percent", 25)
    assert await _receipts_for(h.db, payment.id) == 1

    [message] = await _send_queued(h.db, settings, RECEIPT_EMAIL)
    assert message["To"] == CLIENT.email
    assert message["Subject"] == "Receipt: $33.75 for your Tue 1 Dec, 10am visit"
    for body in _bodies(message):
        assert "we received your payment of $33.75" in body
        assert "Deposit, Massage, 90 min" in body
        assert VISIT_WORDS in body
        assert "Card, paid online" in body
        assert "Left to pay: $101.25" in body
        assert f"Receipt number: {payment.id}" in body
        assert "Paid on Friday 27 November 2026 at 8am" in body
        _no_card_number(body)


async def test_a_completion_delivered_five_times_out_of_order_gives_one_receipt(
    seeded: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async for h in harness_for("stripe", seeded, settings, monkeypatch):
        service = await h.set_rule(SWEDISH_90, "full", None)
        started = await h.checkout(await h.hold(service, MORNING))
        await h.pay(started.payment_id, deliver=False)
        assert h.fake is not None
        answers = await h.deliver(list(h.fake.events), duplicates=5, reverse=True)
        assert {a.status_code for a in answers} == {200}
        assert (await h.payment(started.payment_id)).state is PaymentState.SUCCEEDED
        # Delivered again later: still the one receipt.
        await h.deliver(list(h.fake.events), duplicates=2)
        assert await _receipts_for(h.db, started.payment_id) == 1
        assert len(await _queued(h.db, RECEIPT_EMAIL)) == 1

        [message] = await _send_queued(h.db, settings, RECEIPT_EMAIL)
        for body in _bodies(message):
            assert "Payment, Massage, 90 min" in body
            assert "Nothing more to pay for this visit." in body
            assert "Left to pay" not in body


async def test_a_fee_charged_to_the_saved_card_gets_its_own_receipt_naming_the_card(
    h: Harness, settings: Settings
) -> None:
    deposit = await _paid_online(h, "fixed", 2000)
    with clock.frozen_at(datetime(2026, 12, 1, 17, 0, tzinfo=UTC)):
        await mark_no_show(h.db, deposit.appointment_id)
        since = h.event_count()
        await settle_appointment(h.db, h.gateway, deposit.appointment_id)
        await h.deliver_new(since)
        # A second settlement (the worker's retry, say) changes nothing.
        await settle_appointment(h.db, h.gateway, deposit.appointment_id)
    async with h.db.reading() as session:
        fee = await session.scalar(
            select(Payment).where(
                Payment.appointment_id == deposit.appointment_id,
                Payment.kind == PaymentKind.NO_SHOW_FEE,
            )
        )
    assert fee is not None
    assert fee.state is PaymentState.SUCCEEDED
    assert await _receipts_for(h.db, deposit.id) == 1
    assert await _receipts_for(h.db, fee.id) == 1

    sent = await _send_queued(h.db, settings, RECEIPT_EMAIL)
    fee_mail = next(m for m in sent if "$115.00" in str(m["Subject"]))
    for body in _bodies(fee_mail):
        assert "Missed appointment fee, Massage, 90 min" in body
        # The brand is the provider's: "Visa" from Stripe, "Demo" from the demo checkout.
        assert re.search(r"Your saved card \((Visa|Demo) ending 4242\)", body), body
        assert "Nothing more to pay for this visit." in body
        _no_card_number(body)


async def test_money_taken_at_the_desk_gets_a_receipt_with_the_tip_and_what_is_left(
    h: Harness, settings: Settings
) -> None:
    deposit = await _paid_online(h, "percent", 25)
    desk = await _desk_user(h.db)
    taken = DeskPayment(amount_minor=5000, tip_minor=1000, method=PaymentMethod.CASH, reference="")
    payment_id = await record_desk_payment(h.db, deposit.appointment_id, taken, staff_user_id=desk)
    assert await _receipts_for(h.db, payment_id) == 1

    sent = await _send_queued(h.db, settings, RECEIPT_EMAIL)
    [desk_mail] = [m for m in sent if "$60.00" in str(m["Subject"])]
    for body in _bodies(desk_mail):
        assert "Amount: " in body
        assert "$60.00" in body
        assert "including a tip of $10.00 for your therapist" in body
        assert "Cash, at the clinic" in body
        assert "Balance, Massage, 90 min" in body
        # $135 less the $33.75 deposit and the $50 now (the tip is the therapist's).
        assert "Left to pay: $51.25" in body


async def test_no_receipt_for_a_payment_that_is_not_paid(h: Harness) -> None:
    service = await h.set_rule(SWEDISH_90, "percent", 25)
    started = await h.checkout(await h.hold(service, MORNING))
    assert (await h.payment(started.payment_id)).state is PaymentState.PENDING
    assert await _queued(h.db, RECEIPT_EMAIL) == []


# Refund notices


async def _refund_states(db: Database, payment_id: int) -> list[RefundState]:
    async with db.reading() as session:
        return list(
            await session.scalars(
                select(Refund.state).where(Refund.payment_id == payment_id).order_by(Refund.id)
            )
        )


async def test_a_card_refund_is_notified_once_when_made_not_when_asked(
    h: Harness, settings: Settings
) -> None:
    payment = await _paid_online(h, "full", None)
    desk = await _desk_user(h.db)
    refund_id = await refund_by_staff(h.db, payment.id, 2500, note="Short", staff_user_id=desk)
    # Promised, not made: the provider has not been asked yet.
    assert await _refund_states(h.db, payment.id) == [RefundState.PENDING]
    assert await _queued(h.db, REFUND_EMAIL) == []

    since = h.event_count()
    await execute_pending(h.db, h.gateway, payment.appointment_id)
    await execute_pending(h.db, h.gateway, payment.appointment_id)
    await h.deliver_new(since)  # Stripe's own notices of the same refund
    assert await _refund_states(h.db, payment.id) == [RefundState.SUCCEEDED]
    assert [m.payload for m in await _queued(h.db, REFUND_EMAIL)] == [{"refund_id": refund_id}]

    [message] = await _send_queued(h.db, settings, REFUND_EMAIL)
    assert message["To"] == CLIENT.email
    assert message["Subject"] == "Refund: $25.00 for your Tue 1 Dec, 10am visit"
    for body in _bodies(message):
        assert "We have refunded $25.00 to the card you paid with" in body
        assert "(of the $135.00 you paid)" in body
        assert "5 to 10 business days" in body
        assert VISIT_WORDS in body
        _no_card_number(body)


async def test_a_refund_that_fails_later_sends_no_second_receipt(
    seeded: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async for h in harness_for("stripe", seeded, settings, monkeypatch):
        payment = await _paid_online(h, "full", None)
        desk = await _desk_user(h.db)
        await refund_by_staff(h.db, payment.id, 13500, note="All of it", staff_user_id=desk)
        await execute_pending(h.db, h.gateway, payment.appointment_id)
        assert (await h.payment(payment.id)).state is PaymentState.REFUNDED
        assert h.fake is not None
        [stripe_refund] = h.fake.refunds
        since = h.event_count()
        h.fake.fail_refund(stripe_refund)
        await h.deliver_new(since)
        # The money stayed with the clinic: paid again, but it was paid only once.
        assert (await h.payment(payment.id)).state is PaymentState.SUCCEEDED
        assert await _refund_states(h.db, payment.id) == [RefundState.FAILED]
        assert await _receipts_for(h.db, payment.id) == 1
        assert len(await _queued(h.db, REFUND_EMAIL)) == 1
        # Sent after it failed, the notice says nothing.
        assert await _send_queued(h.db, settings, REFUND_EMAIL) == []


async def test_cash_handed_back_at_the_desk_is_notified_at_once(
    h: Harness, settings: Settings
) -> None:
    deposit = await _paid_online(h, "percent", 25)
    desk = await _desk_user(h.db)
    taken = DeskPayment(amount_minor=4000, tip_minor=0, method=PaymentMethod.CASH, reference="")
    cash_id = await record_desk_payment(h.db, deposit.appointment_id, taken, staff_user_id=desk)
    refund_id = await refund_by_staff(h.db, cash_id, 1500, note="Overpaid", staff_user_id=desk)
    assert await _refund_states(h.db, cash_id) == [RefundState.SUCCEEDED]
    assert [m.payload for m in await _queued(h.db, REFUND_EMAIL)] == [{"refund_id": refund_id}]

    [message] = await _send_queued(h.db, settings, REFUND_EMAIL)
    for body in _bodies(message):
        assert "We have refunded $15.00 in cash at the clinic" in body
        assert "It was handed back to you there." in body
        assert "business days" not in body
