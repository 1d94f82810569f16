"""Break-glass grants: a member of staff opens one appointment's health details outside
their access, with a reason, until an expiry; admins review the list. And the indexes the
admin audit review filters by (time, and one member of staff's entries).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-28 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinic.db import UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "break_glass_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("granted_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointment.id"],
            name=op.f("fk_break_glass_grant_appointment_id_appointment"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_break_glass_grant_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_break_glass_grant")),
    )
    op.create_index(
        op.f("ix_break_glass_grant_granted_at"), "break_glass_grant", ["granted_at"], unique=False
    )
    op.create_index(
        "ix_break_glass_grant_user_appointment",
        "break_glass_grant",
        ["user_id", "appointment_id"],
        unique=False,
    )

    op.create_index("ix_audit_entry_occurred_at", "audit_entry", ["occurred_at"], unique=False)
    op.create_index("ix_audit_entry_actor", "audit_entry", ["actor_user_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_entry_actor", table_name="audit_entry")
    op.drop_index("ix_audit_entry_occurred_at", table_name="audit_entry")
    op.drop_index("ix_break_glass_grant_user_appointment", table_name="break_glass_grant")
    op.drop_index(op.f("ix_break_glass_grant_granted_at"), table_name="break_glass_grant")
    op.drop_table("break_glass_grant")
