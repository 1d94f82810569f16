"""The fake Stripe itself: Stripe's encoding, errors, idempotency, objects, the hosted
page, events and webhook delivery. The gateway's own tests are in test_stripe_gateway.py."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import pytest
import stripe

from tests.fakestripe import (
    API_VERSION,
    IN_PROCESS_BASE,
    SECRET_KEY,
    FakeStripe,
)
from tests.fakestripe.forms import ParamError, decode

AUTH = {"Authorization": f"Bearer {SECRET_KEY}"}
IN_AN_HOUR = 3600


@pytest.fixture
async def api(fake_stripe: FakeStripe) -> AsyncIterator[httpx2.AsyncClient]:
    """Raw HTTP into the fake, as the SDK would send it."""
    transport = httpx2.ASGITransport(app=fake_stripe.app)
    async with httpx2.AsyncClient(
        transport=transport, base_url=IN_PROCESS_BASE, headers=AUTH
    ) as client:
        yield client


@pytest.fixture
def sdk(fake_stripe: FakeStripe) -> stripe.StripeClient:
    return stripe.StripeClient(
        SECRET_KEY,
        base_addresses={"api": IN_PROCESS_BASE},
        http_client=fake_stripe.http_client(),
    )


def session_form(customer: str, **extra: str) -> dict[str, str]:
    form = {
        "mode": "payment",
        "customer": customer,
        "success_url": "https://clinic.test/paid?cs={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://clinic.test/cancelled",
        "expires_at": str(int(time.time()) + IN_AN_HOUR),
        "line_items[0][price_data][currency]": "usd",
        "line_items[0][price_data][unit_amount]": "2500",
        "line_items[0][price_data][product_data][name]": "Deposit: Swedish massage",
        "line_items[0][quantity]": "1",
        "metadata[payment_id]": "11",
        "payment_intent_data[metadata][payment_id]": "11",
        "payment_intent_data[setup_future_usage]": "off_session",
    }
    form.update(extra)
    return form


async def new_customer(api: httpx2.AsyncClient) -> str:
    response = await api.post("/v1/customers", data={"email": "a@example.com"})
    assert response.status_code == 200
    customer_id: str = response.json()["id"]
    return customer_id


async def paid_intent(api: httpx2.AsyncClient, fake: FakeStripe, amount: int = 2500) -> str:
    customer = await new_customer(api)
    form = session_form(customer, **{"line_items[0][price_data][unit_amount]": str(amount)})
    session = (await api.post("/v1/checkout/sessions", data=form)).json()
    completed = fake.complete_checkout(session["id"], "4242")
    intent_id: str = completed["payment_intent"]
    return intent_id


# -- encoding and errors --------------------------------------------------------------


def test_bracketed_keys_decode_to_nested_objects_and_lists() -> None:
    encoded = (
        "metadata[payment_id]=7&line_items[0][price_data][unit_amount]=2500"
        "&line_items[0][quantity]=1&line_items[1][quantity]=2&expand[0]=payment_intent"
        "&expand[1]=setup_intent.payment_method&tags[]=a&tags[]=b&plain=x+y"
    )
    assert decode(encoded) == {
        "metadata": {"payment_id": "7"},
        "line_items": [
            {"price_data": {"unit_amount": "2500"}, "quantity": "1"},
            {"quantity": "2"},
        ],
        "expand": ["payment_intent", "setup_intent.payment_method"],
        "tags": ["a", "b"],
        "plain": "x y",
    }


def test_a_key_that_is_both_a_value_and_an_object_is_refused() -> None:
    with pytest.raises(ParamError):
        decode("metadata=x&metadata[a]=b")


async def test_an_unknown_parameter_gets_stripes_400(api: httpx2.AsyncClient) -> None:
    customer = await new_customer(api)
    form = session_form(customer, **{"payment_intent_data[capture_methd]": "manual"})
    response = await api.post("/v1/checkout/sessions", data=form)
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "type": "invalid_request_error",
            "message": "Received unknown parameter: payment_intent_data[capture_methd]",
            "param": "payment_intent_data[capture_methd]",
        }
    }
    assert response.headers["request-id"].startswith("req_")


async def test_a_bad_integer_names_its_parameter(api: httpx2.AsyncClient) -> None:
    customer = await new_customer(api)
    form = session_form(customer, **{"line_items[0][price_data][unit_amount]": "25.00"})
    error = (await api.post("/v1/checkout/sessions", data=form)).json()["error"]
    assert error["message"] == "Invalid integer: 25.00"
    assert error["param"] == "line_items[0][price_data][unit_amount]"


async def test_expires_at_must_be_30_minutes_to_24_hours_ahead(api: httpx2.AsyncClient) -> None:
    customer = await new_customer(api)
    soon = str(int(time.time()) + 600)
    response = await api.post("/v1/checkout/sessions", data=session_form(customer, expires_at=soon))
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "expires_at"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Basic c2tfdGVzdF94Og=="}, 401),
        ({"Authorization": "Bearer sk_live_0123456789abcdef"}, 401),
        ({"Authorization": "Bearer sk_test_anything"}, 200),
    ],
)
async def test_a_test_secret_key_is_required(
    fake_stripe: FakeStripe, headers: dict[str, str], status: int
) -> None:
    transport = httpx2.ASGITransport(app=fake_stripe.app)
    async with httpx2.AsyncClient(transport=transport, base_url=IN_PROCESS_BASE) as client:
        response = await client.post("/v1/customers", data={"name": "A"}, headers=headers)
    assert response.status_code == status
    assert "0123456789abcdef" not in response.text


async def test_an_unknown_object_is_a_404(api: httpx2.AsyncClient) -> None:
    response = await api.get("/v1/payment_intents/pi_nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "resource_missing"


# -- idempotency ----------------------------------------------------------------------


async def test_a_replayed_key_returns_the_first_answer(
    api: httpx2.AsyncClient, fake_stripe: FakeStripe
) -> None:
    headers = {"Idempotency-Key": "row-1"}
    first = await api.post("/v1/customers", data={"name": "A"}, headers=headers)
    again = await api.post("/v1/customers", data={"name": "A"}, headers=headers)
    assert first.content == again.content
    assert again.headers["idempotent-replayed"] == "true"
    assert len(fake_stripe.customers) == 1
    assert len(fake_stripe.events_of("customer.created")) == 1
    assert [r.replayed for r in fake_stripe.requests] == [False, True]


async def test_a_key_reused_with_other_parameters_is_an_idempotency_error(
    api: httpx2.AsyncClient, fake_stripe: FakeStripe
) -> None:
    headers = {"Idempotency-Key": "row-1"}
    await api.post("/v1/customers", data={"name": "A"}, headers=headers)
    response = await api.post("/v1/customers", data={"name": "B"}, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "idempotency_error"
    assert len(fake_stripe.customers) == 1


async def test_a_validation_error_is_not_kept_under_its_key(api: httpx2.AsyncClient) -> None:
    headers = {"Idempotency-Key": "row-1"}
    bad = await api.post("/v1/customers", data={"nme": "A"}, headers=headers)
    good = await api.post("/v1/customers", data={"name": "A"}, headers=headers)
    assert (bad.status_code, good.status_code) == (400, 200)


# -- checkout -------------------------------------------------------------------------


async def test_a_session_expands_its_intent_and_card(
    api: httpx2.AsyncClient, fake_stripe: FakeStripe
) -> None:
    customer = await new_customer(api)
    session = (await api.post("/v1/checkout/sessions", data=session_form(customer))).json()
    assert session["status"] == "open"
    assert session["payment_intent"] is None
    assert session["url"] == f"{IN_PROCESS_BASE}/checkout/{session['id']}"
    fake_stripe.complete_checkout(session["id"], "4444")
    read = (
        await api.get(
            f"/v1/checkout/sessions/{session['id']}",
            params={"expand[0]": "payment_intent.payment_method"},
        )
    ).json()
    assert read["status"] == "complete"
    assert read["payment_status"] == "paid"
    assert read["url"] is None
    intent = read["payment_intent"]
    assert intent["status"] == "succeeded"
    assert intent["amount_received"] == 2500
    assert intent["metadata"] == {"payment_id": "11"}
    assert intent["payment_method"]["card"]["brand"] == "mastercard"
    assert intent["payment_method"]["card"]["last4"] == "4444"
    # Saved for later (setup_future_usage): attached to the customer.
    assert intent["payment_method"]["customer"] == customer


async def test_the_hosted_page_pays_and_redirects(
    api: httpx2.AsyncClient, fake_stripe: FakeStripe
) -> None:
    customer = await new_customer(api)
    session = (await api.post("/v1/checkout/sessions", data=session_form(customer))).json()
    page = await api.get(f"/checkout/{session['id']}")
    assert page.status_code == 200
    assert "Deposit: Swedish massage" in page.text
    assert "25.00 USD" in page.text
    assert 'href="https://clinic.test/cancelled"' in page.text
    assert "<script" not in page.text

    declined = await api.post(f"/checkout/{session['id']}", data={"card": "0002"})
    assert declined.status_code == 200
    assert "declined" in declined.text
    assert fake_stripe.sessions[session["id"]]["status"] == "open"
    assert fake_stripe.events[-1]["type"] == "payment_intent.payment_failed"

    paid = await api.post(f"/checkout/{session['id']}", data={"card": "4242"})
    assert paid.status_code == 303
    assert paid.headers["location"] == f"https://clinic.test/paid?cs={session['id']}"
    assert fake_stripe.sessions[session["id"]]["status"] == "complete"
    # The declined attempt and the paid one share one PaymentIntent, as on Stripe.
    assert len(fake_stripe.payment_intents) == 1

    again = await api.get(f"/checkout/{session['id']}")
    assert "already complete" in again.text


async def test_an_expired_session_says_so(api: httpx2.AsyncClient, fake_stripe: FakeStripe) -> None:
    customer = await new_customer(api)
    session = (await api.post("/v1/checkout/sessions", data=session_form(customer))).json()
    fake_stripe.expire_checkout(session["id"])
    assert "expired" in (await api.get(f"/checkout/{session['id']}")).text
    refused = await api.post(f"/v1/checkout/sessions/{session['id']}/expire")
    assert refused.status_code == 400
    with pytest.raises(ValueError, match="not open"):
        fake_stripe.complete_checkout(session["id"])


async def test_test_endpoints_complete_and_expire_sessions(
    api: httpx2.AsyncClient, fake_stripe: FakeStripe
) -> None:
    customer = await new_customer(api)
    paying = (await api.post("/v1/checkout/sessions", data=session_form(customer))).json()
    done = await api.post(f"/_test/checkout/{paying['id']}/complete", data={"card": "4444"})
    assert done.json()["status"] == "complete"
    leaving = (await api.post("/v1/checkout/sessions", data=session_form(customer))).json()
    gone = await api.post(f"/_test/checkout/{leaving['id']}/expire")
    assert gone.json()["status"] == "expired"
    again = await api.post(f"/_test/checkout/{leaving['id']}/expire")
    assert again.status_code == 400


async def test_a_session_expires_when_its_time_passes(
    api: httpx2.AsyncClient, fake_stripe: FakeStripe
) -> None:
    customer = await new_customer(api)
    session = (await api.post("/v1/checkout/sessions", data=session_form(customer))).json()
    start = time.time()
    fake_stripe.clock = lambda: start + IN_AN_HOUR + 1
    read = (await api.get(f"/v1/checkout/sessions/{session['id']}")).json()
    assert read["status"] == "expired"
    assert fake_stripe.events[-1]["type"] == "checkout.session.expired"


async def test_setup_mode_saves_a_card_without_charging(
    api: httpx2.AsyncClient, fake_stripe: FakeStripe
) -> None:
    customer = await new_customer(api)
    form = {
        "mode": "setup",
        "currency": "usd",
        "customer": customer,
        "success_url": "https://clinic.test/saved",
        "setup_intent_data[metadata][payment_id]": "12",
    }
    session = (await api.post("/v1/checkout/sessions", data=form)).json()
    assert session["payment_status"] == "no_payment_required"
    done = fake_stripe.complete_checkout(session["id"], "3184")
    setup = fake_stripe.setup_intents[done["setup_intent"]]
    assert setup["status"] == "succeeded"
    assert setup["metadata"] == {"payment_id": "12"}
    assert fake_stripe.payment_methods[setup["payment_method"]]["customer"] == customer
    assert fake_stripe.payment_intents == {}
    assert [e["type"] for e in fake_stripe.events[-2:]] == [
        "setup_intent.succeeded",
        "checkout.session.completed",
    ]


# -- off-session charges and refunds -----------------------------------------------------


async def saved_card(api: httpx2.AsyncClient, fake: FakeStripe, last4: str) -> tuple[str, str]:
    customer = await new_customer(api)
    form = {
        "mode": "setup",
        "currency": "usd",
        "customer": customer,
        "success_url": "https://clinic.test/saved",
    }
    session = (await api.post("/v1/checkout/sessions", data=form)).json()
    done = fake.complete_checkout(session["id"], last4)
    return customer, fake.setup_intents[done["setup_intent"]]["payment_method"]


def charge_form(customer: str, method: str) -> dict[str, str]:
    return {
        "amount": "4000",
        "currency": "usd",
        "customer": customer,
        "payment_method": method,
        "off_session": "true",
        "confirm": "true",
    }


async def test_an_off_session_decline_is_a_402_carrying_the_intent(
    api: httpx2.AsyncClient, fake_stripe: FakeStripe
) -> None:
    customer, method = await saved_card(api, fake_stripe, "0341")
    headers = {"Idempotency-Key": "fee-1"}
    response = await api.post(
        "/v1/payment_intents", data=charge_form(customer, method), headers=headers
    )
    assert response.status_code == 402
    error = response.json()["error"]
    assert (error["type"], error["code"], error["decline_code"]) == (
        "card_error",
        "card_declined",
        "generic_decline",
    )
    assert error["payment_intent"]["status"] == "requires_payment_method"
    assert fake_stripe.events[-1]["type"] == "payment_intent.payment_failed"
    # Stripe keeps a 402 under its key: the retry replays it and charges nothing new.
    again = await api.post(
        "/v1/payment_intents", data=charge_form(customer, method), headers=headers
    )
    assert again.status_code == 402
    assert again.content == response.content
    assert len(fake_stripe.payment_intents) == 1


async def test_an_off_session_charge_can_need_authentication(
    api: httpx2.AsyncClient, fake_stripe: FakeStripe
) -> None:
    customer, method = await saved_card(api, fake_stripe, "3184")
    response = await api.post("/v1/payment_intents", data=charge_form(customer, method))
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "authentication_required"
    assert error["payment_intent"]["id"] in fake_stripe.payment_intents


async def test_a_card_not_saved_cannot_be_charged_later(
    api: httpx2.AsyncClient, fake_stripe: FakeStripe
) -> None:
    customer = await new_customer(api)
    form = session_form(customer)
    del form["payment_intent_data[setup_future_usage]"]
    session = (await api.post("/v1/checkout/sessions", data=form)).json()
    done = fake_stripe.complete_checkout(session["id"])
    method = fake_stripe.payment_intents[done["payment_intent"]]["payment_method"]
    response = await api.post("/v1/payment_intents", data=charge_form(customer, method))
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "payment_method"


async def test_refunds_add_up_to_the_captured_amount_at_most(
    api: httpx2.AsyncClient, fake_stripe: FakeStripe
) -> None:
    intent = await paid_intent(api, fake_stripe, amount=2500)
    first = await api.post("/v1/refunds", data={"payment_intent": intent, "amount": "1000"})
    assert first.json()["status"] == "succeeded"
    too_much = await api.post("/v1/refunds", data={"payment_intent": intent, "amount": "1501"})
    assert too_much.status_code == 400
    assert too_much.json()["error"]["code"] == "amount_too_large"
    assert too_much.json()["error"]["param"] == "amount"
    rest = (await api.post("/v1/refunds", data={"payment_intent": intent})).json()
    assert rest["amount"] == 1500
    charge = fake_stripe.charges[rest["charge"]]
    assert (charge["amount_refunded"], charge["refunded"]) == (2500, True)
    done = await api.post("/v1/refunds", data={"payment_intent": intent})
    assert done.json()["error"]["code"] == "charge_already_refunded"
    assert [e["type"] for e in fake_stripe.events[-2:]] == ["refund.created", "charge.refunded"]


# -- events and webhooks ----------------------------------------------------------------


async def test_events_are_snapshots_in_stripes_shape(
    api: httpx2.AsyncClient, fake_stripe: FakeStripe
) -> None:
    await paid_intent(api, fake_stripe)
    completed = fake_stripe.events_of("checkout.session.completed")[0]
    assert completed["id"].startswith("evt_")
    assert completed["object"] == "event"
    assert completed["api_version"] == API_VERSION == stripe.api_version
    assert completed["livemode"] is False
    snapshot = completed["data"]["object"]
    assert snapshot["object"] == "checkout.session"
    assert snapshot["status"] == "complete"
    # A snapshot: later changes do not reach it.
    fake_stripe.sessions[snapshot["id"]]["metadata"]["later"] = "x"
    assert "later" not in completed["data"]["object"]["metadata"]


def test_signed_bodies_verify_with_the_sdk(fake_stripe: FakeStripe) -> None:
    event = fake_stripe.emit("invoice.paid", {"object": "invoice", "id": "in_1"})
    body, headers = fake_stripe.signed(event)
    parsed = stripe.Webhook.construct_event(
        body, headers["stripe-signature"], fake_stripe.webhook_secret
    )
    assert parsed.id == event["id"]
    for bad in (
        fake_stripe.signed(event, stale=True),
        fake_stripe.signed(event, bad_signature=True),
        fake_stripe.signed(event, "whsec_another"),
    ):
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(
                bad[0], bad[1]["stripe-signature"], fake_stripe.webhook_secret
            )


async def test_deliver_posts_in_order_reversed_and_twice(fake_stripe: FakeStripe) -> None:
    events = [fake_stripe.emit(f"test.event_{n}", {"object": "x", "n": n}) for n in range(3)]
    seen: list[str] = []

    async def post(body: bytes, headers: dict[str, str]) -> int:
        seen.append(json.loads(body)["type"])
        return 200

    results = await fake_stripe.deliver(events, post, duplicates=2, reverse=True)
    assert results == [200] * 6
    assert seen == ["test.event_2", "test.event_1", "test.event_0"] * 2

    plain: list[bytes] = []
    await fake_stripe.deliver(events[:1], lambda body, headers: plain.append(body))
    assert len(plain) == 1


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[bytes, dict[str, str]]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.received.append((body, {k.lower(): v for k, v in self.headers.items()}))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[bytes, dict[str, str]]]]]:
    received: list[tuple[bytes, dict[str, str]]] = []
    handler = type("Handler", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/payments/stripe/webhook", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_events_are_posted_to_the_webhook_url(
    api: httpx2.AsyncClient,
    fake_stripe: FakeStripe,
    receiver: tuple[str, list[tuple[bytes, dict[str, str]]]],
) -> None:
    url, received = receiver
    fake_stripe.webhook_url = url
    fake_stripe.webhook_duplicates = 2
    await paid_intent(api, fake_stripe)
    await fake_stripe.wait_for_webhooks_async()
    types = [json.loads(body)["type"] for body, _ in received]
    expected = [e["type"] for e in fake_stripe.events for _ in range(2)]
    assert types == expected
    assert all(d.status == 200 for d in fake_stripe.deliveries)
    body, headers = received[-1]
    event = stripe.Webhook.construct_event(
        body, headers["stripe-signature"], fake_stripe.webhook_secret
    )
    assert event.type == "checkout.session.completed"


# -- the SDK, sync and over loopback ------------------------------------------------------


def test_the_sdks_sync_methods_work_in_process(sdk: stripe.StripeClient) -> None:
    customer = sdk.v1.customers.create({"email": "a@example.com"})
    assert customer.id.startswith("cus_")
    assert sdk.v1.customers.retrieve(customer.id).email == "a@example.com"


def test_injected_5xx_are_retried_by_the_sdk_with_the_same_key(fake_stripe: FakeStripe) -> None:
    fake_stripe.fail_next_requests(1)
    retrying = stripe.StripeClient(
        SECRET_KEY,
        base_addresses={"api": IN_PROCESS_BASE},
        http_client=fake_stripe.http_client(),
        max_network_retries=1,
    )
    customer = retrying.v1.customers.create({"name": "A"})
    assert customer.id in fake_stripe.customers
    first, second = fake_stripe.requests
    assert (first.status, second.status) == (500, 200)
    assert first.idempotency_key == second.idempotency_key is not None
