"""Screening: one case per domain row (1-27, G1-G11), combinations, the day-of-visit window,
PRODUCT settings switched. Every field of the plan is asserted; notes by fragment."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from clinic.intake.answers import (
    Allergy,
    Answers,
    BoneMets,
    Bones,
    Chemotherapy,
    Clot,
    ClotStatus,
    DayOfVisit,
    Device,
    DeviceKind,
    Fatigue,
    General,
    Lymphedema,
    Neutropenia,
    NodeRegion,
    Oncology,
    OncologyContact,
    Organ,
    OrganSpread,
    Pain,
    Phase,
    Platelets,
    Preferences,
    Pregnancy,
    Radiation,
    Region,
    SkinKind,
    SkinProblem,
    Surgery,
    Transplant,
    Tumors,
)
from clinic.intake.screening import (
    Action,
    CarePlan,
    Clearance,
    Position,
    Rule,
    ScreeningRules,
    SiteRule,
    screen,
    within_day_of_visit_window,
)

TODAY = date(2026, 6, 15)
R = Region
CONTACT = "Please contact your doctor or the clinic before your massage; we will rebook you."
PROMPTLY = "Please contact your doctor promptly, and the clinic when you are ready to rebook."

NOTHING = CarePlan(
    max_pressure=None,
    site_rules=(),
    position_rules=(),
    session_cap_minutes=None,
    notes=(),
    min_oncology_level=None,
    lymphedema_needed=False,
    room_attributes=(),
    clearance=Clearance.NONE,
    clearance_reasons=(),
    action=Action.ALLOW,
    client_message=None,
    reasons=(),
)
R1 = "row 1: cancer history"
ONCOLOGY_BASE = replace(NOTHING, min_oncology_level=1, action=Action.ALLOW_FLAG, reasons=(R1,))


CONSENTED = OncologyContact(name="Dr Ng", consent_to_contact=True)


def onc(**kw: Any) -> Answers:
    """An oncology client who has named their oncology team and consented to contact (row 27)."""
    return Answers(oncology=Oncology(**{"contact": CONSENTED, **kw}))


def sites(reason: str, rule: Rule, *regions: Region) -> tuple[SiteRule, ...]:
    return tuple(SiteRule(r, rule, reason) for r in regions)


def expect(reason: str, *, base: CarePlan = ONCOLOGY_BASE, **kw: Any) -> CarePlan:
    """``base`` plus one row: its reason appended (and to clearance reasons when advised)."""
    plan = replace(base, reasons=(*base.reasons, reason), **kw)
    if plan.clearance > Clearance.NONE and "clearance_reasons" not in kw:
        plan = replace(plan, clearance_reasons=(reason,))
    return plan


def general(reason: str, **kw: Any) -> CarePlan:
    return expect(reason, base=replace(NOTHING, action=Action.ALLOW_FLAG), **kw)


def check(plan: CarePlan, expected: CarePlan, fragments: tuple[str, ...]) -> None:
    assert replace(plan, notes=()) == replace(expected, notes=())
    assert len(plan.notes) == len(fragments), plan.notes
    for fragment, note in zip(fragments, plan.notes, strict=True):
        assert fragment in note


ONC_NOTE = "oncology-trained therapist"
R7_AREAS = (R.LEFT_UPPER_TRUNK, R.LEFT_ARM, R.LEFT_HAND)
R7 = "row 7: lymph nodes removed or radiated: left_axilla"
R10 = "row 10: radiation"
R18 = "row 18: blood clot history"
R21 = "row 21: skin problems: rash"

CASES = [
    ("1", onc(), ONCOLOGY_BASE, ()),
    (
        "2",
        onc(tumors=Tumors(location_known=False)),
        expect("row 2: location of disease unknown", max_pressure=2, clearance=Clearance.ADVISED),
        ("well within range",),
    ),
    (
        "3",
        onc(phase=Phase.IN_TREATMENT),
        expect("row 3: phase: in treatment", max_pressure=3, session_cap_minutes=45),
        ("Re-ask",),
    ),
    (
        "4",
        onc(bone_mets=BoneMets(sites_known=False)),
        expect(
            "row 4: spread to bone (sites unknown)",
            max_pressure=1,
            position_rules=(Position.WELL_SUPPORTED,),
            min_oncology_level=2,
            clearance=Clearance.REQUIRED,
            action=Action.HOLD,
        ),
        ("physician",),
    ),
    (
        "5",
        onc(organ_spread=OrganSpread(organs=(Organ.LUNG,))),
        expect(
            "row 5: spread to organs or breathlessness",
            max_pressure=3,
            session_cap_minutes=45,
            position_rules=(Position.NO_PRONE, Position.HEAD_RAISED),
            room_attributes=("semi_reclined_table",),
            clearance=Clearance.ADVISED,
        ),
        (),
    ),
    (
        "6",
        onc(surgeries=(Surgery(R.CHEST, TODAY - timedelta(weeks=3), incision_healed=False),)),
        expect(
            "row 6: surgery on 2026-05-25 (chest)",
            site_rules=sites("row 6: surgery on 2026-05-25 (chest)", Rule.AVOID, R.CHEST),
            position_rules=(Position.NO_PRONE, Position.SIDE_LYING),
            room_attributes=("side_lying_bolsters",),
            clearance=Clearance.ADVISED,
            action=Action.HOLD,
        ),
        (),
    ),
    (
        "7",
        onc(nodes=(NodeRegion.LEFT_AXILLA,)),
        expect(
            R7,
            site_rules=tuple(
                SiteRule(r, rule, R7) for r in R7_AREAS for rule in (Rule.GENTLE_ONLY, Rule.NO_HEAT)
            ),
        ),
        ("toward working nodes",),
    ),
    (
        "8",
        onc(lymphedema=Lymphedema(areas=(R.RIGHT_ARM,))),
        expect(
            "row 8: lymphedema",
            site_rules=sites("row 8: lymphedema", Rule.GENTLE_ONLY, R.RIGHT_ARM),
            lymphedema_needed=True,
            clearance=Clearance.ADVISED,
        ),
        ("MLD/CDT",),
    ),
    (
        "9",
        onc(chemotherapy=Chemotherapy(last_infusion=date(2026, 6, 10))),
        expect("row 9: current chemotherapy", max_pressure=2),
        ("Last infusion: 2026-06-10",),
    ),
    (
        "10",
        onc(radiation=(Radiation(field=(R.CHEST,), started_on=date(2026, 5, 1)),)),
        expect(
            R10,
            site_rules=(
                SiteRule(R.CHEST, Rule.NO_LOTION, R10),
                SiteRule(R.CHEST, Rule.NO_HEAT, R10),
            ),
            clearance=Clearance.ADVISED,
        ),
        (),
    ),
    (
        "11",
        onc(immuno_or_targeted=True),
        expect("row 11: immunotherapy or targeted therapy", clearance=Clearance.ADVISED),
        ("joint pain",),
    ),
    ("12", onc(hormone_therapy=True), expect("row 12: hormone therapy"), ("clot risk",)),
    (
        "13",
        onc(transplant=Transplant(allogeneic=True)),
        expect(
            "row 13: stem-cell or bone-marrow transplant",
            max_pressure=2,
            min_oncology_level=2,
            clearance=Clearance.REQUIRED,
            action=Action.HOLD,
        ),
        ("infection control",),
    ),
    (
        "14",
        onc(devices=(Device(DeviceKind.PORT, R.CHEST),)),
        expect(
            "row 14: devices: port",
            site_rules=sites("row 14: devices: port", Rule.AVOID, R.CHEST),
            position_rules=(Position.NO_PRONE, Position.SIDE_LYING),
            room_attributes=("side_lying_bolsters",),
        ),
        ("Pad around",),
    ),
    (
        "15",
        onc(platelets=Platelets(count=40_000, measured_on=TODAY - timedelta(days=3))),
        expect(
            "row 15: bleeding risk",
            max_pressure=2,
            min_oncology_level=2,
            clearance=Clearance.REQUIRED,
            action=Action.HOLD,
        ),
        ("No deep or vigorous",),
    ),
    (
        "16",
        onc(neutropenia=Neutropenia(anc=400)),
        expect(
            "row 16: low white count (severe or on precautions)",
            min_oncology_level=2,
            clearance=Clearance.REQUIRED,
            action=Action.HOLD,
        ),
        ("hand hygiene",),
    ),
    (
        "17",
        onc(anemia_symptoms=True),
        expect(
            "row 17: anemia symptoms",
            max_pressure=3,
            session_cap_minutes=45,
            position_rules=(Position.SLOW_POSITION_CHANGES,),
        ),
        ("sit before standing",),
    ),
    (
        "18",
        onc(clot=Clot(ClotStatus.HISTORY, treatment_ended_on=date(2024, 1, 1))),
        expect(
            R18,
            site_rules=sites(
                R18, Rule.GENTLE_ONLY, R.LEFT_LEG, R.RIGHT_LEG, R.LEFT_FOOT, R.RIGHT_FOOT
            ),
            clearance=Clearance.REQUIRED,
            action=Action.HOLD,
        ),
        (),
    ),
    (
        "19",
        onc(neuropathy=(R.LEFT_FOOT, R.RIGHT_FOOT)),
        expect(
            "row 19: neuropathy",
            site_rules=sites("row 19: neuropathy", Rule.GENTLE_ONLY, R.LEFT_FOOT, R.RIGHT_FOOT),
        ),
        ("check the skin",),
    ),
    (
        "20",
        onc(bones=Bones(long_term_steroids=True)),
        expect("row 20: fragile bones", max_pressure=2),
        ("joint movement",),
    ),
    (
        "21",
        onc(skin=(SkinProblem(SkinKind.RASH, (R.UPPER_BACK,)),)),
        expect(R21, site_rules=sites(R21, Rule.AVOID, R.UPPER_BACK)),
        ("broken skin",),
    ),
    (
        "22",
        replace(onc(), day_of_visit=DayOfVisit(fever_or_chills=True)),
        expect(
            "row 22: fever, chills or infection today", action=Action.DEFER, client_message=CONTACT
        ),
        (),
    ),
    (
        "23",
        replace(onc(), day_of_visit=DayOfVisit(nausea_or_vomiting=True)),
        expect(
            "row 23: nausea, mouth sores or cough",
            position_rules=(Position.NO_PRONE, Position.SIDE_LYING, Position.MINIMAL_REPOSITIONING),
            room_attributes=("side_lying_bolsters",),
        ),
        ("Unscented",),
    ),
    (
        "24",
        replace(onc(), day_of_visit=DayOfVisit(fatigue=Fatigue.SEVERE)),
        expect(
            "row 24: fatigue today",
            max_pressure=3,
            session_cap_minutes=45,
            position_rules=(Position.MINIMAL_REPOSITIONING,),
        ),
        (),
    ),
    (
        "25",
        onc(pain=(Pain(R.LOWER_BACK, new_or_unexplained=True, bone_or_night=True),)),
        expect(
            "row 25: new or unexplained pain",
            site_rules=sites("row 25: new or unexplained pain", Rule.AVOID, R.LOWER_BACK),
            clearance=Clearance.ADVISED,
            action=Action.HOLD,
        ),
        (),
    ),
    (
        "26",
        replace(onc(), preferences=Preferences(areas_excluded=(R.ABDOMEN,))),
        expect(
            "row 26: client preferences",
            site_rules=sites("row 26: client preferences", Rule.AVOID, R.ABDOMEN),
        ),
        ("consent for each area",),
    ),
    (
        "27",
        onc(transplant=Transplant(), contact=OncologyContact(name="Dr Ng")),
        replace(
            expect(
                "row 13: stem-cell or bone-marrow transplant",
                max_pressure=2,
                min_oncology_level=2,
                clearance=Clearance.REQUIRED,
                action=Action.HOLD,
            ),
            reasons=(
                R1,
                "row 13: stem-cell or bone-marrow transplant",
                "row 27: no consent to contact the oncology team",
            ),
        ),
        ("infection control", "without the client's consent"),
    ),
    (
        "G1",
        Answers(general=General(pregnancy=Pregnancy(trimester=2, high_risk=True))),
        general(
            "G1: pregnant, trimester 2, high risk",
            clearance=Clearance.REQUIRED,
            action=Action.HOLD,
        ),
        (),
    ),
    (
        "G2",
        Answers(general=General(recent_injury=(R.LEFT_ARM,))),
        general(
            "G2: recent injury",
            site_rules=sites("G2: recent injury", Rule.AVOID, R.LEFT_ARM),
            clearance=Clearance.ADVISED,
        ),
        (),
    ),
    (
        "G3",
        Answers(general=General(blood_thinners_or_bleeding_disorder=True)),
        general("G3: blood thinners or bleeding disorder", max_pressure=2),
        ("No deep or forceful",),
    ),
    (
        "G4",
        Answers(day_of_visit=DayOfVisit(contagious_skin=True)),
        general("G4: contagious skin condition", action=Action.DEFER, client_message=CONTACT),
        (),
    ),
    (
        "G5",
        Answers(day_of_visit=DayOfVisit(fever_or_chills=True)),
        general(
            "G5: fever, chills or infection today", action=Action.DEFER, client_message=CONTACT
        ),
        (),
    ),
    (
        "G6",
        Answers(general=General(uncontrolled_blood_pressure=True)),
        general(
            "G6: heart or kidney failure with edema, or uncontrolled blood pressure",
            clearance=Clearance.ADVISED,
            action=Action.HOLD,
        ),
        (),
    ),
    (
        "G7",
        Answers(general=General(diabetes=True, reduced_sensation=(R.LEFT_FOOT,))),
        general(
            "G7: diabetes or reduced sensation",
            site_rules=sites("G7: diabetes or reduced sensation", Rule.GENTLE_ONLY, R.LEFT_FOOT),
        ),
        (),
    ),
    (
        "G8",
        Answers(general=General(inflamed_joints=(R.RIGHT_HAND,))),
        general(
            "G8: inflammatory flare",
            site_rules=sites("G8: inflammatory flare", Rule.AVOID, R.RIGHT_HAND),
        ),
        (),
    ),
    (
        "G9",
        Answers(general=General(osteoporosis_or_bone_drugs=True)),
        general("G9: osteoporosis or bone-weakening drugs", max_pressure=2),
        (),
    ),
    (
        "G10",
        Answers(general=General(allergies=(Allergy.NUTS,), implants=(R.RIGHT_UPPER_TRUNK,))),
        general(
            "G10: allergies, seizures or implants",
            site_rules=sites(
                "G10: allergies, seizures or implants", Rule.AVOID, R.RIGHT_UPPER_TRUNK
            ),
        ),
        ("without: nuts",),
    ),
    (
        "G11",
        Answers(general=General(able_to_consent=False)),
        general(
            "G11: no valid consent",
            action=Action.DEFER,
            client_message="We need valid consent before a massage: please contact the clinic.",
        ),
        (),
    ),
]


@pytest.mark.parametrize(
    ("answers", "expected", "fragments"),
    [pytest.param(a, e, f, id=f"row-{row}") for row, a, e, f in CASES],
)
def test_each_row_gives_its_plan(
    answers: Answers, expected: CarePlan, fragments: tuple[str, ...]
) -> None:
    plan = screen(answers, today=TODAY, visit_within_window=True)
    frags = (ONC_NOTE, *fragments) if answers.oncology is not None else fragments
    check(plan, expected, frags)


def test_every_domain_row_has_a_case() -> None:
    rows = [str(n) for n in range(1, 28)] + [f"G{n}" for n in range(1, 12)]
    assert [row for row, *_ in CASES] == rows


def test_no_cancer_history_and_nothing_else_is_allowed_without_a_cap() -> None:
    assert screen(Answers(), today=TODAY, visit_within_window=True) == NOTHING


def test_strictest_rules_win_when_rows_combine() -> None:
    answers = onc(
        phase=Phase.IN_TREATMENT,  # P3, 45 minutes
        bone_mets=BoneMets(sites_known=False),  # P1, required, hold
        nodes=(NodeRegion.LEFT_AXILLA,),  # gentle + no heat on the left arm
        skin=(SkinProblem(SkinKind.RASH, (R.LEFT_ARM,)),),  # avoid the left arm
        clot=Clot(ClotStatus.SUSPECTED),  # defer
        contact=OncologyContact(name="Dr Ng", consent_to_contact=True),
    )
    plan = screen(answers, today=TODAY, visit_within_window=False)
    assert plan.max_pressure == 1
    assert plan.session_cap_minutes == 45
    assert plan.action is Action.DEFER
    assert plan.client_message == PROMPTLY
    assert plan.clearance is Clearance.REQUIRED
    assert plan.min_oncology_level == 2
    left_arm = [s for s in plan.site_rules if s.region is R.LEFT_ARM]
    assert left_arm == [SiteRule(R.LEFT_ARM, Rule.AVOID, R21)]
    left_hand = [s.rule for s in plan.site_rules if s.region is R.LEFT_HAND]
    assert left_hand == [Rule.GENTLE_ONLY, Rule.NO_HEAT]
    assert [r.split(":")[0] for r in plan.reasons] == [
        "row 1", "row 3", "row 4", "row 7", "row 18", "row 21"
    ]  # fmt: skip


def test_same_rule_from_two_rows_keeps_both_reasons() -> None:
    answers = replace(
        onc(neuropathy=(R.LEFT_FOOT,)), general=General(reduced_sensation=(R.LEFT_FOOT,))
    )
    plan = screen(answers, today=TODAY, visit_within_window=False)
    assert plan.site_rules == (
        SiteRule(
            R.LEFT_FOOT, Rule.GENTLE_ONLY, "row 19: neuropathy; G7: diabetes or reduced sensation"
        ),
    )


@pytest.mark.parametrize(
    ("visit_in", "deferred"),
    [
        pytest.param(timedelta(days=1), True, id="tomorrow"),
        pytest.param(timedelta(hours=48), True, id="at-48h"),
        pytest.param(timedelta(hours=49), False, id="after-48h"),
        pytest.param(timedelta(weeks=3), False, id="three-weeks"),
    ],
)
def test_fever_counts_only_inside_the_day_of_visit_window(
    visit_in: timedelta, deferred: bool
) -> None:
    now = datetime(2026, 6, 15, 9, tzinfo=UTC)
    window = within_day_of_visit_window(now, now + visit_in, ScreeningRules())
    answers = replace(onc(), day_of_visit=DayOfVisit(fever_or_chills=True, fatigue=Fatigue.SEVERE))
    plan = screen(answers, today=TODAY, visit_within_window=window)
    if deferred:
        assert plan.action is Action.DEFER
        assert plan.client_message is not None
        assert "contact your doctor" in plan.client_message
    else:
        check(plan, ONCOLOGY_BASE, (ONC_NOTE,))


def test_fever_with_low_white_count_asks_for_prompt_contact() -> None:
    answers = replace(
        onc(neutropenia=Neutropenia(reported_low=True)),
        day_of_visit=DayOfVisit(fever_or_chills=True),
    )
    plan = screen(answers, today=TODAY, visit_within_window=True)
    assert (plan.action, plan.client_message) == (Action.DEFER, PROMPTLY)


def test_hospital_model_requires_clearance_for_every_oncology_client() -> None:
    rules = ScreeningRules(hospital_model_requires_clearance=True)
    answers = onc(contact=OncologyContact(name="Dr Ng", consent_to_contact=True))
    plan = screen(answers, today=TODAY, visit_within_window=False, rules=rules)
    assert (plan.clearance, plan.action) == (Clearance.REQUIRED, Action.HOLD)
    assert plan.clearance_reasons == (R1,)
    assert screen(Answers(), today=TODAY, visit_within_window=False, rules=rules) == NOTHING


def test_product_settings_can_relax_bone_and_transplant_clearance() -> None:
    rules = ScreeningRules(bone_mets_clearance_required=False, transplant_clearance_required=False)
    answers = onc(bone_mets=BoneMets(sites=(R.LOWER_BACK,)), transplant=Transplant())
    plan = screen(answers, today=TODAY, visit_within_window=False, rules=rules)
    assert plan.clearance is Clearance.ADVISED
    assert plan.action is Action.HOLD  # both rows still hold for therapist review
    assert "row 27: no consent to contact the oncology team" not in plan.reasons


def test_surgery_older_than_the_hold_weeks_only_flags() -> None:
    surgery = Surgery(R.ABDOMEN, TODAY - timedelta(weeks=7), complications=True)
    plan = screen(onc(surgeries=(surgery,)), today=TODAY, visit_within_window=False)
    assert plan.action is Action.ALLOW_FLAG
    assert plan.site_rules == (
        SiteRule(R.ABDOMEN, Rule.GENTLE_ONLY, "row 6: surgery on 2026-04-27 (abdomen)"),
    )
    longer = ScreeningRules(surgery_hold_weeks=8)
    held = screen(onc(surgeries=(surgery,)), today=TODAY, visit_within_window=False, rules=longer)
    assert held.action is Action.HOLD


def test_platelet_count_unknown_during_chemotherapy_requires_clearance() -> None:
    answers = onc(chemotherapy=Chemotherapy(), platelets=Platelets(bruising_or_bleeding=True))
    plan = screen(answers, today=TODAY, visit_within_window=False)
    assert (plan.clearance, plan.action, plan.min_oncology_level) == (
        Clearance.REQUIRED,
        Action.HOLD,
        2,
    )
    moderate = onc(platelets=Platelets(count=90_000, measured_on=TODAY))
    plan = screen(moderate, today=TODAY, visit_within_window=False)
    assert (plan.clearance, plan.action) == (Clearance.ADVISED, Action.ALLOW_FLAG)


def test_lymphedema_in_an_excluded_area_needs_no_lymphedema_therapist() -> None:
    answers = replace(
        onc(lymphedema=Lymphedema(areas=(R.RIGHT_ARM,))),
        preferences=Preferences(areas_excluded=(R.RIGHT_ARM,)),
    )
    plan = screen(answers, today=TODAY, visit_within_window=False)
    assert not plan.lymphedema_needed
    assert plan.site_rules == (SiteRule(R.RIGHT_ARM, Rule.AVOID, "row 26: client preferences"),)


def test_suspected_clot_defers_with_a_contact_your_doctor_message() -> None:
    plan = screen(onc(clot=Clot(ClotStatus.SUSPECTED)), today=TODAY, visit_within_window=False)
    assert plan.action is Action.DEFER
    assert plan.client_message == PROMPTLY


def test_refused_contact_matters_only_when_clearance_is_required() -> None:
    refused = OncologyContact(name="Dr Ng", consent_to_contact=False)
    plan = screen(onc(contact=refused), today=TODAY, visit_within_window=False)
    assert (plan.action, plan.reasons) == (Action.ALLOW_FLAG, (R1,))


def test_a_normal_white_count_is_no_finding() -> None:
    normal = Answers(oncology=Oncology(neutropenia=Neutropenia(anc=4_000)))
    low = Answers(oncology=Oncology(neutropenia=Neutropenia(anc=1_200)))
    today = date(2026, 11, 27)
    assert not any(
        "row 16" in r for r in screen(normal, today=today, visit_within_window=False).reasons
    )
    assert any("row 16" in r for r in screen(low, today=today, visit_within_window=False).reasons)
