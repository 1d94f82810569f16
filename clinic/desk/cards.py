"""The desk's appointment cards: time, client, service (its public name), room, status as
a word with an icon, payment in words from the ledger, and flags (never a reason, never
anything clinical). `load_cards` reads any set of appointments in two statements, however
many there are: the appointments with everything a card shows, then their payments summed
per appointment, kind and state (rather than `payments.desk.account_of` per card)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from clinic.booking.models import Appointment
from clinic.booking.policies import OPTION_KEY as POLICY_OPTION
from clinic.booking.policies import Policies, policies_from
from clinic.booking.statuses import AppointmentStatus
from clinic.clearance.models import CLEARING, Clearance
from clinic.clearance.pages import EXPIRING_DAYS, clearance_deadline
from clinic.clients.models import Client
from clinic.intake.models import AppointmentIntake, IntakeState
from clinic.intake.rules import SCREENING_OPTION, screening_rules_from
from clinic.options import ClinicOption
from clinic.payments.desk import charges_of
from clinic.payments.models import Payment
from clinic.payments.pricing import RECEIPT_OPTION, ReceiptSettings, receipt_settings_from
from clinic.payments.states import PaymentKind, PaymentState
from clinic.scheduling.models import Location, Room, Service
from clinic.staff.models import Therapist
from clinic.web.formatting import clock_time, short_date

# Statuses the calendar shows. Holds are the online booking flow's business; expired
# holds and free cancellations are not the desk's (free cancellations show on request).
SHOWN = (
    AppointmentStatus.PENDING_CLEARANCE,
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.CHECKED_IN,
    AppointmentStatus.COMPLETED,
    AppointmentStatus.NO_SHOW,
)
# A client whose earlier appointment in one of these is not new.
VISITED = (
    AppointmentStatus.PENDING_CLEARANCE,
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.CHECKED_IN,
    AppointmentStatus.COMPLETED,
)
CAPTURED = (PaymentState.SUCCEEDED, PaymentState.REFUNDED)
SHORT = timedelta(minutes=20)
BOOKING_KINDS = (PaymentKind.DEPOSIT, PaymentKind.FULL)
# The client's other appointments, for "new client". Made once: an alias builds its column
# proxies on first use, a cost every page would otherwise pay again.
_EARLIER = aliased(Appointment, name="earlier")


@dataclass(frozen=True)
class Look:
    """A status as the desk reads it: a word, an icon, and the class that colours it."""

    key: str
    word: str
    icon: str


LOOKS = {
    "pending_clearance": Look("pending_clearance", "Awaiting clearance", "⚠"),
    "confirmed": Look("confirmed", "Booked", "✓"),
    "checked_in": Look("checked_in", "Arrived", "➜"),
    "completed": Look("completed", "Done", "●"),
    "no_show": Look("no_show", "No-show", "✕"),
    "late_cancel": Look("late_cancel", "Late cancel", "⊘"),
    "cancelled": Look("cancelled", "Cancelled", "–"),
}


@dataclass(frozen=True)
class Flag:
    """A labelled icon on a card. Never a reason: the desk does not see why."""

    key: str
    icon: str
    label: str
    # What it means, for the page's key.
    meaning: str
    # This visit's particulars: "by Tue 24 Nov, 1pm".
    detail: str = ""


FLAG_KEY = (
    Flag("clearance", "⚠", "Clearance needed", "The visit waits for a doctor's clearance."),
    Flag("expiring", "◷", "Clearance expiring", "The client's clearance runs out soon."),
    Flag("forms", "✎", "Forms due", "Health form not filled in yet."),
    Flag("review", "?", "Needs review", "The clinical lead is checking the visit."),
    Flag("care", "✚", "Care plan", "The therapist adapts the session."),
    Flag("new", "★", "New client", "The client's first visit."),
)
_FLAGS = {flag.key: flag for flag in FLAG_KEY}


# Not frozen: `grid.lanes` sets `place` on the page's own cards, hundreds a page, where a
# copy of each would cost more than the rest of placing them.
@dataclass(slots=True)
class Card:
    appointment_id: int
    client_name: str
    therapist_id: int
    therapist_name: str
    # The service's public name, with its length.
    service_name: str
    starts_at: datetime
    ends_at: datetime
    room_name: str | None
    status: AppointmentStatus
    look: Look
    payment: str
    balance_minor: int
    currency: str
    price_minor: int
    fee_minor: int
    flags: tuple[Flag, ...]
    # While the visit waits for a clearance: when it is released without one.
    clearance_deadline: datetime | None
    # Grid placement classes ("" outside a grid).
    place: str = ""
    kind: str = "visit"

    def on(self, zone: ZoneInfo) -> date:
        """The visit's local date."""
        return self.starts_at.astimezone(zone).date()

    @property
    def short(self) -> bool:
        """One row of the grid: room for the start and the name, not the whole range."""
        return self.ends_at - self.starts_at <= SHORT


