"""The Stripe adapter of the payments port: the only module in clinic/ that imports stripe.

Online payments go through Checkout Sessions on Stripe's hosted page; saved cards are
charged with off-session PaymentIntents; refunds are Refund objects; webhooks are verified
over the raw body and normalised into `GatewayEvent`s. Nothing here decides anything.

Conventions (docs: /work/shared/design/payments.md):
- one `StripeClient` per gateway, `client.v1.*` and the `*_async` methods only;
- every create carries the idempotency key of our own row;
- metadata carries opaque ids only (payment_id, appointment_id, refund_id), never a name,
  an e-mail address or anything about a client's health;
- the request dicts are typed with the SDK's own TypedDicts, so mypy checks their shape
  against the API version the SDK pins;
- Stripe's errors become `GatewayUnavailable` (nothing known to have changed) or
  `GatewayRefused` (invalid request); a card problem is a `ChargeResult`, never an error;
- logs carry the operation, the error's kind and Stripe's request id: never the API key,
  a message from Stripe, or card data.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import urlsplit

import stripe
from stripe.checkout import Session
from stripe.params import (
    CustomerCreateParams,
    PaymentIntentCreateParams,
    PaymentIntentRetrieveParams,
    RefundCreateParams,
    SetupIntentRetrieveParams,
)
from stripe.params.checkout import (
    SessionCreateParams,
    SessionCreateParamsLineItem,
    SessionCreateParamsPaymentIntentData,
    SessionRetrieveParams,
)

from clinic import clock
from clinic.payments.port import (
    BadSignature,
    Card,
    ChargeOutcome,
    ChargeRequest,
    ChargeResult,
    Checkout,
    CheckoutRequest,
    Customer,
    EventKind,
    GatewayEvent,
    GatewayRefused,
    GatewayUnavailable,
    RefundRequest,
    RefundResult,
    RefundStatus,
)

log = logging.getLogger("clinic.payments")

HOSTED_CHECKOUT_ORIGIN = "https://checkout.stripe.com"
# Per attempt; the SDK retries a failed connection or a 5xx twice with the same key.
TIMEOUT_SECONDS = 30
MAX_NETWORK_RETRIES = 2

_REFUND_STATUSES = {
    "succeeded": RefundStatus.SUCCEEDED,
    "pending": RefundStatus.PENDING,
    "requires_action": RefundStatus.PENDING,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.FAILED,
}

# Plain sentences for the refusals a member of staff can act on; any other is generic.
_REFUSALS = {
    "amount_too_large": "The refund is larger than what is left of the payment.",
    "charge_already_refunded": "This payment has already been refunded in full.",
    "charge_disputed": "This payment is disputed, so it cannot be refunded here.",
    "amount_too_small": "The amount is below the payment service's minimum.",
    "resource_missing": "The payment service does not know this payment or customer.",
    "idempotency_error": (
        "The payment service already saw this request with different details. Start it again."
    ),
}
_GENERIC_REFUSAL = "The payment service refused this request."
_BAD_SIGNATURE = "The webhook signature or its timestamp does not check out."
_NOT_AN_EVENT = "The webhook body is not a Stripe event."

# The events the clinic's webhook endpoint should be sent (README: connecting Stripe);
# every other type is acknowledged and ignored.
WEBHOOK_EVENTS = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "refund.created",
    "refund.updated",
    "refund.failed",
    "charge.dispute.created",
)

_CHECKOUT_EXPAND = ["payment_intent.payment_method", "setup_intent.payment_method"]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _unix(instant: datetime) -> int:
    # Naive datetimes in this project are UTC (SQLite hands them back without a zone).
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return int(instant.timestamp())


def _instant(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def _id_of(value: object) -> str | None:
    """The id of an expandable field, whether Stripe sent the id or the object."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    found = getattr(value, "id", None)
    return found if isinstance(found, str) else None


def _metadata_value(metadata: object, key: str) -> str | None:
    if not isinstance(metadata, stripe.StripeObject) or key not in metadata:
        return None
    value = metadata[key]
    return value if isinstance(value, str) else None


