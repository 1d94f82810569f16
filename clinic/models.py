"""Imports every model so that Base.metadata is complete (Alembic and tests use it)."""

from clinic.access.models import BreakGlassGrant
from clinic.audit import AuditEntry, AuditSeal
from clinic.auth.models import Role, SignInThrottle, StaffSession, User, UserRole
from clinic.booking.models import Appointment, IdempotencyRecord, ManageLink, ReminderOptOut
from clinic.clearance.documents import ClearanceDocument
from clinic.clearance.models import Clearance, ClearanceChase, PrevisitCheck
from clinic.clients.models import Client, Consent
from clinic.db import Base
from clinic.intake.models import AppointmentIntake, Intake
from clinic.options import ClinicOption
from clinic.outbox.models import OutboxMessage
from clinic.payments.models import Payment, PaymentCustomer, PaymentEvent, Refund, SavedCard
from clinic.scheduling.models import (
    Closure,
    Location,
    Room,
    Service,
    TimeOff,
    WeeklyHours,
    service_therapist,
)
from clinic.staff.models import Credential, Therapist, therapist_location
from clinic.therapist.models import CalendarFeed

__all__ = [
    "Appointment",
    "AppointmentIntake",
    "AuditEntry",
    "AuditSeal",
    "Base",
    "BreakGlassGrant",
    "CalendarFeed",
    "Clearance",
    "ClearanceChase",
    "ClearanceDocument",
    "Client",
    "ClinicOption",
    "Closure",
    "Consent",
    "Credential",
    "IdempotencyRecord",
    "Intake",
    "Location",
    "ManageLink",
    "OutboxMessage",
    "Payment",
    "PaymentCustomer",
    "PaymentEvent",
    "PrevisitCheck",
    "Refund",
    "ReminderOptOut",
    "Role",
    "Room",
    "SavedCard",
    "Service",
    "SignInThrottle",
    "StaffSession",
    "Therapist",
    "TimeOff",
    "User",
    "UserRole",
    "WeeklyHours",
    "service_therapist",
    "therapist_location",
]
