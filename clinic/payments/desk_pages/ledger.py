"""One visit's account as the desk's pages read it (the visit, its payments and refunds
in words, the card on file, the no-show fee): reads only, never writes, never anything
clinical."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.auth.models import User
from clinic.booking.models import Appointment
from clinic.booking.policies import no_show_fee
from clinic.booking.policy_store import stored_policies
from clinic.clients.models import Client
from clinic.clock import now_utc
from clinic.errors import NotFound
from clinic.payments.desk import Account, account_of, receipt_settings
from clinic.payments.desk_pages.common import (
    FAILURE_WORDS,
    FEE_LABELS,
    KIND_WORDS,
    METHOD_WORDS,
    NO_SHOW_FROM,
    REFUND_REASON_WORDS,
    REFUND_STATE_WORDS,
    STATE_WORDS,
)
from clinic.payments.ledger import saved_card_of
from clinic.payments.models import Payment, Refund, SavedCard
from clinic.payments.pricing import ReceiptSettings
from clinic.payments.states import PaymentMethod, PaymentState
from clinic.scheduling.models import Service
from clinic.staff.models import Therapist


@dataclass(frozen=True)
class Visit:
    appointment: Appointment
    client_name: str
    # What was treated, for the receipt (insurers ask); the desk's pages show the neutral
    # public name, as the day grid does, since a name like "Oncology massage" discloses.
    service_name: str
    public_service_name: str
    therapist_id: int
    therapist_name: str


@dataclass(frozen=True)
class PaymentLine:
    payment: Payment
    kind: str
    method: str
    state: str
    # Why a saved-card charge waits for the client, in words ("" otherwise).
    waiting_because: str
    taken_by: str
    at: datetime

    @property
    def refundable_minor(self) -> int:
        return self.payment.refundable_minor


@dataclass(frozen=True)
class RefundLine:
    refund: Refund
    payment: Payment
    method: str
    state: str
    reason: str
    by: str
    at: datetime


@dataclass(frozen=True)
class Ledger:
    """One visit's account as the desk sees it."""

    visit: Visit
    account: Account
    payments: list[PaymentLine]
    refunds: list[RefundLine]
    settings: ReceiptSettings
    card_on_file: str
    # The fee a no-show would cost, when the visit may be marked one now.
    no_show_fee_minor: int | None
    no_show_percent: int

    @property
    def charge_label(self) -> str:
        return FEE_LABELS.get(self.visit.appointment.status, "Price")

    @property
    def is_fee(self) -> bool:
        return self.visit.appointment.status in FEE_LABELS

    @property
    def refundable(self) -> list[PaymentLine]:
        return [line for line in self.payments if line.refundable_minor > 0]

    @property
    def waiting(self) -> list[PaymentLine]:
        return [p for p in self.payments if p.payment.state is PaymentState.AWAITING_CLIENT]


async def _visit(session: AsyncSession, appointment_id: int) -> Visit:
    row = (
        await session.execute(
            select(
                Appointment,
                Client.name,
                Service.name,
                Service.public_name,
                Therapist.id,
                Therapist.display_name,
            )
            .outerjoin(Client, Client.id == Appointment.client_id)
            .join(Therapist, Therapist.id == Appointment.therapist_id)
            .join(Service, Service.id == Appointment.service_id)
            .where(Appointment.id == appointment_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound("There is no such appointment.")
    appointment, client_name, service_name, public_name, therapist_id, therapist_name = row
    return Visit(
        appointment,
        client_name or "No client",
        service_name,
        public_name,
        therapist_id,
        therapist_name,
    )


async def _names(session: AsyncSession, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(User.id, User.name).where(User.id.in_(wanted)))
    return {int(row[0]): str(row[1]) for row in rows}


def _card_words(card: SavedCard) -> str:
    return f"{card.brand.title()} ending {card.last4}"


async def _saved_cards(session: AsyncSession, ids: Iterable[int | None]) -> dict[int, SavedCard]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {
        c.id: c for c in await session.scalars(select(SavedCard).where(SavedCard.id.in_(wanted)))
    }


async def _card_on_file(session: AsyncSession, client_id: int | None, provider: str) -> str:
    card = await saved_card_of(session, client_id, provider)
    return _card_words(card) if card is not None else ""


def _method_words(payment: Payment, cards: dict[int, SavedCard]) -> str:
    words = METHOD_WORDS[payment.method]
    card = cards.get(payment.saved_card_id) if payment.saved_card_id is not None else None
    if card is not None:
        words = f"{words} ({_card_words(card)})"
    return words


def _state_words(payment: Payment) -> str:
    words = STATE_WORDS[payment.state]
    if payment.state is PaymentState.SUCCEEDED and payment.refunded_minor:
        words = "Paid, partly refunded"
    return words


def _waiting_because(payment: Payment) -> str:
    if payment.state is not PaymentState.AWAITING_CLIENT:
        return ""
    reason = FAILURE_WORDS.get(payment.failure_code, "the charge needs the client")
    return f"{reason[0].upper()}{reason[1:]}. The client has been sent a link to pay."


async def ledger_of(session: AsyncSession, appointment_id: int, *, provider: str) -> Ledger:
    visit = await _visit(session, appointment_id)
    appointment = visit.appointment
    account = await account_of(session, appointment)
    settings = await receipt_settings(session)
    names = await _names(
        session,
        [p.recorded_by_user_id for p in account.payments]
        + [r.requested_by_user_id for r in account.refunds],
    )
    cards = await _saved_cards(session, [p.saved_card_id for p in account.payments])
    payments = [
        PaymentLine(
            payment=p,
            kind=KIND_WORDS[p.kind],
            method=_method_words(p, cards),
            state=_state_words(p),
            waiting_because=_waiting_because(p),
            taken_by=(
                names.get(p.recorded_by_user_id, "Staff")
                if p.recorded_by_user_id is not None
                else ("The client, online" if p.method is PaymentMethod.CARD_ONLINE else "")
            ),
            at=p.succeeded_at or p.created_at,
        )
        for p in account.payments
    ]
    by_id = {p.id: p for p in account.payments}
    refunds = [
        RefundLine(
            refund=r,
            payment=by_id[r.payment_id],
            method=_method_words(by_id[r.payment_id], cards),
            state=REFUND_STATE_WORDS[r.state],
            reason=REFUND_REASON_WORDS[r.reason],
            by=names.get(r.requested_by_user_id, "Staff")
            if r.requested_by_user_id is not None
            else "Automatic",
            at=r.succeeded_at or r.created_at,
        )
        for r in account.refunds
    ]
    policies = await stored_policies(session)
    may_miss = appointment.status in NO_SHOW_FROM and appointment.starts_at <= now_utc()
    return Ledger(
        visit=visit,
        account=account,
        payments=payments,
        refunds=refunds,
        settings=settings,
        card_on_file=await _card_on_file(session, appointment.client_id, provider),
        no_show_fee_minor=no_show_fee(policies, appointment.price_minor) if may_miss else None,
        no_show_percent=policies.no_show_fee_percent,
    )
