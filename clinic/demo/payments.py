"""The demo's payments, in every state of the ledger, on top of the built appointments.

Three services take money online when booking (a 25% deposit, the full price, a fixed
deposit); every online booking of them was paid through the demo checkout, which kept the
client's card (a demo card: 4242 pays later charges, 0341 is declined, 3184 asks for the
client). Past visits were paid at the desk, two still owe something; cancellations and
no-shows are settled as the app settles them (clinic/payments/settlement.py): a deposit
counts towards a late fee and the rest is charged to the saved card, an early, a medically
excused or a clinic cancellation is refunded in full. A few visits are chosen to show the
states the calendar does not produce by itself (a declined fee, a pay link the client has
opened, a fee paid at the desk instead, a refund still with the bank), and two online
attempts that never became bookings end expired and failed. Every choice is made in a
fixed order or by the builder's `rng`, so the demo is the same on every build; `check`
then reads the rows back and refuses a ledger that does not add up."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import select

from clinic.booking.models import Appointment
from clinic.booking.policies import (
    Policies,
    cancellation_terms,
    no_show_fee,
    settle,
)
from clinic.booking.policy_store import stored_policies
from clinic.booking.statuses import AppointmentSource, AppointmentStatus, CancelledBy
from clinic.clients.models import Client, Consent, ConsentKind
from clinic.demo.data import GRID_MINUTES, ServiceSpec, offers
from clinic.intake.models import AppointmentIntake
from clinic.options import get_option, set_option
from clinic.payments.checkout import CARD_TERMS_VERSION, CHECKOUT_LIFETIME, HOLD_AFTER_CHECKOUT
from clinic.payments.desk import charges_of
from clinic.payments.ledger import BOOKING_KINDS, FEE_KINDS, applied_to_visit
from clinic.payments.models import Payment, PaymentCustomer, Refund, SavedCard
from clinic.payments.offline import CHECKOUT_PREFIX, PROVIDER
from clinic.payments.pricing import (
    RECEIPT_OPTION,
    ReceiptSettings,
    online_payment,
    receipt_settings_from,
    tax_lines,
)
from clinic.payments.settlement import DESK, refund_reason
from clinic.payments.states import (
    CAPTURED,
    DESK_METHODS,
    OPEN,
    PaymentKind,
    PaymentMethod,
    PaymentState,
    RefundReason,
    RefundState,
)
from clinic.scheduling.models import Room
from clinic.staff.models import Therapist

if TYPE_CHECKING:
    from clinic.demo.builder import DemoBuilder

# Massage therapy is not taxed in Pennsylvania, so the demo's receipts show no sales tax;
# the legal name and tax id are what insurers and health savings accounts ask for.
RECEIPT = ReceiptSettings(
    legal_name="Willow & Oak Massage Therapy LLC",
    tax_id="EIN 99-1234567",  # made up: 99- is no IRS campus prefix
    tax_name="Sales tax",
    tax_rate_basis_points=0,
    prices_include_tax=True,
)

# The demo cards (clinic/payments/offline.py): how a later charge to each one ends.
PAYS, DECLINED, ASKS = "4242", "0341", "3184"
FAILURE_CODES = {DECLINED: "card_declined", ASKS: "authentication_required"}

# Two past visits are left owing something: the desk's to-do list is never empty.
BALANCES_DUE = 2
# The client typed $20 too much on the card machine and was given it back.
OVERPAID_MINOR = 2000
# The clinic's booking page is open this long before a booking is made.
CHECKOUT_MINUTES = timedelta(minutes=4)
# Cancellations need at least this long between booking and cancelling.
SOME_TIME = timedelta(hours=1)
# Late cancellations come the morning of the visit or the evening before (local times).
LATE_CANCEL_AT = (time(7, 15), time(20, 30))
EXCUSED_CANCEL_AT = (time(21, 0), time(7, 0))
NO_SHOW_MARKED_AFTER = timedelta(minutes=20)
DESK_NEXT_DAY = timedelta(days=1, hours=1)
PAY_LINK_OPENED = timedelta(minutes=12)


class DemoPaymentsError(RuntimeError):
    """The demo's payments do not fit its calendar, or its ledger does not add up."""


class Role(StrEnum):
    """The story a chosen visit tells; visits without one are settled as they stand."""

    LATE_FEE = "a late cancellation: the deposit counts, the rest is charged"
    EXCUSED = "a late cancellation, medically excused: refunded in full"
    CLINIC = "cancelled by the clinic: refunded in full, to rebook"
    EARLY = "cancelled in time: refunded in full"
    REFUND_PENDING = "cancelled in time this morning: the refund is still with the bank"
    NO_SHOW_PAID = "a no-show fee charged to the saved card (and disputed)"
    NO_SHOW_DECLINED = "a no-show fee the saved card declined"
    NO_SHOW_LINK_OPENED = "a no-show fee whose pay link the client has opened"
    NO_SHOW_PAID_AT_DESK = "a declined no-show fee the client paid at the desk instead"
    CASH = "the balance paid in cash, with a tip"
    OVERPAID = "$20 too much on the card machine, refunded by the desk"
    BALANCE_DUE = "the balance is still due"


