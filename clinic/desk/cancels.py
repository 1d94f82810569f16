"""What cancelling one visit does to the money, for each choice the desk can make (the
client asked, with or without the medical waiver; the clinic cancels), in the desk's words.
The fee is `booking.policies.cancellation_terms` and the refund `policies.settle`; this
module only reads and words them: cancelling is `booking.bookings.cancel_appointment`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from clinic.booking.models import Appointment
from clinic.booking.policies import (
    CancellationTerms,
    Policies,
    cancellation_terms,
    settle,
)
from clinic.booking.policy_store import stored_policies
from clinic.booking.statuses import AppointmentStatus, CancelledBy
from clinic.booking.transitions import WORDS
from clinic.db import Database
from clinic.errors import NotFound
from clinic.payments.desk import client_has_card, paid_in
from clinic.web.formatting import clock_time, long_date, money

# Only a booked visit is cancelled at the desk; one that has begun is checked in or missed.
CANCELLABLE = (AppointmentStatus.CONFIRMED, AppointmentStatus.PENDING_CLEARANCE)
REASON_MAX = 500
WHO = {"client": CancelledBy.CLIENT, "clinic": CancelledBy.CLINIC}


def why_not_cancellable(status: AppointmentStatus) -> str | None:
    """The sentence the page shows when this visit cannot be cancelled, or None."""
    if status in CANCELLABLE:
        return None
    if status is AppointmentStatus.CANCELLED:
        return "This visit is already cancelled."
    return f"This visit is {WORDS[status]}, so it cannot be cancelled."


def may_cancel(status: AppointmentStatus) -> bool:
    return why_not_cancellable(status) is None


@dataclass(frozen=True)
class Outcome:
    """One choice and what it does: the fee (and why) and what happens to money paid."""

    key: str
    heading: str
    fee_minor: int
    # "Fee $47.50: cancelled late", "No fee: the clinic cancels".
    fee_words: str
    why: str
    money: str


@dataclass(frozen=True)
class CancelChoices:
    late: bool
    free_until: datetime
    paid_minor: int
    has_card: bool
    currency: str
    client: Outcome
    # Shown only when it changes anything: the client's own cancellation costs a fee.
    excused: Outcome | None
    clinic: Outcome

    @property
    def outcomes(self) -> tuple[Outcome, ...]:
        return tuple(o for o in (self.client, self.excused, self.clinic) if o is not None)

    def chosen(self, cancelled_by: CancelledBy, medically_excused: bool) -> Outcome:
        if cancelled_by is CancelledBy.CLINIC:
            return self.clinic
        if medically_excused and self.excused is not None:
            return self.excused
        return self.client


def money_words(*, paid_minor: int, fee_minor: int, currency: str, has_card: bool) -> str:
    """What a fee (or none) does to what the client has paid, as the desk says it."""
    owed = settle(fee_minor=fee_minor, paid_minor=paid_minor)
    paid = money(paid_minor, currency)
    where = "is charged to the client's saved card" if has_card else "is due from the client"
    if paid_minor <= 0:
        if fee_minor <= 0:
            return "Nothing has been paid and nothing is owed."
        return f"Nothing has been paid, so the fee {where}."
    if owed.charge_minor:
        rest = money(owed.charge_minor, currency)
        return f"The {paid} paid counts towards the fee; the rest, {rest}, {where}."
    if owed.refund_minor == paid_minor:
        return f"The {paid} paid is refunded in full."
    if owed.refund_minor:
        refund = money(owed.refund_minor, currency)
        return f"The fee comes out of the {paid} paid; {refund} is refunded."
    return f"The fee is covered by the {paid} paid."


def _moment(instant: datetime, zone: ZoneInfo) -> str:
    return f"{clock_time(instant, zone)} on {long_date(instant, zone)}"


def describe(
    terms: CancellationTerms,
    *,
    cancelled_by: CancelledBy,
    medically_excused: bool,
    policies: Policies,
    paid_minor: int,
    has_card: bool,
    currency: str,
    zone: ZoneInfo,
) -> Outcome:
    """One choice's outcome in words, from the terms the policies give for it."""
    hours = policies.cancellation_window_hours
    fee = terms.fee_minor
    if cancelled_by is CancelledBy.CLINIC:
        key, heading = "clinic", "The clinic cancels"
        fee_words = "No fee: the clinic cancels"
        why = "A cancellation by the clinic never costs the client. They go on the list to rebook."
    elif medically_excused and terms.late:
        key, heading = "excused", "The client asked, for a medical reason"
        fee_words = "No fee: waived for a medical reason"
        why = (
            "Illness, a treatment reaction or a hospital stay waives the late fee. "
            "Do not write the details in the reason."
        )
    else:
        key, heading = "client", "The client asked to cancel"
        if not terms.late:
            fee_words = "No fee: cancelled in time"
            why = (
                f"Cancelling at least {hours} hours ahead is free, and it is before "
                f"{_moment(terms.free_until, zone)}."
            )
        elif fee:
            fee_words = f"Fee {money(fee, currency)}: cancelled late"
            why = (
                f"Less than {hours} hours before the visit: free cancellation ended at "
                f"{_moment(terms.free_until, zone)}. The late fee is "
                f"{policies.late_cancellation_fee_percent}% of the price."
            )
        else:
            fee_words = "No fee: the clinic charges none for a late cancellation"
            why = f"Less than {hours} hours before the visit, but the late fee is set to 0%."
    return Outcome(
        key=key,
        heading=heading,
        fee_minor=fee,
        fee_words=fee_words,
        why=why,
        money=money_words(
            paid_minor=paid_minor, fee_minor=fee, currency=currency, has_card=has_card
        ),
    )


