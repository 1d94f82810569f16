"""Signed intakes, and each appointment's link to the intake it is planned from.

An intake is never changed after it is signed: a new one is added instead, and the newest
signed intake of a client is their current one. The answers are kept as JSON beside the
content hash of the form definition they answer (clinic/intake/forms/), so they stay
readable when a new version of the form is published.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clinic.clock import now_utc
from clinic.db import Base, UTCDateTime
from clinic.models_base import str_enum


class Intake(Base):
    __tablename__ = "intake"

    id: Mapped[int] = mapped_column(primary_key=True)
    # None until a booking or a manage link ties the intake to a client.
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("client.id", ondelete="CASCADE"), nullable=True, index=True
    )
    # sha256 of the intake token: the client's only way back to these answers.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    form_hash: Mapped[str] = mapped_column(String(64))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    cancer_history: Mapped[bool] = mapped_column(Boolean)
    signed_name: Mapped[str] = mapped_column(String(200))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consent_version: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class IntakeState(StrEnum):
    MISSING = "missing"  # booked without an intake: the client has been sent a link
    COMPLETE = "complete"  # planned from a signed intake
    REVIEW = "review"  # an intake raised what the visit needs past what was booked


class AppointmentIntake(Base):
    """What the desk and the therapist know about an appointment's intake. The plan is
    the screening result for this appointment (its date decides the day-of-visit window),
    kept so the therapist reads what the booking was made on."""

    __tablename__ = "appointment_intake"

    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointment.id", ondelete="CASCADE"), primary_key=True
    )
    intake_id: Mapped[int | None] = mapped_column(
        ForeignKey("intake.id", ondelete="SET NULL"), nullable=True, index=True
    )
    state: Mapped[IntakeState] = mapped_column(str_enum(IntakeState, "intake_state"))
    # The gate answer given without an intake (API or desk); None when not asked.
    cancer_history: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    required_level: Mapped[int | None] = mapped_column(Integer, nullable=True)
    modifications: Mapped[bool] = mapped_column(Boolean, default=False)
    review_reason: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)
    # When the "fill in your health form" reminder was queued (clinic/intake/reminders.py):
    # once per visit.
    intake_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
