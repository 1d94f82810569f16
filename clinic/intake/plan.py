"""The care plan screening produces, and how the partial results of the domain rows combine:
the strictest wins (lowest pressure and session caps, highest clearance, action and level)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import IntEnum, StrEnum

from clinic.intake.answers import Region
from clinic.scheduling.models import RoomAttribute


class Rule(StrEnum):
    AVOID = "avoid"  # subsumes the others on the same region
    GENTLE_ONLY = "gentle_only"
    NO_LOTION = "no_lotion"
    NO_HEAT = "no_heat"


class Position(StrEnum):
    NO_PRONE = "no_prone"
    SIDE_LYING = "side_lying"
    SEMI_RECLINED = "semi_reclined"
    SEATED = "seated"
    HEAD_RAISED = "head_raised"
    WELL_SUPPORTED = "well_supported"  # no forceful turning
    MINIMAL_REPOSITIONING = "minimal_repositioning"
    SLOW_POSITION_CHANGES = "slow_position_changes"  # sit before standing


class Clearance(IntEnum):
    NONE = 0
    ADVISED = 1
    REQUIRED = 2


class Action(IntEnum):
    ALLOW = 0
    ALLOW_FLAG = 1  # restrictions shown to the therapist
    HOLD = 2  # bookable only after clearance or therapist review
    DEFER = 3  # not now; the client is told to contact their doctor or the clinic


@dataclass(frozen=True)
class SiteRule:
    region: Region
    rule: Rule
    reason: str  # row reasons joined by "; "


@dataclass(frozen=True)
class CarePlan:
    max_pressure: int | None  # Walton 1-5; None: no cap
    site_rules: tuple[SiteRule, ...]
    position_rules: tuple[Position, ...]
    session_cap_minutes: int | None
    notes: tuple[str, ...]  # plain sentences for the therapist
    min_oncology_level: int | None  # None: no cancer history
    lymphedema_needed: bool
    room_attributes: tuple[str, ...]  # RoomAttribute values
    clearance: Clearance
    clearance_reasons: tuple[str, ...]
    action: Action
    client_message: str | None  # only when deferred
    reasons: tuple[str, ...]  # "row 4: spread to bone", in row order


@dataclass(frozen=True)
class Finding:
    row: str
    reason: str
    pressure: int | None = None
    sites: tuple[tuple[Region, Rule], ...] = ()
    positions: tuple[Position, ...] = ()
    session_cap: int | None = None
    notes: tuple[str, ...] = ()
    level: int | None = None
    lymphedema: bool = False
    clearance: Clearance = Clearance.NONE
    action: Action = Action.ALLOW_FLAG
    message: str | None = None

    @property
    def label(self) -> str:
        return f"{self.row}: {self.reason}"


CONTACT = "Please contact your doctor or the clinic before your massage; we will rebook you."
CONTACT_PROMPTLY = (
    "Please contact your doctor promptly, and the clinic when you are ready to rebook."
)
_ROW_ORDER = [str(n) for n in range(1, 28)] + [f"G{n}" for n in range(1, 12)]
_ROOM_FOR: dict[Position, RoomAttribute] = {
    Position.SIDE_LYING: RoomAttribute.SIDE_LYING_BOLSTERS,
    Position.SEMI_RECLINED: RoomAttribute.SEMI_RECLINED_TABLE,
    Position.HEAD_RAISED: RoomAttribute.SEMI_RECLINED_TABLE,
}


def tightened(plan: CarePlan, *, max_pressure: int | None, note: str) -> CarePlan:
    """The plan with a lower pressure cap (the lower of the two wins) and one more note for
    the therapist; never looser. Adding the same note twice keeps one."""
    pressures = [p for p in (plan.max_pressure, max_pressure) if p is not None]
    notes = plan.notes if not note or note in plan.notes else (*plan.notes, note)
    return replace(plan, max_pressure=min(pressures, default=None), notes=notes)


def each(regions: Iterable[Region], rule: Rule) -> tuple[tuple[Region, Rule], ...]:
    return tuple((region, rule) for region in regions)


def _merge_sites(findings: list[Finding]) -> tuple[SiteRule, ...]:
    """Per region: AVOID alone when any row avoids it, otherwise each distinct rule once."""
    by_region: dict[Region, dict[Rule, list[str]]] = {}
    for f in findings:
        for region, rule in f.sites:
            labels = by_region.setdefault(region, {}).setdefault(rule, [])
            if f.label not in labels:
                labels.append(f.label)
    merged = []
    for region in Region:
        rules = by_region.get(region, {})
        kept = [Rule.AVOID] if Rule.AVOID in rules else [r for r in Rule if r in rules]
        merged += [SiteRule(region, rule, "; ".join(rules[rule])) for rule in kept]
    return tuple(merged)


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def combine(findings: list[Finding], oncology: bool) -> CarePlan:
    findings = sorted(findings, key=lambda f: _ROW_ORDER.index(f.row.removeprefix("row ")))
    pressures = [f.pressure for f in findings if f.pressure is not None]
    caps = [f.session_cap for f in findings if f.session_cap is not None]
    positions = tuple(p for p in Position if any(p in f.positions for f in findings))
    rooms = _unique(_ROOM_FOR[p].value for p in positions if p in _ROOM_FOR)
    levels = [f.level for f in findings if f.level is not None]
    clearance = max((f.clearance for f in findings), default=Clearance.NONE)
    action = max((f.action for f in findings), default=Action.ALLOW)
    messages = _unique(f.message for f in findings if f.message and f.action is Action.DEFER)
    return CarePlan(
        max_pressure=min(pressures, default=None),
        site_rules=_merge_sites(findings),
        position_rules=positions,
        session_cap_minutes=min(caps, default=None),
        notes=_unique(n for f in findings for n in f.notes),
        min_oncology_level=max(levels, default=1) if oncology else None,
        lymphedema_needed=any(f.lymphedema for f in findings),
        room_attributes=rooms,
        clearance=clearance,
        clearance_reasons=tuple(f.label for f in findings if f.clearance > Clearance.NONE),
        action=action,
        client_message=" ".join(messages) if action is Action.DEFER else None,
        reasons=tuple(f.label for f in findings),
    )
