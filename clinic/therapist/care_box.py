"""The care-plan box of the therapist's day sheet (ux.md section 4), from a visit's stored
plan: pressure, sites, position, other, clearance, always in that order, and which of them
changed since the client's last visit. Pure: no database, no clock. The words come from
clinic.intake.summary, so the box and the care sheet say the same things."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from clinic.dates import day_month_year
from clinic.intake.answers import Region
from clinic.intake.plan import Action, CarePlan, Clearance, Rule
from clinic.intake.summary import POSITION_WORDS, PRESSURE_WORDS, RULE_WORDS, region_words

PRESSURE_SCALE = 5
# Sites in the order a therapist must see them: what to avoid first.
RULE_ORDER = (Rule.AVOID, Rule.GENTLE_ONLY, Rule.NO_LOTION, Rule.NO_HEAT)


class Section(StrEnum):
    PRESSURE = "pressure"
    SITES = "sites"
    POSITION = "position"
    OTHER = "other"
    CLEARANCE = "clearance"


class ClearanceState(StrEnum):
    NOT_NEEDED = "not_needed"
    CLEARED = "cleared"
    ADVISED = "advised"  # advised, none on file: the visit may go ahead
    STOP = "stop"  # do not start: see front desk


@dataclass(frozen=True)
class CoveringClearance:
    """The clearance on file that covers the visit (clinic.clearance.covering.covers)."""

    valid_until: date
    with_changes: bool


@dataclass(frozen=True)
class SiteRow:
    area: str  # "Right upper trunk"
    rules: str  # "no massage", "gentle touch only, no heat"
    why: str  # "devices: port"


@dataclass(frozen=True)
class ClearanceLine:
    state: ClearanceState
    words: str


@dataclass(frozen=True)
class CareBox:
    max_pressure: int | None
    pressure_gloss: str
    sites: tuple[SiteRow, ...]
    position: str  # one sentence; "" when the plan sets no position
    other: tuple[str, ...]
    clearance: ClearanceLine
    changed: frozenset[Section]

    @property
    def stop(self) -> bool:
        return self.clearance.state is ClearanceState.STOP

    @property
    def dots(self) -> tuple[bool, ...]:
        """Five dots, the first `max_pressure` filled (the text says it too)."""
        filled = self.max_pressure or 0
        return tuple(n < filled for n in range(PRESSURE_SCALE))


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "." if text else ""


def pressure_gloss(pressure: int) -> str:
    """PRESSURE_WORDS without its "(level N of 5)", which the box says in large type:
    "Gentle, moving only the skin and the tissue just under it."."""
    return _sentence(PRESSURE_WORDS[pressure].split(" (level ")[0])


def rule_words(rule: Rule) -> str:
    """RULE_WORDS without the "on" that leads to a region: "no massage", "gentle touch
    only"."""
    return RULE_WORDS[rule].removesuffix(" on")


def _why(reason: str) -> str:
    """A row reason without the screening table's row number: "row 14: devices: port"
    becomes "devices: port"."""
    return "; ".join(part.split(": ", 1)[-1] for part in reason.split("; ") if part)


def site_rows(plan: CarePlan) -> tuple[SiteRow, ...]:
    """One row per area with all its rules, areas to avoid first, then gentle only, then no
    lotion or heat; within a rule, in the plan's (head to foot) order."""
    by_region: dict[Region, list[tuple[Rule, str]]] = {}
    for site in plan.site_rules:
        by_region.setdefault(site.region, []).append((site.rule, site.reason))

    def strongest(region: Region) -> int:
        return min(RULE_ORDER.index(rule) for rule, _ in by_region[region])

    rows = []
    for region in sorted(by_region, key=strongest):
        rules = sorted(by_region[region], key=lambda item: RULE_ORDER.index(item[0]))
        reasons = dict.fromkeys(_why(reason) for _, reason in rules if reason)
        rows.append(
            SiteRow(
                area=region_words(region).capitalize(),
                rules=", ".join(rule_words(rule) for rule, _ in rules),
                why="; ".join(r for r in reasons if r),
            )
        )
    return tuple(rows)


def position_words(plan: CarePlan) -> str:
    """One sentence: "Not lying face down; lying on your side, with pillows."."""
    return _sentence("; ".join(POSITION_WORDS[p] for p in plan.position_rules))


def other_lines(plan: CarePlan) -> tuple[str, ...]:
    lines: list[str] = []
    if plan.session_cap_minutes is not None:
        lines.append(f"Session length: up to {plan.session_cap_minutes} minutes.")
    lines.extend(plan.notes)
    return tuple(lines)


def clearance_line(
    plan: CarePlan | None,
    *,
    covering: CoveringClearance | None,
    awaiting_clearance: bool,
    in_review: bool,
) -> ClearanceLine:
    """What the therapist may do about clearance: cleared until a date (with the
    physician's changes), not needed, advised with none on file, or do not start."""
    if in_review:
        return ClearanceLine(
            ClearanceState.STOP, "Needs review by the clinical lead before this visit."
        )
    if awaiting_clearance:
        return ClearanceLine(ClearanceState.STOP, "Waiting for a physician's clearance.")
    if plan is not None and plan.action is Action.DEFER:
        return ClearanceLine(ClearanceState.STOP, "The health form says not to go ahead now.")
    if covering is not None:
        words = f"Cleared until {day_month_year(covering.valid_until)}"
        return ClearanceLine(
            ClearanceState.CLEARED, words + (", with changes." if covering.with_changes else ".")
        )
    if plan is None or plan.clearance is Clearance.NONE:
        return ClearanceLine(ClearanceState.NOT_NEEDED, "Not needed.")
    if plan.clearance is Clearance.REQUIRED:
        return ClearanceLine(ClearanceState.STOP, "Required, and none is on file.")
    return ClearanceLine(
        ClearanceState.ADVISED, "Advised; none on file. Talk it through with the client."
    )


def _sections(plan: CarePlan | None) -> dict[Section, object]:
    """What each section of the box rests on, to compare two visits' plans."""
    if plan is None:
        return {
            Section.PRESSURE: None,
            Section.SITES: frozenset(),
            Section.POSITION: (),
            Section.OTHER: (None, ()),
            Section.CLEARANCE: Clearance.NONE,
        }
    return {
        Section.PRESSURE: plan.max_pressure,
        Section.SITES: frozenset((s.region, s.rule) for s in plan.site_rules),
        Section.POSITION: plan.position_rules,
        Section.OTHER: (plan.session_cap_minutes, plan.notes),
        Section.CLEARANCE: plan.clearance,
    }


def changed_sections(plan: CarePlan | None, previous: CarePlan | None) -> frozenset[Section]:
    """The sections that differ from the previous visit's plan (no plan then counts as an
    empty one)."""
    now, before = _sections(plan), _sections(previous)
    return frozenset(section for section in Section if now[section] != before[section])


def care_box(
    plan: CarePlan,
    *,
    clearance: ClearanceLine,
    changed: frozenset[Section] = frozenset(),
) -> CareBox:
    return CareBox(
        max_pressure=plan.max_pressure,
        pressure_gloss=pressure_gloss(plan.max_pressure) if plan.max_pressure else "",
        sites=site_rows(plan),
        position=position_words(plan),
        other=other_lines(plan),
        clearance=clearance,
        changed=changed,
    )
