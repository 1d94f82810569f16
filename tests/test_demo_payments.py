"""The demo's payments: every state of the ledger, refunds that add up, saved cards that
keep nothing but what a card may show, the receipt settings and the services' online
payment rules, the desk's accounts of past visits, and the same rows on every build."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx2
import pytest
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import clock
from clinic.auth.models import Role
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus, CancelledBy
from clinic.clients.models import Client, Consent, ConsentKind
from clinic.db import Database
from clinic.demo.builder import DemoBuilder, reference_moment
from clinic.options import get_option
from clinic.payments.checkout import CARD_TERMS_VERSION
from clinic.payments.desk import account_of
from clinic.payments.models import Payment, PaymentCustomer, Refund, SavedCard
from clinic.payments.offline import DEMO_CARDS
from clinic.payments.pricing import RECEIPT_OPTION, receipt_settings_from
from clinic.payments.settlement import DESK
from clinic.payments.states import (
    PaymentKind,
    PaymentMethod,
    PaymentState,
    RefundReason,
    RefundState,
)
from clinic.scheduling.models import Service
from tests import factories
from tests.booking.conftest import NOW, TODAY
from tests.demo_snapshot import seed_demo

ZONE = ZoneInfo("America/New_York")


@pytest.fixture
async def demo_db(db: Database) -> Database:
    """The demo as the booking tests see it: seeded at their frozen moment."""
    with clock.frozen_at(NOW):
        await seed_demo(db, timezone="America/New_York", currency="usd", today=TODAY)
    return db


async def _ledger(db: Database) -> tuple[list[Payment], list[Refund]]:
    async with db.reading() as session:
        payments = list(await session.scalars(select(Payment).order_by(Payment.id)))
        refunds = list(await session.scalars(select(Refund).order_by(Refund.id)))
    return payments, refunds


async def _appointments(db: Database) -> dict[int, Appointment]:
    async with db.reading() as session:
        return {a.id: a for a in await session.scalars(select(Appointment))}


def _by_visit(payments: list[Payment]) -> dict[int, list[Payment]]:
    found: dict[int, list[Payment]] = defaultdict(list)
    for payment in payments:
        found[payment.appointment_id].append(payment)
    return found


async def test_the_demo_has_every_payment_state_and_refund_reason(demo_db: Database) -> None:
    payments, refunds = await _ledger(demo_db)
    assert {p.state for p in payments} == set(PaymentState)
    assert {p.kind for p in payments} == set(PaymentKind)
    assert {p.method for p in payments} == set(PaymentMethod)
    assert {
        RefundReason.CANCELLATION,
        RefundReason.CLINIC_CANCELLED,
        RefundReason.MEDICALLY_EXCUSED,
        RefundReason.STAFF,
    } <= {r.reason for r in refunds}
    assert {RefundState.PENDING, RefundState.SUCCEEDED} <= {r.state for r in refunds}
    assert [p.kind for p in payments if p.disputed] == [PaymentKind.NO_SHOW_FEE]


async def test_refunds_add_up_and_never_pass_what_was_captured(demo_db: Database) -> None:
    payments, refunds = await _ledger(demo_db)
    refunded: dict[int, int] = defaultdict(int)
    for refund in refunds:
        if refund.state is not RefundState.FAILED:
            refunded[refund.payment_id] += refund.amount_minor
        assert (refund.succeeded_at is None) is (refund.state is RefundState.PENDING)
    for p in payments:
        captured = p.amount_minor + p.tip_minor
        assert p.amount_minor > 0
        assert p.refunded_minor == refunded[p.id], p.id
        assert p.refunded_minor <= captured, p.id
        assert (p.state is PaymentState.REFUNDED) is (p.refunded_minor == captured), p.id
        assert (p.succeeded_at is not None) is (
            p.state in (PaymentState.SUCCEEDED, PaymentState.REFUNDED)
        ), p.id
        assert max(p.created_at, p.updated_at, p.succeeded_at or p.created_at) <= NOW
        # Desk money is recorded by the desk; card money goes through the demo gateway.
        if p.method in (PaymentMethod.CASH, PaymentMethod.TERMINAL, PaymentMethod.BANK_TRANSFER):
            assert p.provider == DESK
            assert p.recorded_by_user_id is not None
        else:
            assert p.provider == "offline"
    assert len({p.idempotency_key for p in payments}) == len(payments)
    checkouts = [p.checkout_id for p in payments if p.checkout_id]
    assert len(set(checkouts)) == len(checkouts)
    staff = [r for r in refunds if r.reason is RefundReason.STAFF]
    assert [r.amount_minor for r in staff] == [2000]
    [kept] = [p for p in payments if p.id == staff[0].payment_id]
    assert (kept.state, kept.refunded_minor) == (PaymentState.SUCCEEDED, 2000)


DIGITS = re.compile(r"\d{12,}")


async def test_saved_cards_keep_only_what_a_card_may_show(demo_db: Database) -> None:
    assert {c.key for c in inspect(SavedCard).columns} == {
        "id",
        "client_id",
        "provider",
        "customer_id",
        "method_id",
        "brand",
        "last4",
        "exp_month",
        "exp_year",
        "consent_id",
        "created_at",
        "removed_at",
    }
    async with demo_db.reading() as session:
        cards = list(await session.scalars(select(SavedCard)))
        consents = {
            c.id: c
            for c in await session.scalars(
                select(Consent).where(Consent.kind == ConsentKind.CARD_ON_FILE)
            )
        }
        customers = {
            c.client_id: c
            for c in await session.scalars(select(PaymentCustomer))
            if c.provider == "offline"
        }
    assert cards
    for card in cards:
        assert card.last4 in DEMO_CARDS
        assert card.last4 != "0002"  # declined at checkout: never saved
        assert card.brand == "demo"
        assert 1 <= card.exp_month <= 12
        assert card.exp_year > TODAY.year
        assert card.method_id.startswith(f"off_pm_{card.last4}_")
        for text in (card.method_id, card.customer_id, card.brand):
            assert not DIGITS.search(text), text
        assert card.consent_id is not None
        consent = consents[card.consent_id]
        assert consent.client_id == card.client_id
        assert consent.terms_version == CARD_TERMS_VERSION
        assert consent.given_at <= card.created_at
        customer = customers[card.client_id]
        assert (customer.mode, customer.customer_id) == ("offline", card.customer_id)
    assert {"4242", "0341", "3184"} <= {card.last4 for card in cards}


async def test_the_receipt_settings_and_the_services_rules_are_stored(demo_db: Database) -> None:
    async with demo_db.reading() as session:
        receipt = receipt_settings_from(await get_option(session, RECEIPT_OPTION))
        rules = {
            s.name: (s.deposit_kind, s.deposit_value)
            for s in await session.scalars(select(Service))
        }
    assert receipt.legal_name == "Willow & Oak Massage Therapy LLC"
    assert receipt.tax_id.startswith("EIN 99-")
    assert (receipt.tax_name, receipt.tax_rate_basis_points, receipt.prices_include_tax) == (
        "Sales tax",
        0,
        True,
    )
    assert rules.pop("Swedish massage, 90 min") == ("percent", 25)
    assert rules.pop("Deep tissue massage, 60 min") == ("full", None)
    assert rules.pop("Oncology massage, 60 min") == ("fixed", 2500)
    # Everything else, Swedish 60 above all, is paid at the visit.
    assert rules["Swedish massage, 60 min"] == (None, None)
    assert set(rules.values()) == {(None, None)}


async def test_most_past_visits_are_paid_and_a_couple_owe_something(demo_db: Database) -> None:
    async with demo_db.reading() as session:
        past = list(
            await session.scalars(
                select(Appointment)
                .where(Appointment.status == AppointmentStatus.COMPLETED)
                .order_by(Appointment.starts_at)
            )
        )
        accounts = [await account_of(session, a) for a in past]
    owing = [a for a in accounts if a.balance_minor > 0]
    paid = [a for a in accounts if a.balance_minor == 0]
    assert 1 <= len(owing) <= 3
    assert len(paid) >= 0.9 * len(accounts)
    assert all(a.credit_minor == 0 for a in accounts)
    # A cash balance after an online deposit, with a tip.
    cash = [
        a
        for a in paid
        if any(p.kind is PaymentKind.DEPOSIT for p in a.payments)
        and any(p.method is PaymentMethod.CASH and p.tip_minor for p in a.payments)
    ]
    assert cash
    assert cash[0].paid_minor == cash[0].charges_minor
    transfers = [p for a in paid for p in a.payments if p.method is PaymentMethod.BANK_TRANSFER]
    assert transfers
    assert all(p.reference for p in transfers)


async def test_the_desk_prints_the_receipt_of_a_visit_paid_in_cash_after_a_deposit(
    demo_db: Database, http: httpx2.AsyncClient
) -> None:
    payments, _ = await _ledger(demo_db)
    visits = _by_visit(payments)
    appointment_id = next(
        visit
        for visit, paid in sorted(visits.items())
        if {p.kind for p in paid} == {PaymentKind.DEPOSIT, PaymentKind.BALANCE}
        and any(p.method is PaymentMethod.CASH for p in paid)
    )
    await factories.sign_in_as(http, demo_db, Role.FRONTDESK)
    with clock.frozen_at(NOW):
        receipt = await http.get(f"/desk/appointments/{appointment_id}/receipt")
        ledger = await http.get(f"/desk/appointments/{appointment_id}/payments")
    assert receipt.status_code == 200
    assert "Willow &amp; Oak Massage Therapy LLC" in receipt.text
    assert "EIN 99-1234567" in receipt.text
    assert "Cash" in receipt.text
    assert ledger.status_code == 200
    assert "Deposit" in ledger.text


async def test_the_stories_of_the_demo_ledger(demo_db: Database) -> None:
    payments, refunds = await _ledger(demo_db)
    appointments = await _appointments(demo_db)
    visits = _by_visit(payments)
    reasons = {r.payment_id: r.reason for r in refunds}

    def kinds(appointment_id: int) -> list[tuple[PaymentKind, PaymentState]]:
        return [(p.kind, p.state) for p in visits[appointment_id]]

    # A late cancellation: the deposit counts towards the fee, the rest is charged.
    late = [
        a
        for a in appointments.values()
        if a.status is AppointmentStatus.CANCELLED
        and a.fee_minor
        and (PaymentKind.LATE_CANCELLATION_FEE, PaymentState.SUCCEEDED) in kinds(a.id)
    ]
    assert late
    for a in late:
        assert a.fee_minor == math.ceil(a.price_minor * 50 / 100)
        assert a.cancelled_by is CancelledBy.CLIENT
        assert a.cancelled_at is not None
        # Inside the 24-hour window.
        assert timedelta(0) < a.starts_at - a.cancelled_at < timedelta(hours=24)
        deposit, fee = visits[a.id]
        assert deposit.state is PaymentState.SUCCEEDED
        assert fee.method is PaymentMethod.CARD_SAVED
        assert deposit.amount_minor + fee.amount_minor == a.fee_minor
    # A medically excused late cancellation: no fee, the deposit back in full.
    [excused] = [a for a in appointments.values() if a.medically_excused]
    assert (excused.status, excused.fee_minor) == (AppointmentStatus.CANCELLED, 0)
    [deposit] = visits[excused.id]
    assert deposit.state is PaymentState.REFUNDED
    assert reasons[deposit.id] is RefundReason.MEDICALLY_EXCUSED
    # A clinic cancellation puts the client on the rebooking list and refunds in full.
    clinic = [a for a in appointments.values() if a.cancelled_by is CancelledBy.CLINIC]
    assert clinic
    assert all(a.needs_rebooking and a.fee_minor == 0 for a in clinic)
    assert any(
        reasons.get(p.id) is RefundReason.CLINIC_CANCELLED for a in clinic for p in visits[a.id]
    )
    # A visit waiting for its clearance has only the card saved.
    scheduled = [p for p in payments if p.state is PaymentState.SCHEDULED]
    for p in scheduled:
        assert appointments[p.appointment_id].status is AppointmentStatus.PENDING_CLEARANCE
        assert (p.card_only, p.kind, p.amount_minor, p.succeeded_at) == (
            True,
            PaymentKind.DEPOSIT,
            2500,
            None,
        )
    # Online attempts that never became bookings.
    for state in (PaymentState.EXPIRED, PaymentState.FAILED):
        [attempt] = [p for p in payments if p.state is state]
        assert appointments[attempt.appointment_id].status is AppointmentStatus.EXPIRED
        assert attempt.kind in (PaymentKind.DEPOSIT, PaymentKind.FULL)
    # Fees charged to saved cards: declined, a pay link opened, paid at the desk instead.
    async with demo_db.reading() as session:
        cards = {c.id: c.last4 for c in await session.scalars(select(SavedCard))}
    [declined] = [p for p in payments if p.state is PaymentState.AWAITING_CLIENT]
    assert (declined.failure_code, cards[declined.saved_card_id or 0]) == ("card_declined", "0341")
    [opened] = [p for p in payments if p.state is PaymentState.PENDING]
    assert opened.checkout_id is not None
    assert opened.checkout_expires_at is not None
    assert opened.checkout_expires_at > NOW
    [closed] = [p for p in payments if p.state is PaymentState.CANCELLED]
    assert closed.kind in (PaymentKind.NO_SHOW_FEE, PaymentKind.LATE_CANCELLATION_FEE)
    at_desk = [p for p in visits[closed.appointment_id] if p.kind is PaymentKind.BALANCE]
    assert [p.amount_minor for p in at_desk] == [closed.amount_minor]
    for fee in (declined, opened, closed):
        visit = appointments[fee.appointment_id]
        if visit.status is AppointmentStatus.NO_SHOW:
            assert visit.fee_minor == visit.price_minor


async def _build_and_read(db: Database) -> list[tuple[Any, ...]]:
    """Build the demo in a transaction that is rolled back; its payments, refunds and
    cards without their row ids (PostgreSQL's sequences are not rolled back)."""

    class RollBack(Exception):
        pass

    rows: list[tuple[Any, ...]] = []
    with clock.frozen_at(NOW):
        moment = reference_moment(TODAY, ZONE)
        try:
            async with db.transaction() as session:
                await DemoBuilder(session, ZONE, TODAY, "usd", moment).build()
                rows = await _rows(session)
                raise RollBack
        except RollBack:
            pass
    return rows


async def _rows(session: AsyncSession) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    result = await session.execute(
        select(Payment, Appointment.starts_at, Appointment.status, Client.name)
        .join(Appointment, Appointment.id == Payment.appointment_id)
        .join(Client, Client.id == Appointment.client_id)
        .order_by(Payment.id)
    )
    for p, starts_at, status, client in result:
        found.append(
            (
                starts_at,
                status,
                client,
                p.kind,
                p.method,
                p.state,
                p.amount_minor,
                p.tip_minor,
                p.refunded_minor,
                p.idempotency_key,
                p.checkout_id,
                p.provider_payment_id,
                p.created_at,
                p.succeeded_at,
                p.disputed,
            )
        )
    refunds = await session.execute(
        select(Refund, Payment.idempotency_key)
        .join(Payment, Payment.id == Refund.payment_id)
        .order_by(Refund.id)
    )
    for r, key in refunds:
        found.append((key, r.amount_minor, r.reason, r.state, r.idempotency_key, r.created_at))
    cards = await session.execute(
        select(SavedCard, Client.name).join(Client, Client.id == SavedCard.client_id)
    )
    for c, client in sorted(cards, key=lambda row: row[0].id):
        found.append((client, c.last4, c.method_id, c.customer_id, c.exp_month, c.exp_year))
    return found


async def test_the_demo_builds_the_same_payments_every_time(db: Database) -> None:
    first = await _build_and_read(db)
    second = await _build_and_read(db)
    assert len(first) > 100
    assert first == second


async def test_the_desk_pages_show_every_payment_state_of_the_demo(
    demo_db: Database, http: httpx2.AsyncClient
) -> None:
    payments, _ = await _ledger(demo_db)
    one_each = {(p.state, p.kind): p for p in reversed(payments)}
    await factories.sign_in_as(http, demo_db, Role.FRONTDESK)
    with clock.frozen_at(NOW):
        for payment in one_each.values():
            for page in ("payments", "receipt"):
                url = f"/desk/appointments/{payment.appointment_id}/{page}"
                assert (await http.get(url)).status_code == 200, url
        for day in ("2026-11-26", "2026-11-27"):
            takings = await http.get("/desk/takings", params={"day": day})
            assert takings.status_code == 200
            assert "No payments or refunds on this day." not in takings.text
        # The pay link the client opened leads to a live demo checkout page.
        [opened] = [p for p in payments if p.state is PaymentState.PENDING]
        checkout = await http.get(opened.checkout_url)
    assert checkout.status_code == 200
    assert "Demo checkout: no money moves." in checkout.text
