"""Break-glass grants: one member of staff, one appointment, a reason, an expiry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clinic.db import Base, UTCDateTime


class BreakGlassGrant(Base):
    """Access to one appointment's health details that the member of staff's role and the
    care window do not give, opened by them with a reason. Never updated or deleted: the
    list of grants is what admins review."""

    __tablename__ = "break_glass_grant"
    __table_args__ = (Index("ix_break_glass_grant_user_appointment", "user_id", "appointment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id"))
    # In the staff member's words; the form asks for no health details.
    reason: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Where it was opened from, as the audit trail records sign-ins.
    ip_address: Mapped[str] = mapped_column(String(64), default="")
