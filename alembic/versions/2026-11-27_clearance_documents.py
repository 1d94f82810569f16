"""Clearance documents: the physician's letters, kept in the database with a checksum.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 17:12:40.118204
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinic.db import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clearance_document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clearance_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("media_type", sa.String(length=50), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", UTCDateTime(), nullable=False),
        sa.Column("uploaded_by_user_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "media_type IN ('application/pdf', 'image/jpeg', 'image/png')",
            name=op.f("ck_clearance_document_media_type"),
        ),
        sa.CheckConstraint("size > 0", name=op.f("ck_clearance_document_size")),
        sa.ForeignKeyConstraint(
            ["clearance_id"],
            ["clearance.id"],
            name=op.f("fk_clearance_document_clearance_id_clearance"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_user_id"],
            ["app_user.id"],
            name=op.f("fk_clearance_document_uploaded_by_user_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clearance_document")),
    )
    op.create_index(
        op.f("ix_clearance_document_clearance_id"),
        "clearance_document",
        ["clearance_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_clearance_document_clearance_id"), table_name="clearance_document")

    op.drop_table("clearance_document")
