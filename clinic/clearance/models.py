"""Clearance records and the log of chasing them.

A clearance answers one intake (the plan that asked for it); it covers a visit only when it
was decided after that intake was signed, is valid on the visit's date and has not been
voided since (clinic/clearance/covering.py).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clinic.clock import now_utc
from clinic.db import Base, UTCDateTime
from clinic.models_base import str_enum


class ClearanceStatus(StrEnum):
    REQUESTED = "requested"  # the letter went to the physician
    RECEIVED = "received"  # a reply arrived; not yet read by a clinician
    CLEARED = "cleared"
    CLEARED_WITH_RESTRICTIONS = "cleared_with_restrictions"
    NOT_CLEARED = "not_cleared"
    EXPIRED = "expired"
    VOIDED = "voided"  # a change in the client's health since: ask again


DECIDED = (
    ClearanceStatus.CLEARED,
    ClearanceStatus.CLEARED_WITH_RESTRICTIONS,
    ClearanceStatus.NOT_CLEARED,
)
CLEARING = (ClearanceStatus.CLEARED, ClearanceStatus.CLEARED_WITH_RESTRICTIONS)


class Clearance(Base):
    __tablename__ = "clearance"
    __table_args__ = (
        CheckConstraint("max_pressure IS NULL OR max_pressure BETWEEN 1 AND 5", name="pressure"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    intake_id: Mapped[int | None] = mapped_column(
        ForeignKey("intake.id", ondelete="SET NULL"), nullable=True
    )
    physician_name: Mapped[str] = mapped_column(String(200))
    practice: Mapped[str] = mapped_column(String(200), default="")
    contact: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[ClearanceStatus] = mapped_column(str_enum(ClearanceStatus, "clearance_status"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    requested_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id"), nullable=True
    )
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), nullable=True)
    # The last local date the clearance holds for.
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    # Restrictions the physician set: a Walton cap and free text for the therapist.
    max_pressure: Mapped[int | None] = mapped_column(Integer, nullable=True)
    restrictions: Mapped[str] = mapped_column(Text, default="")
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    void_reason: Mapped[str] = mapped_column(String(300), default="")
    # When the client was told this clearance ends before a coming visit and a new one is
    # needed (clinic/clearance/notices.py): once per clearance.
    renewal_notice_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ChaseMethod(StrEnum):
    PHONE = "phone"
    FAX = "fax"
    EMAIL = "email"
    PORTAL = "portal"
    LETTER = "letter"
    CLIENT = "client"  # asked the client to chase their own team


class ClearanceChase(Base):
    """One attempt by the desk to get a reply: how, what came of it, when to try next."""

    __tablename__ = "clearance_chase"

    id: Mapped[int] = mapped_column(primary_key=True)
    clearance_id: Mapped[int] = mapped_column(
        ForeignKey("clearance.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), nullable=True)
    method: Mapped[ChaseMethod] = mapped_column(str_enum(ChaseMethod, "chase_method"))
    outcome: Mapped[str] = mapped_column(String(500))
    next_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class PrevisitCheck(Base):
    """The "anything new since your last visit?" check of one visit: asked, then answered."""

    __tablename__ = "previsit_check"

    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointment.id", ondelete="CASCADE"), primary_key=True
    )
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    answers: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # nothing_new, review or deferred (clinic/clearance/previsit.py); "" until answered.
    outcome: Mapped[str] = mapped_column(String(20), default="")