def _row_id(metadata: object, key: str = "payment_id") -> int | None:
    """One of our row ids from an object's metadata (None if missing or not a number)."""
    value = _metadata_value(metadata, key)
    if value is None or not value.isascii() or not value.isdigit():
        return None
    return int(value)


def _card(method: object) -> Card | None:
    if not isinstance(method, stripe.PaymentMethod) or method.card is None:
        return None
    card = method.card
    return Card(
        method_id=method.id,
        brand=card.brand,
        last4=card.last4,
        exp_month=card.exp_month,
        exp_year=card.exp_year,
    )


def _ids(payment_id: int, appointment_id: int) -> dict[str, str]:
    # Only opaque numbers: Stripe's dashboard, e-mails and exports must not learn who
    # the client is or why they came.
    return {"payment_id": str(payment_id), "appointment_id": str(appointment_id)}


def _refund_status(status: str | None) -> RefundStatus:
    return _REFUND_STATUSES.get(status or "", RefundStatus.PENDING)


def _failure_code(code: str | None, decline_code: str | None) -> str:
    return decline_code or code or "declined"


class StripeGateway:
    """`PaymentGateway` over Stripe. `api_base` (tests only) points the SDK at a stand-in
    server, whose hosted checkout page is then served from the same origin."""

    provider = "stripe"

    def __init__(
        self,
        secret_key: str,
        webhook_secret: str,
        *,
        api_base: str = "",
        http_client: stripe.HTTPClient | None = None,
    ) -> None:
        self._webhook_secret = webhook_secret
        # The SDK logs whole request and response bodies at DEBUG (a client's name and
        # e-mail address) and Stripe's messages at INFO. This module logs its own line per
        # failure instead; an operator who set the "stripe" logger's level keeps theirs.
        sdk_log = logging.getLogger("stripe")
        if sdk_log.level == logging.NOTSET:
            sdk_log.setLevel(logging.WARNING)
        # Live and test customers never mix (cus_ ids of one mode are unknown to the other).
        self.account_mode = "live" if secret_key.startswith(("sk_live_", "rk_live_")) else "test"
        self.checkout_origin: str | None = _origin(api_base) if api_base else HOSTED_CHECKOUT_ORIGIN
        # The SDK's own httpx client: real async I/O on Starlette's event loop.
        self._owns_http_client = http_client is None
        self._http_client = http_client or stripe.HTTPXClient(timeout=TIMEOUT_SECONDS)
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=MAX_NETWORK_RETRIES,
            http_client=self._http_client,
        )

    async def aclose(self) -> None:
        """Release the HTTP connections of the client this gateway made (application
        shutdown, tests); one passed in belongs to the caller."""
        if self._owns_http_client:
            await self._http_client.close_async()  # type: ignore[no-untyped-call]

    def __repr__(self) -> str:
        # Never the keys.
        return f"StripeGateway(checkout_origin={self.checkout_origin!r})"

    # -- errors -------------------------------------------------------------------------

    @contextmanager
    def _errors(self, operation: str) -> Iterator[None]:
        """Stripe's exceptions as the port's. The original is not chained: its body may
        describe the card or the customer, and tracebacks end up in logs."""
        try:
            yield
        except (
            stripe.APIConnectionError,
            stripe.RateLimitError,
            stripe.APIError,
            stripe.AuthenticationError,
            stripe.PermissionError,
        ) as error:
            self._log(operation, error)
            raise GatewayUnavailable() from None
        except (stripe.InvalidRequestError, stripe.IdempotencyError, stripe.CardError) as error:
            self._log(operation, error)
            code = "idempotency_error" if isinstance(error, stripe.IdempotencyError) else error.code
            raise GatewayRefused(_REFUSALS.get(code or "", _GENERIC_REFUSAL)) from None
        except stripe.StripeError as error:
            self._log(operation, error)
            raise GatewayUnavailable() from None

    @staticmethod
    def _log(operation: str, error: stripe.StripeError) -> None:
        log.warning(
            "Stripe %s failed: %s (request %s)",
            operation,
            type(error).__name__,
            error.request_id or "none",
            extra={
                "fields": {
                    "stripe_operation": operation,
                    "stripe_error": type(error).__name__,
                    "stripe_status": error.http_status,
                    "stripe_code": error.code,
                    "stripe_request_id": error.request_id,
                }
            },
        )

    # -- customers ----------------------------------------------------------------------

    async def ensure_customer(self, customer: Customer, *, existing_id: str | None) -> str:
        if existing_id:
            return existing_id
        params: CustomerCreateParams = {
            "email": customer.email,
            "name": customer.name,
            "metadata": {"client_id": str(customer.client_id)},
        }
        with self._errors("customers.create"):
            created = await self._client.v1.customers.create_async(
                params, options={"idempotency_key": f"customer-{customer.client_id}"}
            )
        return created.id

    # -- checkout -----------------------------------------------------------------------

    async def start_checkout(self, request: CheckoutRequest) -> Checkout:
        ids = _ids(request.payment_id, request.appointment_id)
        params: SessionCreateParams = {
            "mode": request.mode,
            "customer": request.customer_id,
            "client_reference_id": str(request.appointment_id),
            "metadata": ids,
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "expires_at": _unix(request.expires_at),
            # Cards only: the saved card must be chargeable off-session, and delayed or
            # redirect-based methods have no place at a clinic's booking page.
            "allowed_payment_method_types": ["card"],
        }
        if request.mode == "payment":
            line_item: SessionCreateParamsLineItem = {
                "price_data": {
                    "currency": request.currency,
                    "unit_amount": request.amount_minor,
                    "product_data": {"name": request.description},
                },
                "quantity": 1,
            }
            intent_data: SessionCreateParamsPaymentIntentData = {"metadata": dict(ids)}
            if request.save_card:
                intent_data["setup_future_usage"] = "off_session"
            params["line_items"] = [line_item]
            params["payment_intent_data"] = intent_data
        else:
            params["currency"] = request.currency
            params["setup_intent_data"] = {
                "metadata": dict(ids),
                "description": request.description,
            }
        with self._errors("checkout.sessions.create"):
            session = await self._client.v1.checkout.sessions.create_async(
                params, options={"idempotency_key": request.idempotency_key}
            )
        if not session.url:
            log.warning("Stripe checkout %s came back without a URL", session.id)
            raise GatewayRefused(_GENERIC_REFUSAL)
        return Checkout(
            checkout_id=session.id, url=session.url, expires_at=_instant(session.expires_at)
        )

    async def expire_checkout(self, checkout_id: str) -> None:
        try:
            with self._errors("checkout.sessions.expire"):
                await self._client.v1.checkout.sessions.expire_async(checkout_id)
        except GatewayRefused:
            # Stripe refuses to expire a session that is no longer open; that one is
            # left alone. Anything else (an unknown session) is a real refusal.
            with self._errors("checkout.sessions.retrieve"):
                session = await self._client.v1.checkout.sessions.retrieve_async(checkout_id)
            if session.status == "open":
                raise

    async def checkout_result(self, checkout_id: str) -> GatewayEvent | None:
        params: SessionRetrieveParams = {"expand": list(_CHECKOUT_EXPAND)}
        with self._errors("checkout.sessions.retrieve"):
            session = await self._client.v1.checkout.sessions.retrieve_async(checkout_id, params)
        kind = self._session_kind(session)
        if kind is None:
            return None
        return await self._checkout_event(
            session, kind, event_id=f"return:{session.id}", created=clock.now_utc()
        )

    @staticmethod
    def _session_kind(session: Session) -> EventKind | None:
        if session.status == "expired":
            return EventKind.CHECKOUT_EXPIRED
        if session.status != "complete":
            return None
        if session.mode == "setup":
            return EventKind.CHECKOUT_CARD_SAVED
        if session.payment_status == "paid":
            return EventKind.CHECKOUT_PAID
        # Complete but unpaid: a delayed method; async_payment_succeeded/_failed follows.
        return None

    async def _checkout_event(
        self, session: Session, kind: EventKind, *, event_id: str, created: datetime
    ) -> GatewayEvent:
        provider_payment_id = None
        card = None
        if kind in (EventKind.CHECKOUT_PAID, EventKind.CHECKOUT_FAILED):
            intent = session.payment_intent
            provider_payment_id = _id_of(intent)
            if kind is EventKind.CHECKOUT_PAID and intent is not None:
                if isinstance(intent, str):
                    intent = await self._retrieve_payment_intent(intent)
                card = await self._card_of(intent.payment_method)
        elif kind is EventKind.CHECKOUT_CARD_SAVED and session.setup_intent is not None:
            setup = session.setup_intent
            if isinstance(setup, str):
                setup = await self._retrieve_setup_intent(setup)
            card = await self._card_of(setup.payment_method)
        return GatewayEvent(
            event_id=event_id,
            kind=kind,
            created=created,
            payment_id=_row_id(session.metadata),
            checkout_id=session.id,
            provider_payment_id=provider_payment_id,
            customer_id=_id_of(session.customer),
            amount_minor=session.amount_total if session.mode == "payment" else None,
            card=card,
        )

    async def _retrieve_payment_intent(self, intent_id: str) -> stripe.PaymentIntent:
        params: PaymentIntentRetrieveParams = {"expand": ["payment_method"]}
        with self._errors("payment_intents.retrieve"):
            return await self._client.v1.payment_intents.retrieve_async(intent_id, params)

    async def _retrieve_setup_intent(self, intent_id: str) -> stripe.SetupIntent:
        params: SetupIntentRetrieveParams = {"expand": ["payment_method"]}
        with self._errors("setup_intents.retrieve"):
            return await self._client.v1.setup_intents.retrieve_async(intent_id, params)

    async def _card_of(self, method: str | stripe.PaymentMethod | None) -> Card | None:
        if isinstance(method, str):
            with self._errors("payment_methods.retrieve"):
                method = await self._client.v1.payment_methods.retrieve_async(method)
        return _card(method)

    # -- saved cards --------------------------------------------------------------------

    async def charge_saved_card(self, request: ChargeRequest) -> ChargeResult:
        params: PaymentIntentCreateParams = {
            "amount": request.amount_minor,
            "currency": request.currency,
            "customer": request.customer_id,
            "payment_method": request.method_id,
            "allowed_payment_method_types": ["card"],
            "off_session": True,
            "confirm": True,
            "description": request.description,
            "metadata": _ids(request.payment_id, request.appointment_id),
        }
        with self._errors("payment_intents.create"):
            try:
                intent = await self._client.v1.payment_intents.create_async(
                    params, options={"idempotency_key": request.idempotency_key}
                )
            except stripe.CardError as error:
                # Every card error is a result (recoupable/api#561: catching only
                # authentication_required turned other declines into 500s).
                return self._card_failure(error)
        if intent.status == "succeeded":
            return ChargeResult(ChargeOutcome.SUCCEEDED, intent.id)
        if intent.status == "requires_action":
            return ChargeResult(
                ChargeOutcome.NEEDS_AUTHENTICATION, intent.id, "authentication_required"
            )
        if intent.status == "processing":
            # Cards settle at once; should one not, the port has no "pending" outcome.
            # Reported as not taken (the service asks the client again) rather than as
            # succeeded, which no later payment_intent.payment_failed could undo; a
            # payment_intent.succeeded that follows still moves the payment to succeeded.
            log.warning("Stripe off-session charge %s is still processing", intent.id)
            return ChargeResult(ChargeOutcome.DECLINED, intent.id, "processing")
        last_error = intent.last_payment_error
        code = _failure_code(last_error.code, last_error.decline_code) if last_error else "declined"
        return ChargeResult(ChargeOutcome.DECLINED, intent.id, code)

    def _card_failure(self, error: stripe.CardError) -> ChargeResult:
        details = error.error
        intent_id = _id_of(details.payment_intent) if details is not None else None
        decline_code = details.decline_code if details is not None else None
        log.info(
            "Stripe off-session charge declined (request %s)",
            error.request_id or "none",
            extra={"fields": {"stripe_code": error.code, "stripe_decline_code": decline_code}},
        )
        if error.code == "authentication_required":
            return ChargeResult(
                ChargeOutcome.NEEDS_AUTHENTICATION, intent_id, "authentication_required"
            )
        return ChargeResult(
            ChargeOutcome.DECLINED, intent_id, _failure_code(error.code, decline_code)
        )

    # -- refunds ------------------------------------------------------------------------

    async def refund(self, request: RefundRequest) -> RefundResult:
        params: RefundCreateParams = {
            "payment_intent": request.provider_payment_id,
            "amount": request.amount_minor,
            "reason": "requested_by_customer",
            "metadata": {
                "refund_id": str(request.refund_id),
                "payment_id": str(request.payment_id),
            },
        }
        with self._errors("refunds.create"):
            refund = await self._client.v1.refunds.create_async(
                params, options={"idempotency_key": request.idempotency_key}
            )
        return RefundResult(provider_refund_id=refund.id, status=_refund_status(refund.status))

    # -- webhooks -----------------------------------------------------------------------

    async def read_webhook(self, body: bytes, headers: Mapping[str, str]) -> GatewayEvent | None:
        signature = _header(headers, "stripe-signature")
        try:
            event = self._client.construct_event(body, signature, self._webhook_secret)
        except stripe.SignatureVerificationError:
            raise BadSignature(_BAD_SIGNATURE) from None
        except (ValueError, TypeError, AttributeError, KeyError):
            raise BadSignature(_NOT_AN_EVENT) from None
        return await self._event(event)

    async def _event(self, event: stripe.Event) -> GatewayEvent | None:
        created = _instant(event.created)
        obj: object = event.data.object
        kind: EventKind | None
        if isinstance(obj, Session):
            if event.type == "checkout.session.completed":
                kind = self._session_kind(obj)
            elif event.type == "checkout.session.async_payment_succeeded":
                kind = EventKind.CHECKOUT_PAID
            elif event.type == "checkout.session.async_payment_failed":
                kind = EventKind.CHECKOUT_FAILED
            elif event.type == "checkout.session.expired":
                kind = EventKind.CHECKOUT_EXPIRED
            else:
                kind = None
            if kind is None:
                return None
            return await self._checkout_event(obj, kind, event_id=event.id, created=created)
        if isinstance(obj, stripe.PaymentIntent):
            if event.type == "payment_intent.succeeded":
                return GatewayEvent(
                    event_id=event.id,
                    kind=EventKind.CHARGE_SUCCEEDED,
                    created=created,
                    payment_id=_row_id(obj.metadata),
                    provider_payment_id=obj.id,
                    customer_id=_id_of(obj.customer),
                    amount_minor=obj.amount_received,
                )
            if event.type == "payment_intent.payment_failed":
                error = obj.last_payment_error
                return GatewayEvent(
                    event_id=event.id,
                    kind=EventKind.CHARGE_FAILED,
                    created=created,
                    payment_id=_row_id(obj.metadata),
                    provider_payment_id=obj.id,
                    customer_id=_id_of(obj.customer),
                    amount_minor=obj.amount,
                    failure_code=(
                        _failure_code(error.code, error.decline_code) if error else "declined"
                    ),
                )
            return None
        if isinstance(obj, stripe.Refund):
            if event.type not in ("refund.created", "refund.updated", "refund.failed"):
                return None
            return GatewayEvent(
                event_id=event.id,
                kind=EventKind.REFUND_UPDATED,
                created=created,
                payment_id=_row_id(obj.metadata),
                provider_payment_id=_id_of(obj.payment_intent),
                amount_minor=obj.amount,
                refund_id=obj.id,
                refund_row_id=_row_id(obj.metadata, "refund_id"),
                refund_status=_refund_status(obj.status),
                failure_code=obj.failure_reason or "",
            )
        if isinstance(obj, stripe.Dispute) and event.type == "charge.dispute.created":
            return GatewayEvent(
                event_id=event.id,
                kind=EventKind.DISPUTE_OPENED,
                created=created,
                payment_id=_row_id(obj.metadata),
                provider_payment_id=_id_of(obj.payment_intent),
                amount_minor=obj.amount,
            )
        return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    for key, found in headers.items():
        if key.lower() == name:
            return found
    return None
