"""The payments ledger. Amounts are integers in minor units with their currency; card
numbers are never stored (a saved card is the provider's id, brand, last4 and expiry).
The database keeps the ledger honest: refunds can never add up to more than was
captured, an event id is taken once, and idempotency keys and provider ids are unique."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clinic.clock import now_utc
from clinic.db import Base, UTCDateTime
from clinic.models_base import str_enum
from clinic.payments.states import (
    PaymentKind,
    PaymentMethod,
    PaymentState,
    RefundReason,
    RefundState,
)


class PaymentCustomer(Base):
    """A client's customer at a provider (Stripe's cus_...), created once per client and
    key mode, so test and live ids never mix."""

    __tablename__ = "payment_customer"
    __table_args__ = (UniqueConstraint("client_id", "provider", "mode"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(20))
    # "live", "test" or "offline".
    mode: Mapped[str] = mapped_column(String(10))
    customer_id: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class SavedCard(Base):
    """A card the client let the clinic keep for fees and balances (with their consent to
    the fee terms, recorded as a Consent row)."""

    __tablename__ = "saved_card"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[str] = mapped_column(String(255))
    method_id: Mapped[str] = mapped_column(String(255), unique=True)
    brand: Mapped[str] = mapped_column(String(40))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int] = mapped_column(Integer)
    exp_year: Mapped[int] = mapped_column(Integer)
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consent.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Payment(Base):
    __tablename__ = "payment"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("tip_minor >= 0", name="tip_not_negative"),
        # The database itself refuses refunds beyond what was captured.
        CheckConstraint(
            "refunded_minor >= 0 AND refunded_minor <= amount_minor + tip_minor",
            name="refunds_within_captured",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id"), index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"), nullable=True)
    kind: Mapped[PaymentKind] = mapped_column(str_enum(PaymentKind, "payment_kind"))
    method: Mapped[PaymentMethod] = mapped_column(str_enum(PaymentMethod, "payment_method"))
    state: Mapped[PaymentState] = mapped_column(str_enum(PaymentState, "payment_state"), index=True)
    amount_minor: Mapped[int] = mapped_column(Integer)
    # A tip on top of the amount (desk payments); counted to the therapist, not the visit.
    tip_minor: Mapped[int] = mapped_column(Integer, default=0)
    refunded_minor: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    # "stripe", "offline" (the demo checkout) or "desk" (recorded by staff).
    provider: Mapped[str] = mapped_column(String(20))
    # Our key for every create at the provider: `idempotency_key` plus the attempt number,
    # so a retry repeats the same request and a deliberate new attempt gets a new key.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    checkout_id: Mapped[str | None] = mapped_column(String(255), unique=True, nullable=True)
    checkout_url: Mapped[str] = mapped_column(String(2000), default="")
    checkout_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    provider_payment_id: Mapped[str | None] = mapped_column(String(255), unique=True, nullable=True)
    saved_card_id: Mapped[int | None] = mapped_column(ForeignKey("saved_card.id"), nullable=True)
    # Save the card used at checkout for later fees (the client agreed to the terms).
    save_card: Mapped[bool] = mapped_column(Boolean, default=False)
    # Only save the card now; charge once the visit is confirmed (waiting for clearance).
    card_only: Mapped[bool] = mapped_column(Boolean, default=False)
    failure_code: Mapped[str] = mapped_column(String(100), default="")
    # The pay link of a charge that needs the client (stored as SHA-256 only).
    pay_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    # The client's way back from the checkout page (SHA-256 only).
    return_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    disputed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Desk payments: the till's or the bank's reference, and who took it.
    reference: Mapped[str] = mapped_column(String(200), default="")
    recorded_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)

    def key(self, purpose: str) -> str:
        """The idempotency key of one request about this payment (Stripe keeps 255)."""
        return f"{self.idempotency_key}:{purpose}:{self.attempts}"

    @property
    def refundable_minor(self) -> int:
        if self.state not in (PaymentState.SUCCEEDED,):
            return 0
        return self.amount_minor + self.tip_minor - self.refunded_minor


class Refund(Base):
    __tablename__ = "refund"
    __table_args__ = (CheckConstraint("amount_minor > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(Integer)
    reason: Mapped[RefundReason] = mapped_column(str_enum(RefundReason, "refund_reason"))
    note: Mapped[str] = mapped_column(String(500), default="")
    state: Mapped[RefundState] = mapped_column(str_enum(RefundState, "refund_state"))
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    provider_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True, nullable=True)
    requested_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)


class PaymentEvent(Base):
    """A provider's notice, taken once: its id is the primary key, inserted in the same
    transaction as its effect, so a duplicate delivery changes nothing. The payload is not
    kept (it carries names and emails); the outcome says what it did."""

    __tablename__ = "payment_event"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(40))
    payment_id: Mapped[int | None] = mapped_column(
        ForeignKey("payment.id"), nullable=True, index=True
    )
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    outcome: Mapped[str] = mapped_column(String(200), default="")
