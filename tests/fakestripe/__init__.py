"""A stand-in Stripe for tests, written by this project (docs: payments.md §4.4).

`FakeStripe` is a small Starlette app keeping Stripe-shaped objects in dicts: customers,
Checkout Sessions (with a plain-HTML hosted page), PaymentIntents, SetupIntents,
PaymentMethods, charges, refunds and disputes. It reproduces the behaviours the clinic
relies on: form-encoded bracketed parameters, a per-endpoint allow-list of parameters with
Stripe's 400 error body, `Authorization: Bearer sk_test_...`, Idempotency-Key replay (and
`idempotency_error` for a key reused with other parameters), refund totals capped at the
captured amount, 402 card errors carrying the PaymentIntent, and an Event for every change.

Reaching it with the real SDK:

    fake = FakeStripe()
    gateway = StripeGateway(SECRET_KEY, fake.webhook_secret,
                            api_base=IN_PROCESS_BASE, http_client=fake.http_client())
    # or over loopback HTTP (browser and end-to-end tests):
    with FakeStripe().serve() as fake:
        gateway = StripeGateway(SECRET_KEY, fake.webhook_secret, api_base=fake.base_url)

Driving it: `fake.complete_checkout(session_id, card="4242")` (or the hosted page at the
session's url), `fake.expire_checkout(id)`, `fake.settle_async_payment(id)`,
`fake.fail_refund(id)`, `fake.open_dispute(pi_id)`, `fake.fail_next_requests(n)`; state in
`fake.sessions`, `fake.payment_intents`, `fake.refunds`, ...; `fake.requests` records every
API request with its decoded parameters.

Test cards, by last4 (as Stripe's): 4242 and 4444 always work; 0002 is declined at
checkout; 0341 saves but later off-session charges are declined (generic_decline); 3184
passes checkout (the client authenticated) but later off-session charges fail with 402
authentication_required.

Webhooks: `fake.events` lists every event; `fake.signed(event)` gives the body and headers
Stripe would POST; `await fake.deliver(events, post, duplicates=, reverse=, stale=)` posts
them through a callable of yours; `fake.webhook_url = url` makes a background thread POST
each new event there over HTTP (`fake.wait_for_webhooks()` waits for it).
"""

from tests.fakestripe.fake import (
    API_VERSION,
    IN_PROCESS_BASE,
    SECRET_KEY,
    TEST_CARDS,
    WEBHOOK_SECRET,
    Delivery,
    FakeStripe,
    MagicCard,
    Recorded,
)
from tests.fakestripe.http_client import InProcessHTTPClient

__all__ = [
    "API_VERSION",
    "IN_PROCESS_BASE",
    "SECRET_KEY",
    "TEST_CARDS",
    "WEBHOOK_SECRET",
    "Delivery",
    "FakeStripe",
    "InProcessHTTPClient",
    "MagicCard",
    "Recorded",
]
