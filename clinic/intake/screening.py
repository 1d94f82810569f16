"""Screening: intake answers -> care plan. Pure: no database, no clock. Encodes clinic policy from
shared/domain/oncology.md (b) and (c); it routes decisions to therapists and doctors and never
gives medical advice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from clinic.intake.answers import Answers
from clinic.intake.general_rows import general_1, general_2
from clinic.intake.oncology_rows import ONCOLOGY_ROWS, day_of_visit, preferences, team_contact
from clinic.intake.plan import (
    Action,
    CarePlan,
    Clearance,
    Finding,
    Position,
    Rule,
    SiteRule,
    combine,
)
from clinic.intake.rules import Context, ScreeningRules

__all__ = [
    "Action",
    "CarePlan",
    "Clearance",
    "Position",
    "Rule",
    "ScreeningRules",
    "SiteRule",
    "screen",
    "within_day_of_visit_window",
]


_GENERAL_ROWS: tuple[Callable[[Context], list[Finding]], ...] = (
    day_of_visit,
    preferences,
    general_1,
    general_2,
)


def within_day_of_visit_window(now: datetime, visit_at: datetime, rules: ScreeningRules) -> bool:
    """Whether the day-of-visit questions count: the visit starts within the window from now."""
    return visit_at - now <= timedelta(hours=rules.day_of_visit_window_hours)


def screen(
    answers: Answers,
    *,
    today: date,
    visit_within_window: bool,
    rules: ScreeningRules | None = None,
) -> CarePlan:
    """The care plan for ``answers`` on ``today``.

    ``visit_within_window``: the visit starts within ``rules.day_of_visit_window_hours`` (see
    ``within_day_of_visit_window``); otherwise the day-of-visit answers are ignored.
    """
    c = Context(today, visit_within_window, rules or ScreeningRules(), answers)
    findings = [f for row in _GENERAL_ROWS for f in row(c)]
    o = answers.oncology
    if o is not None:
        findings += [f for row in ONCOLOGY_ROWS for f in row(o, c)]
        clearance = max((f.clearance for f in findings), default=Clearance.NONE)
        findings += team_contact(o, c, clearance)
    return combine(findings, oncology=o is not None)
