"""What is paid online when booking, and the tax on a receipt: pure rules, no database."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic.booking.policies import Policies, PolicyError, settle
from clinic.payments.pricing import (
    OnlinePayment,
    ReceiptSettings,
    TaxLines,
    check_service_rule,
    online_payment,
    receipt_settings_from,
    tax_lines,
)
from clinic.payments.states import MOVES, PaymentKind, PaymentState


def _due(kind: str, value: int = 0, price: int = 9500, **rule: object) -> OnlinePayment | None:
    policies = Policies(deposit_kind=kind, deposit_value=value)
    return online_payment(policies, price_minor=price, currency="usd", **rule)  # type: ignore[arg-type]


def test_the_clinic_rule_gives_nothing_a_deposit_or_the_full_price() -> None:
    assert _due("none") is None
    assert _due("percent", 25) == OnlinePayment(PaymentKind.DEPOSIT, 2375)
    assert _due("percent", 33, price=1000) == OnlinePayment(PaymentKind.DEPOSIT, 330)
    assert _due("fixed", 2000) == OnlinePayment(PaymentKind.DEPOSIT, 2000)
    assert _due("full") == OnlinePayment(PaymentKind.FULL, 9500)


def test_a_services_own_rule_wins_over_the_clinics() -> None:
    assert _due("none", service_kind="full") == OnlinePayment(PaymentKind.FULL, 9500)
    assert _due("full", service_kind="none") is None
    assert _due("full", service_kind="percent", service_value=10) == OnlinePayment(
        PaymentKind.DEPOSIT, 950
    )


def test_a_tiny_deposit_is_raised_to_the_minimum_charge_and_never_past_the_price() -> None:
    # 1% of $25 is 25 cents: Stripe's minimum in USD is 50 cents.
    assert _due("percent", 1, price=2500) == OnlinePayment(PaymentKind.DEPOSIT, 50)
    # A deposit as large as the price is the full price.
    assert _due("fixed", 99999, price=2500) == OnlinePayment(PaymentKind.FULL, 2500)
    # A price under the minimum is paid at the visit.
    assert _due("full", price=40) is None
    assert _due("percent", 0) is None


def test_a_service_rule_is_checked_like_the_clinics() -> None:
    check_service_rule(None, None)
    check_service_rule("percent", 100)
    for kind, value in (("percent", 101), ("fixed", -1), ("percent", None), ("half", 5)):
        with pytest.raises(PolicyError):
            check_service_rule(kind, value)


def test_tax_inside_the_price_or_on_top() -> None:
    assert tax_lines(10000, ReceiptSettings()) == TaxLines(10000, 0, 10000)
    inside = ReceiptSettings(tax_rate_basis_points=825, prices_include_tax=True)
    assert tax_lines(10825, inside) == TaxLines(10000, 825, 10825)
    on_top = ReceiptSettings(tax_rate_basis_points=825, prices_include_tax=False)
    assert tax_lines(10000, on_top) == TaxLines(10000, 825, 10825)


@given(
    amount=st.integers(min_value=0, max_value=10_000_000),
    rate=st.integers(min_value=0, max_value=5000),
    inside=st.booleans(),
)
def test_tax_lines_always_add_up(amount: int, rate: int, inside: bool) -> None:
    lines = tax_lines(
        amount, ReceiptSettings(tax_rate_basis_points=rate, prices_include_tax=inside)
    )
    assert lines.net_minor + lines.tax_minor == lines.gross_minor
    assert lines.tax_minor >= 0
    assert (lines.gross_minor if inside else lines.net_minor) == amount


def test_receipt_settings_refuse_what_they_do_not_know() -> None:
    assert receipt_settings_from(None) == ReceiptSettings()
    for bad in ({"colour": "green"}, {"tax_rate_basis_points": 5001}, {"legal_name": 5}):
        with pytest.raises(PolicyError):
            receipt_settings_from(bad)


@given(
    fee=st.integers(min_value=0, max_value=10**7), paid=st.integers(min_value=0, max_value=10**7)
)
def test_a_settlement_takes_the_fee_from_what_was_paid_first(fee: int, paid: int) -> None:
    owed = settle(fee_minor=fee, paid_minor=paid)
    assert paid - owed.refund_minor + owed.charge_minor == fee
    assert min(owed.refund_minor, owed.charge_minor) == 0


def test_no_state_is_left_without_an_entry_in_the_table_of_moves() -> None:
    assert set(MOVES) == set(PaymentState)
    # Captured money never goes back to being open.
    for open_state in (PaymentState.PENDING, PaymentState.SCHEDULED, PaymentState.AWAITING_CLIENT):
        assert open_state not in MOVES[PaymentState.SUCCEEDED]
        assert open_state not in MOVES[PaymentState.REFUNDED]
