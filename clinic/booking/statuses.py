"""Appointment statuses, and which of them hold time on a therapist's and a room's calendar.

BLOCKING_STATUSES is the one list used by the database guards (PostgreSQL exclusion
constraints, the SQLite trigger), the availability loader and the tests.
"""

from __future__ import annotations

from enum import StrEnum


class AppointmentStatus(StrEnum):
    HELD = "held"
    PENDING_CLEARANCE = "pending_clearance"
    CONFIRMED = "confirmed"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    EXPIRED = "expired"


BLOCKING_STATUSES: tuple[AppointmentStatus, ...] = (
    AppointmentStatus.HELD,
    AppointmentStatus.PENDING_CLEARANCE,
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.CHECKED_IN,
    AppointmentStatus.COMPLETED,
)


def blocking_status_sql_list() -> str:
    """The blocking statuses as an SQL list literal: ('held', 'pending_clearance', ...)."""
    return "(" + ", ".join(f"'{s.value}'" for s in BLOCKING_STATUSES) + ")"


class CancelledBy(StrEnum):
    CLIENT = "client"
    CLINIC = "clinic"
    # The hold or the clearance deadline ran out.
    SYSTEM = "system"


class AppointmentSource(StrEnum):
    ONLINE = "online"
    DESK = "desk"
    API = "api"
    PHONE = "phone"