@dataclass(frozen=True)
class DeskSettings:
    """What the desk's pages need of the clinic's stored settings."""

    receipt: ReceiptSettings
    deadline_hours: int
    policies: Policies


def primary_location_id() -> Any:
    return select(func.min(Location.id)).where(Location.active.is_(True)).scalar_subquery()


async def desk_settings(session: AsyncSession) -> DeskSettings:
    """The receipt, screening and booking settings, in one statement."""
    rows = await session.execute(
        select(ClinicOption.key, ClinicOption.value).where(
            ClinicOption.key.in_((RECEIPT_OPTION, SCREENING_OPTION, POLICY_OPTION))
        )
    )
    values: dict[str, Any] = {str(key): value for key, value in rows}
    return DeskSettings(
        receipt=receipt_settings_from(values.get(RECEIPT_OPTION)),
        deadline_hours=screening_rules_from(values.get(SCREENING_OPTION)).clearance_deadline_hours,
        policies=policies_from(values.get(POLICY_OPTION)),
    )


def shown(show_cancelled: bool) -> ColumnElement[bool]:
    """Free cancellations only on request; a late one (a fee) always: money is due."""
    cancelled = Appointment.status == AppointmentStatus.CANCELLED
    if not show_cancelled:
        cancelled = and_(cancelled, Appointment.fee_minor > 0)
    return or_(Appointment.status.in_(SHOWN), cancelled)


@dataclass(frozen=True)
class VisitRow:
    """The appointment's columns a card is made from."""

    id: int
    therapist_id: int
    starts_at: datetime
    ends_at: datetime
    status: AppointmentStatus
    currency: str
    price_minor: int
    fee_minor: int

    COLUMNS: ClassVar[tuple[Any, ...]] = (
        Appointment.id,
        Appointment.therapist_id,
        Appointment.starts_at,
        Appointment.ends_at,
        Appointment.status,
        Appointment.currency,
        Appointment.price_minor,
        Appointment.fee_minor,
    )


def _service_words(public_name: str, minutes: int) -> str:
    return public_name if "min" in public_name else f"{public_name}, {minutes} min"


def _payment_words(
    appointment: VisitRow, receipt: ReceiptSettings, payments: Sequence[Any]
) -> tuple[str, int]:
    """The payment state in words, from the ledger's rows, and the balance due."""
    paid = sum(row.applied for row in payments)
    refunded = sum(row.refunded for row in payments)
    states = {row.state for row in payments}
    deposit = any(row.kind in BOOKING_KINDS and row.applied > 0 for row in payments)
    charges = charges_of(appointment, receipt).gross_minor
    balance = max(charges - paid, 0)
    if appointment.status in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW):
        if charges > 0:
            if paid >= charges:
                return "Fee paid", 0
            if PaymentState.AWAITING_CLIENT in states:
                return "Fee due, pay link sent", balance
            return "Fee due", balance
        if paid > 0:
            return "Refund due", 0
        return ("Refunded" if refunded else "Nothing due"), 0
    if charges == 0:
        return "Nothing due", 0
    if paid >= charges:
        return "Paid", 0
    if PaymentState.AWAITING_CLIENT in states:
        return "Awaiting client", balance
    if paid > 0:
        return ("Deposit paid" if deposit else "Part paid"), balance
    if PaymentState.SCHEDULED in states:
        return "Card saved", balance
    return "Unpaid", balance


