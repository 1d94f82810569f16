"""Where and when work happens: locations, rooms, services, weekly hours, time off, closures.

Working hours are local wall times in the location's IANA zone; time off is a pair of
UTC instants; a closure is a whole local date.
"""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from clinic.db import Base, UTCDateTime


class RoomAttribute(StrEnum):
    MASSAGE_TABLE = "massage_table"
    WHEELCHAIR_ACCESSIBLE = "wheelchair_accessible"
    SEMI_RECLINED_TABLE = "semi_reclined_table"
    SIDE_LYING_BOLSTERS = "side_lying_bolsters"
    HYDRAULIC_TABLE = "hydraulic_table"
    MASSAGE_CHAIR = "massage_chair"
    NEAR_RESTROOM = "near_restroom"


class Location(Base):
    __tablename__ = "location"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(Text)
    phone: Mapped[str] = mapped_column(String(40), default="")
    timezone: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Room(Base):
    __tablename__ = "room"
    __table_args__ = (UniqueConstraint("location_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # A list of RoomAttribute values.
    attributes: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


service_therapist = Table(
    "service_therapist",
    Base.metadata,
    Column("service_id", ForeignKey("service.id", ondelete="CASCADE"), primary_key=True),
    Column("therapist_id", ForeignKey("therapist.id", ondelete="CASCADE"), primary_key=True),
)


class Service(Base):
    __tablename__ = "service"
    __table_args__ = (
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
        CheckConstraint("price_minor >= 0", name="price_not_negative"),
        CheckConstraint(
            "buffer_before_minutes >= 0 AND buffer_after_minutes >= 0", name="buffers_not_negative"
        ),
        CheckConstraint(
            "min_oncology_level IS NULL OR min_oncology_level BETWEEN 0 AND 4",
            name="oncology_level_range",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # The neutral name used outside the clinic (emails, calendars, card statements):
    # a service name such as "Oncology massage" would disclose a condition.
    public_name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    duration_minutes: Mapped[int] = mapped_column(Integer)
    price_minor: Mapped[int] = mapped_column(Integer)
    buffer_before_minutes: Mapped[int] = mapped_column(Integer, default=0)
    buffer_after_minutes: Mapped[int] = mapped_column(Integer, default=0)
    min_oncology_level: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    needs_lymphedema: Mapped[bool] = mapped_column(Boolean, default=False)
    # A list of RoomAttribute values the room must have.
    room_attributes: Mapped[list[str]] = mapped_column(JSON, default=list)
    bookable_online: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    display_order: Mapped[int] = mapped_column(Integer, default=0)
    # This service's own online payment rule (none, percent, fixed, full); NULL follows
    # the clinic's booking policy.
    deposit_kind: Mapped[str | None] = mapped_column(String(10), nullable=True)
    deposit_value: Mapped[int | None] = mapped_column(Integer, nullable=True)


class WeeklyHours(Base):
    __tablename__ = "weekly_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("start_time < end_time", name="starts_before_end"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapist.id", ondelete="CASCADE"), index=True
    )
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    # Monday is 0, as date.weekday() counts.
    weekday: Mapped[int] = mapped_column(SmallInteger)
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)


class TimeOff(Base):
    __tablename__ = "time_off"
    __table_args__ = (CheckConstraint("starts_at < ends_at", name="starts_before_end"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapist.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(200), default="")


class Closure(Base):
    __tablename__ = "closure"
    __table_args__ = (UniqueConstraint("location_id", "on_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    # A local date in the location's zone: the whole day is closed.
    on_date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200), default="")
