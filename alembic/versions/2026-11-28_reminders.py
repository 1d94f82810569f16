"""Reminders and the client's opt-out: when an appointment's reminder went out, when it was
last moved (a reminder is due only for a time the client knew of before the reminder's
moment), the SEQUENCE of the client's calendar file, an index for the reminder scan, and
the clients who asked for no reminders.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinic.db import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REMINDER_PENDING = "status = 'confirmed' AND reminder_sent_at IS NULL"


def upgrade() -> None:
    # Plain ADD COLUMNs on both databases: a batch rebuild of appointment on SQLite would
    # drop its overlap triggers and the tables that reference it.
    op.add_column("appointment", sa.Column("rescheduled_at", UTCDateTime(), nullable=True))
    op.add_column("appointment", sa.Column("reminder_sent_at", UTCDateTime(), nullable=True))
    op.add_column(
        "appointment",
        sa.Column("calendar_sequence", sa.Integer(), server_default="0", nullable=False),
    )
    op.create_index(
        "ix_appointment_reminder_due",
        "appointment",
        ["starts_at"],
        unique=False,
        sqlite_where=sa.text(REMINDER_PENDING),
        postgresql_where=sa.text(REMINDER_PENDING),
    )
    op.create_table(
        "reminder_opt_out",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("opted_out_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client.id"],
            name=op.f("fk_reminder_opt_out_client_id_client"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_reminder_opt_out")),
    )


def downgrade() -> None:
    op.drop_table("reminder_opt_out")
    op.drop_index(
        "ix_appointment_reminder_due",
        table_name="appointment",
        sqlite_where=sa.text(REMINDER_PENDING),
        postgresql_where=sa.text(REMINDER_PENDING),
    )
    op.drop_column("appointment", "calendar_sequence")
    op.drop_column("appointment", "reminder_sent_at")
    op.drop_column("appointment", "rescheduled_at")
