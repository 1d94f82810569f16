"""Therapist counter of completed oncology sessions, filled from existing appointments.

Deriving a therapist's oncology level needs the number of oncology sessions they have
completed; a counter kept by the status transition avoids counting through history on
every availability request.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 12:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL = """
UPDATE therapist SET oncology_sessions_here = (
    SELECT count(*) FROM appointment
    JOIN service ON service.id = appointment.service_id
    WHERE appointment.therapist_id = therapist.id
      AND appointment.status = 'completed'
      AND service.min_oncology_level >= 1
)
"""


def upgrade() -> None:
    # therapist has no triggers, so a batch (table-rebuilding) operation on SQLite is safe.
    with op.batch_alter_table("therapist", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("oncology_sessions_here", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_check_constraint(
            "sessions_here_not_negative", "oncology_sessions_here >= 0"
        )
    op.execute(BACKFILL)
    with op.batch_alter_table("therapist", schema=None) as batch_op:
        batch_op.alter_column("oncology_sessions_here", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("therapist", schema=None) as batch_op:
        batch_op.drop_constraint("sessions_here_not_negative", type_="check")
        batch_op.drop_column("oncology_sessions_here")
