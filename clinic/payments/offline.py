"""The offline gateway: the demo clinic's and desk-only clinics' payments, with no money
moving through the app. Checkout is a clearly labelled demo page on our own site
(clinic/payments/demo_checkout.py) that pays, declines or asks for authentication and
reports the same events Stripe's webhooks would; saved cards are demo cards whose
behaviour follows Stripe's test cards (4242 pays, 0341 is declined later, 3184 asks for
authentication later); refunds succeed at once. The ledger itself is the real one."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select

from clinic.clock import now_utc
from clinic.db import Database
from clinic.payments.models import Payment
from clinic.payments.port import (
    BadSignature,
    ChargeOutcome,
    ChargeRequest,
    ChargeResult,
    Checkout,
    CheckoutRequest,
    Customer,
    EventKind,
    GatewayEvent,
    RefundRequest,
    RefundResult,
    RefundStatus,
)
from clinic.payments.states import PaymentState

PROVIDER = "offline"
CHECKOUT_PREFIX = "off_cs_"


def new_id(prefix: str) -> str:
    return f"off_{prefix}_{secrets.token_hex(12)}"


# The demo's test cards, by their last four digits, as Stripe's test cards behave.
DEMO_CARDS: dict[str, str] = {
    "4242": "Pays, and later charges succeed",
    "0341": "Pays, but later charges are declined",
    "3184": "Pays after authenticating; later charges need the client",
    "0002": "Declined",
}


def card_method_id(last4: str) -> str:
    """A demo saved card's id carries its test number, which decides later charges."""
    return f"off_pm_{last4}_{secrets.token_hex(8)}"


def _last4_of(method_id: str) -> str:
    parts = method_id.split("_")
    return parts[2] if len(parts) > 3 else ""


class OfflineGateway:
    def __init__(self, db: Database, base_url: str) -> None:
        self.provider = PROVIDER
        # The demo checkout page is on our own site.
        self.checkout_origin: str | None = None
        self.account_mode = "offline"
        self._db = db
        self._base_url = base_url.rstrip("/")

    async def ensure_customer(self, customer: Customer, *, existing_id: str | None) -> str:
        return existing_id or new_id("cus")

    async def start_checkout(self, request: CheckoutRequest) -> Checkout:
        checkout_id = CHECKOUT_PREFIX + secrets.token_hex(12)
        return Checkout(
            checkout_id=checkout_id,
            url=f"{self._base_url}/pay/demo/{checkout_id}",
            expires_at=request.expires_at,
        )

    async def expire_checkout(self, checkout_id: str) -> None:
        # The demo page reads the payment row: a closed payment shows as closed.
        return None

    async def checkout_result(self, checkout_id: str) -> GatewayEvent | None:
        """An open demo checkout past its expiry is expired; a paid one was reported by
        the demo page itself when it was paid."""
        async with self._db.reading() as session:
            payment = await session.scalar(
                select(Payment).where(Payment.checkout_id == checkout_id)
            )
        if payment is None or payment.state is not PaymentState.PENDING:
            return None
        expires = payment.checkout_expires_at
        if expires is None or expires > now_utc():
            return None
        return expired_event(payment.id, checkout_id, now_utc())

    async def charge_saved_card(self, request: ChargeRequest) -> ChargeResult:
        payment_id = new_id("pi")
        last4 = _last4_of(request.method_id)
        if last4 == "0341":
            return ChargeResult(ChargeOutcome.DECLINED, payment_id, "card_declined")
        if last4 == "3184":
            return ChargeResult(
                ChargeOutcome.NEEDS_AUTHENTICATION, payment_id, "authentication_required"
            )
        return ChargeResult(ChargeOutcome.SUCCEEDED, payment_id)

    async def refund(self, request: RefundRequest) -> RefundResult:
        return RefundResult(new_id("re"), RefundStatus.SUCCEEDED)

    async def read_webhook(self, body: bytes, headers: Mapping[str, str]) -> GatewayEvent | None:
        raise BadSignature("This clinic takes no payment notices: payments are offline.")


def expired_event(payment_id: int, checkout_id: str, at: datetime) -> GatewayEvent:
    return GatewayEvent(
        event_id=f"off_expired:{checkout_id}",
        kind=EventKind.CHECKOUT_EXPIRED,
        created=at,
        payment_id=payment_id,
        checkout_id=checkout_id,
    )
