"""FakeStripe: a small, stateful stand-in for the parts of Stripe's API the clinic uses.

A Starlette app keeping its objects in dicts. The real SDK talks to it, either in-process
(`fake.http_client()`, no socket) or over loopback HTTP (`with fake.serve(): fake.base_url`).
See tests/fakestripe/__init__.py for the overview and the test cards."""

from __future__ import annotations

import copy
import html
import inspect
import json
import logging
import queue
import secrets
import string
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
import stripe
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from clinic.serving import listening_socket
from tests.fakestripe.forms import (
    METADATA,
    Choice,
    ParamError,
    canonical,
    coerce,
    decode,
    with_expand,
)

log = logging.getLogger("tests.fakestripe")

SECRET_KEY = "sk_test_fakestripe0123456789abcdef"
WEBHOOK_SECRET = "whsec_fakestripe0123456789abcdef"
# The in-process base address: never resolved, the in-process client answers for it.
IN_PROCESS_BASE = "http://fakestripe.test"
# The API version the SDK pins (stripe/_api_version.py, exported as stripe.api_version).
API_VERSION: str = stripe.api_version

_ALPHABET = string.ascii_letters + string.digits
_ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf"}
_ZERO_DECIMAL |= {"ugx", "vnd", "vuv", "xaf", "xof", "xpf"}


@dataclass(frozen=True)
class MagicCard:
    last4: str
    brand: str
    number: str
    label: str
    # At checkout (the client is present and authenticates): None = works, else the
    # decline code.
    checkout_decline: str | None = None
    # Later off-session charges: None = works, "authentication_required", or a decline code.
    off_session_failure: str | None = None


TEST_CARDS: dict[str, MagicCard] = {
    card.last4: card
    for card in (
        MagicCard("4242", "visa", "4242 4242 4242 4242", "Visa: always works"),
        MagicCard("4444", "mastercard", "5555 5555 5555 4444", "Mastercard: always works"),
        MagicCard(
            "0002",
            "visa",
            "4000 0000 0000 0002",
            "Visa: declined (card_declined)",
            checkout_decline="generic_decline",
            off_session_failure="generic_decline",
        ),
        MagicCard(
            "0341",
            "visa",
            "4000 0000 0000 0341",
            "Visa: saves, but later charges are declined",
            off_session_failure="generic_decline",
        ),
        MagicCard(
            "3184",
            "visa",
            "4000 0027 6000 3184",
            "Visa: always asks for authentication (passes here; later charges need it)",
            off_session_failure="authentication_required",
        ),
    )
}

_DECLINE_MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "authentication_required": (
        "Your card was declined. This transaction requires authentication."
    ),
}


