"""A care plan kept as JSON, and said in plain words.

The JSON is the plan an appointment was booked on (`AppointmentIntake.plan`), so the
therapist reads what screening decided then, even after the rules change. The words are
for the client and the therapist: they say what the clinic will do, never what the client
should do about their health (shared/domain/oncology.md: no medical advice).
"""

from __future__ import annotations

from typing import Any

from clinic.intake.answers import Region
from clinic.intake.plan import Action, CarePlan, Clearance, Position, Rule, SiteRule

PRESSURE_WORDS = {
    1: "very light touch (level 1 of 5)",
    2: "gentle, moving only the skin and the tissue just under it (level 2 of 5)",
    3: "light to medium (level 3 of 5)",
    4: "medium to firm (level 4 of 5)",
    5: "firm (level 5 of 5)",
}
RULE_WORDS = {
    Rule.AVOID: "no massage on",
    Rule.GENTLE_ONLY: "gentle touch only on",
    Rule.NO_LOTION: "no lotion or oil on",
    Rule.NO_HEAT: "no heat on",
}
POSITION_WORDS = {
    Position.NO_PRONE: "not lying face down",
    Position.SIDE_LYING: "lying on your side, with pillows",
    Position.SEMI_RECLINED: "half sitting up (semi-reclined)",
    Position.SEATED: "seated",
    Position.HEAD_RAISED: "with your head raised",
    Position.WELL_SUPPORTED: "well supported, with no forceful turning",
    Position.MINIMAL_REPOSITIONING: "moving as little as possible between positions",
    Position.SLOW_POSITION_CHANGES: "changing position slowly, sitting before standing",
}


def region_words(region: Region) -> str:
    return region.value.replace("_", " ")


def plan_to_json(plan: CarePlan) -> dict[str, Any]:
    return {
        "max_pressure": plan.max_pressure,
        "site_rules": [
            {"region": r.region.value, "rule": r.rule.value, "reason": r.reason}
            for r in plan.site_rules
        ],
        "position_rules": [p.value for p in plan.position_rules],
        "session_cap_minutes": plan.session_cap_minutes,
        "notes": list(plan.notes),
        "min_oncology_level": plan.min_oncology_level,
        "lymphedema_needed": plan.lymphedema_needed,
        "room_attributes": list(plan.room_attributes),
        "clearance": plan.clearance.name.lower(),
        "clearance_reasons": list(plan.clearance_reasons),
        "action": plan.action.name.lower(),
        "client_message": plan.client_message,
        "reasons": list(plan.reasons),
    }


def plan_from_json(data: dict[str, Any]) -> CarePlan:
    return CarePlan(
        max_pressure=data["max_pressure"],
        site_rules=tuple(
            SiteRule(Region(r["region"]), Rule(r["rule"]), r["reason"]) for r in data["site_rules"]
        ),
        position_rules=tuple(Position(p) for p in data["position_rules"]),
        session_cap_minutes=data["session_cap_minutes"],
        notes=tuple(data["notes"]),
        min_oncology_level=data["min_oncology_level"],
        lymphedema_needed=data["lymphedema_needed"],
        room_attributes=tuple(data["room_attributes"]),
        clearance=Clearance[data["clearance"].upper()],
        clearance_reasons=tuple(data["clearance_reasons"]),
        action=Action[data["action"].upper()],
        client_message=data["client_message"],
        reasons=tuple(data["reasons"]),
    )


def has_modifications(plan: CarePlan) -> bool:
    """Whether the session must be adapted at all: the desk's "modifications required"."""
    return bool(
        plan.max_pressure is not None
        or plan.site_rules
        or plan.position_rules
        or plan.session_cap_minutes is not None
    )


def adaptations(plan: CarePlan) -> list[str]:
    """What the clinic will do differently, one plain sentence each."""
    lines: list[str] = []
    if plan.max_pressure is not None:
        lines.append(f"Pressure: {PRESSURE_WORDS[plan.max_pressure]}.")
    by_rule: dict[Rule, list[str]] = {}
    for site in plan.site_rules:
        by_rule.setdefault(site.rule, []).append(region_words(site.region))
    for rule, regions in by_rule.items():
        lines.append(f"{RULE_WORDS[rule].capitalize()}: {', '.join(regions)}.")
    if plan.position_rules:
        positions = ", ".join(POSITION_WORDS[p] for p in plan.position_rules)
        lines.append(f"Position: {positions}.")
    if plan.session_cap_minutes is not None:
        lines.append(f"Session length: up to {plan.session_cap_minutes} minutes.")
    return lines


def for_client(plan: CarePlan) -> dict[str, Any]:
    """The part of a plan a client may see, in words: what we adapt, who may treat them,
    whether a doctor's note is needed, and whether we can book now. No row reasons and
    no clinical notes: those are for the therapist."""
    therapists = None
    if plan.min_oncology_level is not None:
        therapists = (
            "We will offer only therapists trained in oncology massage"
            + (" and lymphedema care" if plan.lymphedema_needed else "")
            + "."
        )
    clearance = {
        Clearance.NONE: None,
        Clearance.ADVISED: (
            "We suggest a note from your doctor or oncology team saying massage is fine; "
            "your therapist will talk this through with you."
        ),
        Clearance.REQUIRED: (
            "We need a note from your doctor or oncology team before we can confirm your "
            "appointment. We will hold your time and contact you."
        ),
    }[plan.clearance]
    booking = {
        Action.ALLOW: "You can book now.",
        Action.ALLOW_FLAG: "You can book now; your therapist will see how to adapt the session.",
        Action.HOLD: "You can choose a time; we confirm it once the clinic has what it needs.",
        Action.DEFER: plan.client_message or "Please contact the clinic before booking.",
    }[plan.action]
    return {
        "can_book": plan.action is not Action.DEFER,
        "booking": booking,
        "adaptations": adaptations(plan),
        "therapists": therapists,
        "clearance": plan.clearance.name.lower(),
        "clearance_message": clearance,
    }
