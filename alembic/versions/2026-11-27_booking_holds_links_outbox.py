"""Booking holds and cancellations, manage links, idempotency records and the outbox.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 12:37:17.745498
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinic.db import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


CLIENT_UNLESS_HOLD = "client_id IS NOT NULL OR status IN ('held', 'expired')"

# A frozen copy of the foundation's SQLite overlap guard, as it stood at this revision.
BLOCKING = "('held', 'pending_clearance', 'confirmed', 'checked_in', 'completed')"
SQLITE_OVERLAP = f"""
SELECT RAISE(ABORT, 'appointment_overlap')
WHERE EXISTS (
    SELECT 1 FROM appointment AS other
    WHERE other.status IN {BLOCKING}
      AND other.id IS NOT NEW.id
      AND other.blocked_from < NEW.blocked_until
      AND NEW.blocked_from < other.blocked_until
      AND (other.therapist_id = NEW.therapist_id
           OR (NEW.room_id IS NOT NULL AND other.room_id = NEW.room_id))
);
"""


def create_sqlite_guards() -> None:
    for event in ("INSERT", "UPDATE"):
        op.execute(f"DROP TRIGGER IF EXISTS appointment_no_overlap_{event.lower()}")
        op.execute(
            f"CREATE TRIGGER appointment_no_overlap_{event.lower()} "
            f"BEFORE {event} ON appointment "
            f"WHEN NEW.status IN {BLOCKING} "
            f"BEGIN {SQLITE_OVERLAP} END"
        )


def NEW_APPOINTMENT_COLUMNS() -> list[sa.Column[object]]:
    return [
        sa.Column("therapist_chosen", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("hold_expires_at", UTCDateTime(), nullable=True),
        sa.Column("hold_token_hash", sa.String(length=64), nullable=True),
        sa.Column("hold_owner", sa.String(length=64), nullable=True),
        sa.Column("hold_address", sa.String(length=64), nullable=True),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.Column("cancelled_by", sa.String(length=32), nullable=True),
        sa.Column("cancellation_reason", sa.String(length=500), nullable=False, server_default=""),
        sa.Column("needs_rebooking", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("fee_minor", sa.Integer(), nullable=False, server_default="0"),
    ]


def upgrade() -> None:
    op.create_table(
        "idempotency_record",
        sa.Column("scope", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.JSON(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_record")),
    )
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_record_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "leased",
                "done",
                "dead",
                name="outbox_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("leased_until", UTCDateTime(), nullable=True),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_message")),
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_message_due", ["status", "due_at"], unique=False)

    op.create_table(
        "manage_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointment.id"],
            name=op.f("fk_manage_link_appointment_id_appointment"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manage_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_manage_link_token_hash")),
    )
    with op.batch_alter_table("manage_link", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_manage_link_appointment_id"), ["appointment_id"], unique=False
        )

    # Plain ADD COLUMN, not a batch operation: on SQLite a batch rebuilds the table and
    # would drop the overlap triggers.
    for column in NEW_APPOINTMENT_COLUMNS():
        op.add_column("appointment", column)
    op.create_index("ix_appointment_hold_owner", "appointment", ["hold_owner"])
    op.create_index(
        "ix_appointment_hold_token_hash", "appointment", ["hold_token_hash"], unique=True
    )
    if op.get_bind().dialect.name == "postgresql":
        op.create_check_constraint(
            "cancelled_by", "appointment", "cancelled_by IN ('client', 'clinic', 'system')"
        )
        op.alter_column("appointment", "client_id", nullable=True)
        op.create_check_constraint("client_unless_hold", "appointment", CLIENT_UNLESS_HOLD)
    else:
        # SQLite cannot relax NOT NULL in place: the table is rebuilt, which drops its
        # triggers, so the overlap guards are created again straight after.
        with op.batch_alter_table("appointment", recreate="always") as batch_op:
            batch_op.alter_column("client_id", existing_type=sa.Integer(), nullable=True)
            batch_op.create_check_constraint("client_unless_hold", CLIENT_UNLESS_HOLD)
        create_sqlite_guards()


def downgrade() -> None:
    # Holds have no client: they go with the column's NOT NULL.
    op.execute("DELETE FROM appointment WHERE client_id IS NULL")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("cancelled_by", "appointment", type_="check")
        op.drop_constraint("client_unless_hold", "appointment", type_="check")
        op.alter_column("appointment", "client_id", nullable=False)
    else:
        with op.batch_alter_table("appointment", recreate="always") as batch_op:
            batch_op.drop_constraint("client_unless_hold", type_="check")
            batch_op.alter_column("client_id", existing_type=sa.Integer(), nullable=False)
        create_sqlite_guards()
    op.drop_index("ix_appointment_hold_token_hash", "appointment")
    op.drop_index("ix_appointment_hold_owner", "appointment")
    for column in reversed(NEW_APPOINTMENT_COLUMNS()):
        op.drop_column("appointment", column.name)

    with op.batch_alter_table("manage_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_manage_link_appointment_id"))

    op.drop_table("manage_link")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_message_due")

    op.drop_table("outbox_message")
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_record_expires_at"))

    op.drop_table("idempotency_record")