NO_SHOW_CARDS = {
    Role.NO_SHOW_PAID: PAYS,
    Role.NO_SHOW_DECLINED: DECLINED,
    Role.NO_SHOW_LINK_OPENED: ASKS,
    Role.NO_SHOW_PAID_AT_DESK: DECLINED,
}
EARLY_REASONS = (
    "A work trip came up.",
    "Has to look after a sick child that day.",
    "Moving house that week.",
    "Will book again after the holidays.",
)
CLINIC_REASON = "The therapist is off sick; the desk will call to rebook."
LATE_REASON = "Forgot about a family commitment."
EXCUSED_REASON = "Not well enough to come in."


@dataclass
class DemoPayments:
    builder: DemoBuilder
    policies: Policies = field(default_factory=Policies)
    rules: dict[int, tuple[str, int | None]] = field(default_factory=dict)
    protected: set[int] = field(default_factory=set)
    roles: dict[int, Role] = field(default_factory=dict)
    # The card each client saved, by client id: its last4, and when it was saved.
    card_needs: dict[int, str] = field(default_factory=dict)
    card_saved_at: dict[int, datetime] = field(default_factory=dict)
    cards: dict[int, SavedCard] = field(default_factory=dict)
    booking: dict[int, Payment] = field(default_factory=dict)
    payments: list[Payment] = field(default_factory=list)
    # Refunds wait for their payments' ids: (payment, refund without its payment_id).
    refunds: list[tuple[Payment, Refund]] = field(default_factory=list)

    @property
    def moment(self) -> datetime:
        return self.builder.moment

    async def add(self) -> None:
        b = self.builder
        session = b.session
        await set_option(session, RECEIPT_OPTION, RECEIPT.as_dict())
        self.policies = await stored_policies(session)
        self.rules = {
            service.id: (spec.deposit_kind, spec.deposit_value)
            for spec, service in b.services
            if spec.deposit_kind is not None
        }
        # Visits with a health form are left as they were planned.
        self.protected = set(await session.scalars(select(AppointmentIntake.appointment_id)))
        paying = [a for a in self.in_order() if self.books_online(a) and self.paid_online(a)]
        for a in paying:
            assert a.client_id is not None
            saved = self.booked_at(a)
            if a.client_id not in self.card_saved_at or saved < self.card_saved_at[a.client_id]:
                self.card_saved_at[a.client_id] = saved
        self.choose_roles()
        await self.add_cards(paying)
        for a in paying:
            self.add_booking_payment(a)
        for a in self.in_order():
            self.settle_visit(a)
        await self.add_attempts()
        session.add_all(self.payments)
        await session.flush()
        for payment, refund in self.refunds:
            refund.payment_id = payment.id
            session.add(refund)
        await session.flush()

    # What the calendar holds.
    def in_order(self) -> list[Appointment]:
        return sorted(self.builder.appointments, key=lambda a: (a.starts_at, a.id))

    def books_online(self, a: Appointment) -> bool:
        return (
            a.source is AppointmentSource.ONLINE
            and a.service_id in self.rules
            and a.client_id is not None
            and a.status is not AppointmentStatus.EXPIRED
        )

    def paid_online(self, a: Appointment) -> bool:
        """A booking cancelled the moment it was made shows no money (the demo has a few)."""
        if a.status is not AppointmentStatus.CANCELLED:
            return True
        return min(a.starts_at, self.moment) - a.created_at > SOME_TIME

    def booked_at(self, a: Appointment) -> datetime:
        return min(a.created_at + CHECKOUT_MINUTES, self.moment)

    def due_online(self, a: Appointment) -> tuple[PaymentKind, int]:
        kind, value = self.rules[a.service_id]
        price = tax_lines(a.price_minor, RECEIPT).gross_minor
        due = online_payment(
            self.policies,
            price_minor=price,
            currency=a.currency,
            service_kind=kind,
            service_value=value,
        )
        if due is None:
            raise DemoPaymentsError(f"service {a.service_id}'s rule asks for nothing online")
        return due.kind, due.amount_minor

    def paid_before(self, a: Appointment) -> int:
        """What the client paid online for `a` when booking (nothing for a saved card)."""
        if not self.books_online(a) or not self.paid_online(a):
            return 0
        if a.status is AppointmentStatus.PENDING_CLEARANCE:
            return 0
        return self.due_online(a)[1]

    def spec_of(self, a: Appointment) -> ServiceSpec:
        return next(spec for spec, s in self.builder.services if s.id == a.service_id)

    def free(self, a: Appointment) -> bool:
        return a.id not in self.roles and a.id not in self.protected and a.client_id is not None

    def past(self) -> list[Appointment]:
        """Visits that have ended, the most recent first."""
        return [a for a in reversed(self.in_order()) if a.ends_at <= self.moment]

    def future(self) -> list[Appointment]:
        return [a for a in self.in_order() if a.starts_at > self.moment]

    # The visits chosen for each story, with a fallback that changes a visit's status
    # (never its time) when the calendar of the day offers none.
    def choose_roles(self) -> None:
        for role in (Role.LATE_FEE, Role.EXCUSED):
            self.choose_late(role)
        self.choose_cancellation(Role.REFUND_PENDING, self.refund_can_be_pending)
        self.choose_cancellation(Role.CLINIC, self.can_cancel_at_all)
        self.choose_cancellation(Role.EARLY, self.can_cancel_early)
        for role in NO_SHOW_CARDS:
            self.choose_no_show(role)
        self.choose_desk_roles()

    def take(self, role: Role, candidates: Iterable[Appointment], *, card: str = "") -> Appointment:
        for a in candidates:
            assert a.client_id is not None
            if card and self.card_needs.get(a.client_id, card) != card:
                continue
            if card:
                self.card_needs[a.client_id] = card
            self.roles[a.id] = role
            return a
        raise DemoPaymentsError(f"no visit in the demo's calendar can show {role.value}")

    def choose_late(self, role: Role) -> None:
        def fits(a: Appointment) -> bool:
            if not (self.free(a) and self.books_online(a) and self.can_cancel_late(a)):
                return False
            if role is Role.EXCUSED:
                return True
            # The deposit is less than the fee, so the rest is charged.
            return self.paid_before(a) < self.late_fee(a)

        past = [a for a in self.past() if fits(a)]
        cancelled = [a for a in past if a.status is AppointmentStatus.CANCELLED]
        completed = [a for a in past if self.can_become_cancelled(a)]
        card = PAYS if role is Role.LATE_FEE else ""
        chosen = self.take(role, cancelled + completed, card=card)
        at = self.late_time(chosen, LATE_CANCEL_AT if role is Role.LATE_FEE else EXCUSED_CANCEL_AT)
        assert at is not None
        self.cancel(chosen, CancelledBy.CLIENT, at, medically_excused=role is Role.EXCUSED)

    def choose_cancellation(self, role: Role, fits: Callable[[Appointment], bool]) -> None:
        future = [a for a in self.future() if self.free(a) and self.books_online(a) and fits(a)]
        past = [a for a in self.past() if self.free(a) and self.books_online(a) and fits(a)]
        cancelled = [a for a in future + past if a.status is AppointmentStatus.CANCELLED]
        confirmed = [a for a in future if a.status is AppointmentStatus.CONFIRMED]
        chosen = self.take(role, cancelled + confirmed)
        if role is Role.CLINIC:
            self.cancel(chosen, CancelledBy.CLINIC, self.some_time_after_booking(chosen))
        elif role is Role.REFUND_PENDING:
            self.cancel(chosen, CancelledBy.CLIENT, self.moment - timedelta(minutes=40))
        else:
            self.cancel(chosen, CancelledBy.CLIENT, self.early_time(chosen))

    def choose_no_show(self, role: Role) -> None:
        def fits(a: Appointment) -> bool:
            assert a.client_id is not None
            saved = self.card_saved_at.get(a.client_id)
            # The client who paid at the desk instead came in the next day.
            came_in = a.starts_at + NO_SHOW_MARKED_AFTER + DESK_NEXT_DAY
            return (
                self.free(a)
                and saved is not None
                and saved < a.starts_at
                and self.paid_before(a) < a.price_minor
                and (role is not Role.NO_SHOW_PAID_AT_DESK or came_in < self.moment)
            )

        past = [a for a in self.past() if fits(a)]
        missed = [a for a in past if a.status is AppointmentStatus.NO_SHOW]
        completed = [a for a in past if self.can_become_cancelled(a)]
        chosen = self.take(role, missed + completed, card=NO_SHOW_CARDS[role])
        chosen.status = AppointmentStatus.NO_SHOW
        chosen.fee_minor = no_show_fee(self.policies, chosen.price_minor)
        chosen.updated_at = max(chosen.created_at, chosen.ends_at)

    def choose_desk_roles(self) -> None:
        """A cash balance after an online deposit, the $20 refunded by the desk, and the
        visits still owing: the most recent before today, so the desk sees them first."""
        before_today = [
            a
            for a in self.past()
            if a.status is AppointmentStatus.COMPLETED
            and a.id not in self.roles
            and a.starts_at.astimezone(self.builder.zone).date() < self.builder.today
        ]
        deposits = [a for a in before_today if 0 < self.paid_before(a) < a.price_minor]
        at_visit = [a for a in before_today if self.paid_before(a) == 0]
        self.take(Role.CASH, deposits + at_visit)
        self.take(Role.OVERPAID, [a for a in at_visit if a.id not in self.roles])
        owing = [
            a
            for a in before_today
            if self.paid_before(a) < a.price_minor and a.id not in self.roles
        ]
        for _ in range(BALANCES_DUE):
            self.take(Role.BALANCE_DUE, owing)
            owing = [a for a in owing if a.id not in self.roles]

    # When a cancellation can have happened.
    def can_cancel_late(self, a: Appointment) -> bool:
        return a.starts_at <= self.moment and all(
            self.late_time(a, times) is not None for times in (LATE_CANCEL_AT, EXCUSED_CANCEL_AT)
        )

    def late_time(self, a: Appointment, times: tuple[time, ...]) -> datetime | None:
        """The first of `times` (on the visit's day, or the evening before) inside the
        cancellation window, at least an hour before the visit and after the booking."""
        b = self.builder
        day = a.starts_at.astimezone(b.zone).date()
        for wall in times:
            on = day if wall.hour < 12 else day - timedelta(days=1)
            at = b.local(on, wall.hour * 60 + wall.minute)
            late = a.starts_at - self.policies.cancellation_window < at
            if late and a.created_at + SOME_TIME < at < a.starts_at - SOME_TIME:
                return min(at, self.moment)
        return None

    def can_cancel_early(self, a: Appointment) -> bool:
        latest = min(a.starts_at - self.policies.cancellation_window, self.moment)
        return latest - a.created_at > 2 * SOME_TIME

    def can_cancel_at_all(self, a: Appointment) -> bool:
        return min(a.starts_at, self.moment) - a.created_at > 2 * SOME_TIME

    def refund_can_be_pending(self, a: Appointment) -> bool:
        at = self.moment - timedelta(minutes=40)
        return (
            a.starts_at - self.policies.cancellation_window > at and a.created_at + SOME_TIME < at
        )

    def can_become_cancelled(self, a: Appointment) -> bool:
        """A completed visit may become a cancelled or missed one where nothing else counts
        it (oncology sessions are counted towards the therapists' experience)."""
        return a.status is AppointmentStatus.COMPLETED and self.spec_of(a).min_level is None

    def some_time_after_booking(self, a: Appointment) -> datetime:
        return self.daytime(a.created_at, min(a.starts_at, self.moment))

    def early_time(self, a: Appointment) -> datetime:
        latest = min(a.starts_at - self.policies.cancellation_window, self.moment)
        return self.daytime(a.created_at, latest)

    def daytime(self, after: datetime, before: datetime) -> datetime:
        """Halfway between two times, moved into the day (8:00-21:00 local) when that
        keeps it between them."""
        b = self.builder
        middle = after + (before - after) / 2
        local = middle.astimezone(b.zone)
        minutes = local.hour * 60 + local.minute
        moved = b.local(local.date(), min(max(minutes, 8 * 60), 21 * 60))
        return moved if after + SOME_TIME / 2 < moved < before else middle

    def late_fee(self, a: Appointment) -> int:
        return cancellation_terms(
            self.policies,
            price_minor=a.price_minor,
            starts_at=a.starts_at,
            now=a.starts_at,
            cancelled_by=CancelledBy.CLIENT,
        ).fee_minor

    def cancel(
        self,
        a: Appointment,
        by: CancelledBy,
        at: datetime,
        *,
        reason: str = "",
        medically_excused: bool = False,
    ) -> None:
        """Cancel `a` at `at` as the app does, with the fee its policies decide."""
        at = at.replace(second=0, microsecond=0)
        terms = cancellation_terms(
            self.policies,
            price_minor=a.price_minor,
            starts_at=a.starts_at,
            now=at,
            cancelled_by=by,
            medically_excused=medically_excused,
        )
        if not reason:
            if by is CancelledBy.CLINIC:
                reason = CLINIC_REASON
            elif medically_excused:
                reason = EXCUSED_REASON
            elif terms.late:
                reason = LATE_REASON
            else:
                reason = self.builder.rng.choice(EARLY_REASONS)
        a.status = AppointmentStatus.CANCELLED
        a.cancelled_at = at
        a.cancelled_by = by
        a.cancellation_reason = reason
        a.fee_minor = terms.fee_minor
        a.needs_rebooking = terms.needs_rebooking
        a.medically_excused = medically_excused and by is CancelledBy.CLIENT
        a.updated_at = at

    # Rows.
    def hex_digits(self, length: int) -> str:
        return f"{self.builder.rng.getrandbits(4 * length):0{length}x}"

    def offline_id(self, prefix: str) -> str:
        """An id in the offline gateway's format (offline.new_id), drawn from the builder's
        rng so that the demo is the same on every build."""
        return f"off_{prefix}_{self.hex_digits(24)}"

    async def add_cards(self, paying: list[Appointment]) -> None:
        """A customer, a consent to the fee terms at each online booking, and the card
        saved at the first one."""
        b = self.builder
        consents: dict[int, Consent] = {}
        # In the order they were booked: the card is tied to the first booking's consent.
        for a in sorted(paying, key=lambda a: (a.created_at, a.id)):
            assert a.client_id is not None
            consent = Consent(
                client_id=a.client_id,
                kind=ConsentKind.CARD_ON_FILE,
                terms_version=CARD_TERMS_VERSION,
                given_at=a.created_at,
            )
            b.session.add(consent)
            consents.setdefault(a.client_id, consent)
        await b.session.flush()
        for client_id in sorted(self.card_saved_at):
            saved_at = self.card_saved_at[client_id]
            customer_id = self.offline_id("cus")
            b.session.add(
                PaymentCustomer(
                    client_id=client_id,
                    provider=PROVIDER,
                    mode="offline",
                    customer_id=customer_id,
                    created_at=saved_at - CHECKOUT_MINUTES,
                )
            )
            last4 = self.card_needs.get(client_id, PAYS)
            card = SavedCard(
                client_id=client_id,
                provider=PROVIDER,
                customer_id=customer_id,
                # As offline.card_method_id: the id carries the test card's number.
                method_id=f"off_pm_{last4}_{self.hex_digits(16)}",
                brand="demo",
                last4=last4,
                exp_month=b.rng.randint(1, 12),
                exp_year=b.today.year + b.rng.randint(1, 4),
                consent_id=consents[client_id].id,
                created_at=saved_at,
            )
            b.session.add(card)
            self.cards[client_id] = card
        await b.session.flush()

    def payment(
        self,
        a: Appointment,
        kind: PaymentKind,
        method: PaymentMethod,
        state: PaymentState,
        amount: int,
        at: datetime,
        **values: object,
    ) -> Payment:
        assert a.client_id is not None
        desk = method in DESK_METHODS
        captured = state in CAPTURED
        row = Payment(
            appointment_id=a.id,
            client_id=a.client_id,
            kind=kind,
            method=method,
            state=state,
            amount_minor=amount,
            tip_minor=0,
            refunded_minor=0,
            currency=a.currency,
            provider=DESK if desk else PROVIDER,
            idempotency_key=self.hex_digits(32),
            attempts=0,
            checkout_url="",
            save_card=False,
            card_only=False,
            failure_code="",
            disputed=False,
            reference="",
            recorded_by_user_id=self.builder.users["frontdesk"].id if desk else None,
            created_at=at,
            updated_at=at,
            succeeded_at=at if captured else None,
        )
        if method is PaymentMethod.CARD_SAVED:
            row.saved_card_id = self.cards[a.client_id].id
            row.attempts = 1
            row.provider_payment_id = self.offline_id("pi")
        for name, value in values.items():
            setattr(row, name, value)
        self.payments.append(row)
        return row

    def add_booking_payment(self, a: Appointment) -> None:
        """What the client paid on the demo checkout page when booking: the deposit or the
        price, or only their card for a visit that waits for a clearance."""
        assert a.client_id is not None
        kind, amount = self.due_online(a)
        opened = min(a.created_at + CHECKOUT_MINUTES / 2, self.moment)
        paid = self.booked_at(a)
        card_only = a.status is AppointmentStatus.PENDING_CLEARANCE
        checkout_id = CHECKOUT_PREFIX + self.hex_digits(24)
        row = self.payment(
            a,
            kind,
            PaymentMethod.CARD_ONLINE,
            PaymentState.SCHEDULED if card_only else PaymentState.SUCCEEDED,
            amount,
            opened,
            checkout_id=checkout_id,
            checkout_url=f"/pay/demo/{checkout_id}",
            checkout_expires_at=opened + CHECKOUT_LIFETIME,
            provider_payment_id=None if card_only else self.offline_id("pi"),
            saved_card_id=self.cards[a.client_id].id,
            save_card=True,
            card_only=card_only,
            updated_at=paid,
            succeeded_at=None if card_only else paid,
        )
        self.booking[a.id] = row

    def refund(
        self,
        payment: Payment,
        amount: int,
        reason: RefundReason,
        at: datetime,
        *,
        pending: bool = False,
        note: str = "",
        by_desk: bool = False,
    ) -> None:
        """As ledger.add_refund: counted against the payment at once; a payment refunded
        in full is "refunded". The card's refunds go through the provider, the desk's are
        handed back there."""
        at = min(at, self.moment)
        row = Refund(
            amount_minor=amount,
            reason=reason,
            note=note,
            state=RefundState.PENDING if pending else RefundState.SUCCEEDED,
            idempotency_key=self.hex_digits(32),
            provider_refund_id=None if payment.provider == DESK else self.offline_id("re"),
            requested_by_user_id=self.builder.users["frontdesk"].id if by_desk else None,
            created_at=at,
            updated_at=at,
            succeeded_at=None if pending else at,
        )
        self.refunds.append((payment, row))
        payment.refunded_minor += amount
        if payment.refunded_minor >= payment.amount_minor + payment.tip_minor:
            payment.state = PaymentState.REFUNDED
        payment.updated_at = at

    def settle_visit(self, a: Appointment) -> None:
        role = self.roles.get(a.id)
        if a.status is AppointmentStatus.COMPLETED:
            self.pay_at_desk(a, role)
        elif a.status is AppointmentStatus.CANCELLED and a.id in self.booking:
            if a.cancelled_at is None:
                # A cancellation the calendar made, now with its time and terms.
                if self.can_cancel_early(a):
                    self.cancel(a, CancelledBy.CLIENT, self.early_time(a))
                else:
                    self.cancel(a, CancelledBy.CLINIC, self.some_time_after_booking(a))
            self.settle_fee(a, role)
        elif a.status is AppointmentStatus.NO_SHOW and (role is not None or a.id in self.booking):
            if a.fee_minor == 0:
                a.fee_minor = no_show_fee(self.policies, a.price_minor)
                a.updated_at = max(a.created_at, a.ends_at)
            self.settle_fee(a, role)

    def settle_fee(self, a: Appointment, role: Role | None) -> None:
        """As settlement._settle_ledger: the fee comes out of what was paid first; what
        was paid above it is refunded, the rest is charged to the saved card."""
        assert a.client_id is not None
        booking = self.booking.get(a.id)
        paid = applied_to_visit(booking) if booking is not None else 0
        owed = settle(fee_minor=a.fee_minor, paid_minor=paid)
        ended = a.cancelled_at or min(a.starts_at + NO_SHOW_MARKED_AFTER, self.moment)
        if owed.refund_minor and booking is not None:
            at = ended + timedelta(minutes=1)
            pending = role is Role.REFUND_PENDING
            self.refund(booking, owed.refund_minor, refund_reason(a), at, pending=pending)
        if not owed.charge_minor:
            return
        kind = (
            PaymentKind.NO_SHOW_FEE
            if a.status is AppointmentStatus.NO_SHOW
            else PaymentKind.LATE_CANCELLATION_FEE
        )
        last4 = self.cards[a.client_id].last4
        state = PaymentState.SUCCEEDED if last4 == PAYS else PaymentState.AWAITING_CLIENT
        fee = self.payment(
            a, kind, PaymentMethod.CARD_SAVED, state, owed.charge_minor, min(ended, self.moment)
        )
        fee.failure_code = FAILURE_CODES.get(last4, "")
        if role is Role.NO_SHOW_PAID:
            # The client told their bank they never booked it; the clinic has the consent.
            fee.disputed = True
            fee.updated_at = min(ended + timedelta(days=2), self.moment)
        elif role is Role.NO_SHOW_LINK_OPENED:
            # The pay link's checkout page is open now (checkout.start_pay_link_checkout).
            opened = self.moment - PAY_LINK_OPENED
            checkout_id = CHECKOUT_PREFIX + self.hex_digits(24)
            fee.state = PaymentState.PENDING
            fee.attempts = 2
            fee.checkout_id = checkout_id
            fee.checkout_url = f"/pay/demo/{checkout_id}"
            fee.checkout_expires_at = opened + CHECKOUT_LIFETIME
            fee.updated_at = opened
        elif role is Role.NO_SHOW_PAID_AT_DESK:
            # The client came in the next day and paid in cash, closing the pay link.
            at = min(ended + DESK_NEXT_DAY, self.moment)
            self.payment(
                a,
                PaymentKind.BALANCE,
                PaymentMethod.CASH,
                PaymentState.SUCCEEDED,
                owed.charge_minor,
                at,
            )
            fee.state = PaymentState.CANCELLED
            fee.updated_at = at

    def pay_at_desk(self, a: Appointment, role: Role | None) -> None:
        """The rest of a visit's price, taken at the desk just after it (a transfer comes a
        day or two later); tips go beside it."""
        b = self.builder
        booking = self.booking.get(a.id)
        paid = applied_to_visit(booking) if booking is not None else 0
        due = charges_of(a, RECEIPT).gross_minor - paid
        if due <= 0 or role is Role.BALANCE_DUE:
            return
        at = min(a.ends_at + timedelta(minutes=b.rng.randint(2, 9)), self.moment)
        days_ago = (self.moment - a.ends_at).days
        if role is Role.CASH:
            method = PaymentMethod.CASH
        elif role is Role.OVERPAID:
            method = PaymentMethod.TERMINAL
        else:
            method = b.rng.choices(
                (PaymentMethod.TERMINAL, PaymentMethod.CASH, PaymentMethod.BANK_TRANSFER),
                (6, 3, 1),
            )[0]
        if method is PaymentMethod.BANK_TRANSFER and days_ago < 3:
            method = PaymentMethod.TERMINAL
        tip, reference = 0, ""
        if method is PaymentMethod.CASH:
            tip = b.rng.choice((1000, 1500, 2000)) if role is Role.CASH else b.rng.choice((0, 1000))
        elif method is PaymentMethod.TERMINAL:
            tip = b.rng.choice((0, 0, 1000, 1500, 2000))
            reference = f"Slip {b.rng.randint(1000, 9999)}"
        else:
            at = a.ends_at + timedelta(days=b.rng.randint(1, 2), hours=b.rng.randint(1, 5))
            reference = f"Transfer ref {b.rng.randint(100000, 999999)}"
        amount = due + (OVERPAID_MINOR if role is Role.OVERPAID else 0)
        row = self.payment(
            a,
            PaymentKind.BALANCE,
            method,
            PaymentState.SUCCEEDED,
            amount,
            at,
            tip_minor=tip,
            reference=reference,
        )
        if role is Role.OVERPAID:
            self.refund(
                row,
                OVERPAID_MINOR,
                RefundReason.STAFF,
                at + timedelta(minutes=3),
                note="Keyed $20 too much on the card machine; refunded to the card.",
                by_desk=True,
            )

    async def add_attempts(self) -> None:
        """Two online attempts that never became bookings: a checkout left to expire, and
        a bank debit that failed days after the page was paid (the hold ran out meanwhile)."""
        b = self.builder
        for spec, service in b.services:
            if spec.deposit_kind not in ("percent", "full"):
                continue
            failed = spec.deposit_kind == "full"
            days_ago = 4 if failed else 6
            started = b.local(b.today - timedelta(days=days_ago), 21 * 60 + 10)
            therapist, start, room = self.open_time(spec, b.today - timedelta(days=days_ago - 3))
            client = self.attempt_client(failed)
            end = start + timedelta(minutes=spec.minutes)
            block = (start - timedelta(minutes=spec.before), end + timedelta(minutes=spec.after))
            held_until = started + CHECKOUT_LIFETIME + HOLD_AFTER_CHECKOUT
            a = b.appointment_row(
                therapist,
                service,
                client,
                room,
                AppointmentStatus.EXPIRED,
                block,
                (start, end),
                source=AppointmentSource.ONLINE,
                created_at=started,
            )
            a.hold_expires_at = held_until
            a.updated_at = held_until
            b.session.add(a)
            await b.session.flush()
            b.session.add(
                Consent(
                    client_id=client.id,
                    kind=ConsentKind.CARD_ON_FILE,
                    terms_version=CARD_TERMS_VERSION,
                    given_at=started,
                )
            )
            if client.id not in self.card_saved_at:
                b.session.add(
                    PaymentCustomer(
                        client_id=client.id,
                        provider=PROVIDER,
                        mode="offline",
                        customer_id=self.offline_id("cus"),
                        created_at=started,
                    )
                )
            kind, amount = self.due_online(a)
            checkout_id = CHECKOUT_PREFIX + self.hex_digits(24)
            self.payment(
                a,
                kind,
                PaymentMethod.CARD_ONLINE,
                PaymentState.FAILED if failed else PaymentState.EXPIRED,
                amount,
                started,
                checkout_id=checkout_id,
                checkout_url=f"/pay/demo/{checkout_id}",
                checkout_expires_at=started + CHECKOUT_LIFETIME,
                provider_payment_id=self.offline_id("pi") if failed else None,
                save_card=True,
                updated_at=(started + timedelta(days=3) if failed else started + CHECKOUT_LIFETIME),
            )

    def open_time(self, spec: ServiceSpec, day: date) -> tuple[Therapist, datetime, Room]:
        """A time on `day` (or the next working day) in the hours of the first therapist
        who offers `spec`: realistic, though an expired hold blocks nothing."""
        b = self.builder
        for offset in range(14):
            on = day + timedelta(days=offset)
            if on == b.closure:
                continue
            for t_spec, therapist in b.therapists:
                spans = b.hours[therapist.id].get(on.weekday(), [])
                if not offers(t_spec, spec) or t_spec.licence_lapsed or not spans:
                    continue
                open_min, close_min = spans[0]
                start = open_min + 2 * 60
                start -= start % GRID_MINUTES
                if start + spec.minutes + spec.after > close_min:
                    continue
                needs = {a.value for a in spec.room_attributes}
                room = next(r for r in b.rooms if needs <= set(r.attributes))
                return therapist, b.local(on, start), room
        raise DemoPaymentsError(f"no therapist offers {spec.name} near {day}")

    def attempt_client(self, failed: bool) -> Client:
        """General clients who never paid online (so they saved no card)."""
        b = self.builder
        pool = sorted(
            (c for c, _ in b.clients["general"] if c.id not in self.card_saved_at),
            key=lambda c: c.id,
        )
        return pool[1 if failed else 0]


