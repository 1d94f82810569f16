"""The demo's clients with signed health forms: one for each kind of situation in the
domain table (shared/domain/oncology.md), their answers and the visits they booked.

Answers are given as the client filled them in on the day they signed, relative to that day,
and completed with "no" to every other question they were shown (`complete_answers`). The
builder validates them against the current form, so a change to the form that the demo does
not follow fails the seeding loudly instead of storing answers nobody can read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from clinic.demo.data import CLINICAL_LEAD, LYMPHEDEMA_THERAPIST, PLAIN_THERAPIST
from clinic.errors import InvalidInput
from clinic.intake import forms

# The quietest answer to each required choice; any other choice takes its first option.
QUIET_CHOICES = {"phase": "survivorship", "clot": "none", "fatigue": "0"}


class DemoAnswersError(ValueError):
    """The demo's answers no longer fit the current form: update clinic/demo/intakes.py."""


def complete_answers(definition: forms.FormDefinition, given: Mapping[str, Any]) -> dict[str, Any]:
    """`given` plus "no" (or the quietest choice) to every other required question the
    client would be shown."""
    answers = dict(given)
    for section in definition.sections:
        if section.shown_if is not None and not section.shown_if.holds(answers):
            continue
        for q in section.questions:
            if q.id in answers or not q.required:
                continue
            if q.shown_if is not None and not q.shown_if.holds(answers):
                continue
            if q.kind is forms.Kind.YES_NO:
                answers[q.id] = False
            elif q.kind is forms.Kind.CHOICE:
                answers[q.id] = QUIET_CHOICES.get(q.id, q.options[0].value)
            else:
                raise DemoAnswersError(f"the demo must answer {q.id!r} ({q.kind.value})")
    return answers


def cleaned_answers(
    definition: forms.FormDefinition, given: Mapping[str, Any], signed_on: date
) -> dict[str, Any]:
    """The complete answers, validated as the form would on `signed_on`; any answer the form
    refuses or drops is an error."""
    raw = complete_answers(definition, given)
    try:
        cleaned = forms.validate(definition, raw, today=signed_on)
    except InvalidInput as refused:
        raise DemoAnswersError(f"the form refused demo answers: {refused.field_errors}") from None
    if cleaned != raw:
        dropped = sorted(k for k in raw if raw[k] != cleaned.get(k))
        raise DemoAnswersError(f"the form dropped or changed demo answers: {dropped}")
    return cleaned


@dataclass(frozen=True)
class Visit:
    therapist: str
    service: str
    # Days from today: negative for a past visit, 0 for today. A day the therapist does
    # not work (or the clinic is closed) moves to the nearest one that they do, away from
    # today for past visits and later for the others.
    days: int
    # The preferred local start; the nearest free time on the grid is taken.
    at: str = "11:00"


@dataclass(frozen=True)
class IntakeClient:
    name: str
    preferred_name: str
    pronouns: str
    age: int
    signed_days_ago: int
    # The answers as given on the day of signing (an argument, so dates follow it).
    answers: Callable[[date], dict[str, Any]]
    visits: tuple[Visit, ...]
    note: str = ""
    emergency_contact: str = ""
    # Booked by phone with only the "cancer history" gate answered; the health form came
    # later, through the booking's link, and asked for more than was booked: review.
    booked_before_intake_days_ago: int | None = None


def day(signed: date, days_before: int) -> str:
    return (signed - timedelta(days=days_before)).isoformat()


def _lymphedema_survivor(signed: date) -> dict[str, Any]:
    # Rows 6 (healed), 7 (left axilla), 8 (left arm), 10 (long finished), 12, 27.
    return {
        "cancer_history": True,
        "medicines": "Letrozole 2.5 mg daily",
        "diagnosis": "Breast cancer (left), stage II, 2022",
        "phase": "survivorship",
        "had_surgery": True,
        "surgeries": [
            {
                "site": "left_upper_trunk",
                "operation": "Lumpectomy and axillary node dissection",
                "on": day(signed, 1460),
                "incision_healed": True,
                "drains": False,
                "complications": False,
            }
        ],
        "lymph_nodes": True,
        "lymph_node_areas": ["left_axilla"],
        "lymphedema": True,
        "lymphedema_areas": ["left_arm"],
        "lymphedema_therapist": True,
        "lymphedema_sudden_change": False,
        "had_radiation": True,
        "radiation": [
            {
                "field": ["chest", "left_upper_trunk"],
                "started_on": day(signed, 1380),
                "ended_on": day(signed, 1345),
                "skin_reaction": False,
                "internal_seeds": False,
            }
        ],
        "hormone_therapy": True,
        "contact_consent": True,
        "oncology_contact_name": "Dr. Helen Marsh, Ridgeway Breast Center",
        "oncology_contact_phone": "(215) 555-0190",
        "goals": "Keep the swelling in my left arm down, and relax.",
    }


