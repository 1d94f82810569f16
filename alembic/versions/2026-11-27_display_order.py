"""Therapists get a display order (online booking and the desk's columns), numbered from
their names as they were sorted before; and credential expiry warnings sent to the
admins are recorded, one row per credential, expiry date and threshold.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinic.db import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 10, 20, 30... in the order the lists showed until now (by name, then id).
NUMBER_BY_NAME = """
UPDATE therapist SET display_order = 10 * (
    SELECT count(*) FROM therapist AS other
    WHERE other.display_name < therapist.display_name
       OR (other.display_name = therapist.display_name AND other.id <= therapist.id)
)
"""


def upgrade() -> None:
    # therapist has no triggers, so a batch (table-rebuilding) operation on SQLite is safe.
    with op.batch_alter_table("therapist", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("display_order", sa.Integer(), nullable=False, server_default="0")
        )
    op.execute(NUMBER_BY_NAME)
    with op.batch_alter_table("therapist", schema=None) as batch_op:
        batch_op.alter_column("display_order", server_default=None)

    op.create_table(
        "credential_expiry_warning",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.Integer(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("threshold_days", sa.Integer(), nullable=False),
        sa.Column("queued_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "threshold_days >= 0",
            name=op.f("ck_credential_expiry_warning_threshold_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credential.id"],
            name=op.f("fk_credential_expiry_warning_credential_id_credential"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential_expiry_warning")),
        sa.UniqueConstraint(
            "credential_id",
            "expires_on",
            "threshold_days",
            name=op.f("uq_credential_expiry_warning_credential_id"),
        ),
    )


def downgrade() -> None:
    op.drop_table("credential_expiry_warning")
    with op.batch_alter_table("therapist", schema=None) as batch_op:
        batch_op.drop_column("display_order")
