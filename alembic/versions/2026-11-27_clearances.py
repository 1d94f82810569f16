"""Physician clearances and the log of chasing them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 15:47:02.623314
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinic.db import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clearance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("intake_id", sa.Integer(), nullable=True),
        sa.Column("physician_name", sa.String(length=200), nullable=False),
        sa.Column("practice", sa.String(length=200), nullable=False),
        sa.Column("contact", sa.String(length=300), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "requested",
                "received",
                "cleared",
                "cleared_with_restrictions",
                "not_cleared",
                "expired",
                "voided",
                name="clearance_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("requested_by_user_id", sa.Integer(), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by_user_id", sa.Integer(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("max_pressure", sa.Integer(), nullable=True),
        sa.Column("restrictions", sa.Text(), nullable=False),
        sa.Column("voided_at", UTCDateTime(), nullable=True),
        sa.Column("void_reason", sa.String(length=300), nullable=False),
        sa.CheckConstraint(
            "max_pressure IS NULL OR max_pressure BETWEEN 1 AND 5",
            name=op.f("ck_clearance_pressure"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client.id"],
            name=op.f("fk_clearance_client_id_client"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_user_id"],
            ["app_user.id"],
            name=op.f("fk_clearance_decided_by_user_id_app_user"),
        ),
        sa.ForeignKeyConstraint(
            ["intake_id"],
            ["intake.id"],
            name=op.f("fk_clearance_intake_id_intake"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_user_id"],
            ["app_user.id"],
            name=op.f("fk_clearance_requested_by_user_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clearance")),
    )
    op.create_index(op.f("ix_clearance_client_id"), "clearance", ["client_id"], unique=False)

    op.create_table(
        "clearance_chase",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clearance_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=True),
        sa.Column(
            "method",
            sa.Enum(
                "phone",
                "fax",
                "email",
                "portal",
                "letter",
                "client",
                name="chase_method",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("outcome", sa.String(length=500), nullable=False),
        sa.Column("next_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["by_user_id"], ["app_user.id"], name=op.f("fk_clearance_chase_by_user_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["clearance_id"],
            ["clearance.id"],
            name=op.f("fk_clearance_chase_clearance_id_clearance"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clearance_chase")),
    )
    op.create_index(
        op.f("ix_clearance_chase_clearance_id"), "clearance_chase", ["clearance_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_clearance_chase_clearance_id"), table_name="clearance_chase")

    op.drop_table("clearance_chase")
    op.drop_index(op.f("ix_clearance_client_id"), table_name="clearance")

    op.drop_table("clearance")