def _chemotherapy_with_port(signed: date) -> dict[str, Any]:
    # Rows 3 (in treatment), 9, 14 (port, right chest), 15-16 (recent normal counts).
    return {
        "cancer_history": True,
        "medicines": "Ondansetron when needed",
        "diagnosis": "Colon cancer, stage III",
        "phase": "in_treatment",
        "had_surgery": True,
        "surgeries": [
            {
                "site": "abdomen",
                "operation": "Right hemicolectomy",
                "on": day(signed, 130),
                "incision_healed": True,
                "drains": False,
                "complications": False,
            }
        ],
        "chemotherapy_now": True,
        "chemotherapy_drugs": "FOLFOX",
        "chemotherapy_last": day(signed, 5),
        "chemotherapy_next": day(signed, -9),
        "has_devices": True,
        "devices": [{"kind": "port", "location": "right_upper_trunk"}],
        "knows_counts": True,
        "blood_test_date": day(signed, 2),
        "platelet_count": 168_000,
        "anc": 2_300,
        "fatigue": "1",
        "contact_consent": True,
        "oncology_contact_name": "Dr. Alan Whitcomb, Northbank Oncology Associates",
        "goals": "Better sleep, and easing the aches from sitting through infusions.",
    }


def _bone_metastases(signed: date) -> dict[str, Any]:
    # Rows 3, 4 (lower back and sacrum: level 2, clearance required), 12, 20, 25, 27.
    return {
        "cancer_history": True,
        "bone_weakening_medicine": True,
        "medicines": "Leuprolide injections every three months; calcium and vitamin D",
        "diagnosis": "Prostate cancer, spread to the spine",
        "phase": "in_treatment",
        "bone_mets": True,
        "bone_mets_sites_known": True,
        "bone_mets_sites": ["lower_back", "sacrum"],
        "hormone_therapy": True,
        "has_pain": True,
        "pain": [{"region": "lower_back", "new_or_unexplained": False, "bone_or_night": True}],
        "contact_consent": True,
        "oncology_contact_name": "Dr. Ravi Menon, Eastfield Urology and Oncology",
        "oncology_contact_phone": "(215) 555-0193",
        "goals": "Relaxation; my back aches when I sit for long.",
    }


def _recent_surgery_with_drain(signed: date) -> dict[str, Any]:
    # G2 and rows 6 (twelve days ago, drain in place: hold) and 7 (right axilla).
    return {
        "cancer_history": True,
        "recent_injury": True,
        "recent_injury_areas": ["right_upper_trunk"],
        "diagnosis": "Breast cancer (right), stage I",
        "phase": "recovery",
        "had_surgery": True,
        "surgeries": [
            {
                "site": "right_upper_trunk",
                "operation": "Right mastectomy with sentinel node biopsy",
                "on": day(signed, 12),
                "incision_healed": False,
                "drains": True,
                "complications": False,
            }
        ],
        "lymph_nodes": True,
        "lymph_node_areas": ["right_axilla"],
        "contact_consent": True,
        "oncology_contact_name": "Dr. Priscilla Yoon, Ridgeway Breast Center",
        "goals": "My neck and left shoulder are stiff from sleeping propped up.",
    }


def _radiation_to_the_chest(signed: date) -> dict[str, Any]:
    # G2, rows 3, 7 (left axilla) and 10 (in progress: no lotion or heat on the field).
    return {
        "cancer_history": True,
        "recent_injury": True,
        "recent_injury_areas": ["left_upper_trunk"],
        "diagnosis": "Breast cancer (left), stage I",
        "phase": "in_treatment",
        "had_surgery": True,
        "surgeries": [
            {
                "site": "left_upper_trunk",
                "operation": "Lumpectomy with sentinel node biopsy",
                "on": day(signed, 70),
                "incision_healed": True,
                "drains": False,
                "complications": False,
            }
        ],
        "lymph_nodes": True,
        "lymph_node_areas": ["left_axilla"],
        "had_radiation": True,
        "radiation": [
            {
                "field": ["chest", "left_upper_trunk"],
                "started_on": day(signed, 12),
                "skin_reaction": False,
                "internal_seeds": False,
            }
        ],
        "contact_consent": False,
        "goals": "Help with tiredness and tight shoulders.",
    }


