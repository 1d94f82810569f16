"""What the desk's payment pages share: the words for methods, kinds and states, which
visits may be marked missed, and the no-store and provider helpers. No queries and no
routes here."""

from __future__ import annotations

from decimal import Decimal

from starlette.requests import Request

from clinic.booking.statuses import AppointmentStatus
from clinic.payments.gateway import gateway_for
from clinic.payments.states import (
    DESK_METHODS,
    PaymentKind,
    PaymentMethod,
    PaymentState,
    RefundReason,
    RefundState,
)
from clinic.web.context import db_of, settings_of

# Words the pages use

METHOD_WORDS = {
    PaymentMethod.CASH: "Cash",
    PaymentMethod.TERMINAL: "Card machine",
    PaymentMethod.BANK_TRANSFER: "Bank transfer",
    PaymentMethod.CARD_ONLINE: "Card, online",
    PaymentMethod.CARD_SAVED: "Saved card",
}
# The desk form's choices, in the order the radios show them.
DESK_CHOICES = tuple((method, METHOD_WORDS[method]) for method in DESK_METHODS)
# How the desk hands money back, by the method it was taken with.
GIVE_BACK_WORDS = {
    PaymentMethod.CASH: "in cash",
    PaymentMethod.TERMINAL: "on the card machine",
    PaymentMethod.BANK_TRANSFER: "by bank transfer",
}
# Takings list methods in this order.
METHOD_ORDER = (*DESK_METHODS, PaymentMethod.CARD_ONLINE, PaymentMethod.CARD_SAVED)
KIND_WORDS = {
    PaymentKind.DEPOSIT: "Deposit",
    PaymentKind.FULL: "Paid in full when booking",
    PaymentKind.BALANCE: "Payment",
    PaymentKind.LATE_CANCELLATION_FEE: "Late cancellation fee",
    PaymentKind.NO_SHOW_FEE: "Missed appointment fee",
}
STATE_WORDS = {
    PaymentState.PENDING: "Being taken: not paid yet",
    PaymentState.SCHEDULED: "Card saved: charged once the visit is confirmed",
    PaymentState.AWAITING_CLIENT: "Awaiting the client: not paid",
    PaymentState.SUCCEEDED: "Paid",
    PaymentState.FAILED: "Failed: not paid",
    PaymentState.EXPIRED: "Checkout ran out: not paid",
    PaymentState.CANCELLED: "Not needed: nothing taken",
    PaymentState.REFUNDED: "Refunded in full",
}
# Why an off-session charge needs the client, as the desk can say it to them.
FAILURE_WORDS = {
    "card_declined": "the saved card was declined",
    "authentication_required": "the card's bank wants the client to confirm the charge",
    "no_saved_card": "there is no card on file",
}
REFUND_STATE_WORDS = {
    RefundState.PENDING: "Being sent back to the card",
    RefundState.SUCCEEDED: "Refunded",
    RefundState.FAILED: "Failed: the money stayed with the clinic",
}
REFUND_REASON_WORDS = {
    RefundReason.CANCELLATION: "Cancelled in time",
    RefundReason.CLINIC_CANCELLED: "The clinic cancelled",
    RefundReason.MEDICALLY_EXCUSED: "Fee waived",
    RefundReason.SLOT_LOST: "The time was taken before payment arrived",
    RefundReason.STAFF: "Refunded by the desk",
}
# A visit may be marked missed once it has started, from these statuses.
NO_SHOW_FROM = (AppointmentStatus.CONFIRMED, AppointmentStatus.CHECKED_IN)
FEE_LABELS = {
    AppointmentStatus.NO_SHOW: "Missed appointment fee",
    AppointmentStatus.CANCELLED: "Late cancellation fee",
}


def rate_words(basis_points: int) -> str:
    """825 -> "8.25%", 800 -> "8%"."""
    text = f"{Decimal(basis_points).scaleb(-2):.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


def provider_of(request: Request) -> str:
    return gateway_for(settings_of(request), db_of(request)).provider
