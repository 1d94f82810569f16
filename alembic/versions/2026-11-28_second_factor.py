"""Staff second factor: TOTP and recovery codes (issue 12).

app_user gains the sealed TOTP secret, when it was confirmed, the last time step
accepted, and a set-up in progress (its sealed secret and when it runs out).
recovery_code keeps keyed hashes of one-time codes; second_factor_challenge is a
sign-in whose password was right and whose code is still owed.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinic.db import UTCDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ADD COLUMNs, nullable and without constraints: a batch rebuild of app_user on
# SQLite would drop and recreate the table that user_role and staff_session cascade from.
USER_COLUMNS = (
    ("totp_secret", sa.String(length=255)),
    ("totp_confirmed_at", UTCDateTime()),
    ("totp_last_step", sa.BigInteger()),
    ("totp_pending_secret", sa.String(length=255)),
    ("totp_pending_until", UTCDateTime()),
)


def upgrade() -> None:
    for name, type_ in USER_COLUMNS:
        op.add_column("app_user", sa.Column(name, type_, nullable=True))
    op.create_table(
        "recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_recovery_code_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_code")),
        sa.UniqueConstraint("user_id", "code_hash", name=op.f("uq_recovery_code_user_id")),
    )
    op.create_index(op.f("ix_recovery_code_user_id"), "recovery_code", ["user_id"], unique=False)
    op.create_table(
        "second_factor_challenge",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_second_factor_challenge_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_second_factor_challenge")),
    )
    op.create_index(
        op.f("ix_second_factor_challenge_user_id"),
        "second_factor_challenge",
        ["user_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_second_factor_challenge_user_id"), table_name="second_factor_challenge")
    op.drop_table("second_factor_challenge")
    op.drop_index(op.f("ix_recovery_code_user_id"), table_name="recovery_code")
    op.drop_table("recovery_code")
    # SQLite (3.35+) drops a plain column in place, without a rebuild.
    for name, _ in reversed(USER_COLUMNS):
        op.drop_column("app_user", name)
