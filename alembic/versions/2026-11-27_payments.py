"""Payments: customers at the provider, saved cards, payments, refunds and provider
events; a deposit rule per service; whether a cancellation was medically excused.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinic.db import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


KINDS = ("deposit", "full", "balance", "late_cancellation_fee", "no_show_fee")
METHODS = ("card_online", "card_saved", "cash", "terminal", "bank_transfer")
STATES = (
    "pending",
    "scheduled",
    "awaiting_client",
    "succeeded",
    "failed",
    "expired",
    "cancelled",
    "refunded",
)
REASONS = ("cancellation", "clinic_cancelled", "medically_excused", "slot_lost", "staff")
REFUND_STATES = ("pending", "succeeded", "failed")


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: on SQLite a batch rebuild of the appointment
    # table would drop its overlap-guard triggers.
    op.add_column("service", sa.Column("deposit_kind", sa.String(length=10), nullable=True))
    op.add_column("service", sa.Column("deposit_value", sa.Integer(), nullable=True))
    op.add_column(
        "appointment",
        sa.Column("medically_excused", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "payment_customer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client.id"],
            name=op.f("fk_payment_customer_client_id_client"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_customer")),
        sa.UniqueConstraint(
            "client_id", "provider", "mode", name=op.f("uq_payment_customer_client_id")
        ),
        sa.UniqueConstraint("customer_id", name=op.f("uq_payment_customer_customer_id")),
    )
    op.create_table(
        "saved_card",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("method_id", sa.String(length=255), nullable=False),
        sa.Column("brand", sa.String(length=40), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("exp_month", sa.Integer(), nullable=False),
        sa.Column("exp_year", sa.Integer(), nullable=False),
        sa.Column("consent_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("removed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client.id"],
            name=op.f("fk_saved_card_client_id_client"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["consent_id"], ["consent.id"], name=op.f("fk_saved_card_consent_id_consent")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_card")),
        sa.UniqueConstraint("method_id", name=op.f("uq_saved_card_method_id")),
    )
    op.create_index(op.f("ix_saved_card_client_id"), "saved_card", ["client_id"])
    op.create_table(
        "payment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("kind", _enum("payment_kind", KINDS), nullable=False),
        sa.Column("method", _enum("payment_method", METHODS), nullable=False),
        sa.Column("state", _enum("payment_state", STATES), nullable=False),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("tip_minor", sa.Integer(), nullable=False),
        sa.Column("refunded_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("checkout_id", sa.String(length=255), nullable=True),
        sa.Column("checkout_url", sa.String(length=2000), nullable=False),
        sa.Column("checkout_expires_at", UTCDateTime(), nullable=True),
        sa.Column("provider_payment_id", sa.String(length=255), nullable=True),
        sa.Column("saved_card_id", sa.Integer(), nullable=True),
        sa.Column("save_card", sa.Boolean(), nullable=False),
        sa.Column("card_only", sa.Boolean(), nullable=False),
        sa.Column("failure_code", sa.String(length=100), nullable=False),
        sa.Column("pay_token_hash", sa.String(length=64), nullable=True),
        sa.Column("return_token_hash", sa.String(length=64), nullable=True),
        sa.Column("disputed", sa.Boolean(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("recorded_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("succeeded_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_payment_amount_positive")),
        sa.CheckConstraint("tip_minor >= 0", name=op.f("ck_payment_tip_not_negative")),
        sa.CheckConstraint(
            "refunded_minor >= 0 AND refunded_minor <= amount_minor + tip_minor",
            name=op.f("ck_payment_refunds_within_captured"),
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointment.id"],
            name=op.f("fk_payment_appointment_id_appointment"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["client.id"], name=op.f("fk_payment_client_id_client")
        ),
        sa.ForeignKeyConstraint(
            ["saved_card_id"], ["saved_card.id"], name=op.f("fk_payment_saved_card_id_saved_card")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_user_id"],
            ["app_user.id"],
            name=op.f("fk_payment_recorded_by_user_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_payment_idempotency_key")),
        sa.UniqueConstraint("checkout_id", name=op.f("uq_payment_checkout_id")),
        sa.UniqueConstraint("provider_payment_id", name=op.f("uq_payment_provider_payment_id")),
        sa.UniqueConstraint("pay_token_hash", name=op.f("uq_payment_pay_token_hash")),
        sa.UniqueConstraint("return_token_hash", name=op.f("uq_payment_return_token_hash")),
    )
    op.create_index(op.f("ix_payment_appointment_id"), "payment", ["appointment_id"])
    op.create_index(op.f("ix_payment_state"), "payment", ["state"])
    op.create_index(op.f("ix_payment_succeeded_at"), "payment", ["succeeded_at"])
    op.create_table(
        "refund",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("reason", _enum("refund_reason", REASONS), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("state", _enum("refund_state", REFUND_STATES), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("provider_refund_id", sa.String(length=255), nullable=True),
        sa.Column("requested_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("succeeded_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_refund_amount_positive")),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_refund_payment_id_payment")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_user_id"],
            ["app_user.id"],
            name=op.f("fk_refund_requested_by_user_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_refund_idempotency_key")),
        sa.UniqueConstraint("provider_refund_id", name=op.f("uq_refund_provider_refund_id")),
    )
    op.create_index(op.f("ix_refund_payment_id"), "refund", ["payment_id"])
    op.create_index(op.f("ix_refund_succeeded_at"), "refund", ["succeeded_at"])
    op.create_table(
        "payment_event",
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_payment_event_payment_id_payment")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_payment_event")),
    )
    op.create_index(op.f("ix_payment_event_payment_id"), "payment_event", ["payment_id"])


def downgrade() -> None:
    op.drop_table("payment_event")
    op.drop_table("refund")
    op.drop_table("payment")
    op.drop_table("saved_card")
    op.drop_table("payment_customer")
    op.drop_column("appointment", "medically_excused")
    op.drop_column("service", "deposit_value")
    op.drop_column("service", "deposit_kind")
