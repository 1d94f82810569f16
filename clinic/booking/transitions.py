"""The appointment status machine: one table of allowed moves. Every move goes through
`check_transition`, and the use case that makes it writes an audit entry."""

from __future__ import annotations

from clinic.booking.statuses import AppointmentStatus as S
from clinic.errors import Conflict

TRANSITIONS: dict[S, frozenset[S]] = {
    S.HELD: frozenset({S.CONFIRMED, S.PENDING_CLEARANCE, S.EXPIRED, S.CANCELLED}),
    # An expired hold may come back to life if its time is still free (a late payment).
    S.EXPIRED: frozenset({S.HELD, S.CONFIRMED, S.PENDING_CLEARANCE}),
    S.PENDING_CLEARANCE: frozenset({S.CONFIRMED, S.CANCELLED}),
    S.CONFIRMED: frozenset({S.PENDING_CLEARANCE, S.CHECKED_IN, S.NO_SHOW, S.CANCELLED}),
    # Check-in, completion and no-show can each be undone by the desk.
    S.CHECKED_IN: frozenset({S.COMPLETED, S.CONFIRMED, S.NO_SHOW}),
    S.COMPLETED: frozenset({S.CHECKED_IN}),
    S.NO_SHOW: frozenset({S.CONFIRMED}),
    S.CANCELLED: frozenset(),
}

WORDS = {
    S.HELD: "held",
    S.EXPIRED: "expired",
    S.PENDING_CLEARANCE: "waiting for clearance",
    S.CONFIRMED: "booked",
    S.CHECKED_IN: "checked in",
    S.COMPLETED: "completed",
    S.NO_SHOW: "marked as a no-show",
    S.CANCELLED: "cancelled",
}


class InvalidTransition(Conflict):
    title = "Not possible now"


def can_move(old: S, new: S) -> bool:
    return new in TRANSITIONS[old]


def check_transition(old: S, new: S) -> None:
    if not can_move(old, new):
        raise InvalidTransition(
            f"This appointment is {WORDS[old]}, so it cannot be {WORDS[new]} now."
        )