@dataclass(frozen=True)
class _Facts:
    appointment: Appointment
    policies: Policies
    paid_minor: int
    has_card: bool


async def _facts(db: Database, appointment_id: int) -> _Facts:
    async with db.reading() as session:
        appointment = await session.get(Appointment, appointment_id)
        if appointment is None or appointment.client_id is None:
            raise NotFound("There is no such appointment.")
        policies = await stored_policies(session)
        paid = await paid_in(session, appointment_id)
        has_card = await client_has_card(session, appointment.client_id)
    return _Facts(appointment, policies, paid, has_card)


def _outcome(
    facts: _Facts, now: datetime, zone: ZoneInfo, cancelled_by: CancelledBy, excused: bool
) -> Outcome:
    appointment = facts.appointment
    terms = cancellation_terms(
        facts.policies,
        price_minor=appointment.price_minor,
        starts_at=appointment.starts_at,
        now=now,
        cancelled_by=cancelled_by,
        medically_excused=excused,
    )
    return describe(
        terms,
        cancelled_by=cancelled_by,
        medically_excused=excused,
        policies=facts.policies,
        paid_minor=facts.paid_minor,
        has_card=facts.has_card,
        currency=appointment.currency,
        zone=zone,
    )


async def cancel_choices(
    db: Database, appointment_id: int, *, now: datetime, zone: ZoneInfo
) -> CancelChoices:
    """Every choice's outcome if the visit were cancelled at `now`."""
    facts = await _facts(db, appointment_id)
    client = _outcome(facts, now, zone, CancelledBy.CLIENT, False)
    excused = _outcome(facts, now, zone, CancelledBy.CLIENT, True) if client.fee_minor else None
    appointment = facts.appointment
    return CancelChoices(
        late=now > appointment.starts_at - facts.policies.cancellation_window,
        free_until=appointment.starts_at - facts.policies.cancellation_window,
        paid_minor=facts.paid_minor,
        has_card=facts.has_card,
        currency=appointment.currency,
        client=client,
        excused=excused,
        clinic=_outcome(facts, now, zone, CancelledBy.CLINIC, False),
    )


def as_charged(outcome: Outcome, *, fee_minor: int, choices: CancelChoices) -> Outcome:
    """The outcome shown before cancelling, corrected to the fee the cancellation set (the
    two differ only if the free cancellation time ran out in between)."""
    if fee_minor == outcome.fee_minor:
        return outcome
    return replace(
        outcome,
        fee_minor=fee_minor,
        fee_words=f"Fee {money(fee_minor, choices.currency)}: cancelled late",
        money=money_words(
            paid_minor=choices.paid_minor,
            fee_minor=fee_minor,
            currency=choices.currency,
            has_card=choices.has_card,
        ),
    )
