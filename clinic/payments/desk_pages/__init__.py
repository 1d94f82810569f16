"""The desk's payment pages: one visit's account (charges with tax, payments, refunds,
balance) with the forms to take a payment, refund one and mark a no-show (visit.py,
refunds.py); the printable receipt (receipts.py); and a day's takings by method
(day_takings.py). The desk sees payment and schedule facts here, never clinical ones (no
intake, no plan): the receipt goes to clients and insurers.

This package re-exports the route handlers and the names other modules import, so that
`clinic.payments.desk_pages.NO_SHOW_FROM` and the like keep working."""

from __future__ import annotations

from clinic.payments.desk_pages.common import (
    DESK_CHOICES,
    FAILURE_WORDS,
    FEE_LABELS,
    GIVE_BACK_WORDS,
    KIND_WORDS,
    METHOD_ORDER,
    METHOD_WORDS,
    NO_SHOW_FROM,
    REFUND_REASON_WORDS,
    REFUND_STATE_WORDS,
    STATE_WORDS,
    rate_words,
)
from clinic.payments.desk_pages.day_takings import (
    FIRST_DAY,
    LAST_DAY,
    TakingsRow,
    parse_day,
    takings,
    takings_rows,
)
from clinic.payments.desk_pages.ledger import Ledger, PaymentLine, RefundLine, Visit, ledger_of
from clinic.payments.desk_pages.receipts import Business, best_licence, receipt
from clinic.payments.desk_pages.refunds import refund, refund_field
from clinic.payments.desk_pages.visit import (
    PAYMENT_FIELDS,
    desk_payment_from,
    no_show,
    payments_page,
    record_payment,
)

__all__ = [
    "DESK_CHOICES",
    "FAILURE_WORDS",
    "FEE_LABELS",
    "FIRST_DAY",
    "GIVE_BACK_WORDS",
    "KIND_WORDS",
    "LAST_DAY",
    "METHOD_ORDER",
    "METHOD_WORDS",
    "NO_SHOW_FROM",
    "PAYMENT_FIELDS",
    "REFUND_REASON_WORDS",
    "REFUND_STATE_WORDS",
    "STATE_WORDS",
    "Business",
    "Ledger",
    "PaymentLine",
    "RefundLine",
    "TakingsRow",
    "Visit",
    "best_licence",
    "desk_payment_from",
    "ledger_of",
    "no_show",
    "parse_day",
    "payments_page",
    "rate_words",
    "receipt",
    "record_payment",
    "refund",
    "refund_field",
    "takings",
    "takings_rows",
]
