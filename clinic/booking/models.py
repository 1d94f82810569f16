"""Appointments. The database, not this module, guarantees that no two appointments in a
blocking status overlap for one therapist or one room (see the migration that creates
the guards, and reliability.md section 1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    func,
    literal_column,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clinic.booking.statuses import (
    AppointmentSource,
    AppointmentStatus,
    CancelledBy,
    blocking_status_sql_list,
)
from clinic.clock import now_utc
from clinic.db import Base, UTCDateTime
from clinic.models_base import str_enum

_BLOCKING = f"status IN {blocking_status_sql_list()}"
_REMINDER_PENDING = "status = 'confirmed' AND reminder_sent_at IS NULL"


class Appointment(Base):
    __tablename__ = "appointment"
    __table_args__ = (
        CheckConstraint("starts_at < ends_at", name="starts_before_end"),
        CheckConstraint(
            "blocked_from <= starts_at AND blocked_until >= ends_at", name="blocked_covers_visit"
        ),
        CheckConstraint("price_minor >= 0", name="price_not_negative"),
        CheckConstraint(
            "client_id IS NOT NULL OR status IN ('held', 'expired')", name="client_unless_hold"
        ),
        ExcludeConstraint(
            ("therapist_id", "="),
            (
                func.tstzrange(
                    literal_column("blocked_from"),
                    literal_column("blocked_until"),
                    literal_column("'[)'"),
                ),
                "&&",
            ),
            name="ex_appointment_therapist_overlap",
            using="gist",
            where=literal_column(_BLOCKING),
        ).ddl_if(dialect="postgresql"),
        ExcludeConstraint(
            ("room_id", "="),
            (
                func.tstzrange(
                    literal_column("blocked_from"),
                    literal_column("blocked_until"),
                    literal_column("'[)'"),
                ),
                "&&",
            ),
            name="ex_appointment_room_overlap",
            using="gist",
            where=literal_column(f"room_id IS NOT NULL AND {_BLOCKING}"),
        ).ddl_if(dialect="postgresql"),
        Index("ix_appointment_therapist_blocked", "therapist_id", "blocked_until"),
        Index("ix_appointment_room_blocked", "room_id", "blocked_until"),
        # The reminder scan (clinic/booking/reminders.py): booked visits not yet reminded,
        # by start.
        Index(
            "ix_appointment_reminder_due",
            "starts_at",
            sqlite_where=literal_column(_REMINDER_PENDING),
            postgresql_where=literal_column(_REMINDER_PENDING),
        ),
        Index(
            "uq_appointment_therapist_start_active",
            "therapist_id",
            "starts_at",
            unique=True,
            sqlite_where=literal_column(_BLOCKING),
            postgresql_where=literal_column(_BLOCKING),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    therapist_id: Mapped[int] = mapped_column(ForeignKey("therapist.id"))
    # A hold has no client yet: the details come when it becomes a booking.
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("client.id"), index=True, nullable=True
    )
    # The contact who booked on the client's behalf (a daughter booking for her mother).
    booked_by_client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"), nullable=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    room_id: Mapped[int | None] = mapped_column(ForeignKey("room.id"), nullable=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Start minus the service's before-buffer and end plus its after-buffer, frozen at
    # booking: a later change to a service's buffers must not move existing rows.
    blocked_from: Mapped[datetime] = mapped_column(UTCDateTime)
    blocked_until: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[AppointmentStatus] = mapped_column(
        str_enum(AppointmentStatus, "appointment_status")
    )
    price_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    source: Mapped[AppointmentSource] = mapped_column(
        str_enum(AppointmentSource, "appointment_source")
    )
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)
    # False when the client asked for "anyone suitable" and the clinic chose.
    therapist_chosen: Mapped[bool] = mapped_column(Boolean, default=True)

    # A hold: a held appointment blocks its time (the guards cover it) until it expires.
    # The secret that turns it into a booking is stored as SHA-256 only.
    hold_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    hold_token_hash: Mapped[str | None] = mapped_column(
        String(64), unique=True, index=True, nullable=True
    )
    # Who holds it, for "one live hold per browser or email" (a hash, never the address).
    hold_owner: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    # The client's network address, for "at most three live holds per address".
    hold_address: Mapped[str | None] = mapped_column(String(64), nullable=True)

    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_by: Mapped[CancelledBy | None] = mapped_column(
        str_enum(CancelledBy, "cancelled_by"), nullable=True
    )
    cancellation_reason: Mapped[str] = mapped_column(String(500), default="")
    # A clinic-initiated cancellation puts the client on the rebooking list.
    needs_rebooking: Mapped[bool] = mapped_column(Boolean, default=False)
    fee_minor: Mapped[int] = mapped_column(Integer, default=0)
    # Cancelled for illness, a treatment reaction or a hospital stay: the fee is waived.
    medically_excused: Mapped[bool] = mapped_column(Boolean, default=False)

    # When the client was last told of a new time (NULL: never moved since booking); a
    # reminder is due only for a time the client knew of before the reminder's moment.
    rescheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # When the reminder for the current time was queued; a move clears it.
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The iCalendar SEQUENCE of the client's calendar file: one more on every move.
    calendar_sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ManageLink(Base):
    """A client's link to see, reschedule or cancel one appointment. The token (at least
    128 random bits) is sent once and stored only as SHA-256; revoking keeps the row."""

    __tablename__ = "manage_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ReminderOptOut(Base):
    """A client who asked for no reminder emails (through a manage link). Only reminders:
    confirmations, changes and cancellations still go out. No row: reminders are on."""

    __tablename__ = "reminder_opt_out"

    client_id: Mapped[int] = mapped_column(
        ForeignKey("client.id", ondelete="CASCADE"), primary_key=True
    )
    opted_out_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class IdempotencyRecord(Base):
    """A POST's stored answer under its Idempotency-Key, kept 24 hours."""

    __tablename__ = "idempotency_record"

    scope: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    # NULL while the first request is still being answered.
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
