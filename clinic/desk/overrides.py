"""The desk's "outside the usual rules" form, shared by booking and moving: which
therapist, a typed start on the chosen day, the rules set aside and the reason. Parsing
only; whether the time can be had is the availability engine's answer (`RuleOverrides`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from clinic.db import Database
from clinic.scheduling.availability import CareNeed, RuleOverrides
from clinic.scheduling.service import free_times

WALL_TIME = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])", re.ASCII)
REASON_LIMIT = 500
FIELDS = ("override_therapist", "override_time", "override_reason")
RULE_FIELDS = ("override_outside_hours", "override_inside_notice")


@dataclass(frozen=True)
class OverrideRequest:
    therapist_id: int | None
    start: datetime | None
    overrides: RuleOverrides
    reason: str


def form_values(form: Mapping[str, object]) -> dict[str, str]:
    """The override fields of a posted form, as the page shows them again."""
    values = {name: str(form.get(name, ""))[: REASON_LIMIT + 1] for name in FIELDS}
    values |= {name: "1" if form.get(name) else "" for name in RULE_FIELDS}
    return values


def local_instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The instant a wall time on `day` names; ValueError for a time the clocks skip. In
    the hour the clocks repeat, the first of the two (PEP 495 fold=0)."""
    local = datetime.combine(day, wall, tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise ValueError("The clocks skip that time on this day. Enter another time")
    return instant


def reason_problem(reason: str, field: str) -> dict[str, str]:
    if not reason.strip():
        return {field: "Enter the reason: it is kept in the audit log"}
    if len(reason) > REASON_LIMIT:
        return {field: f"Keep the reason to {REASON_LIMIT} characters or fewer"}
    return {}


def parse_override(
    values: Mapping[str, str],
    therapist_ids: set[int],
    day: date,
    zone: ZoneInfo,
    now: datetime,
) -> tuple[OverrideRequest, dict[str, str]]:
    """The override asked for, and what is wrong with it by field."""
    errors: dict[str, str] = {}
    raw_therapist = values.get("override_therapist", "").strip()
    therapist_id = int(raw_therapist) if raw_therapist.isdecimal() else None
    if therapist_id not in therapist_ids:
        errors["override_therapist"] = "Choose the therapist"
    start: datetime | None = None
    matched = WALL_TIME.fullmatch(values.get("override_time", "").strip())
    if matched is None:
        errors["override_time"] = "Enter the start time like 18:30 (24-hour clock)"
    else:
        try:
            start = local_instant(day, time(int(matched[1]), int(matched[2])), zone)
        except ValueError as skipped:
            errors["override_time"] = str(skipped)
    if start is not None and start <= now:
        errors["override_time"] = "That time has passed. For a client here now, book a walk-in"
    overrides = RuleOverrides(
        outside_hours=bool(values.get("override_outside_hours")),
        inside_notice=bool(values.get("override_inside_notice")),
    )
    if not overrides:
        errors["override_rules"] = "Choose which rule to set aside"
    reason = values.get("override_reason", "")
    errors |= reason_problem(reason, "override_reason")
    return OverrideRequest(therapist_id, start, overrides, reason), errors


# Every rule the desk may set aside: who could take the visit at some time of the day.
ALL_RULES = RuleOverrides(outside_hours=True, inside_notice=True)


async def possible_therapists(
    db: Database,
    *,
    service_id: int,
    day: date,
    care: CareNeed | None,
    ignoring_appointment: int | None = None,
) -> set[int]:
    """The therapists the override form offers: those who could take this visit at some
    minute of `day` with every rule set aside, so never one the client's care excludes,
    one on time off all day, or one not offering the service."""
    found = await free_times(
        db,
        service_id=service_id,
        first_day=day,
        last_day=day,
        care=care,
        ignoring_appointment=ignoring_appointment,
        overrides=ALL_RULES,
    )
    return set() if found is None else {slot.therapist_id for slot in found.slots}


NOT_FREE = (
    "The therapist is not free then: another visit, time off, a closure, no suitable room, "
    "or they lack the training this client's care needs. The overlap guard and those "
    "checks are never set aside."
)
