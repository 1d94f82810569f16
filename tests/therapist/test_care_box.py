"""The care-plan box, a pure function of the stored plan: the order of its sites, the
words of its pressure and clearance, and what changed since the last visit."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from clinic.intake.answers import Region
from clinic.intake.plan import Action, CarePlan, Clearance, Position, Rule, SiteRule
from clinic.therapist.care_box import (
    ClearanceState,
    CoveringClearance,
    Section,
    care_box,
    changed_sections,
    clearance_line,
    site_rows,
)

PLAN = CarePlan(
    max_pressure=2,
    site_rules=(
        SiteRule(Region.CHEST, Rule.NO_LOTION, "row 10: radiation"),
        SiteRule(Region.CHEST, Rule.NO_HEAT, "row 10: radiation"),
        SiteRule(Region.LEFT_ARM, Rule.GENTLE_ONLY, "row 7: lymph nodes removed"),
        SiteRule(Region.RIGHT_UPPER_TRUNK, Rule.AVOID, "row 14: devices: port"),
    ),
    position_rules=(Position.NO_PRONE, Position.SIDE_LYING),
    session_cap_minutes=45,
    notes=("Pad around devices.",),
    min_oncology_level=1,
    lymphedema_needed=False,
    room_attributes=(),
    clearance=Clearance.REQUIRED,
    clearance_reasons=("row 14: devices: port",),
    action=Action.HOLD,
    client_message=None,
    reasons=("row 1: cancer history",),
)
CLEARED = CoveringClearance(valid_until=date(2027, 6, 12), with_changes=True)


def test_sites_read_avoid_first_then_gentle_then_lotion_and_heat_one_row_per_area() -> None:
    rows = site_rows(PLAN)
    assert [(r.area, r.rules, r.why) for r in rows] == [
        ("Right upper trunk", "no massage", "devices: port"),
        ("Left arm", "gentle touch only", "lymph nodes removed"),
        ("Chest", "no lotion or oil, no heat", "radiation"),
    ]


def test_the_box_says_max_n_of_5_with_n_filled_dots_and_a_gloss() -> None:
    box = care_box(PLAN, clearance=clearance_line(PLAN, covering=CLEARED, **_plain()))
    assert box.max_pressure == 2
    assert box.dots == (True, True, False, False, False)
    assert box.pressure_gloss == "Gentle, moving only the skin and the tissue just under it."
    assert box.position == "Not lying face down; lying on your side, with pillows."
    assert box.other == ("Session length: up to 45 minutes.", "Pad around devices.")


def test_no_cap_is_no_filled_dots() -> None:
    box = care_box(
        replace(PLAN, max_pressure=None), clearance=clearance_line(None, covering=None, **_plain())
    )
    assert box.max_pressure is None
    assert box.dots == (False,) * 5
    assert box.pressure_gloss == ""


def _plain() -> dict[str, bool]:
    return {"awaiting_clearance": False, "in_review": False}


@pytest.mark.parametrize(
    ("plan", "covering", "flags", "state", "words"),
    [
        (PLAN, CLEARED, {}, ClearanceState.CLEARED, "Cleared until 12 June 2027, with changes."),
        (
            PLAN,
            replace(CLEARED, with_changes=False),
            {},
            ClearanceState.CLEARED,
            "Cleared until 12 June 2027.",
        ),
        (PLAN, None, {}, ClearanceState.STOP, "Required, and none is on file."),
        (
            replace(PLAN, clearance=Clearance.ADVISED),
            None,
            {},
            ClearanceState.ADVISED,
            "Advised; none on file. Talk it through with the client.",
        ),
        (
            replace(PLAN, clearance=Clearance.NONE),
            None,
            {},
            ClearanceState.NOT_NEEDED,
            "Not needed.",
        ),
        (
            PLAN,
            CLEARED,
            {"awaiting_clearance": True},
            ClearanceState.STOP,
            "Waiting for a physician's clearance.",
        ),
        (
            PLAN,
            CLEARED,
            {"in_review": True},
            ClearanceState.STOP,
            "Needs review by the clinical lead before this visit.",
        ),
        (
            replace(PLAN, action=Action.DEFER),
            CLEARED,
            {},
            ClearanceState.STOP,
            "The health form says not to go ahead now.",
        ),
    ],
)
def test_clearance_words(
    plan: CarePlan,
    covering: CoveringClearance | None,
    flags: dict[str, bool],
    state: ClearanceState,
    words: str,
) -> None:
    line = clearance_line(plan, covering=covering, **{**_plain(), **flags})
    assert (line.state, line.words) == (state, words)
    box = care_box(plan, clearance=line)
    assert box.stop is (state is ClearanceState.STOP)


def test_only_the_sections_that_differ_from_the_last_visit_are_changed() -> None:
    assert changed_sections(PLAN, PLAN) == frozenset()
    before = replace(PLAN, max_pressure=3, site_rules=PLAN.site_rules[:2])
    assert changed_sections(PLAN, before) == {Section.PRESSURE, Section.SITES}
    later_note = replace(PLAN, notes=(*PLAN.notes, "Physician's restrictions: no heat."))
    assert changed_sections(later_note, PLAN) == {Section.OTHER}
    # The order of site rules is not a change; a different clearance need is.
    shuffled = replace(PLAN, site_rules=tuple(reversed(PLAN.site_rules)))
    assert changed_sections(shuffled, PLAN) == frozenset()
    assert changed_sections(replace(PLAN, clearance=Clearance.NONE), PLAN) == {Section.CLEARANCE}


def test_a_last_visit_without_a_plan_makes_every_set_section_changed() -> None:
    assert changed_sections(PLAN, None) == set(Section)
    empty = replace(
        PLAN,
        max_pressure=None,
        site_rules=(),
        position_rules=(),
        session_cap_minutes=None,
        notes=(),
        clearance=Clearance.NONE,
    )
    assert changed_sections(empty, None) == frozenset()
