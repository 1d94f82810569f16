"""The clinic's booking policies and what they decide: the booking rules for free times,
hold length, deposits, and the fee or refund when an appointment is cancelled or missed.

Pure: no database, `now` passed in. The values are stored as one JSON object in the
clinic options (`booking.policies`); anything not stored takes the default here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from clinic.booking.statuses import CancelledBy
from clinic.scheduling.availability import BookingRules

OPTION_KEY = "booking.policies"
DEPOSIT_KINDS = ("none", "percent", "fixed", "full")


class PolicyError(ValueError):
    """A policy value is missing or out of range; the message names the policy."""


@dataclass(frozen=True)
class Policies:
    slot_interval_minutes: int = 15
    minimum_notice_minutes: int = 120
    booking_window_days: int = 90
    hold_minutes: int = 10
    # Cancelling at least this long before the start is free.
    cancellation_window_hours: int = 24
    late_cancellation_fee_percent: int = 50
    no_show_fee_percent: int = 100
    # none: pay at the visit; percent or fixed (minor units): a deposit; full: prepay.
    deposit_kind: str = "none"
    deposit_value: int = 0
    # The booking confirmation waits this long, so a quick correction sends one email
    # with the final details; 0 sends it at once.
    confirmation_grace_minutes: int = 2
    # The reminder comes this many hours before the visit, whole days counted on the
    # location's calendar: 24 is the same local time the day before (23 or 25 real hours
    # across a clock change), 30 is the day before and 6 hours earlier. 0: no reminders.
    reminder_hours_before: int = 24

    def booking_rules(self) -> BookingRules:
        return BookingRules(
            slot_interval=timedelta(minutes=self.slot_interval_minutes),
            minimum_notice=timedelta(minutes=self.minimum_notice_minutes),
            booking_window=timedelta(days=self.booking_window_days),
        )

    @property
    def hold_length(self) -> timedelta:
        return timedelta(minutes=self.hold_minutes)

    @property
    def cancellation_window(self) -> timedelta:
        return timedelta(hours=self.cancellation_window_hours)

    @property
    def confirmation_grace(self) -> timedelta:
        return timedelta(minutes=self.confirmation_grace_minutes)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# (lowest, highest) for each whole-number policy.
RANGES: dict[str, tuple[int, int]] = {
    "slot_interval_minutes": (5, 120),
    "minimum_notice_minutes": (0, 60 * 24 * 14),
    "booking_window_days": (1, 366),
    "hold_minutes": (2, 60),
    "cancellation_window_hours": (0, 24 * 14),
    "late_cancellation_fee_percent": (0, 100),
    "no_show_fee_percent": (0, 100),
    "deposit_value": (0, 10_000_000),
    "confirmation_grace_minutes": (0, 60),
    "reminder_hours_before": (0, 24 * 14),
}

DESCRIPTIONS: dict[str, str] = {
    "slot_interval_minutes": "Minutes between offered start times.",
    "minimum_notice_minutes": "How soon online bookings may start, in minutes from now.",
    "booking_window_days": "How far ahead online bookings are open, in days.",
    "hold_minutes": "How long a chosen time is held while the client fills in details.",
    "cancellation_window_hours": "Cancelling at least this many hours ahead is free.",
    "late_cancellation_fee_percent": "Fee for a later cancellation, as a percent of the price.",
    "no_show_fee_percent": "Fee for a missed appointment, as a percent of the price.",
    "deposit_kind": "none, percent, fixed or full: what is paid when booking online.",
    "deposit_value": "The deposit: a percent, or an amount in minor units for fixed.",
    "confirmation_grace_minutes": "Minutes a booking confirmation waits (a quick fix: one email).",
    "reminder_hours_before": "Reminder this many hours ahead (24: same time the day before).",
}


def policies_from(values: Mapping[str, Any] | None) -> Policies:
    """Policies from stored values; unknown keys are refused, missing ones default."""
    values = dict(values or {})
    known = {f.name for f in fields(Policies)}
    for name in values:
        if name not in known:
            raise PolicyError(f"{name} is not a booking policy. Known: {', '.join(sorted(known))}.")
    for name, (low, high) in RANGES.items():
        if name in values:
            value = values[name]
            if isinstance(value, bool) or not isinstance(value, int):
                raise PolicyError(f"{name} must be a whole number.")
            if not low <= value <= high:
                raise PolicyError(f"{name} must be between {low} and {high}.")
    kind = values.get("deposit_kind", "none")
    if kind not in DEPOSIT_KINDS:
        raise PolicyError(f"deposit_kind must be one of {', '.join(DEPOSIT_KINDS)}.")
    if kind == "percent" and not 0 <= values.get("deposit_value", 0) <= 100:
        raise PolicyError("deposit_value must be between 0 and 100 for a percent deposit.")
    return Policies(**values)


def parse_policy_value(name: str, text: str) -> Any:
    """A value typed at the command line, as the type its policy needs."""
    if name == "deposit_kind":
        return text.strip().lower()
    try:
        return int(text)
    except ValueError:
        raise PolicyError(f"{name} must be a whole number.") from None


def deposit_for(policies: Policies, price_minor: int) -> int:
    """What is paid online when booking: nothing, a deposit, or the full price."""
    if policies.deposit_kind == "full":
        return price_minor
    if policies.deposit_kind == "percent":
        return math.ceil(price_minor * policies.deposit_value / 100)
    if policies.deposit_kind == "fixed":
        return min(policies.deposit_value, price_minor)
    return 0


@dataclass(frozen=True)
class CancellationTerms:
    free_until: datetime
    late: bool
    fee_minor: int
    # A clinic-initiated cancellation puts the client on the rebooking list.
    needs_rebooking: bool


def cancellation_terms(
    policies: Policies,
    *,
    price_minor: int,
    starts_at: datetime,
    now: datetime,
    cancelled_by: CancelledBy,
    medically_excused: bool = False,
) -> CancellationTerms:
    """What cancelling now costs. Free until the window opens; after that the late fee,
    unless the clinic cancelled (never the client's cost) or the reason is medical
    (illness, a treatment reaction, a hospital stay: the fee is waived)."""
    free_until = starts_at - policies.cancellation_window
    late = now > free_until
    waived = cancelled_by is not CancelledBy.CLIENT or medically_excused
    fee = 0
    if late and not waived:
        fee = math.ceil(price_minor * policies.late_cancellation_fee_percent / 100)
    return CancellationTerms(
        free_until=free_until,
        late=late,
        fee_minor=fee,
        needs_rebooking=cancelled_by is CancelledBy.CLINIC,
    )


def reminder_moment(policies: Policies, starts_at: datetime, zone: ZoneInfo) -> datetime | None:
    """When the reminder of a visit starting at `starts_at` is due, in UTC; None when the
    clinic sends no reminders. Whole days go back on the location's calendar to the same
    wall-clock time (across a clock change that is 23 or 25 real hours), the rest of the
    hours in real time. A wall-clock time the clock skips that day reads as the time after
    the gap."""
    if policies.reminder_hours_before == 0:
        return None
    days, hours = divmod(policies.reminder_hours_before, 24)
    local = starts_at.astimezone(zone).replace(tzinfo=None) - timedelta(days=days)
    # Back to UTC before any real-time arithmetic: a local datetime plus a timedelta
    # keeps the old offset.
    day_before = local.replace(tzinfo=zone).astimezone(UTC)
    return day_before - timedelta(hours=hours)


def no_show_fee(policies: Policies, price_minor: int) -> int:
    return math.ceil(price_minor * policies.no_show_fee_percent / 100)


@dataclass(frozen=True)
class Settlement:
    """What happens to money already paid when a visit ends in a fee (zero when free)."""

    # Paid above the fee: given back.
    refund_minor: int
    # The fee above what was paid: still to pay (charged to a saved card, or due).
    charge_minor: int


def settle(*, fee_minor: int, paid_minor: int) -> Settlement:
    """The fee is taken from what was paid first; the rest is refunded or charged."""
    return Settlement(
        refund_minor=max(paid_minor - fee_minor, 0), charge_minor=max(fee_minor - paid_minor, 0)
    )
