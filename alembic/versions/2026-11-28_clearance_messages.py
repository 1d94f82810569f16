"""Clearance and intake messages (issue 11): when a client was told that the clearance on
file ends before a coming visit, and when a visit's "fill in your health form" reminder was
queued. Each is sent once; these record that it was.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-28 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinic.db import UTCDateTime

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain nullable ADD COLUMNs on both databases: no batch rebuild on SQLite (clearance
    # has dependants, and appointment_intake's rebuild is needless for one column).
    op.add_column("clearance", sa.Column("renewal_notice_at", UTCDateTime(), nullable=True))
    op.add_column(
        "appointment_intake", sa.Column("intake_reminder_at", UTCDateTime(), nullable=True)
    )


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place when nothing (index, constraint) refers to it.
    op.drop_column("appointment_intake", "intake_reminder_at")
    op.drop_column("clearance", "renewal_notice_at")
