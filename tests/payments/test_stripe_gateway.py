"""StripeGateway, the real SDK underneath, against the fake Stripe (tests/fakestripe):
in-process for speed, and once over loopback HTTP with the gateway's own HTTP client."""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
import stripe

from clinic.payments.port import (
    BadSignature,
    ChargeOutcome,
    ChargeRequest,
    CheckoutRequest,
    Customer,
    EventKind,
    GatewayEvent,
    GatewayRefused,
    GatewayUnavailable,
    PaymentGateway,
    RefundRequest,
    RefundStatus,
)
from clinic.payments.stripe_gateway import HOSTED_CHECKOUT_ORIGIN, StripeGateway
from tests.fakestripe import IN_PROCESS_BASE, SECRET_KEY, FakeStripe

CLIENT = Customer(client_id=41, email="ann.client@example.com", name="Ann Client")


def checkout_request(customer_id: str, **changes: Any) -> CheckoutRequest:
    request = CheckoutRequest(
        payment_id=7,
        appointment_id=9,
        idempotency_key="pay-7-attempt-1",
        mode="payment",
        amount_minor=2500,
        currency="usd",
        description="Deposit: Swedish massage, 60 minutes",
        customer_id=customer_id,
        save_card=True,
        success_url="https://clinic.test/book/paid?cs={CHECKOUT_SESSION_ID}",
        cancel_url="https://clinic.test/book/cancelled",
        expires_at=datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=32),
    )
    return dataclasses.replace(request, **changes)


async def customer_id(gateway: StripeGateway) -> str:
    return await gateway.ensure_customer(CLIENT, existing_id=None)


async def paid_checkout(
    gateway: StripeGateway, fake: FakeStripe, card: str = "4242", **changes: Any
) -> GatewayEvent:
    customer = await customer_id(gateway)
    checkout = await gateway.start_checkout(checkout_request(customer, **changes))
    fake.complete_checkout(checkout.checkout_id, card)
    result = await gateway.checkout_result(checkout.checkout_id)
    assert result is not None
    return result


async def saved_card(gateway: StripeGateway, fake: FakeStripe, card: str) -> tuple[str, str]:
    """(customer id, payment method id) of a card saved through a setup checkout."""
    customer = await customer_id(gateway)
    checkout = await gateway.start_checkout(
        checkout_request(customer, mode="setup", amount_minor=0, idempotency_key=f"setup-{card}")
    )
    fake.complete_checkout(checkout.checkout_id, card)
    result = await gateway.checkout_result(checkout.checkout_id)
    assert result is not None
    assert result.card is not None
    return customer, result.card.method_id


def charge_request(customer: str, method: str, key: str = "fee-3-attempt-1") -> ChargeRequest:
    return ChargeRequest(
        payment_id=3,
        appointment_id=9,
        idempotency_key=key,
        amount_minor=4000,
        currency="usd",
        description="Missed appointment fee",
        customer_id=customer,
        method_id=method,
    )


def test_it_is_a_payment_gateway(stripe_gateway: StripeGateway) -> None:
    gateway: PaymentGateway = stripe_gateway
    assert gateway.provider == "stripe"
    assert gateway.account_mode == "test"
    assert gateway.checkout_origin == "http://fakestripe.test"
    assert StripeGateway("sk_live_x", "whsec_x").checkout_origin == HOSTED_CHECKOUT_ORIGIN
    assert StripeGateway("sk_live_x", "whsec_x").account_mode == "live"
    assert "sk_" not in repr(stripe_gateway)


# -- customers --------------------------------------------------------------------------