class ApiError(Exception):
    """An error answer in Stripe's shape: {"error": {"type": ..., "message": ...}}."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        body: dict[str, Any] = {"type": type, "message": message}
        if param is not None:
            body["param"] = param
        if code is not None:
            body["code"] = code
            body["doc_url"] = f"https://docs.stripe.com/error-codes/{code.replace('_', '-')}"
        body.update(extra)
        self.body = {"error": body}


@dataclass
class Recorded:
    """One API request as the fake received it (params decoded, before validation)."""

    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    stripe_version: str | None
    status: int = 0
    replayed: bool = False


@dataclass
class Delivery:
    """One automatic webhook POST (fake.webhook_url)."""

    event_id: str
    event_type: str
    status: int | None
    error: str = ""


@dataclass
class _Stored:
    fingerprint: tuple[Any, ...]
    status: int
    body: bytes


@dataclass
class _Endpoint:
    method: str
    path: str
    spec: dict[str, Any]
    handler: Callable[..., dict[str, Any]]
    status: int = 200


@dataclass
class _SessionPrivate:
    """What a Checkout Session keeps from its creation that its object does not show."""

    payment_intent_data: dict[str, Any] = field(default_factory=dict)
    setup_intent_data: dict[str, Any] = field(default_factory=dict)
    line_items: list[dict[str, Any]] = field(default_factory=list)


# -- parameter allow-lists (only what the clinic's gateway may send, plus a few usual) --

_CUSTOMER_CREATE = with_expand(
    {
        "email": str,
        "name": str,
        "phone": str,
        "description": str,
        "metadata": METADATA,
        "preferred_locales": [str],
    }
)
_CHECKOUT_CREATE = with_expand(
    {
        "mode": Choice("payment", "setup", "subscription"),
        "ui_mode": Choice("hosted_page", "embedded_page", "form", "elements"),
        "customer": str,
        "customer_email": str,
        "client_reference_id": str,
        "metadata": METADATA,
        "success_url": str,
        "cancel_url": str,
        "expires_at": int,
        "currency": str,
        "locale": str,
        "allowed_payment_method_types": [str],
        "excluded_payment_method_types": [str],
        "submit_type": Choice("auto", "book", "donate", "pay", "subscribe"),
        "line_items": [
            {
                "price_data": {
                    "currency": str,
                    "unit_amount": int,
                    "product_data": {"name": str, "description": str, "metadata": METADATA},
                    "tax_behavior": Choice("exclusive", "inclusive", "unspecified"),
                },
                "quantity": int,
            }
        ],
        "payment_intent_data": {
            "metadata": METADATA,
            "description": str,
            "setup_future_usage": Choice("off_session", "on_session"),
            "capture_method": Choice("automatic", "automatic_async", "manual"),
            "statement_descriptor_suffix": str,
            "receipt_email": str,
        },
        "setup_intent_data": {"metadata": METADATA, "description": str},
    }
)
_PAYMENT_INTENT_CREATE = with_expand(
    {
        "amount": int,
        "currency": str,
        "customer": str,
        "payment_method": str,
        "allowed_payment_method_types": [str],
        "off_session": Choice("true", "one_off", "recurring"),
        "confirm": bool,
        "description": str,
        "metadata": METADATA,
        "capture_method": Choice("automatic", "automatic_async", "manual"),
        "setup_future_usage": Choice("off_session", "on_session"),
        "receipt_email": str,
        "statement_descriptor_suffix": str,
        "return_url": str,
        "error_on_requires_action": bool,
    }
)
_REFUND_CREATE = with_expand(
    {
        "payment_intent": str,
        "charge": str,
        "amount": int,
        "reason": Choice("duplicate", "fraudulent", "requested_by_customer"),
        "metadata": METADATA,
    }
)
_RETRIEVE = with_expand({})
_EXPIRE = with_expand({})

_PREFIXES = {
    "cus": "customers",
    "cs": "sessions",
    "pi": "payment_intents",
    "seti": "setup_intents",
    "pm": "payment_methods",
    "ch": "charges",
    "re": "refunds",
    "du": "disputes",
    "evt": "_events_by_id",
}


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _new_id(prefix: str) -> str:
    if prefix == "cs":
        return f"cs_test_{_random(58)}"
    return f"{prefix}_{_random(24)}"


def _amount_text(amount: int, currency: str) -> str:
    if currency.lower() in _ZERO_DECIMAL:
        return f"{amount} {currency.upper()}"
    return f"{amount // 100}.{amount % 100:02d} {currency.upper()}"


class FakeStripe:
    """A stand-in Stripe: state in dicts, Stripe's error shapes, idempotency, events,
    signed webhooks and a hosted checkout page. See tests/fakestripe/__init__.py."""

    secret_key = SECRET_KEY

    def __init__(self, *, webhook_secret: str = WEBHOOK_SECRET) -> None:
        self.webhook_secret = webhook_secret
        # Where the SDK is pointed: IN_PROCESS_BASE until served (then the loopback URL).
        self.base_url = IN_PROCESS_BASE
        # Seconds since the epoch; tests may replace it to move the fake's time.
        self.clock: Callable[[], float] = time.time
        self.customers: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.payment_intents: dict[str, dict[str, Any]] = {}
        self.setup_intents: dict[str, dict[str, Any]] = {}
        self.payment_methods: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.disputes: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._events_by_id: dict[str, dict[str, Any]] = {}
        self.requests: list[Recorded] = []
        # Automatic delivery: set to the app's webhook URL to have each new event POSTed
        # there over HTTP, signed, by a background thread (after the triggering response).
        self.webhook_url: str | None = None
        self.webhook_duplicates = 1
        self.webhook_stale = False
        self.deliveries: list[Delivery] = []
        self._session_private: dict[str, _SessionPrivate] = {}
        self._idempotency: dict[str, _Stored] = {}
        self._failures: list[int] = []
        self._lock = threading.RLock()
        self._undelivered: list[dict[str, Any]] = []
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._pending = 0
        self._pending_changed = threading.Condition()
        self._worker: threading.Thread | None = None
        # The API request being answered: events it causes name it (event.request).
        self._context: dict[str, str | None] | None = None
        self.app = self._build_app()

    # -- life cycle ---------------------------------------------------------------------

    def __enter__(self) -> FakeStripe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the webhook thread (if it ever started)."""
        worker, self._worker = self._worker, None
        if worker is not None:
            self._queue.put(None)
            worker.join(timeout=10)

    def http_client(self) -> stripe.HTTPClient:
        """An SDK HTTP client that hands each request to this fake's ASGI app, no socket.
        Use with `api_base=IN_PROCESS_BASE` (or fake.base_url before serving)."""
        from tests.fakestripe.http_client import InProcessHTTPClient

        return InProcessHTTPClient(self.app)

    @contextmanager
    def serve(self) -> Iterator[FakeStripe]:
        """Serve the fake with uvicorn on 127.0.0.1 and an ephemeral port, in a background
        thread; `fake.base_url` is its address meanwhile."""
        sock = listening_socket("127.0.0.1", 0, 128)
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,
            lifespan="off",
            ws="none",
            http="h11",
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="fakestripe", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise RuntimeError("the fake Stripe server did not start")
            time.sleep(0.01)
        previous, self.base_url = self.base_url, f"http://127.0.0.1:{port}"
        try:
            yield self
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            sock.close()
            self.base_url = previous
            self.close()

    # -- failures on demand -------------------------------------------------------------

    def fail_next_requests(self, count: int = 1, *, status: int = 500) -> None:
        """Answer the next `count` API requests with `status` (500: api_error; 429:
        rate_limit), storing nothing (as Stripe, whose 5xx happen before any change)."""
        with self._lock:
            self._failures.extend([status] * count)

    # -- test controls ------------------------------------------------------------------

    def complete_checkout(
        self, session_id: str, card: str = "4242", *, delayed: bool = False
    ) -> dict[str, Any]:
        """Pay (or save a card) on an open session's page with a test card (by last4).
        A card declined at checkout leaves the session open (check its status). `delayed`
        completes a payment session unpaid, as a delayed payment method would; then call
        `settle_async_payment`. Returns the session."""
        with self._lock:
            self._tick()
            session = self._session(session_id)
            self._complete(session, card, delayed=delayed)
            result = copy.deepcopy(session)
        self._flush()
        return result

    def settle_async_payment(self, session_id: str, *, succeeded: bool = True) -> dict[str, Any]:
        """Settle a session completed with `delayed=True`: the money arrives
        (checkout.session.async_payment_succeeded) or not (..._failed)."""
        with self._lock:
            session = self._session(session_id)
            intent = self.payment_intents.get(session.get("payment_intent") or "")
            if (
                session["status"] != "complete"
                or session["payment_status"] != "unpaid"
                or intent is None
                or intent["status"] != "processing"
            ):
                raise ValueError(f"{session_id} has no delayed payment to settle")
            if succeeded:
                self._succeed_intent(intent)
                session["payment_status"] = "paid"
                self._emit("payment_intent.succeeded", intent)
                self._emit("checkout.session.async_payment_succeeded", session)
            else:
                self._fail_intent(intent, "generic_decline", None)
                self._emit("payment_intent.payment_failed", intent)
                self._emit("checkout.session.async_payment_failed", session)
            result = copy.deepcopy(session)
        self._flush()
        return result

    def expire_checkout(self, session_id: str) -> dict[str, Any]:
        """Expire an open session now (as its expires_at passing would)."""
        with self._lock:
            session = self._session(session_id)
            if session["status"] != "open":
                raise ValueError(f"{session_id} is {session['status']}, not open")
            self._expire(session)
            result = copy.deepcopy(session)
        self._flush()
        return result

    def fail_refund(
        self, refund_id: str, reason: str = "expired_or_canceled_card"
    ) -> dict[str, Any]:
        """A refund that succeeded fails later (the card account was closed)."""
        with self._lock:
            refund = self.refunds[refund_id]
            if refund["status"] == "failed":
                raise ValueError(f"{refund_id} has already failed")
            refund["status"] = "failed"
            refund["failure_reason"] = reason
            charge = self.charges[refund["charge"]]
            charge["amount_refunded"] -= refund["amount"]
            charge["refunded"] = False
            self._emit("refund.failed", refund)
            self._emit("refund.updated", refund)
            result = copy.deepcopy(refund)
        self._flush()
        return result

    def open_dispute(self, payment_intent_id: str, reason: str = "fraudulent") -> dict[str, Any]:
        """The cardholder disputes a payment (charge.dispute.created)."""
        with self._lock:
            intent = self.payment_intents[payment_intent_id]
            charge = self.charges[intent["latest_charge"]]
            dispute = {
                "id": _new_id("du"),
                "object": "dispute",
                "amount": charge["amount"],
                "charge": charge["id"],
                "created": self._now(),
                "currency": charge["currency"],
                "is_charge_refundable": False,
                "livemode": False,
                "metadata": {},
                "payment_intent": intent["id"],
                "reason": reason,
                "status": "needs_response",
            }
            self.disputes[dispute["id"]] = dispute
            charge["disputed"] = True
            self._emit("charge.dispute.created", dispute)
            result = copy.deepcopy(dispute)
        self._flush()
        return result

    def emit(self, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Append an arbitrary event (an object snapshot of your making)."""
        with self._lock:
            event = self._emit(event_type, obj)
        self._flush()
        return event

    def events_of(self, *types: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] in types]

    # -- webhooks -----------------------------------------------------------------------

    def signed(
        self,
        event: dict[str, Any],
        secret: str | None = None,
        *,
        stale: bool = False,
        bad_signature: bool = False,
        timestamp: int | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers Stripe would POST for `event`. `stale` dates the signature
        ten minutes back (beyond the SDK's 300 s tolerance); `bad_signature` signs with
        another secret."""
        payload = json.dumps(event, indent=2)
        if timestamp is None:
            timestamp = int(time.time()) - (600 if stale else 0)
        key = secret or self.webhook_secret
        if bad_signature:
            key = key + "-not-the-secret"
        header = stripe.WebhookSignature.generate_signature_header(
            payload, key, timestamp=timestamp
        )
        headers = {
            "content-type": "application/json; charset=utf-8",
            "stripe-signature": header,
            "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        return payload.encode("utf-8"), headers

    async def deliver(
        self,
        events: Iterable[dict[str, Any]],
        post: Callable[[bytes, dict[str, str]], Any],
        *,
        duplicates: int = 1,
        reverse: bool = False,
        stale: bool = False,
        bad_signature: bool = False,
    ) -> list[Any]:
        """Deliver events through `post(body, headers)`: a plain function or a coroutine
        function (awaited), e.g. `lambda b, h: http.post(url, content=b, headers=h)` with
        an httpx ASGI client. `reverse` delivers newest first; `duplicates=2` delivers the
        whole sequence twice. Returns what `post` returned, in delivery order."""
        ordered = list(events)
        if reverse:
            ordered.reverse()
        results: list[Any] = []
        for _ in range(duplicates):
            for event in ordered:
                body, headers = self.signed(event, stale=stale, bad_signature=bad_signature)
                result = post(body, headers)
                if inspect.isawaitable(result):
                    result = await result
                results.append(result)
        return results

    def wait_for_webhooks(self, timeout: float = 10.0) -> None:
        """Block until every automatic delivery queued so far was attempted."""
        deadline = time.monotonic() + timeout
        with self._pending_changed:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self._pending} webhook(s) still undelivered")
                self._pending_changed.wait(left)

    async def wait_for_webhooks_async(self, seconds: float = 10.0) -> None:
        await anyio.to_thread.run_sync(self.wait_for_webhooks, seconds)

    def _flush(self) -> None:
        """Hand the events appended since the last flush to the webhook thread."""
        with self._lock:
            events, self._undelivered = self._undelivered, []
        if self.webhook_url is None or not events:
            return
        with self._pending_changed:
            self._pending += len(events)
        if self._worker is None:
            self._worker = threading.Thread(
                target=self._deliver_forever, name="fakestripe-webhooks", daemon=True
            )
            self._worker.start()
        for event in events:
            self._queue.put(event)

    def _deliver_forever(self) -> None:
        # No proxy, whatever the environment says: the app is on loopback.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while True:
            event = self._queue.get()
            if event is None:
                return
            try:
                for _ in range(max(1, self.webhook_duplicates)):
                    self._post_once(opener, event)
            finally:
                with self._pending_changed:
                    self._pending -= 1
                    self._pending_changed.notify_all()

    def _post_once(self, opener: urllib.request.OpenerDirector, event: dict[str, Any]) -> None:
        url = self.webhook_url
        if url is None:
            return
        body, headers = self.signed(event, stale=self.webhook_stale)
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
        status: int | None = None
        error = ""
        try:
            with opener.open(request, timeout=10) as response:
                status = response.status
        except urllib.error.HTTPError as failed:
            status = failed.code
            failed.close()
        except OSError as failed:
            error = f"{type(failed).__name__}: {failed}"
        self.deliveries.append(Delivery(event["id"], event["type"], status, error))

    # -- the app ------------------------------------------------------------------------

    def _build_app(self) -> Starlette:
        endpoints = [
            _Endpoint("POST", "/v1/customers", _CUSTOMER_CREATE, self._create_customer),
            _Endpoint("GET", "/v1/customers/{id}", _RETRIEVE, self._get("customers")),
            _Endpoint("POST", "/v1/checkout/sessions", _CHECKOUT_CREATE, self._create_session),
            _Endpoint("GET", "/v1/checkout/sessions/{id}", _RETRIEVE, self._get("sessions")),
            _Endpoint("POST", "/v1/checkout/sessions/{id}/expire", _EXPIRE, self._expire_session),
            _Endpoint("POST", "/v1/payment_intents", _PAYMENT_INTENT_CREATE, self._create_intent),
            _Endpoint("GET", "/v1/payment_intents/{id}", _RETRIEVE, self._get("payment_intents")),
            _Endpoint("GET", "/v1/setup_intents/{id}", _RETRIEVE, self._get("setup_intents")),
            _Endpoint("GET", "/v1/payment_methods/{id}", _RETRIEVE, self._get("payment_methods")),
            _Endpoint("GET", "/v1/charges/{id}", _RETRIEVE, self._get("charges")),
            _Endpoint("POST", "/v1/refunds", _REFUND_CREATE, self._create_refund),
            _Endpoint("GET", "/v1/refunds/{id}", _RETRIEVE, self._get("refunds")),
            _Endpoint("GET", "/v1/events/{id}", _RETRIEVE, self._get("_events_by_id")),
        ]
        routes = [
            Route(e.path, self._api_route(e), methods=[e.method], name=e.path) for e in endpoints
        ]
        routes += [
            Route("/checkout/{id}", self._page, methods=["GET", "POST"]),
            Route("/_test/checkout/{id}/complete", self._test_complete, methods=["POST"]),
            Route("/_test/checkout/{id}/expire", self._test_expire, methods=["POST"]),
        ]
        return Starlette(routes=routes)

    def _api_route(self, endpoint: _Endpoint) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            raw = (await request.body()).decode("utf-8") if request.method == "POST" else ""
            if request.method == "GET":
                raw = request.url.query
            return self._call(endpoint, request, raw)

        return handle

    def _call(self, endpoint: _Endpoint, request: Request, raw: str) -> Response:
        key = request.headers.get("idempotency-key") if endpoint.method == "POST" else None
        record = Recorded(
            endpoint.method,
            request.url.path,
            {},
            key,
            request.headers.get("stripe-version"),
        )
        request_id = f"req_{_random(14)}"
        headers = {"request-id": request_id, "stripe-version": API_VERSION}
        if key:
            headers["idempotency-key"] = key
        with self._lock:
            self.requests.append(record)
            status, body, store = self._answer(endpoint, request, raw, record, key, request_id)
            record.status = status
            if record.replayed:
                headers["idempotent-replayed"] = "true"
            elif store and key:
                fingerprint = (endpoint.method, request.url.path, canonical(raw))
                self._idempotency[key] = _Stored(fingerprint, status, body)
        return Response(
            body,
            status_code=status,
            media_type="application/json",
            headers=headers,
            background=BackgroundTask(self._flush),
        )

    def _answer(
        self,
        endpoint: _Endpoint,
        request: Request,
        raw: str,
        record: Recorded,
        key: str | None,
        request_id: str,
    ) -> tuple[int, bytes, bool]:
        """(status, body, whether an idempotency key keeps it)."""
        try:
            self._authenticate(request.headers.get("authorization", ""))
            try:
                params = decode(raw)
            except ParamError as bad:
                raise ApiError(400, bad.message, param=bad.param) from None
            record.params = params
            if key:
                stored = self._idempotency.get(key)
                if stored is not None:
                    if stored.fingerprint != (endpoint.method, request.url.path, canonical(raw)):
                        raise ApiError(
                            400,
                            "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with. Try using a key other "
                            f"than '{key}' if you meant to execute a different request.",
                            type="idempotency_error",
                        )
                    record.replayed = True
                    return stored.status, stored.body, False
            if self._failures:
                status = self._failures.pop(0)
                if status == 429:
                    raise ApiError(
                        429,
                        "Too many requests hit the API too quickly.",
                        code="rate_limit",
                    )
                raise ApiError(
                    status,
                    "An unknown error occurred (injected by the fake).",
                    type="api_error",
                )
            try:
                checked = coerce(params, endpoint.spec)
            except ParamError as bad:
                raise ApiError(400, bad.message, param=bad.param, code=bad.code) from None
            self._tick()
            self._context = {"id": request_id, "idempotency_key": key}
            try:
                result = endpoint.handler(checked, **request.path_params)
            finally:
                self._context = None
            expand = checked.get("expand") or []
            if expand:
                result = self._expanded(result, expand)
            return endpoint.status, json.dumps(result).encode(), True
        except ApiError as error:
            # Stripe keeps the outcome of a request that ran (a 402 decline); not one
            # refused before it started (400 validation, 401, 404, an injected 5xx).
            kept = error.status == 402
            return error.status, json.dumps(error.body).encode(), kept

    def _authenticate(self, authorization: str) -> None:
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise ApiError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
            )
        if not key.startswith("sk_test_"):
            shown = key[:8] + "*" * 4 + key[-4:] if len(key) > 12 else "****"
            raise ApiError(401, f"Invalid API Key provided: {shown}")

    # -- objects --------------------------------------------------------------------------

    def _now(self) -> int:
        return int(self.clock())

    def _lookup(self, object_id: str) -> dict[str, Any] | None:
        prefix = object_id.split("_", 1)[0]
        store_name = _PREFIXES.get(prefix)
        if store_name is None:
            return None
        store: dict[str, dict[str, Any]] = getattr(self, store_name)
        return store.get(object_id)

    def _expanded(self, obj: dict[str, Any], paths: list[str]) -> dict[str, Any]:
        result = copy.deepcopy(obj)
        for path in paths:
            self._expand_path(result, path.split("."), path)
        return result

    def _expand_path(self, obj: dict[str, Any], parts: list[str], path: str) -> None:
        name = parts[0]
        if name not in obj:
            raise ApiError(400, f"This property cannot be expanded ({name}).", param="expand")
        value = obj[name]
        if isinstance(value, str):
            target = self._lookup(value)
            if target is None:
                return
            value = copy.deepcopy(target)
            obj[name] = value
        if isinstance(value, dict) and len(parts) > 1:
            self._expand_path(value, parts[1:], path)

    def _get(self, store_name: str) -> Callable[..., dict[str, Any]]:
        kinds = {
            "customers": "customer",
            "sessions": "checkout.session",
            "payment_intents": "payment_intent",
            "setup_intents": "setup_intent",
            "payment_methods": "payment_method",
            "charges": "charge",
            "refunds": "refund",
            "_events_by_id": "event",
        }

        def get(params: dict[str, Any], id: str) -> dict[str, Any]:
            store: dict[str, dict[str, Any]] = getattr(self, store_name)
            if id not in store:
                raise ApiError(
                    404,
                    f"No such {kinds[store_name]}: '{id}'",
                    param="id",
                    code="resource_missing",
                )
            return copy.deepcopy(store[id])

        return get

    def _missing(self, kind: str, object_id: str, param: str) -> ApiError:
        return ApiError(400, f"No such {kind}: '{object_id}'", param=param, code="resource_missing")

    def _session(self, session_id: str) -> dict[str, Any]:
        try:
            return self.sessions[session_id]
        except KeyError:
            raise KeyError(f"no checkout session {session_id}") from None

    def _emit(self, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
        context = self._context or {"id": None, "idempotency_key": None}
        event: dict[str, Any] = {
            "id": _new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self._now(),
            "data": {"object": copy.deepcopy(obj)},
            "livemode": False,
            "pending_webhooks": 1 if self.webhook_url else 0,
            "request": dict(context),
            "type": event_type,
        }
        self.events.append(event)
        self._events_by_id[event["id"]] = event
        self._undelivered.append(event)
        return event

    def _tick(self) -> None:
        """Sessions whose expires_at has passed expire, as on Stripe."""
        now = self._now()
        for session in self.sessions.values():
            if session["status"] == "open" and session["expires_at"] <= now:
                self._expire(session)

    def _expire(self, session: dict[str, Any]) -> None:
        session["status"] = "expired"
        session["url"] = None
        self._emit("checkout.session.expired", session)

    # customers

    def _create_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        customer = {
            "id": _new_id("cus"),
            "object": "customer",
            "created": self._now(),
            "description": params.get("description"),
            "email": params.get("email"),
            "invoice_settings": {"default_payment_method": None},
            "livemode": False,
            "metadata": params.get("metadata", {}),
            "name": params.get("name"),
            "phone": params.get("phone"),
        }
        self.customers[customer["id"]] = customer
        self._emit("customer.created", customer)
        return copy.deepcopy(customer)

    # checkout sessions

    def _create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        mode = params.get("mode")
        if mode is None:
            raise ApiError(400, "Missing required param: mode.", param="mode")
        if mode == "subscription":
            raise ApiError(400, "The fake does not do subscriptions.", param="mode")
        if params.get("ui_mode", "hosted_page") != "hosted_page":
            raise ApiError(400, "The fake serves only the hosted page.", param="ui_mode")
        if "success_url" not in params:
            raise ApiError(
                400,
                "You must provide a success_url when ui_mode is hosted_page.",
                param="success_url",
            )
        customer = params.get("customer")
        if customer is not None and customer not in self.customers:
            raise self._missing("customer", customer, "customer")
        now = self._now()
        expires_at = params.get("expires_at", now + 24 * 3600)
        if not now + 30 * 60 <= expires_at <= now + 24 * 3600:
            raise ApiError(
                400,
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from "
                "Checkout Session creation.",
                param="expires_at",
            )
        methods = params.get("allowed_payment_method_types")
        if methods is not None and methods != ["card"]:
            raise ApiError(
                400,
                "The fake offers cards only.",
                param="allowed_payment_method_types",
            )
        private = _SessionPrivate()
        if mode == "payment":
            if "setup_intent_data" in params:
                raise ApiError(
                    400,
                    "You can only specify setup_intent_data in setup mode.",
                    param="setup_intent_data",
                )
            items = params.get("line_items") or []
            if not items:
                raise ApiError(400, "line_items is required in payment mode.", param="line_items")
            currencies = set()
            amount = 0
            for index, item in enumerate(items):
                data = item.get("price_data")
                name = f"line_items[{index}][price_data]"
                if not data or "unit_amount" not in data or "currency" not in data:
                    raise ApiError(400, f"Missing required param: {name}.", param=name)
                if "name" not in data.get("product_data", {}):
                    raise ApiError(
                        400,
                        f"Missing required param: {name}[product_data][name].",
                        param=f"{name}[product_data][name]",
                    )
                if "quantity" not in item:
                    raise ApiError(
                        400,
                        f"Missing required param: line_items[{index}][quantity].",
                        param=f"line_items[{index}][quantity]",
                    )
                currencies.add(data["currency"].lower())
                amount += data["unit_amount"] * item["quantity"]
            if len(currencies) != 1:
                raise ApiError(400, "All line items must share one currency.", param="line_items")
            currency = currencies.pop()
            if "currency" in params and params["currency"].lower() != currency:
                raise ApiError(400, "currency does not match the line items.", param="currency")
            if amount < 50 and currency not in _ZERO_DECIMAL:
                raise ApiError(
                    400,
                    "The Checkout Session's total amount due must add up to at least $0.50 usd",
                    param="line_items",
                    code="amount_too_small",
                )
            intent_data = params.get("payment_intent_data", {})
            if intent_data.get("setup_future_usage") and customer is None:
                raise ApiError(
                    400,
                    "setup_future_usage needs a customer to attach the payment method to.",
                    param="customer",
                )
            private.payment_intent_data = intent_data
            private.line_items = items
            amount_total: int | None = amount
            payment_status = "unpaid"
        else:
            if "line_items" in params or "payment_intent_data" in params:
                bad = "line_items" if "line_items" in params else "payment_intent_data"
                raise ApiError(400, f"You cannot pass {bad} in setup mode.", param=bad)
            if "currency" not in params and methods is None:
                raise ApiError(
                    400,
                    "currency is required in setup mode when allowed_payment_method_types "
                    "is not set.",
                    param="currency",
                )
            if customer is None:
                raise ApiError(400, "A customer is needed to save a card.", param="customer")
            private.setup_intent_data = params.get("setup_intent_data", {})
            currency = params.get("currency", "").lower() or None
            amount_total = None
            payment_status = "no_payment_required"
        session_id = _new_id("cs")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "allowed_payment_method_types": methods,
            "amount_subtotal": amount_total,
            "amount_total": amount_total,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": now,
            "currency": currency,
            "customer": customer,
            "customer_email": params.get("customer_email"),
            "expires_at": expires_at,
            "livemode": False,
            "metadata": params.get("metadata", {}),
            "mode": mode,
            "payment_intent": None,
            "payment_method_types": ["card"],
            "payment_status": payment_status,
            "setup_intent": None,
            "status": "open",
            "success_url": params["success_url"],
            "ui_mode": "hosted_page",
            "url": f"{self.base_url}/checkout/{session_id}",
        }
        self.sessions[session_id] = session
        self._session_private[session_id] = private
        return copy.deepcopy(session)

    def _expire_session(self, params: dict[str, Any], id: str) -> dict[str, Any]:
        session = self.sessions.get(id)
        if session is None:
            raise ApiError(
                404, f"No such checkout.session: '{id}'", param="id", code="resource_missing"
            )
        if session["status"] != "open":
            raise ApiError(
                400,
                f'Only Checkout Sessions with a status in ["open"] can be expired. This '
                f'Checkout Session has a status of "{session["status"]}".',
                code="checkout_session_unexpected_state",
            )
        self._expire(session)
        return copy.deepcopy(session)

    def _new_card(self, last4: str, customer: str | None) -> dict[str, Any]:
        card = TEST_CARDS.get(last4)
        if card is None:
            raise ValueError(f"no test card ending {last4}; use one of {sorted(TEST_CARDS)}")
        method: dict[str, Any] = {
            "id": _new_id("pm"),
            "object": "payment_method",
            "allow_redisplay": "unspecified",
            "billing_details": {"address": None, "email": None, "name": None, "phone": None},
            "card": {
                "brand": card.brand,
                "checks": {"cvc_check": "pass"},
                "country": "US",
                "display_brand": card.brand,
                "exp_month": 12,
                "exp_year": datetime.now(UTC).year + 3,
                "funding": "credit",
                "last4": card.last4,
            },
            "created": self._now(),
            "customer": customer,
            "livemode": False,
            "metadata": {},
            "type": "card",
        }
        self.payment_methods[method["id"]] = method
        return method

    def _new_intent(
        self,
        *,
        amount: int,
        currency: str,
        customer: str | None,
        metadata: dict[str, str],
        description: str | None = None,
        setup_future_usage: str | None = None,
    ) -> dict[str, Any]:
        intent_id = _new_id("pi")
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "canceled_at": None,
            "capture_method": "automatic_async",
            "client_secret": f"{intent_id}_secret_{_random(24)}",
            "confirmation_method": "automatic",
            "created": self._now(),
            "currency": currency,
            "customer": customer,
            "description": description,
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": metadata,
            "next_action": None,
            "payment_method": None,
            "payment_method_types": ["card"],
            "setup_future_usage": setup_future_usage,
            "status": "requires_payment_method",
        }
        self.payment_intents[intent_id] = intent
        return intent

    def _new_charge(self, intent: dict[str, Any], *, succeeded: bool) -> dict[str, Any]:
        charge = {
            "id": _new_id("ch"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount"] if succeeded else 0,
            "amount_refunded": 0,
            "captured": succeeded,
            "created": self._now(),
            "currency": intent["currency"],
            "customer": intent["customer"],
            "disputed": False,
            "livemode": False,
            "metadata": dict(intent["metadata"]),
            "paid": succeeded,
            "payment_intent": intent["id"],
            "payment_method": intent["payment_method"],
            "refunded": False,
            "status": "succeeded" if succeeded else "failed",
        }
        self.charges[charge["id"]] = charge
        intent["latest_charge"] = charge["id"]
        return charge

    def _succeed_intent(self, intent: dict[str, Any]) -> None:
        self._new_charge(intent, succeeded=True)
        intent["status"] = "succeeded"
        intent["amount_received"] = intent["amount"]
        intent["last_payment_error"] = None

    def _fail_intent(
        self, intent: dict[str, Any], decline: str, method: dict[str, Any] | None
    ) -> dict[str, Any]:
        code = (
            "authentication_required" if decline == "authentication_required" else ("card_declined")
        )
        charge = self._new_charge(intent, succeeded=False)
        error = {
            "type": "card_error",
            "code": code,
            "decline_code": decline,
            "charge": charge["id"],
            "doc_url": f"https://docs.stripe.com/error-codes/{code.replace('_', '-')}",
            "message": _DECLINE_MESSAGES.get(decline, "Your card was declined."),
            "payment_method": copy.deepcopy(method),
        }
        intent["status"] = "requires_payment_method"
        intent["last_payment_error"] = error
        intent["payment_method"] = None
        return error

    def _complete(self, session: dict[str, Any], last4: str, *, delayed: bool) -> str | None:
        """Pay on the page. Returns the decline message, or None when it went through."""
        if session["status"] != "open":
            raise ValueError(f"{session['id']} is {session['status']}, not open")
        card = TEST_CARDS.get(last4)
        if card is None:
            raise ValueError(f"no test card ending {last4}; use one of {sorted(TEST_CARDS)}")
        private = self._session_private[session["id"]]
        customer = session["customer"]
        if session["mode"] == "setup":
            method = self._new_card(last4, None)
            setup = {
                "id": _new_id("seti"),
                "object": "setup_intent",
                "created": self._now(),
                "customer": customer,
                "description": private.setup_intent_data.get("description"),
                "last_setup_error": None,
                "livemode": False,
                "metadata": private.setup_intent_data.get("metadata", {}),
                "payment_method": None,
                "payment_method_types": ["card"],
                "status": "requires_payment_method",
                "usage": "off_session",
            }
            self.setup_intents[setup["id"]] = setup
            if card.checkout_decline:
                setup["last_setup_error"] = {
                    "type": "card_error",
                    "code": "card_declined",
                    "decline_code": card.checkout_decline,
                    "message": _DECLINE_MESSAGES.get(card.checkout_decline, "Declined."),
                }
                self._emit("setup_intent.setup_failed", setup)
                return "Your card was declined. Try another card."
            method["customer"] = customer
            setup["payment_method"] = method["id"]
            setup["status"] = "succeeded"
            session["setup_intent"] = setup["id"]
            session["status"] = "complete"
            session["url"] = None
            self._emit("setup_intent.succeeded", setup)
            self._emit("checkout.session.completed", session)
            return None
        intent = self.payment_intents.get(session["payment_intent"] or "")
        if intent is None:
            intent = self._new_intent(
                amount=session["amount_total"],
                currency=session["currency"],
                customer=customer,
                metadata=private.payment_intent_data.get("metadata", {}),
                description=private.payment_intent_data.get("description"),
                setup_future_usage=private.payment_intent_data.get("setup_future_usage"),
            )
            session["payment_intent"] = intent["id"]
        method = self._new_card(last4, None)
        intent["payment_method"] = method["id"]
        if card.checkout_decline:
            self._fail_intent(intent, card.checkout_decline, method)
            self._emit("payment_intent.payment_failed", intent)
            return "Your card was declined. Try another card."
        if intent["setup_future_usage"] and customer:
            method["customer"] = customer
        session["status"] = "complete"
        session["url"] = None
        if delayed:
            intent["status"] = "processing"
            self._emit("checkout.session.completed", session)
            return None
        self._succeed_intent(intent)
        session["payment_status"] = "paid"
        self._emit("payment_intent.succeeded", intent)
        self._emit("checkout.session.completed", session)
        return None

    # payment intents (off-session charges)

    def _create_intent(self, params: dict[str, Any]) -> dict[str, Any]:
        for required in ("amount", "currency"):
            if required not in params:
                raise ApiError(400, f"Missing required param: {required}.", param=required)
        amount = params["amount"]
        currency = params["currency"].lower()
        if amount < 1 or (amount < 50 and currency not in _ZERO_DECIMAL):
            raise ApiError(
                400,
                "Amount must be at least $0.50 usd",
                param="amount",
                code="amount_too_small",
            )
        if amount > 99_999_999:
            raise ApiError(
                400,
                "Amount must be no more than $999,999.99",
                param="amount",
                code="amount_too_large",
            )
        customer = params.get("customer")
        if customer is not None and customer not in self.customers:
            raise self._missing("customer", customer, "customer")
        method_id = params.get("payment_method")
        method = None
        if method_id is not None:
            method = self.payment_methods.get(method_id)
            if method is None:
                raise self._missing("payment_method", method_id, "payment_method")
            if method["customer"] is None:
                raise ApiError(
                    400,
                    "The provided PaymentMethod was previously used with a PaymentIntent "
                    "without Customer attachment, shared with a connected account without "
                    "Customer attachment, or was detached from a Customer. It may not be "
                    "used again. To use a PaymentMethod multiple times, you must attach it "
                    "to a Customer first.",
                    param="payment_method",
                )
            if method["customer"] != customer:
                raise ApiError(
                    400,
                    f"The provided PaymentMethod belongs to a different Customer "
                    f"({method['customer']}) than the one given ({customer}).",
                    param="payment_method",
                )
        methods = params.get("allowed_payment_method_types")
        if methods is not None and methods != ["card"]:
            raise ApiError(400, "The fake offers cards only.", param="allowed_payment_method_types")
        confirm = params.get("confirm", False)
        off_session = params.get("off_session", False)
        if off_session and not confirm:
            raise ApiError(
                400,
                "You can only specify `off_session` when `confirm` is true.",
                param="off_session",
            )
        if params.get("capture_method") == "manual":
            raise ApiError(400, "The fake does not hold payments.", param="capture_method")
        intent = self._new_intent(
            amount=amount,
            currency=currency,
            customer=customer,
            metadata=params.get("metadata", {}),
            description=params.get("description"),
            setup_future_usage=params.get("setup_future_usage"),
        )
        if method is not None:
            intent["payment_method"] = method["id"]
            intent["status"] = "requires_confirmation"
        self._emit("payment_intent.created", intent)
        if not confirm:
            return copy.deepcopy(intent)
        if method is None:
            raise ApiError(
                400,
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
                param="payment_method",
                code="payment_intent_unexpected_state",
            )
        failure = TEST_CARDS[method["card"]["last4"]].off_session_failure
        if failure == "authentication_required" and not off_session:
            intent["status"] = "requires_action"
            intent["next_action"] = {"type": "use_stripe_sdk", "use_stripe_sdk": {}}
            self._emit("payment_intent.requires_action", intent)
            return copy.deepcopy(intent)
        if failure is not None:
            error = self._fail_intent(intent, failure, method)
            self._emit("payment_intent.payment_failed", intent)
            raise ApiError(
                402,
                error["message"],
                type="card_error",
                code=error["code"],
                decline_code=error["decline_code"],
                charge=error["charge"],
                payment_intent=copy.deepcopy(intent),
                payment_method=copy.deepcopy(method),
            )
        self._succeed_intent(intent)
        self._emit("payment_intent.succeeded", intent)
        return copy.deepcopy(intent)

    # refunds

    def _create_refund(self, params: dict[str, Any]) -> dict[str, Any]:
        if ("payment_intent" in params) == ("charge" in params):
            raise ApiError(
                400,
                "You must pass either a charge or a payment_intent (not both).",
                param="payment_intent",
            )
        if "payment_intent" in params:
            intent = self.payment_intents.get(params["payment_intent"])
            if intent is None:
                raise self._missing("payment_intent", params["payment_intent"], "payment_intent")
            charge = self.charges.get(intent["latest_charge"] or "")
            if intent["status"] != "succeeded" or charge is None:
                raise ApiError(
                    400,
                    f"This PaymentIntent ({intent['id']}) does not have a successful charge "
                    "to refund.",
                    param="payment_intent",
                    code="payment_intent_unexpected_state",
                )
        else:
            charge = self.charges.get(params["charge"])
            if charge is None:
                raise self._missing("charge", params["charge"], "charge")
        left = charge["amount_captured"] - charge["amount_refunded"]
        if left <= 0:
            raise ApiError(
                400,
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = params.get("amount", left)
        if amount < 1:
            raise ApiError(400, "Invalid positive integer", param="amount")
        if amount > left:
            raise ApiError(
                400,
                f"Refund amount ({_amount_text(amount, charge['currency'])}) is greater than "
                f"unrefunded amount on charge ({_amount_text(left, charge['currency'])})",
                param="amount",
                code="amount_too_large",
            )
        refund = {
            "id": _new_id("re"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": None,
            "charge": charge["id"],
            "created": self._now(),
            "currency": charge["currency"],
            "failure_reason": None,
            "metadata": params.get("metadata", {}),
            "payment_intent": charge["payment_intent"],
            "pending_reason": None,
            "reason": params.get("reason"),
            "receipt_number": None,
            "status": "succeeded",
        }
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
        self._emit("refund.created", refund)
        self._emit("charge.refunded", charge)
        return copy.deepcopy(refund)

    # -- the hosted checkout page -------------------------------------------------------

    async def _page(self, request: Request) -> Response:
        session_id = request.path_params["id"]
        form = await request.form() if request.method == "POST" else None
        with self._lock:
            self._tick()
            session = self.sessions.get(session_id)
            if session is None:
                return HTMLResponse(_page("Not found", "<p>No such checkout.</p>"), 404)
            if session["status"] != "open":
                message = {
                    "complete": "This checkout is already complete.",
                    "expired": "This checkout session has expired.",
                }[session["status"]]
                return HTMLResponse(
                    _page("Checkout", f"<p class=status>{message}</p>"),
                    background=BackgroundTask(self._flush),
                )
            error = None
            if form is not None:
                card = str(form.get("card") or "4242")
                if card not in TEST_CARDS:
                    error = "Choose one of the test cards."
                else:
                    error = self._complete(session, card, delayed=False)
                    if error is None:
                        target = session["success_url"].replace(
                            "{CHECKOUT_SESSION_ID}", session["id"]
                        )
                        return RedirectResponse(
                            target, status_code=303, background=BackgroundTask(self._flush)
                        )
            body = self._page_body(session, error)
        return HTMLResponse(_page("Checkout", body), background=BackgroundTask(self._flush))

    def _page_body(self, session: dict[str, Any], error: str | None) -> str:
        private = self._session_private[session["id"]]
        if session["mode"] == "payment":
            names = ", ".join(
                html.escape(item["price_data"]["product_data"]["name"])
                for item in private.line_items
            )
            what = (
                f"<p class=item>{names}</p><p class=amount>"
                f"{html.escape(_amount_text(session['amount_total'], session['currency']))}</p>"
            )
            if private.payment_intent_data.get("setup_future_usage"):
                what += "<p class=notice>Your card will be saved for later payments.</p>"
            button = "Pay"
        else:
            what = "<p class=item>Save a card for later payments. Nothing is charged now.</p>"
            button = "Save card"
        cards = "".join(
            f'<li><label><input type=radio name=card value="{c.last4}"'
            f"{' checked' if c.last4 == '4242' else ''}> {html.escape(c.number)}: "
            f"{html.escape(c.label)}</label></li>"
            for c in TEST_CARDS.values()
        )
        shown_error = f"<p class=error role=alert>{html.escape(error)}</p>" if error else ""
        cancel = ""
        if session["cancel_url"]:
            href = html.escape(session["cancel_url"])
            cancel = f'<p><a class=cancel href="{href}">Cancel</a></p>'
        return (
            f"<h1>Test checkout</h1>{what}{shown_error}"
            f'<form method=post action="/checkout/{html.escape(session["id"])}">'
            f"<fieldset><legend>Test card</legend><ul>{cards}</ul></fieldset>"
            f"<button type=submit>{button}</button></form>{cancel}"
        )

    async def _test_complete(self, request: Request) -> Response:
        form = await request.form()
        card = str(form.get("card") or "4242")
        delayed = form.get("delayed") == "true"
        try:
            session = self.complete_checkout(request.path_params["id"], card, delayed=delayed)
        except (KeyError, ValueError) as wrong:
            return JSONResponse({"error": str(wrong)}, status_code=400)
        return JSONResponse(session)

    async def _test_expire(self, request: Request) -> Response:
        try:
            return JSONResponse(self.expire_checkout(request.path_params["id"]))
        except (KeyError, ValueError) as wrong:
            return JSONResponse({"error": str(wrong)}, status_code=400)


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)} (fake Stripe)</title>"
        "<style>body{font-family:sans-serif;max-width:32rem;margin:2rem auto}"
        ".error{color:#b00}</style></head>"
        f"<body><p><strong>Fake Stripe, test mode</strong></p>{body}</body></html>"
    )
