"""What is paid online when booking, and the tax a receipt shows. Pure: no database.

The clinic's booking policy says none, a deposit (percent or fixed) or the full price;
a service may have its own rule. An amount under the provider's minimum charge is raised
to it (never above the price); a price under the minimum is paid at the visit."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from clinic.booking.policies import DEPOSIT_KINDS, RANGES, Policies, PolicyError
from clinic.payments.states import PaymentKind

# Stripe's minimum charge per currency, in minor units (docs.stripe.com/currencies,
# "Minimum and maximum charge amounts"). Other currencies: 50 minor units.
MINIMUM_CHARGE: dict[str, int] = {
    "usd": 50,
    "aud": 50,
    "brl": 50,
    "cad": 50,
    "chf": 50,
    "eur": 50,
    "inr": 50,
    "nzd": 50,
    "sgd": 50,
    "gbp": 30,
    "dkk": 250,
    "nok": 300,
    "sek": 300,
    "czk": 1500,
    "hkd": 400,
    "huf": 17500,
    "jpy": 50,
    "mxn": 1000,
    "pln": 200,
    "ron": 200,
    "thb": 1000,
    "aed": 200,
}
DEFAULT_MINIMUM = 50


def minimum_charge(currency: str) -> int:
    return MINIMUM_CHARGE.get(currency.lower(), DEFAULT_MINIMUM)


@dataclass(frozen=True)
class OnlinePayment:
    kind: PaymentKind
    amount_minor: int


def online_payment(
    policies: Policies,
    *,
    price_minor: int,
    currency: str,
    service_kind: str | None = None,
    service_value: int | None = None,
) -> OnlinePayment | None:
    """What the client pays online when booking, or None (pay at the visit)."""
    kind = service_kind or policies.deposit_kind
    value = policies.deposit_value if service_kind is None else (service_value or 0)
    if kind == "full":
        amount, payment_kind = price_minor, PaymentKind.FULL
    elif kind == "percent":
        amount, payment_kind = math.ceil(price_minor * value / 100), PaymentKind.DEPOSIT
    elif kind == "fixed":
        amount, payment_kind = min(value, price_minor), PaymentKind.DEPOSIT
    else:
        return None
    if amount <= 0:
        return None
    minimum = minimum_charge(currency)
    if price_minor < minimum:
        return None
    amount = max(amount, minimum)
    if amount >= price_minor:
        return OnlinePayment(PaymentKind.FULL, price_minor)
    return OnlinePayment(payment_kind, amount)


def check_service_rule(kind: str | None, value: int | None) -> None:
    """A service's own rule: the same kinds as the clinic's; a percent is 0-100."""
    if kind is None:
        return
    if kind not in DEPOSIT_KINDS:
        raise PolicyError(f"deposit_kind must be one of {', '.join(DEPOSIT_KINDS)}.")
    if kind in ("percent", "fixed") and (value is None or value < 0):
        raise PolicyError("deposit_value must be a whole number of 0 or more.")
    if kind == "percent" and value is not None and value > 100:
        raise PolicyError("deposit_value must be between 0 and 100 for a percent deposit.")
    highest = RANGES["deposit_value"][1]
    if kind == "fixed" and value is not None and value > highest:
        raise PolicyError(f"deposit_value must be between 0 and {highest}.")


RECEIPT_OPTION = "payments.receipt"
# The highest tax rate a receipt setting takes, in basis points (50%).
TAX_RATE_LIMIT = 5000


@dataclass(frozen=True)
class ReceiptSettings:
    """What a receipt says about the business, as insurers and health savings accounts
    ask: the legal name and tax id, and the tax (a rate, and whether prices include it)."""

    legal_name: str = ""
    tax_id: str = ""
    tax_name: str = "Sales tax"
    # Hundredths of a percent: 825 is 8.25%.
    tax_rate_basis_points: int = 0
    prices_include_tax: bool = True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def receipt_settings_from(values: Any) -> ReceiptSettings:
    values = dict(values or {})
    known = set(ReceiptSettings.__dataclass_fields__)
    for name in values:
        if name not in known:
            raise PolicyError(
                f"{name} is not a receipt setting. Known: {', '.join(sorted(known))}."
            )
    for name in ("legal_name", "tax_id", "tax_name"):
        if name in values and (not isinstance(values[name], str) or len(values[name]) > 200):
            raise PolicyError(f"{name} must be text of at most 200 characters.")
    rate = values.get("tax_rate_basis_points", 0)
    if isinstance(rate, bool) or not isinstance(rate, int) or not 0 <= rate <= TAX_RATE_LIMIT:
        raise PolicyError(
            f"tax_rate_basis_points must be a whole number from 0 to {TAX_RATE_LIMIT} "
            f"({TAX_RATE_LIMIT // 100}%)."
        )
    if not isinstance(values.get("prices_include_tax", True), bool):
        raise PolicyError("prices_include_tax must be true or false.")
    return ReceiptSettings(**values)


def parse_receipt_value(name: str, text: str) -> Any:
    if name == "tax_rate_basis_points":
        try:
            return int(text)
        except ValueError:
            raise PolicyError(f"{name} must be a whole number.") from None
    if name == "prices_include_tax":
        lowered = text.strip().lower()
        if lowered not in ("true", "false", "yes", "no"):
            raise PolicyError(f"{name} must be true or false.")
        return lowered in ("true", "yes")
    return text.strip()


@dataclass(frozen=True)
class TaxLines:
    net_minor: int
    tax_minor: int
    gross_minor: int


def tax_lines(amount_minor: int, settings: ReceiptSettings) -> TaxLines:
    """The tax in an amount: inside the price, or on top of it. Rounded half up to the
    minor unit."""
    rate = settings.tax_rate_basis_points
    if rate == 0:
        return TaxLines(amount_minor, 0, amount_minor)
    if settings.prices_include_tax:
        net = (amount_minor * 10_000 * 2 + (10_000 + rate)) // (2 * (10_000 + rate))
        return TaxLines(net, amount_minor - net, amount_minor)
    tax = (amount_minor * rate * 2 + 10_000) // 20_000
    return TaxLines(amount_minor, tax, amount_minor + tax)
