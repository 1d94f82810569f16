"""Stripe's webhook at /payments/stripe/webhook, driven by the stand-in Stripe: events
delivered many times and in any order change things once; bad signatures are refused;
events the clinic does not use are acknowledged; a payment that arrives after its hold
ran out takes the time back if it is still free, and is refunded in full if not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import stripe
from sqlalchemy import func, select

from clinic.booking.statuses import AppointmentStatus
from clinic.db import Database
from clinic.outbox.models import OutboxMessage
from clinic.outbox.registry import HandlerContext
from clinic.payments.jobs import close_run_out_checkouts
from clinic.payments.models import Payment, PaymentEvent, Refund
from clinic.payments.settlement import execute_pending
from clinic.payments.states import PaymentState, RefundReason, RefundState
from clinic.payments.stripe_gateway import WEBHOOK_EVENTS
from clinic.settings import PROJECT_ROOT, Settings
from tests.payments.harness import OTHER, WEBHOOK, Harness, harness_for

pytestmark = pytest.mark.usefixtures("frozen")

MORNING = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
SWEDISH_90 = "Swedish massage, 90 min"


@pytest.fixture(name="h")
async def stripe_harness(
    seeded: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Harness]:
    async for made in harness_for("stripe", seeded, settings, monkeypatch):
        yield made


async def _started(h: Harness, start: datetime = MORNING) -> int:
    service = await h.set_rule(SWEDISH_90, "percent", 25)
    return (await h.checkout(await h.hold(service, start))).payment_id


async def _count(h: Harness, model: type, *where: object) -> int:
    async with h.db.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_one_completion_delivered_five_times_out_of_order_books_once(h: Harness) -> None:
    payment_id = await _started(h)
    await h.pay(payment_id, deliver=False)
    assert h.fake is not None
    events = list(h.fake.events)
    assert {e["type"] for e in events} >= {"checkout.session.completed", "payment_intent.succeeded"}
    answers = await h.deliver(events, duplicates=5, reverse=True)
    assert {a.status_code for a in answers} == {200}
    payment = await h.payment(payment_id)
    assert payment.state is PaymentState.SUCCEEDED
    appointment = await h.appointment(payment.appointment_id)
    assert appointment.status is AppointmentStatus.CONFIRMED
    assert await _count(h, Payment, Payment.client_id == payment.client_id) == 1
    used = {e["id"] for e in events if e["type"].split(".")[0] in ("checkout", "payment_intent")}
    assert await _count(h, PaymentEvent, PaymentEvent.payment_id == payment_id) == len(used)
    confirmations = await _count(h, OutboxMessage, OutboxMessage.kind == "email.booking_confirmed")
    assert confirmations == 1
    unknown = await h.http.get("/book/paid/unknown-token")
    assert unknown.status_code == 404


async def test_an_expiry_notice_after_the_payment_never_moves_it_back(h: Harness) -> None:
    payment_id = await _started(h)
    await h.pay(payment_id)
    payment = await h.payment(payment_id)
    assert h.fake is not None
    session = h.fake.sessions[payment.checkout_id or ""]
    late = h.fake.emit("checkout.session.expired", {**session, "status": "expired"})
    [answer] = await h.deliver([late])
    assert answer.status_code == 200
    assert (await h.payment(payment_id)).state is PaymentState.SUCCEEDED
    appointment = await h.appointment(payment.appointment_id)
    assert appointment.status is AppointmentStatus.CONFIRMED


async def test_a_bad_signature_is_400_and_changes_nothing(h: Harness) -> None:
    payment_id = await _started(h)
    await h.pay(payment_id, deliver=False)
    assert h.fake is not None
    for switches in ({"bad_signature": True}, {"stale": True}):
        answers = await h.deliver(h.fake.events, **switches)
        assert {a.status_code for a in answers} == {400}
        assert answers[0].headers["content-type"].startswith("application/problem+json")
    assert (await h.payment(payment_id)).state is PaymentState.PENDING
    assert await _count(h, PaymentEvent, PaymentEvent.payment_id == payment_id) == 0
    unsigned = await h.http.post(
        WEBHOOK, content=b"{}", headers={"content-type": "application/json"}
    )
    assert unsigned.status_code == 400


async def test_an_unknown_event_type_is_acknowledged_and_ignored(h: Harness) -> None:
    assert h.fake is not None
    event = h.fake.emit("customer.updated", {"id": "cus_123", "object": "customer"})
    [answer] = await h.deliver([event])
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "ignored"


async def test_an_expired_checkout_releases_the_held_time(h: Harness) -> None:
    payment_id = await _started(h)
    assert h.fake is not None
    payment = await h.payment(payment_id)
    since = h.event_count()
    h.fake.expire_checkout(payment.checkout_id or "")
    await h.deliver_new(since)
    assert (await h.payment(payment_id)).state is PaymentState.EXPIRED
    appointment = await h.appointment(payment.appointment_id)
    assert appointment.status is AppointmentStatus.EXPIRED


async def test_a_late_payment_takes_back_a_time_still_free(h: Harness) -> None:
    payment_id = await _started(h)
    payment = await h.payment(payment_id)
    await h.age_checkout(payment_id)
    from clinic.booking.holds import expire_holds

    assert await expire_holds(h.db) == 1
    assert (await h.appointment(payment.appointment_id)).status is AppointmentStatus.EXPIRED
    await h.pay(payment_id)
    assert (await h.payment(payment_id)).state is PaymentState.SUCCEEDED
    assert (await h.appointment(payment.appointment_id)).status is AppointmentStatus.CONFIRMED


async def test_a_late_payment_for_a_time_taken_meanwhile_is_refunded_in_full(h: Harness) -> None:
    payment_id = await _started(h)
    payment = await h.payment(payment_id)
    await h.age_checkout(payment_id)
    from clinic.booking.holds import expire_holds

    await expire_holds(h.db)
    held = await h.appointment(payment.appointment_id)
    # Someone else books the same therapist at the same time.
    other = await h.checkout(
        await h.hold(held.service_id, held.starts_at, held.therapist_id), OTHER
    )
    await h.pay(other.payment_id)
    assert (await h.appointment((await h.payment(other.payment_id)).appointment_id)).status is (
        AppointmentStatus.CONFIRMED
    )
    # The first client's payment arrives after all.
    await h.pay(payment_id)
    late = await h.payment(payment_id)
    assert late.state is PaymentState.REFUNDED
    assert (await h.appointment(late.appointment_id)).status is AppointmentStatus.EXPIRED
    await execute_pending(h.db, h.gateway, late.appointment_id)
    async with h.db.reading() as session:
        refunds = list(await session.scalars(select(Refund).where(Refund.payment_id == payment_id)))
    assert [(r.amount_minor, r.reason, r.state) for r in refunds] == [
        (late.amount_minor, RefundReason.SLOT_LOST, RefundState.SUCCEEDED)
    ]
    told = await _count(h, OutboxMessage, OutboxMessage.kind == "email.payment_slot_lost")
    assert told == 1


async def test_a_lost_expiry_notice_is_caught_by_the_worker(h: Harness, settings: Settings) -> None:
    payment_id = await _started(h)
    payment = await h.payment(payment_id)
    assert h.fake is not None
    h.fake.expire_checkout(payment.checkout_id or "")  # its notice never arrives
    ctx = HandlerContext(db=h.db, settings=settings, mailer=None, templates=None)  # type: ignore[arg-type]
    assert await close_run_out_checkouts(ctx) == 0  # not overdue yet
    await h.age_checkout(payment_id)
    assert await close_run_out_checkouts(ctx) == 1
    assert (await h.payment(payment_id)).state is PaymentState.EXPIRED
    assert (await h.appointment(payment.appointment_id)).status is AppointmentStatus.EXPIRED


def test_the_readme_names_every_event_the_webhook_uses() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    for event_type in WEBHOOK_EVENTS:
        assert f"`{event_type}`" in readme, event_type
    assert f"API version `{stripe.api_version}`" in readme
