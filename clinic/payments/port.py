"""The payments port: what the clinic asks of a payment provider, in provider-neutral
terms, and what the provider reports back. Amounts are integers in minor units; the
currency is a lowercase ISO 4217 code.

Two adapters implement `PaymentGateway`: `StripeGateway` (clinic/payments/stripe_gateway.py,
the only module that imports stripe) and `OfflineGateway` (clinic/payments/offline.py).
Neither decides anything: clinic/payments/service.py decides, applies what they report
through one path, and keeps the ledger."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal, Protocol

from clinic.errors import ClinicError


class GatewayUnavailable(ClinicError):
    """The provider could not be reached or failed; nothing is known to have changed."""

    status_code = 503
    title = "Payments are unavailable"

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or "We could not reach the payment service just now. Nothing was charged. "
            "Try again in a minute."
        )


class GatewayRefused(ClinicError):
    """The provider refused a request as invalid (never a card decline: see ChargeResult)."""

    status_code = 409
    title = "The payment service refused this"


class BadSignature(ClinicError):
    """A webhook whose signature or timestamp does not check out."""

    status_code = 400
    title = "Bad signature"


@dataclass(frozen=True)
class Customer:
    """Who pays: the provider keeps one customer per client for saved cards."""

    client_id: int
    email: str
    name: str


@dataclass(frozen=True)
class CheckoutRequest:
    # Our payment row: its id travels in metadata (an opaque number, nothing else).
    payment_id: int
    appointment_id: int
    idempotency_key: str
    # "payment" takes money now; "setup" only saves the card (nothing charged).
    mode: Literal["payment", "setup"]
    amount_minor: int
    currency: str
    # The line item: the service's public name ("Deposit: Swedish massage, 60 minutes").
    description: str
    customer_id: str
    # Save the card for later off-session charges (the client consented to the fee terms).
    save_card: bool
    # May contain {CHECKOUT_SESSION_ID}, which the provider fills in.
    success_url: str
    cancel_url: str
    expires_at: datetime


@dataclass(frozen=True)
class Checkout:
    checkout_id: str
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class Card:
    """A saved card as the provider describes it: never its number."""

    method_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class ChargeRequest:
    """An off-session charge to a saved card (a fee, a balance, a deposit once cleared)."""

    payment_id: int
    appointment_id: int
    idempotency_key: str
    amount_minor: int
    currency: str
    description: str
    customer_id: str
    method_id: str


class ChargeOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    # The bank wants the client to authenticate (3-D Secure): they must pay on-session.
    NEEDS_AUTHENTICATION = "needs_authentication"
    DECLINED = "declined"


@dataclass(frozen=True)
class ChargeResult:
    outcome: ChargeOutcome
    # The provider's payment id (pi_...), also when declined, if one was created.
    provider_payment_id: str | None
    # The decline code ("card_declined", "insufficient_funds", "authentication_required").
    failure_code: str = ""


@dataclass(frozen=True)
class RefundRequest:
    refund_id: int
    payment_id: int
    idempotency_key: str
    provider_payment_id: str
    amount_minor: int
    currency: str


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class RefundResult:
    provider_refund_id: str
    status: RefundStatus


class EventKind(StrEnum):
    # A checkout took the money (card saved with it when asked).
    CHECKOUT_PAID = "checkout_paid"
    # A setup checkout saved the card; nothing was charged.
    CHECKOUT_CARD_SAVED = "checkout_card_saved"
    # A delayed payment method failed after the checkout completed.
    CHECKOUT_FAILED = "checkout_failed"
    CHECKOUT_EXPIRED = "checkout_expired"
    # An off-session charge succeeded or failed after the fact.
    CHARGE_SUCCEEDED = "charge_succeeded"
    CHARGE_FAILED = "charge_failed"
    REFUND_UPDATED = "refund_updated"
    DISPUTE_OPENED = "dispute_opened"


@dataclass(frozen=True)
class GatewayEvent:
    """A provider's notice, normalised. `event_id` is unique per provider and is stored
    under a unique constraint with the event's effect, so a repeat does nothing."""

    event_id: str
    kind: EventKind
    created: datetime
    # Our payment row, from the provider object's metadata (None when it has none).
    payment_id: int | None
    checkout_id: str | None = None
    provider_payment_id: str | None = None
    customer_id: str | None = None
    amount_minor: int | None = None
    card: Card | None = None
    refund_id: str | None = None
    # Our refund row, from the provider refund's metadata.
    refund_row_id: int | None = None
    refund_status: RefundStatus | None = None
    failure_code: str = ""


class PaymentGateway(Protocol):
    """What every payments adapter does. Methods that move money or create objects take
    an idempotency key from our own row, so a retry after a crash repeats nothing."""

    # "stripe" or "offline": stored on every row the adapter creates.
    provider: str
    # The origin of the hosted checkout page, for the CSP's form-action (None: our own).
    checkout_origin: str | None
    # "live", "test" or "offline": customers are kept apart by it.
    account_mode: str

    async def ensure_customer(self, customer: Customer, *, existing_id: str | None) -> str:
        """The provider's customer id for this client: `existing_id` when given, else a
        new customer (idempotent per client)."""
        ...

    async def start_checkout(self, request: CheckoutRequest) -> Checkout:
        """Open a hosted checkout page for the client to pay (or save a card) on."""
        ...

    async def expire_checkout(self, checkout_id: str) -> None:
        """Close a checkout page early; one already completed or expired is left alone."""
        ...

    async def checkout_result(self, checkout_id: str) -> GatewayEvent | None:
        """Re-read a checkout (the client's return page) as the event it amounts to, or
        None while it is still open."""
        ...

    async def charge_saved_card(self, request: ChargeRequest) -> ChargeResult:
        """Charge a saved card without the client present. A decline or a request for
        authentication is a result, never an exception."""
        ...

    async def refund(self, request: RefundRequest) -> RefundResult:
        """Refund part or all of a captured payment."""
        ...

    async def read_webhook(self, body: bytes, headers: Mapping[str, str]) -> GatewayEvent | None:
        """Verify a webhook over its raw body (BadSignature when it does not check out)
        and normalise it; None for event types the clinic does not use."""
        ...
