"""Payment and refund states, and the one table of moves between them.

Every change of a payment's state goes through `check_move`, so an event that arrives
late or twice can never move a payment backwards (a paid deposit never becomes
"expired" because Stripe's expiry notice came after its completion)."""

from __future__ import annotations

from enum import StrEnum


class PaymentKind(StrEnum):
    DEPOSIT = "deposit"
    # The whole price, paid when booking.
    FULL = "full"
    # What is left to pay at or after the visit.
    BALANCE = "balance"
    LATE_CANCELLATION_FEE = "late_cancellation_fee"
    NO_SHOW_FEE = "no_show_fee"


class PaymentMethod(StrEnum):
    # Paid by the client on the checkout page (Stripe's, or the demo's).
    CARD_ONLINE = "card_online"
    # Charged to the client's saved card without them present (a fee, a balance).
    CARD_SAVED = "card_saved"
    CASH = "cash"
    # The clinic's own card machine, outside this system.
    TERMINAL = "terminal"
    BANK_TRANSFER = "bank_transfer"


DESK_METHODS = (PaymentMethod.CASH, PaymentMethod.TERMINAL, PaymentMethod.BANK_TRANSFER)


class PaymentState(StrEnum):
    # A checkout page is open for it, or an off-session charge is being made.
    PENDING = "pending"
    # The card is saved and nothing is charged until the visit is confirmed (a visit
    # waiting for a physician's clearance).
    SCHEDULED = "scheduled"
    # An off-session charge was declined or needs the client: a pay link went out.
    AWAITING_CLIENT = "awaiting_client"
    SUCCEEDED = "succeeded"
    # A delayed payment method failed for good.
    FAILED = "failed"
    # The checkout page expired unpaid.
    EXPIRED = "expired"
    # Not needed any more: the fee was waived, the visit cancelled before charging.
    CANCELLED = "cancelled"
    # Refunded in full (a partly refunded payment stays succeeded).
    REFUNDED = "refunded"


S = PaymentState

MOVES: dict[PaymentState, frozenset[PaymentState]] = {
    S.PENDING: frozenset(
        {S.SUCCEEDED, S.SCHEDULED, S.AWAITING_CLIENT, S.FAILED, S.EXPIRED, S.CANCELLED}
    ),
    # A payment that arrives after its checkout expired still counts (then the slot is
    # re-taken or the money refunded).
    S.EXPIRED: frozenset({S.SUCCEEDED, S.SCHEDULED}),
    S.SCHEDULED: frozenset({S.PENDING, S.SUCCEEDED, S.AWAITING_CLIENT, S.CANCELLED}),
    S.AWAITING_CLIENT: frozenset({S.PENDING, S.SUCCEEDED, S.CANCELLED}),
    S.SUCCEEDED: frozenset({S.REFUNDED}),
    S.FAILED: frozenset(),
    # Money that arrives for a payment the clinic gave up on is recorded (then refunded).
    S.CANCELLED: frozenset({S.SUCCEEDED}),
    # Only when a refund fails: the money stayed with the clinic after all.
    S.REFUNDED: frozenset({S.SUCCEEDED}),
}

# Money that has reached the clinic (partly refunded or not).
CAPTURED = (S.SUCCEEDED, S.REFUNDED)
# Still open: something may yet be paid.
OPEN = (S.PENDING, S.SCHEDULED, S.AWAITING_CLIENT)


def can_move(old: PaymentState, new: PaymentState) -> bool:
    return new in MOVES[old]


class RefundReason(StrEnum):
    # Cancelled in time, or the part of a deposit above the fee.
    CANCELLATION = "cancellation"
    CLINIC_CANCELLED = "clinic_cancelled"
    MEDICALLY_EXCUSED = "medically_excused"
    # Paid after the held time was lost to someone else.
    SLOT_LOST = "slot_lost"
    # A refund the desk decided on.
    STAFF = "staff"


class RefundState(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


REFUND_MOVES: dict[RefundState, frozenset[RefundState]] = {
    RefundState.PENDING: frozenset({RefundState.SUCCEEDED, RefundState.FAILED}),
    # Stripe may report a refund failed days after it succeeded (a closed card account).
    RefundState.SUCCEEDED: frozenset({RefundState.FAILED}),
    RefundState.FAILED: frozenset(),
}
