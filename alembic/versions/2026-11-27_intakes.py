"""Signed intakes and each appointment's intake link (state, plan, required level).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 14:46:28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinic.db import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intake",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("form_hash", sa.String(length=64), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("cancer_history", sa.Boolean(), nullable=False),
        sa.Column("signed_name", sa.String(length=200), nullable=False),
        sa.Column("signed_at", UTCDateTime(), nullable=False),
        sa.Column("consent_version", sa.String(length=40), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client.id"],
            name=op.f("fk_intake_client_id_client"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_intake_token_hash")),
    )
    op.create_index(op.f("ix_intake_client_id"), "intake", ["client_id"], unique=False)

    op.create_table(
        "appointment_intake",
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("intake_id", sa.Integer(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "missing",
                "complete",
                "review",
                name="intake_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("cancer_history", sa.Boolean(), nullable=True),
        sa.Column("plan", sa.JSON(), nullable=True),
        sa.Column("required_level", sa.Integer(), nullable=True),
        sa.Column("modifications", sa.Boolean(), nullable=False),
        sa.Column("review_reason", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointment.id"],
            name=op.f("fk_appointment_intake_appointment_id_appointment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["intake_id"],
            ["intake.id"],
            name=op.f("fk_appointment_intake_intake_id_intake"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("appointment_id", name=op.f("pk_appointment_intake")),
    )
    op.create_index(
        op.f("ix_appointment_intake_intake_id"), "appointment_intake", ["intake_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_appointment_intake_intake_id"), table_name="appointment_intake")
    op.drop_table("appointment_intake")
    op.drop_index(op.f("ix_intake_client_id"), table_name="intake")
    op.drop_table("intake")