async def test_a_customer_is_made_once_per_client(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    first = await customer_id(stripe_gateway)
    again = await customer_id(stripe_gateway)
    assert first == again
    assert list(fake_stripe.customers) == [first]
    assert fake_stripe.customers[first]["metadata"] == {"client_id": "41"}
    assert {r.idempotency_key for r in fake_stripe.requests} == {"customer-41"}
    assert await stripe_gateway.ensure_customer(CLIENT, existing_id="cus_known") == "cus_known"
    assert len(fake_stripe.requests) == 2


# -- checkout -------------------------------------------------------------------------


async def test_a_payment_checkout_is_created_with_the_booking_amount(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    customer = await customer_id(stripe_gateway)
    request = checkout_request(customer)
    checkout = await stripe_gateway.start_checkout(request)

    sent = fake_stripe.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/v1/checkout/sessions")
    assert sent.idempotency_key == "pay-7-attempt-1"
    assert sent.stripe_version == stripe.api_version
    params = sent.params
    assert params["mode"] == "payment"
    assert params["line_items"] == [
        {
            "price_data": {
                "currency": "usd",
                "unit_amount": "2500",
                "product_data": {"name": "Deposit: Swedish massage, 60 minutes"},
            },
            "quantity": "1",
        }
    ]
    assert params["customer"] == customer
    assert params["client_reference_id"] == "9"
    # Only opaque ids travel to Stripe: no name, no e-mail, nothing about the visit.
    assert params["metadata"] == {"payment_id": "7", "appointment_id": "9"}
    assert params["payment_intent_data"] == {
        "metadata": {"payment_id": "7", "appointment_id": "9"},
        "setup_future_usage": "off_session",
    }
    assert CLIENT.email not in json.dumps(params)
    assert CLIENT.name not in json.dumps(params)
    assert params["expires_at"] == str(int(request.expires_at.timestamp()))
    assert params["success_url"] == request.success_url
    assert params["cancel_url"] == request.cancel_url

    assert checkout.checkout_id in fake_stripe.sessions
    assert checkout.url == f"{IN_PROCESS_BASE}/checkout/{checkout.checkout_id}"
    assert checkout.expires_at == request.expires_at


async def test_a_checkout_without_saving_the_card_asks_for_no_future_usage(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    customer = await customer_id(stripe_gateway)
    await stripe_gateway.start_checkout(checkout_request(customer, save_card=False))
    assert "setup_future_usage" not in fake_stripe.requests[-1].params["payment_intent_data"]


async def test_a_setup_checkout_charges_nothing(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    customer = await customer_id(stripe_gateway)
    await stripe_gateway.start_checkout(checkout_request(customer, mode="setup"))
    params = fake_stripe.requests[-1].params
    assert params["mode"] == "setup"
    assert params["currency"] == "usd"
    assert params["setup_intent_data"]["metadata"] == {"payment_id": "7", "appointment_id": "9"}
    assert "line_items" not in params
    assert "payment_intent_data" not in params


async def test_a_retried_start_returns_the_same_session(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    customer = await customer_id(stripe_gateway)
    first = await stripe_gateway.start_checkout(checkout_request(customer))
    again = await stripe_gateway.start_checkout(checkout_request(customer))
    assert again == first
    assert len(fake_stripe.sessions) == 1
    assert fake_stripe.requests[-1].replayed


async def test_a_key_reused_for_another_checkout_is_refused(
    stripe_gateway: StripeGateway,
) -> None:
    customer = await customer_id(stripe_gateway)
    await stripe_gateway.start_checkout(checkout_request(customer))
    with pytest.raises(GatewayRefused, match="different details"):
        await stripe_gateway.start_checkout(checkout_request(customer, amount_minor=9900))


async def test_checkout_result_follows_the_session(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    customer = await customer_id(stripe_gateway)
    checkout = await stripe_gateway.start_checkout(checkout_request(customer))
    assert await stripe_gateway.checkout_result(checkout.checkout_id) is None

    declined = fake_stripe.complete_checkout(checkout.checkout_id, "0002")
    assert declined["status"] == "open"
    assert await stripe_gateway.checkout_result(checkout.checkout_id) is None

    fake_stripe.complete_checkout(checkout.checkout_id, "4242")
    result = await stripe_gateway.checkout_result(checkout.checkout_id)
    assert result is not None
    session = fake_stripe.sessions[checkout.checkout_id]
    assert result.kind is EventKind.CHECKOUT_PAID
    assert result.event_id == f"return:{checkout.checkout_id}"
    assert result.payment_id == 7
    assert result.checkout_id == checkout.checkout_id
    assert result.provider_payment_id == session["payment_intent"]
    assert result.provider_payment_id is not None
    assert result.provider_payment_id.startswith("pi_")
    assert result.customer_id == customer
    assert result.amount_minor == 2500
    assert result.card is not None
    assert (result.card.brand, result.card.last4) == ("visa", "4242")
    assert result.card.method_id.startswith("pm_")
    assert result.card.exp_year > datetime.now(UTC).year
    assert result.created.tzinfo is not None


async def test_a_setup_checkout_reads_back_the_saved_card(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    customer = await customer_id(stripe_gateway)
    checkout = await stripe_gateway.start_checkout(checkout_request(customer, mode="setup"))
    fake_stripe.complete_checkout(checkout.checkout_id, "4444")
    result = await stripe_gateway.checkout_result(checkout.checkout_id)
    assert result is not None
    assert result.kind is EventKind.CHECKOUT_CARD_SAVED
    assert result.amount_minor is None
    assert result.provider_payment_id is None
    assert result.card is not None
    assert (result.card.brand, result.card.last4) == ("mastercard", "4444")


async def test_an_expired_checkout_reads_as_expired(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    customer = await customer_id(stripe_gateway)
    checkout = await stripe_gateway.start_checkout(checkout_request(customer))
    await stripe_gateway.expire_checkout(checkout.checkout_id)
    assert fake_stripe.sessions[checkout.checkout_id]["status"] == "expired"
    result = await stripe_gateway.checkout_result(checkout.checkout_id)
    assert result is not None
    assert result.kind is EventKind.CHECKOUT_EXPIRED
    assert result.payment_id == 7
    # Expiring again, or a completed session, is left alone.
    await stripe_gateway.expire_checkout(checkout.checkout_id)


async def test_expiring_a_completed_checkout_leaves_it_paid(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    paid = await paid_checkout(stripe_gateway, fake_stripe)
    assert paid.checkout_id is not None
    await stripe_gateway.expire_checkout(paid.checkout_id)
    assert fake_stripe.sessions[paid.checkout_id]["status"] == "complete"
    with pytest.raises(GatewayRefused):
        await stripe_gateway.expire_checkout("cs_test_unknown")


async def test_a_delayed_payment_is_not_paid_until_it_settles(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    customer = await customer_id(stripe_gateway)
    checkout = await stripe_gateway.start_checkout(checkout_request(customer))
    fake_stripe.complete_checkout(checkout.checkout_id, delayed=True)
    assert await stripe_gateway.checkout_result(checkout.checkout_id) is None
    fake_stripe.settle_async_payment(checkout.checkout_id)
    result = await stripe_gateway.checkout_result(checkout.checkout_id)
    assert result is not None
    assert result.kind is EventKind.CHECKOUT_PAID


# -- saved cards ----------------------------------------------------------------------


async def test_an_off_session_charge_succeeds(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    customer, method = await saved_card(stripe_gateway, fake_stripe, "4242")
    result = await stripe_gateway.charge_saved_card(charge_request(customer, method))
    assert result.outcome is ChargeOutcome.SUCCEEDED
    assert result.provider_payment_id is not None
    intent = fake_stripe.payment_intents[result.provider_payment_id]
    assert (intent["status"], intent["amount_received"]) == ("succeeded", 4000)
    sent = fake_stripe.requests[-1]
    assert sent.idempotency_key == "fee-3-attempt-1"
    assert sent.params["off_session"] == "true"
    assert sent.params["confirm"] == "true"
    assert sent.params["metadata"] == {"payment_id": "3", "appointment_id": "9"}
    assert sent.params["description"] == "Missed appointment fee"


async def test_a_declined_off_session_charge_is_a_result(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    customer, method = await saved_card(stripe_gateway, fake_stripe, "0341")
    result = await stripe_gateway.charge_saved_card(charge_request(customer, method))
    assert result.outcome is ChargeOutcome.DECLINED
    assert result.failure_code == "generic_decline"
    assert result.provider_payment_id in fake_stripe.payment_intents


async def test_an_off_session_charge_needing_authentication_is_a_result(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    customer, method = await saved_card(stripe_gateway, fake_stripe, "3184")
    result = await stripe_gateway.charge_saved_card(charge_request(customer, method))
    assert result.outcome is ChargeOutcome.NEEDS_AUTHENTICATION
    assert result.failure_code == "authentication_required"
    assert result.provider_payment_id is not None
    intent = fake_stripe.payment_intents[result.provider_payment_id]
    assert intent["status"] == "requires_payment_method"


async def test_a_retried_charge_replays_the_decline_and_charges_nothing_new(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    customer, method = await saved_card(stripe_gateway, fake_stripe, "0341")
    first = await stripe_gateway.charge_saved_card(charge_request(customer, method))
    again = await stripe_gateway.charge_saved_card(charge_request(customer, method))
    assert again == first
    assert len(fake_stripe.payment_intents) == 1


async def test_a_card_never_saved_is_refused(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    paid = await paid_checkout(stripe_gateway, fake_stripe, save_card=False)
    assert paid.card is not None
    assert paid.customer_id is not None
    with pytest.raises(GatewayRefused):
        await stripe_gateway.charge_saved_card(
            charge_request(paid.customer_id, paid.card.method_id)
        )


# -- refunds --------------------------------------------------------------------------


def refund_request(intent: str, refund_id: int, amount: int) -> RefundRequest:
    return RefundRequest(
        refund_id=refund_id,
        payment_id=7,
        idempotency_key=f"refund-{refund_id}",
        provider_payment_id=intent,
        amount_minor=amount,
        currency="usd",
    )


async def test_partial_refunds_up_to_the_payment_and_not_beyond(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    paid = await paid_checkout(stripe_gateway, fake_stripe)
    assert paid.provider_payment_id is not None
    first = await stripe_gateway.refund(refund_request(paid.provider_payment_id, 1, 1000))
    assert first.status is RefundStatus.SUCCEEDED
    refund = fake_stripe.refunds[first.provider_refund_id]
    assert refund["amount"] == 1000
    assert refund["reason"] == "requested_by_customer"
    assert refund["metadata"] == {"refund_id": "1", "payment_id": "7"}
    assert fake_stripe.requests[-1].idempotency_key == "refund-1"

    with pytest.raises(GatewayRefused, match="larger than what is left"):
        await stripe_gateway.refund(refund_request(paid.provider_payment_id, 2, 1501))

    rest = await stripe_gateway.refund(refund_request(paid.provider_payment_id, 3, 1500))
    assert rest.status is RefundStatus.SUCCEEDED
    assert len(fake_stripe.refunds) == 2
    charge = fake_stripe.charges[refund["charge"]]
    assert charge["refunded"] is True


# -- failures -------------------------------------------------------------------------


async def test_stripe_failing_is_unavailable_after_the_sdks_retries(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    fake_stripe.fail_next_requests(3)
    with pytest.raises(GatewayUnavailable):
        await customer_id(stripe_gateway)
    assert [r.status for r in fake_stripe.requests] == [500, 500, 500]
    assert fake_stripe.customers == {}


async def test_a_rate_limit_is_unavailable(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    fake_stripe.fail_next_requests(3, status=429)
    with pytest.raises(GatewayUnavailable):
        await customer_id(stripe_gateway)


async def test_two_failures_then_success_creates_one_object_with_one_key(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    customer = await customer_id(stripe_gateway)
    fake_stripe.fail_next_requests(2)
    await stripe_gateway.start_checkout(checkout_request(customer))
    attempts = fake_stripe.requests[1:]
    assert [r.status for r in attempts] == [500, 500, 200]
    assert {r.idempotency_key for r in attempts} == {"pay-7-attempt-1"}
    assert len(fake_stripe.sessions) == 1


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_an_unreachable_api_is_unavailable_quickly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stripe, "enable_telemetry", False)
    # The SDK's back-off between its two retries, made instant.
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.0)
    monkeypatch.setattr(stripe.HTTPClient, "MAX_DELAY", 0.0)
    gateway = StripeGateway(SECRET_KEY, "whsec_x", api_base=f"http://127.0.0.1:{closed_port()}")
    started = time.monotonic()
    try:
        with pytest.raises(GatewayUnavailable):
            await customer_id(gateway)
    finally:
        await gateway.aclose()
    assert time.monotonic() - started < 5


async def test_logs_name_the_request_and_never_a_secret(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    paid = await paid_checkout(stripe_gateway, fake_stripe)
    assert paid.provider_payment_id is not None
    with pytest.raises(GatewayRefused):
        await stripe_gateway.refund(refund_request(paid.provider_payment_id, 9, 99999))
    fake_stripe.fail_next_requests(3)
    with pytest.raises(GatewayUnavailable):
        await stripe_gateway.checkout_result(paid.checkout_id or "")
    for event in fake_stripe.events:
        await stripe_gateway.read_webhook(*fake_stripe.signed(event))
    with pytest.raises(BadSignature):
        await stripe_gateway.read_webhook(*fake_stripe.signed(fake_stripe.events[0], stale=True))

    warnings = [r for r in caplog.records if r.name == "clinic.payments"]
    assert len(warnings) == 2
    refused = warnings[0]
    assert refused.levelno == logging.WARNING
    request_id = refused.fields["stripe_request_id"]  # type: ignore[attr-defined]
    assert request_id.startswith("req_")
    assert request_id in refused.getMessage()
    everything = caplog.text + repr([(r.args, r.__dict__.get("fields")) for r in caplog.records])
    for secret in (SECRET_KEY, fake_stripe.webhook_secret, "4242 4242", CLIENT.email):
        assert secret not in everything
    assert "larger" not in caplog.text  # Stripe's message stays out of the log


# -- webhooks -------------------------------------------------------------------------


async def read(gateway: StripeGateway, fake: FakeStripe, event: dict[str, Any]) -> GatewayEvent:
    result = await gateway.read_webhook(*fake.signed(event))
    assert result is not None
    assert result.event_id == event["id"]
    assert result.created == datetime.fromtimestamp(event["created"], UTC)
    return result


async def test_webhooks_of_a_paid_checkout_and_its_refund(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    paid = await paid_checkout(stripe_gateway, fake_stripe)
    assert paid.provider_payment_id is not None
    refund = await stripe_gateway.refund(refund_request(paid.provider_payment_id, 5, 500))
    by_type = {e["type"]: e for e in fake_stripe.events}

    completed = await read(stripe_gateway, fake_stripe, by_type["checkout.session.completed"])
    assert completed.kind is EventKind.CHECKOUT_PAID
    assert dataclasses.replace(completed, event_id=paid.event_id, created=paid.created) == paid

    succeeded = await read(stripe_gateway, fake_stripe, by_type["payment_intent.succeeded"])
    assert succeeded.kind is EventKind.CHARGE_SUCCEEDED
    assert (succeeded.payment_id, succeeded.amount_minor) == (7, 2500)
    assert succeeded.provider_payment_id == paid.provider_payment_id

    created = await read(stripe_gateway, fake_stripe, by_type["refund.created"])
    assert created.kind is EventKind.REFUND_UPDATED
    assert created.refund_id == refund.provider_refund_id
    assert created.refund_row_id == 5
    assert created.refund_status is RefundStatus.SUCCEEDED
    assert created.payment_id == 7
    assert created.provider_payment_id == paid.provider_payment_id
    assert created.amount_minor == 500

    for ignored in ("customer.created", "charge.refunded"):
        assert await stripe_gateway.read_webhook(*fake_stripe.signed(by_type[ignored])) is None

    fake_stripe.fail_refund(refund.provider_refund_id)
    failed = await read(stripe_gateway, fake_stripe, fake_stripe.events_of("refund.failed")[0])
    assert failed.refund_status is RefundStatus.FAILED
    assert failed.failure_code == "expired_or_canceled_card"

    fake_stripe.open_dispute(paid.provider_payment_id)
    dispute = await read(
        stripe_gateway, fake_stripe, fake_stripe.events_of("charge.dispute.created")[0]
    )
    assert dispute.kind is EventKind.DISPUTE_OPENED
    assert dispute.provider_payment_id == paid.provider_payment_id


async def test_webhooks_of_a_saved_card_and_its_failed_charge(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    customer, method = await saved_card(stripe_gateway, fake_stripe, "0341")
    saved = await read(
        stripe_gateway, fake_stripe, fake_stripe.events_of("checkout.session.completed")[0]
    )
    assert saved.kind is EventKind.CHECKOUT_CARD_SAVED
    assert saved.card is not None
    assert (saved.card.method_id, saved.card.last4) == (method, "0341")

    await stripe_gateway.charge_saved_card(charge_request(customer, method))
    failed = await read(
        stripe_gateway, fake_stripe, fake_stripe.events_of("payment_intent.payment_failed")[-1]
    )
    assert failed.kind is EventKind.CHARGE_FAILED
    assert failed.payment_id == 3
    assert failed.failure_code == "generic_decline"


async def test_webhooks_of_expiry_and_delayed_payments(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    customer = await customer_id(stripe_gateway)
    expiring = await stripe_gateway.start_checkout(checkout_request(customer))
    fake_stripe.expire_checkout(expiring.checkout_id)
    expired = await read(
        stripe_gateway, fake_stripe, fake_stripe.events_of("checkout.session.expired")[0]
    )
    assert (expired.kind, expired.checkout_id) == (EventKind.CHECKOUT_EXPIRED, expiring.checkout_id)

    kinds: dict[str, EventKind | None] = {}
    for n, succeeded in enumerate((True, False)):
        checkout = await stripe_gateway.start_checkout(
            checkout_request(customer, idempotency_key=f"delayed-{n}")
        )
        fake_stripe.complete_checkout(checkout.checkout_id, delayed=True)
        fake_stripe.settle_async_payment(checkout.checkout_id, succeeded=succeeded)
    for event in fake_stripe.events:
        if (
            event["type"].startswith("checkout.session.")
            and event["type"] != "checkout.session.expired"
        ):
            result = await stripe_gateway.read_webhook(*fake_stripe.signed(event))
            kinds[event["type"]] = result.kind if result else None
    assert kinds == {
        # Completed unpaid: wait for the delayed payment's outcome.
        "checkout.session.completed": None,
        "checkout.session.async_payment_succeeded": EventKind.CHECKOUT_PAID,
        "checkout.session.async_payment_failed": EventKind.CHECKOUT_FAILED,
    }


@pytest.mark.parametrize(
    "spoil",
    [
        lambda fake, event: fake.signed(event, bad_signature=True),
        lambda fake, event: fake.signed(event, stale=True),
        lambda fake, event: (fake.signed(event)[0], {}),
        lambda fake, event: (fake.signed(event)[0] + b" ", fake.signed(event)[1]),
    ],
    ids=["bad-signature", "stale", "no-header", "tampered-body"],
)
async def test_a_webhook_that_does_not_check_out_is_refused(
    stripe_gateway: StripeGateway,
    fake_stripe: FakeStripe,
    spoil: Callable[[FakeStripe, dict[str, Any]], tuple[bytes, dict[str, str]]],
) -> None:
    event = fake_stripe.emit("payment_intent.succeeded", {"object": "payment_intent"})
    with pytest.raises(BadSignature):
        await stripe_gateway.read_webhook(*spoil(fake_stripe, event))


async def test_a_signed_body_that_is_not_an_event_is_refused(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    for body in ("not json", json.dumps({"object": "v2.core.event", "id": "evt_1"})):
        timestamp = int(time.time())
        header = stripe.WebhookSignature.generate_signature_header(
            body, fake_stripe.webhook_secret, timestamp=timestamp
        )
        with pytest.raises(BadSignature):
            await stripe_gateway.read_webhook(body.encode(), {"Stripe-Signature": header})


async def test_unused_event_types_and_odd_metadata(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    unknown = fake_stripe.emit("invoice.paid", {"object": "invoice", "id": "in_1"})
    assert await stripe_gateway.read_webhook(*fake_stripe.signed(unknown)) is None

    paid = await paid_checkout(stripe_gateway, fake_stripe)
    assert paid.provider_payment_id is not None
    intent = dict(fake_stripe.payment_intents[paid.provider_payment_id])
    intent["metadata"] = {"payment_id": "seven"}
    odd = fake_stripe.emit("payment_intent.succeeded", intent)
    result = await read(stripe_gateway, fake_stripe, odd)
    assert result.payment_id is None


async def test_webhooks_delivered_twice_and_backwards_read_the_same(
    stripe_gateway: StripeGateway, fake_stripe: FakeStripe
) -> None:
    await paid_checkout(stripe_gateway, fake_stripe)

    async def post(body: bytes, headers: dict[str, str]) -> GatewayEvent | None:
        return await stripe_gateway.read_webhook(body, headers)

    results = await fake_stripe.deliver(fake_stripe.events, post, duplicates=2, reverse=True)
    ids = [r.event_id for r in results if r is not None]
    assert len(ids) == 4
    assert ids[:2] == ids[2:]


# -- over loopback HTTP ---------------------------------------------------------------


async def test_the_whole_way_over_loopback_http(
    served_fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = served_fake_stripe
    # The gateway's own HTTP client (the SDK's httpx client), as in production.
    gateway = StripeGateway(SECRET_KEY, fake.webhook_secret, api_base=fake.base_url)
    try:
        assert gateway.checkout_origin == fake.base_url
        customer = await customer_id(gateway)
        checkout = await gateway.start_checkout(checkout_request(customer))
        assert checkout.url.startswith(f"{fake.base_url}/checkout/")
        async with httpx2.AsyncClient() as browser:
            page = await browser.get(checkout.url)
            assert "Deposit: Swedish massage, 60 minutes" in page.text
            paid = await browser.post(checkout.url, data={"card": "4242"})
        assert paid.status_code == 303
        assert paid.headers["location"] == (
            f"https://clinic.test/book/paid?cs={checkout.checkout_id}"
        )
        result = await gateway.checkout_result(checkout.checkout_id)
        assert result is not None
        assert result.kind is EventKind.CHECKOUT_PAID
        assert result.card is not None
        assert result.card.last4 == "4242"
    finally:
        await gateway.aclose()
