"""Staff choose how tall the front desk's day grid draws a quarter hour (comfortable or
compact); the choice is kept on the account, so it follows them to every device.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK = "desk_density IN ('comfortable', 'compact')"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("app_user", sa.Column("desk_density", sa.String(length=32), nullable=True))
        op.create_check_constraint(op.f("ck_app_user_desk_density"), "app_user", CHECK)
    else:
        # A plain ADD COLUMN carrying its CHECK: a batch rebuild of app_user on SQLite would
        # drop and recreate the table that user_role and staff_session cascade from.
        op.execute(
            "ALTER TABLE app_user ADD COLUMN desk_density VARCHAR(32)"
            f" CONSTRAINT ck_app_user_desk_density CHECK ({CHECK})"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("ck_app_user_desk_density"), "app_user", type_="check")
    op.drop_column("app_user", "desk_density")
