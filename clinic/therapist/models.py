"""A therapist's calendar subscription link. The token (256 random bits) is shown once and
stored only as SHA-256; revoking keeps the row. At most one live link per therapist, held
by a partial unique index."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, literal_column
from sqlalchemy.orm import Mapped, mapped_column

from clinic.clock import now_utc
from clinic.db import Base, UTCDateTime


class CalendarFeed(Base):
    __tablename__ = "calendar_feed"
    __table_args__ = (
        Index(
            "uq_calendar_feed_live_therapist",
            "therapist_id",
            unique=True,
            sqlite_where=literal_column("revoked_at IS NULL"),
            postgresql_where=literal_column("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapist.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