def _neuropathy_in_both_feet(signed: date) -> dict[str, Any]:
    # G7 and row 19 (both feet), after chemotherapy that has finished.
    return {
        "cancer_history": True,
        "reduced_sensation": True,
        "reduced_sensation_areas": ["left_foot", "right_foot"],
        "medicines": "Gabapentin at night",
        "diagnosis": "Non-Hodgkin lymphoma, in remission",
        "phase": "recovery",
        "neuropathy": True,
        "neuropathy_areas": ["left_foot", "right_foot"],
        "contact_consent": True,
        "oncology_contact_name": "Nurse Dana Ruiz, Lindenwood Cancer Institute",
        "goals": "Less tingling in my feet; I walk every day.",
    }


def _palliative_care(signed: date) -> dict[str, Any]:
    # Rows 2 (known site), 3 (palliative), 5 (liver, lung, breathless), 17, 25, 27.
    return {
        "cancer_history": True,
        "medicines": "Ondansetron when needed; iron tablets",
        "diagnosis": "Ovarian cancer, stage IV",
        "phase": "palliative",
        "tumors_now": True,
        "tumor_location_known": True,
        "tumor_sites": ["abdomen"],
        "organ_spread": ["lung", "liver"],
        "breathless": True,
        "had_surgery": True,
        "surgeries": [
            {
                "site": "abdomen",
                "operation": "Debulking surgery",
                "on": day(signed, 420),
                "incision_healed": True,
                "drains": False,
                "complications": False,
            }
        ],
        "anemia_symptoms": True,
        "has_pain": True,
        "pain": [{"region": "abdomen", "new_or_unexplained": False, "bone_or_night": False}],
        "contact_consent": True,
        "oncology_contact_name": "Joanne Pike RN, Greenway Palliative Care Team",
        "oncology_contact_phone": "(215) 555-0196",
        "fatigue": "1",
        "goals": "Comfort and rest; gentle work on my hands and feet.",
    }


def _pregnant(signed: date) -> dict[str, Any]:
    # G1: second trimester, not high risk; no cancer history.
    return {
        "cancer_history": False,
        "pregnant": True,
        "pregnancy_trimester": "2",
        "pregnancy_high_risk": False,
        "medicines": "Prenatal vitamins",
        "goals": "Ease my lower back ache.",
    }


def _no_concerns(signed: date) -> dict[str, Any]:
    return {
        "cancer_history": False,
        "goals": "Loosen my shoulders after long days at a desk.",
    }


def _transplant(signed: date) -> dict[str, Any]:
    # Row 13 (donor cells, immune-lowering medicine): level 2 and the transplant team's
    # clearance, which the level-1 therapist booked by phone does not meet.
    return {
        "cancer_history": True,
        "medicines": "Tacrolimus; acyclovir",
        "diagnosis": "Acute myeloid leukemia, in remission",
        "phase": "recovery",
        "transplant": True,
        "transplant_date": day(signed, 270),
        "transplant_donor": True,
        "gvhd_skin": False,
        "immunosuppressed": True,
        "contact_consent": True,
        "oncology_contact_name": "Dr. Lena Sorensen, Lindenwood Transplant Program",
        "goals": "Gentle relaxation; my legs feel heavy.",
    }


SENIOR_THERAPIST = "Naomi Okafor"  # level 4
LEVEL_TWO_THERAPIST = "Priya Raman"  # level 2
PRENATAL_THERAPIST = "Grace O'Connell"
GENERAL_THERAPIST = "Sam Whitaker"

