"""Money typed by staff ("85", "85.00", "$85.00", "1,085.50") as integer minor units of
the clinic's currency, with a sentence saying what to type when it is not an amount; and
minor units back as the text a form field is prefilled with. Decimal only, never a float."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_precision, get_currency_symbol

AMOUNT = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+", re.ASCII)
MAX_TYPED = 24


class MoneyError(ValueError):
    """Typed money that is not an amount; the message says what to type."""


def places_of(currency: str) -> int:
    return int(get_currency_precision(currency.upper()))


def example_amount(currency: str) -> str:
    places = places_of(currency)
    return "85" + ("." + "0" * places if places else "")


def parse_money(raw: str, currency: str, *, what: str = "the amount") -> int:
    """ "85", "85.00", "$85.00" or "1,085.50" as minor units of `currency`."""
    text = raw.strip().replace("\u00a0", "").replace(" ", "")
    code = currency.upper()
    for prefix in (get_currency_symbol(code, locale="en_US"), code, "$"):
        if text.upper().startswith(prefix.upper()):
            text = text[len(prefix) :]
            break
    if text.startswith(("-", "\u2212")):
        raise MoneyError(f"Enter {what} as 0 or more")
    example = example_amount(currency)
    if len(text) > MAX_TYPED or not AMOUNT.fullmatch(text):
        raise MoneyError(f"Enter {what} as a number, like {example}")
    places = places_of(currency)
    try:
        value = Decimal(text.replace(",", ""))
        exact = value.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:
        raise MoneyError(f"Enter {what} as a number, like {example}") from None
    if exact != value:
        if places == 0:
            raise MoneyError(f"Enter {what} as a whole number, like {example}")
        raise MoneyError(f"Enter {what} with no more than {places} decimal places")
    return int(exact.scaleb(places))


def major_units(minor: int, currency: str) -> str:
    """Minor units as the desk would type them: 8500 -> "85.00" (for prefilled fields)."""
    places = places_of(currency)
    return f"{Decimal(minor).scaleb(-places):.{places}f}"