async def load_cards(
    session: AsyncSession,
    where: Sequence[ColumnElement[bool]],
    *,
    settings: DeskSettings,
    zone: ZoneInfo,
) -> list[Card]:
    """The cards of the appointments `where` selects, in time order, in two statements."""
    first_visit = ~exists().where(
        _EARLIER.client_id == Appointment.client_id,
        _EARLIER.starts_at < Appointment.starts_at,
        _EARLIER.status.in_(VISITED),
    )
    clearance_until = (
        select(func.max(Clearance.valid_until))
        .where(
            Clearance.client_id == Appointment.client_id,
            Clearance.status.in_(CLEARING),
            Clearance.voided_at.is_(None),
        )
        .scalar_subquery()
    )
    rows = (
        await session.execute(
            select(
                # The columns a card shows, not the whole row: a day has hundreds.
                *VisitRow.COLUMNS,
                Therapist.display_name,
                Client.name,
                Service.public_name,
                Service.duration_minutes,
                Room.name,
                AppointmentIntake.state,
                AppointmentIntake.modifications,
                first_visit.label("first_visit"),
                clearance_until.label("clearance_until"),
            )
            .join(Therapist, Therapist.id == Appointment.therapist_id)
            .join(Client, Client.id == Appointment.client_id)
            .join(Service, Service.id == Appointment.service_id)
            .outerjoin(Room, Room.id == Appointment.room_id)
            .outerjoin(AppointmentIntake, AppointmentIntake.appointment_id == Appointment.id)
            .where(*where)
            .order_by(Appointment.starts_at, Therapist.display_name, Appointment.id)
        )
    ).all()
    applied = case(
        (
            and_(Payment.state.in_(CAPTURED), Payment.amount_minor > Payment.refunded_minor),
            Payment.amount_minor - Payment.refunded_minor,
        ),
        else_=0,
    )
    ids = select(Appointment.id).where(*where)
    payments: dict[int, list[Any]] = defaultdict(list)
    for row in await session.execute(
        select(
            Payment.appointment_id,
            Payment.kind,
            Payment.state,
            func.sum(applied).label("applied"),
            func.sum(Payment.refunded_minor).label("refunded"),
        )
        .where(Payment.appointment_id.in_(ids))
        .group_by(Payment.appointment_id, Payment.kind, Payment.state)
    ):
        payments[row.appointment_id].append(row)
    cards = []
    width = len(VisitRow.COLUMNS)
    for found in rows:
        appointment = VisitRow(*found[:width])
        (
            therapist_name,
            client_name,
            public_name,
            minutes,
            room_name,
            intake_state,
            modifications,
            first,
            until,
        ) = found[width:]
        words, balance = _payment_words(appointment, settings.receipt, payments[appointment.id])
        deadline = (
            clearance_deadline(appointment.starts_at, settings.deadline_hours)
            if appointment.status is AppointmentStatus.PENDING_CLEARANCE
            else None
        )
        cards.append(
            Card(
                appointment_id=appointment.id,
                client_name=client_name,
                therapist_id=appointment.therapist_id,
                therapist_name=therapist_name,
                service_name=_service_words(public_name, minutes),
                starts_at=appointment.starts_at,
                ends_at=appointment.ends_at,
                room_name=room_name,
                status=appointment.status,
                look=_look(appointment),
                payment=words,
                balance_minor=balance,
                currency=appointment.currency,
                price_minor=appointment.price_minor,
                fee_minor=appointment.fee_minor,
                flags=_flags(
                    appointment,
                    zone=zone,
                    deadline=deadline,
                    intake_state=intake_state,
                    modifications=bool(modifications),
                    first_visit=bool(first),
                    clearance_until=until,
                ),
                clearance_deadline=deadline,
            )
        )
    return cards


def _look(appointment: VisitRow) -> Look:
    if appointment.status is AppointmentStatus.CANCELLED:
        return LOOKS["late_cancel" if appointment.fee_minor > 0 else "cancelled"]
    return LOOKS.get(appointment.status.value, LOOKS["confirmed"])


def _flags(
    appointment: VisitRow,
    *,
    zone: ZoneInfo,
    deadline: datetime | None,
    intake_state: IntakeState | None,
    modifications: bool,
    first_visit: bool,
    clearance_until: date | None,
) -> tuple[Flag, ...]:
    flags: list[Flag] = []
    if deadline is not None:
        when = f"by {short_date(deadline, zone)}, {clock_time(deadline, zone)}"
        flags.append(_with_detail("clearance", when))
    else:
        visit_day = appointment.starts_at.astimezone(zone).date()
        if clearance_until is not None and visit_day <= clearance_until <= visit_day + timedelta(
            days=EXPIRING_DAYS
        ):
            until = f"{clearance_until:%a} {clearance_until.day} {clearance_until:%b}"
            flags.append(_with_detail("expiring", f"on file until {until}"))
    if intake_state is IntakeState.MISSING:
        flags.append(_FLAGS["forms"])
    elif intake_state is IntakeState.REVIEW:
        flags.append(_FLAGS["review"])
    if modifications and intake_state is not IntakeState.MISSING:
        flags.append(_FLAGS["care"])
    if first_visit:
        flags.append(_FLAGS["new"])
    return tuple(flags)


def _with_detail(key: str, detail: str) -> Flag:
    return replace(_FLAGS[key], detail=detail)