INTAKE_CLIENTS: tuple[IntakeClient, ...] = (
    IntakeClient(
        "Gloria Abernathy",
        "",
        "she/her",
        age=63,
        signed_days_ago=24,
        answers=_lymphedema_survivor,
        visits=(
            Visit(LYMPHEDEMA_THERAPIST, "Manual lymphatic drainage, 60 min", -11, "09:00"),
            Visit(LYMPHEDEMA_THERAPIST, "Manual lymphatic drainage, 60 min", -4, "09:00"),
            Visit(LYMPHEDEMA_THERAPIST, "Manual lymphatic drainage, 60 min", 3, "09:00"),
            Visit(LYMPHEDEMA_THERAPIST, "Manual lymphatic drainage, 60 min", 10, "09:00"),
        ),
        note="Prefers early-morning appointments.",
        emergency_contact="Frank Abernathy",
    ),
    IntakeClient(
        "Peter Lindgren",
        "Pete",
        "he/him",
        age=58,
        signed_days_ago=4,
        answers=_chemotherapy_with_port,
        visits=(
            Visit(PLAIN_THERAPIST, "Oncology massage, 30 min", 0, "16:00"),
            Visit(PLAIN_THERAPIST, "Oncology massage, 30 min", 14, "16:00"),
        ),
        emergency_contact="Karin Lindgren",
    ),
    IntakeClient(
        "Harold Brennan",
        "Hal",
        "he/him",
        age=71,
        signed_days_ago=3,
        answers=_bone_metastases,
        visits=(Visit(SENIOR_THERAPIST, "Oncology massage, 30 min", 5, "10:00"),),
        note="Uses a cane; give him the ground-floor waiting chairs.",
        emergency_contact="Maureen Brennan",
    ),
    IntakeClient(
        "Yvonne Castellanos",
        "",
        "she/her",
        age=49,
        signed_days_ago=2,
        answers=_recent_surgery_with_drain,
        visits=(Visit(LEVEL_TWO_THERAPIST, "Oncology massage, 60 min", 4, "13:00"),),
        emergency_contact="Luis Castellanos",
    ),
    IntakeClient(
        "Lorraine Fitch",
        "Lori",
        "she/her",
        age=54,
        signed_days_ago=13,
        answers=_radiation_to_the_chest,
        visits=(
            Visit(CLINICAL_LEAD, "Oncology massage, 30 min", -7, "15:00"),
            Visit(CLINICAL_LEAD, "Oncology massage, 30 min", 0, "15:00"),
        ),
        note="Comes straight from another appointment; may run a few minutes late.",
    ),
    IntakeClient(
        "Walter Zielinski",
        "Walt",
        "he/him",
        age=67,
        signed_days_ago=20,
        answers=_neuropathy_in_both_feet,
        visits=(
            Visit(PLAIN_THERAPIST, "Oncology massage, 60 min", -9, "13:00"),
            Visit(PLAIN_THERAPIST, "Oncology massage, 60 min", 6, "13:00"),
        ),
    ),
    IntakeClient(
        "Irene Holloway",
        "",
        "she/her",
        age=69,
        signed_days_ago=16,
        answers=_palliative_care,
        visits=(
            Visit(SENIOR_THERAPIST, "Comfort touch, 30 min", -6, "11:00"),
            Visit(SENIOR_THERAPIST, "Comfort touch, 30 min", 4, "11:00"),
        ),
        note="Her son drives her; he waits in the lobby.",
        emergency_contact="Simon Holloway",
    ),
    IntakeClient(
        "Camille Duarte",
        "",
        "she/her",
        age=31,
        signed_days_ago=15,
        answers=_pregnant,
        visits=(
            Visit(PRENATAL_THERAPIST, "Prenatal massage, 60 min", -8, "14:00"),
            Visit(PRENATAL_THERAPIST, "Prenatal massage, 60 min", 6, "14:00"),
        ),
    ),
    IntakeClient(
        "Owen Prescott",
        "",
        "he/him",
        age=38,
        signed_days_ago=18,
        answers=_no_concerns,
        visits=(
            Visit(GENERAL_THERAPIST, "Deep tissue massage, 60 min", -5, "12:00"),
            Visit(GENERAL_THERAPIST, "Swedish massage, 60 min", 2, "12:00"),
        ),
    ),
    IntakeClient(
        "Graham Whitley",
        "",
        "he/him",
        age=46,
        signed_days_ago=1,
        answers=_transplant,
        visits=(Visit(PLAIN_THERAPIST, "Oncology massage, 60 min", 8, "14:00"),),
        booked_before_intake_days_ago=6,
        emergency_contact="Claire Whitley",
    ),
)
