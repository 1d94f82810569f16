"""When a clearance covers a visit, how long a new one lasts, and how it tightens a plan.
Pure: no database, no clock."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from clinic.clearance.models import CLEARING, Clearance, ClearanceStatus
from clinic.intake.answers import Answers, Phase
from clinic.intake.plan import CarePlan, tightened
from clinic.intake.rules import ScreeningRules

ACTIVE_PHASES = (Phase.NEWLY_DIAGNOSED, Phase.IN_TREATMENT, Phase.PALLIATIVE, Phase.END_OF_LIFE)


def covers(clearance: Clearance, *, intake_signed_at: datetime | None, visit_day: date) -> bool:
    """A clearance covers a visit when it clears (with or without restrictions), was decided
    after the intake the visit is planned from, has not been voided, and is still valid on
    the visit's local date."""
    return (
        clearance.status in CLEARING
        and clearance.decided_at is not None
        and clearance.voided_at is None
        and (intake_signed_at is None or clearance.decided_at >= intake_signed_at)
        and clearance.valid_until is not None
        and visit_day <= clearance.valid_until
    )


def lapsed_before(
    clearances: Iterable[Clearance], *, intake_signed_at: datetime | None, visit_day: date
) -> Clearance | None:
    """The clearance on file that answers the visit's intake but ends before its date: the
    client's latest decision, when it cleared (and may since have expired), was not voided,
    and is valid only until before `visit_day`. None when the visit needs a clearance for
    any other reason (none yet, refused, voided, or given before the intake it must answer).
    """
    decided = [c for c in clearances if c.decided_at is not None]
    if not decided:
        return None
    latest = max(decided, key=lambda c: (c.decided_at, c.id))
    on_file = latest.status in (*CLEARING, ClearanceStatus.EXPIRED) and latest.voided_at is None
    answers_intake = intake_signed_at is None or (
        latest.decided_at is not None and latest.decided_at >= intake_signed_at
    )
    ends_before = latest.valid_until is not None and latest.valid_until < visit_day
    return latest if on_file and answers_intake and ends_before else None


def in_active_treatment(answers: Answers) -> bool:
    oncology = answers.oncology
    if oncology is None:
        return False
    radiation_now = any(r.ended_on is None for r in oncology.radiation)
    return oncology.phase in ACTIVE_PHASES or oncology.chemotherapy is not None or radiation_now


def default_valid_until(answers: Answers, decided_on: date, rules: ScreeningRules) -> date:
    """Section (d): no standard lifetime exists; the clinic's settings, shorter while the
    client is in active treatment."""
    days = (
        rules.clearance_valid_days_in_treatment
        if in_active_treatment(answers)
        else rules.clearance_valid_days_after_treatment
    )
    return decided_on + timedelta(days=days)


def with_clearance(plan: CarePlan, clearance: Clearance) -> CarePlan:
    """The plan with the physician's restrictions: a lower pressure cap wins, and the
    written restrictions reach the therapist as a note."""
    restrictions = clearance.restrictions.strip()
    return tightened(
        plan,
        max_pressure=clearance.max_pressure,
        note=f"Physician's restrictions: {restrictions}" if restrictions else "",
    )