async def add_payments(builder: DemoBuilder) -> None:
    await DemoPayments(builder).add()


# The refund reasons the demo shows (a lost slot needs a race the demo does not stage).
SHOWN_REASONS = frozenset(RefundReason) - {RefundReason.SLOT_LOST}


async def check(builder: DemoBuilder) -> None:
    """Read the ledger back: every payment state is there, refunds add up and never pass
    what was captured, each visit's money matches its status (a fee is what was kept and
    is still open, a visit is never paid beyond its price, only the chosen visits owe
    something), online bookings paid what their service asks, and saved cards have
    their consent and customer."""
    b = builder
    session = b.session
    problems: list[str] = []
    payments = list(await session.scalars(select(Payment).order_by(Payment.id)))
    refunds = list(await session.scalars(select(Refund).order_by(Refund.id)))
    missing = set(PaymentState) - {p.state for p in payments}
    if missing:
        problems.append(f"no payment is {', '.join(sorted(missing))}")
    reasons = {r.reason for r in refunds}
    if not reasons >= SHOWN_REASONS or RefundState.PENDING not in {r.state for r in refunds}:
        problems.append(f"the refunds show only {', '.join(sorted(reasons))}")
    refunded: dict[int, int] = defaultdict(int)
    for r in refunds:
        if r.state is not RefundState.FAILED:
            refunded[r.payment_id] += r.amount_minor
        if r.created_at > b.moment or (r.succeeded_at is not None) is (
            r.state is RefundState.PENDING
        ):
            problems.append(f"refund {r.id} has the wrong times for {r.state.value}")
    by_visit: dict[int, list[Payment]] = defaultdict(list)
    for p in payments:
        by_visit[p.appointment_id].append(p)
        captured = p.amount_minor + p.tip_minor
        if p.refunded_minor != refunded[p.id] or p.refunded_minor > captured:
            problems.append(f"payment {p.id}'s refunds do not add up")
        if (p.state is PaymentState.REFUNDED) is not (p.refunded_minor == captured):
            problems.append(f"payment {p.id} is {p.state.value} with {p.refunded_minor} refunded")
        if (p.succeeded_at is not None) is not (p.state in CAPTURED):
            problems.append(f"payment {p.id} is {p.state.value} with the wrong succeeded_at")
        if max(p.created_at, p.updated_at, p.succeeded_at or p.created_at) > b.moment:
            problems.append(f"payment {p.id} happens after the demo's moment")
    rules = {s.id: spec for spec, s in b.services}
    policies = await stored_policies(session)
    receipt = receipt_settings_from(await get_option(session, RECEIPT_OPTION))
    owing = 0
    for a in b.appointments:
        visit = by_visit.get(a.id, [])
        paid = sum(applied_to_visit(p) for p in visit)
        open_fees = sum(p.amount_minor for p in visit if p.kind in FEE_KINDS and p.state in OPEN)
        booked = [p for p in visit if p.kind in BOOKING_KINDS]
        spec = rules[a.service_id]
        online = a.source is AppointmentSource.ONLINE and spec.deposit_kind is not None
        if booked:
            due = online_payment(
                policies,
                price_minor=tax_lines(a.price_minor, receipt).gross_minor,
                currency=a.currency,
                service_kind=spec.deposit_kind,
                service_value=spec.deposit_value,
            )
            if (
                not online
                or due is None
                or any((p.kind, p.amount_minor) != (due.kind, due.amount_minor) for p in booked)
            ):
                problems.append(f"appointment {a.id} paid online what its service does not ask")
        elif online and a.status in (
            AppointmentStatus.PENDING_CLEARANCE,
            AppointmentStatus.CONFIRMED,
            AppointmentStatus.CHECKED_IN,
            AppointmentStatus.COMPLETED,
            AppointmentStatus.NO_SHOW,
        ):
            problems.append(f"appointment {a.id} was booked online without its payment")
        if a.status in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW):
            if visit and paid + open_fees != a.fee_minor:
                problems.append(f"appointment {a.id}'s fee is not what was kept and is open")
        elif a.status is AppointmentStatus.EXPIRED:
            if paid:
                problems.append(f"appointment {a.id} expired with money kept")
        else:
            if open_fees or paid > charges_of(a, receipt).gross_minor:
                problems.append(f"appointment {a.id} is paid beyond its price")
            if (
                a.status is AppointmentStatus.COMPLETED
                and paid < charges_of(a, receipt).gross_minor
            ):
                owing += 1
    if owing != BALANCES_DUE:
        problems.append(f"{owing} past visits owe something, not {BALANCES_DUE}")
    consents = {
        c.id: c
        for c in await session.scalars(
            select(Consent).where(Consent.kind == ConsentKind.CARD_ON_FILE)
        )
    }
    customers = {
        (c.client_id, c.customer_id) for c in await session.scalars(select(PaymentCustomer))
    }
    for card in await session.scalars(select(SavedCard)):
        consent = consents.get(card.consent_id or 0)
        if (
            consent is None
            or consent.client_id != card.client_id
            or consent.given_at > card.created_at
            or (card.client_id, card.customer_id) not in customers
        ):
            problems.append(f"saved card {card.id} has no consent given before it, or no customer")
        if card.last4 not in (PAYS, DECLINED, ASKS) or card.brand != "demo":
            problems.append(f"saved card {card.id} is not a demo card")
    if problems:
        raise DemoPaymentsError("; ".join(problems[:10]))
