"""Outbox rows."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clinic.clock import now_utc
from clinic.db import Base, UTCDateTime
from clinic.models_base import str_enum


class OutboxStatus(StrEnum):
    PENDING = "pending"
    LEASED = "leased"
    DONE = "done"
    # Gave up after the maximum number of attempts; kept for an operator to look at.
    DEAD = "dead"


class OutboxMessage(Base):
    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # What to do: "email.booking_confirmed", "job.expire_holds", ...
    kind: Mapped[str] = mapped_column(String(100))
    # Ids and flags only: never names, addresses or health information.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[OutboxStatus] = mapped_column(
        str_enum(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING
    )
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
