"""Intake form definitions as data: loading and hashing, validation by path, HTML posts, the
screening answers and the plain-words summary; old versions stay readable; a fuzz of validate."""

from __future__ import annotations

import contextlib
import copy
import json
import shutil
from dataclasses import MISSING, fields, is_dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, get_args, get_type_hints

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinic import clock
from clinic.errors import InvalidInput
from clinic.intake import answers as answers_module
from clinic.intake import forms
from clinic.intake.answers import (
    Allergy,
    Answers,
    BoneMets,
    Chemotherapy,
    ClotStatus,
    DeviceKind,
    Fatigue,
    Lymphedema,
    NodeRegion,
    OncologyContact,
    Organ,
    Phase,
    Platelets,
    Pregnancy,
    Region,
    SkinKind,
    Surgery,
)
from clinic.intake.forms import (
    FormDefinition,
    FormDefinitionError,
    FormLibrary,
    Kind,
    Question,
    ReadableItem,
    UnknownForm,
    field_name,
    field_name_for_path,
    parse_form,
    readable,
    to_answers,
    validate,
)
from clinic.intake.screening import Action, Clearance, screen

TODAY = date(2026, 11, 20)
D = forms.current()
FILE = forms.FORMS_DIR / "intake-2026-11.json"
# Published: answers are stored beside this hash. Change the file's meaning only by adding a
# new version (intake-YYYY-MM.json) beside it.
HASH_2026_11 = "6670e423d7406c5f82067f1b2fca37a18ed480a85d3da3152dbf3c9e9adb22dc"


def _no_to_required(section: str) -> list[tuple[str, str]]:
    """'no' to every required yes/no question of a section that is always shown."""
    (s,) = (s for s in D.sections if s.id == section)
    return [
        (q.id, "no")
        for q in s.questions
        if q.kind is Kind.YES_NO and q.required and q.shown_if is None
    ]


GENERAL = _no_to_required("general")
TODAY_FIELDS = [*_no_to_required("today"), ("fatigue", "0")]
ONCOLOGY = [
    *_no_to_required("oncology"),
    ("phase", "survivorship"),
    ("clot", "none"),
    ("contact_consent", "yes"),
    ("oncology_contact_name", "Dr Ng, City Cancer Centre"),
    ("oncology_contact_phone", "416 555 0100"),
]


def post(*changes: tuple[str, str], cancer: bool = True) -> list[tuple[str, str]]:
    """An HTML post of a client with nothing to report, with ``changes`` replacing those names."""
    base = [("csrf_token", "abc"), *GENERAL, *TODAY_FIELDS, *(ONCOLOGY if cancer else [])]
    base = [*base, ("cancer_history", "yes" if cancer else "no")]
    names = {name for name, _ in changes}
    return [(n, v) for n, v in base if n not in names] + list(changes)


def cleaned_of(fields_: list[tuple[str, str]], definition: FormDefinition = D) -> dict[str, Any]:
    return validate(definition, parse_form(definition, fields_), today=TODAY)


def errors_of(submitted: Any, definition: FormDefinition = D) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        validate(definition, submitted, today=TODAY)
    assert caught.value.message == "Check the highlighted answers."
    return caught.value.field_errors


# --- The definition -----------------------------------------------------------------------


def test_the_shipped_definition_loads_with_the_gate_first() -> None:
    assert (D.form, D.version, D.consent.version) == ("intake", "2026-11", "2026-11")
    assert "not medical advice" in D.consent.text
    assert [s.id for s in D.sections] == ["general", "oncology", "today", "preferences"]
    gate = D.sections[0].questions[0]
    assert (gate.id, gate.kind, gate.row, gate.required) == (
        forms.GATE_QUESTION,
        Kind.YES_NO,
        "1",
        True,
    )
    assert gate.label == "Have you ever had cancer, or are you being treated for it now?"
    assert D.sections[1].shown_if == forms.Condition(forms.GATE_QUESTION, True)
    assert forms.by_hash(D.hash) is D
    assert D.raw["version"] == "2026-11"


def test_the_published_hash_is_pinned() -> None:
    assert D.hash == HASH_2026_11, "a published form changed: add a new version file instead"
    assert D.hash == forms.canonical_hash(json.loads(FILE.read_text(encoding="utf-8")))


def test_every_domain_row_has_a_question() -> None:
    rows = {q.row for q in D.questions()}
    assert rows == {str(n) for n in range(1, 28)} | {f"G{n}" for n in range(1, 12)}


def test_medical_terms_are_explained() -> None:
    picc = D.question("devices").questions[0].option("picc")
    assert picc is not None
    assert picc.label == "PICC line (a thin tube in your arm for treatment)"
    assert picc.summary == "PICC line"
    for term in ("lymphedema", "lymph_nodes", "white_count_low", "platelets_low", "gvhd_skin"):
        assert D.question(term).help, term
    for q in D.questions():
        for sub in (q, *q.questions):
            assert sub.label.strip(), sub.id
            assert len(sub.label) <= 120, sub.id


def test_option_values_are_the_enum_values_screening_reads() -> None:
    sets = {name: [o["value"] for o in options] for name, options in D.raw["option_sets"].items()}
    assert sets == {
        "region": [r.value for r in Region],
        "trimester": ["1", "2", "3"],
        "allergy": [a.value for a in Allergy],
        "phase": [p.value for p in Phase],
        "organ": [o.value for o in Organ],
        "node_region": [n.value for n in NodeRegion],
        "device": [d.value for d in DeviceKind],
        "clot": ["none", *(c.value for c in ClotStatus)],
        "skin_kind": [k.value for k in SkinKind],
        "fatigue": [str(f.value) for f in Fatigue],
    }


def test_the_hash_ignores_formatting_but_not_meaning(tmp_path: Path) -> None:
    data = json.loads(FILE.read_text(encoding="utf-8"))
    (tmp_path / FILE.name).write_text(json.dumps(data, indent=7, sort_keys=True))
    assert FormLibrary.load(tmp_path).current().hash == D.hash

    changed = copy.deepcopy(data)
    changed["sections"][0]["questions"][1]["label"] = "Are you pregnant now?"
    (tmp_path / FILE.name).write_text(json.dumps(changed))
    assert FormLibrary.load(tmp_path).current().hash not in (D.hash, "")
    changed = copy.deepcopy(data)
    changed["sections"][0]["questions"][1]["required"] = False
    (tmp_path / FILE.name).write_text(json.dumps(changed))
    assert FormLibrary.load(tmp_path).current().hash != D.hash


def test_unknown_hash() -> None:
    with pytest.raises(UnknownForm):
        forms.by_hash("0" * 64)


def _broken(change: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FILE.read_text(encoding="utf-8"))
    change(data)
    return data


def _general(data: dict[str, Any]) -> list[dict[str, Any]]:
    questions: list[dict[str, Any]] = data["sections"][0]["questions"]
    return questions


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda d: _general(d)[1].update(lable="x"), id="unknown key"),
        pytest.param(lambda d: _general(d)[1].update(kind="slider"), id="unknown kind"),
        pytest.param(lambda d: _general(d)[1].update(options=["x"]), id="options on yes_no"),
        pytest.param(lambda d: _general(d)[1].update(id="cancer_history"), id="duplicate id"),
        pytest.param(lambda d: _general(d)[1].pop("row"), id="no row"),
        pytest.param(lambda d: _general(d).pop(0), id="gate missing"),
        pytest.param(
            lambda d: _general(d)[1].update(shown_if={"question": "minor", "equals": True}),
            id="condition on a later question",
        ),
        pytest.param(
            lambda d: _general(d)[1].update(shown_if={"question": "cancer_history", "equals": 1}),
            id="condition value of the wrong type",
        ),
        pytest.param(
            lambda d: _general(d)[2].update(options="trimesters"), id="unknown option set"
        ),
        pytest.param(lambda d: d.update(version="November"), id="version"),
        pytest.param(
            lambda d: d["sections"][1]["questions"][11]["questions"].append(
                copy.deepcopy(d["sections"][1]["questions"][11])
            ),
            id="group in a group",
        ),
    ],
)
def test_malformed_definitions_are_refused(change: Any) -> None:
    with pytest.raises(FormDefinitionError):
        forms.parse_definition(_broken(change))


def test_a_file_is_named_after_its_version(tmp_path: Path) -> None:
    shutil.copy(FILE, tmp_path / "intake-2026-12.json")
    with pytest.raises(FormDefinitionError):
        FormLibrary.load(tmp_path)


# --- Every screening field is reachable ---------------------------------------------------


def _leaf_paths(cls: type, prefix: str = "") -> set[str]:
    hints = get_type_hints(cls, vars(answers_module))
    out: set[str] = set()
    for f in fields(cls):
        inner = [t for t in (hints[f.name], *get_args(hints[f.name])) if is_dataclass(t)]
        if inner:
            assert isinstance(inner[0], type)
            out |= _leaf_paths(inner[0], f"{prefix}{f.name}.")
        else:
            out.add(prefix + f.name)
    return out


def _set_paths(obj: Any, prefix: str = "") -> set[str]:
    """The leaf fields of ``obj`` that hold something other than their default."""
    out: set[str] = set()
    for f in fields(obj):
        value = getattr(obj, f.name)
        items = value if isinstance(value, tuple) else (value,)
        if items and all(is_dataclass(v) for v in items):
            for item in items:
                out |= _set_paths(item, f"{prefix}{f.name}.")
            continue
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        if default is MISSING or value != default:
            out.add(prefix + f.name)
    return out


EVERYTHING = post(
    *[(q.id, "yes") for q in D.questions() if q.kind is Kind.YES_NO],
    ("pregnancy_trimester", "3"),
    ("recent_injury_areas", "right_leg"),
    ("skin_concern_areas", "left_foot"),
    ("reduced_sensation_areas", "right_foot"),
    ("inflamed_joint_areas", "left_hand"),
    ("allergies", "latex"),
    ("implant_areas", "right_leg"),
    ("phase", "in_treatment"),
    ("tumor_sites", "abdomen"),
    ("bone_mets_sites", "lower_back"),
    ("organ_spread", "lung"),
    ("surgeries-0-site", "left_upper_trunk"),
    ("surgeries-0-on", "2026-10-01"),
    ("surgeries-0-incision_healed", "no"),
    ("surgeries-0-drains", "yes"),
    ("surgeries-0-complications", "yes"),
    ("lymph_node_areas", "left_axilla"),
    ("lymphedema_areas", "left_arm"),
    ("chemotherapy_last", "2026-11-17"),
    ("chemotherapy_next", "2026-12-08"),
    ("radiation-0-field", "chest"),
    ("radiation-0-started_on", "2026-08-01"),
    ("radiation-0-ended_on", "2026-09-15"),
    ("radiation-0-skin_reaction", "yes"),
    ("radiation-0-internal_seeds", "yes"),
    ("transplant_date", "2025-01-10"),
    ("gvhd_skin_areas", "upper_back"),
    ("devices-0-kind", "port"),
    ("devices-0-location", "right_upper_trunk"),
    ("blood_test_date", "2026-11-18"),
    ("platelet_count", "40,000"),
    ("anc", "400"),
    ("clot", "history"),
    ("clot_treatment_ended", "2026-02-01"),
    ("neuropathy_areas", "left_foot"),
    ("skin_problems-0-kind", "rash"),
    ("skin_problems-0-regions", "neck"),
    ("pain-0-region", "sacrum"),
    ("pain-0-new_or_unexplained", "yes"),
    ("pain-0-bone_or_night", "yes"),
    ("fatigue", "3"),
    ("areas_excluded", "head"),
)
UNKNOWNS = post(
    ("tumors_now", "yes"),
    ("tumor_location_known", "no"),
    ("bone_mets", "yes"),
    ("bone_mets_sites_known", "no"),
)


def test_every_answers_field_is_reachable_from_some_question() -> None:
    reached = set()
    for client in (EVERYTHING, UNKNOWNS):
        reached |= _set_paths(to_answers(D, cleaned_of(client)))
    assert _leaf_paths(Answers) - reached == set()


# --- Validation ---------------------------------------------------------------------------


def test_errors_are_keyed_by_path_in_plain_words() -> None:
    raw = parse_form(
        D,
        post(
            ("had_surgery", "yes"),
            ("surgeries-0-site", "left_upper_trunk"),
            ("surgeries-0-on", "2 Sept"),
            ("surgeries-0-incision_healed", "yes"),
            ("surgeries-1-site", "elbow"),
            ("surgeries-1-on", "2027-01-01"),
            ("surgeries-1-incision_healed", "maybe"),
            ("chemotherapy_now", "yes"),
            ("chemotherapy_last", "last week"),
            ("knows_counts", "yes"),
            ("platelet_count", "40.5"),
            ("lymph_nodes", "yes"),
            ("oncology_contact_name", ""),
            ("goals", "x" * 501),
        ),
    )
    raw["shoe_size"] = 9
    raw["surgeries"][0]["colour"] = "blue"
    assert errors_of(raw) == {
        "shoe_size": "This question is not on the form. Reload the page and try again.",
        "surgeries.0.on": "Enter the date of the operation, like 2026-11-02",
        "surgeries.0.drains": "Choose yes or no",
        "surgeries.0.complications": "Choose yes or no",
        "surgeries.0.colour": "This question is not on the form. Reload the page and try again.",
        "surgeries.1.site": "Choose where the operation was",
        "surgeries.1.on": "Enter a date that is today or in the past",
        "surgeries.1.incision_healed": "Choose yes or no",
        "surgeries.1.drains": "Choose yes or no",
        "surgeries.1.complications": "Choose yes or no",
        "chemotherapy_last": "Enter the date of your last infusion, like 2026-11-02",
        "blood_test_date": "Enter the date of the blood test, like 2026-11-02",
        "platelet_count": "Enter a whole number between 0 and 2,000,000",
        "lymph_node_areas": "Choose at least one place",
        "oncology_contact_name": "Enter the name of your oncologist or cancer nurse",
        "goals": "Write 500 characters or fewer",
    }


def test_an_empty_submission_asks_for_every_shown_required_question() -> None:
    errors = errors_of({})
    assert errors["cancer_history"] == "Choose yes or no"
    assert "phase" not in errors  # the oncology section is not shown yet
    assert errors["fatigue"] == "Choose one answer"
    assert not {"allergies", "goals"} & set(errors)  # optional


@pytest.mark.parametrize("submitted", [None, [], "answers", 3])
def test_answers_must_be_an_object(submitted: Any) -> None:
    with pytest.raises(InvalidInput, match="JSON object"):
        validate(D, submitted, today=TODAY)


def test_hidden_answers_are_dropped() -> None:
    raw = parse_form(D, post(cancer=False))
    raw |= {
        "phase": "in_treatment",
        "bone_mets": True,
        "surgeries": [{"site": "nowhere"}],
        "pregnancy_trimester": "2",
        "guardian_consent": "not even a boolean",
    }
    cleaned = validate(D, raw, today=TODAY)
    assert cleaned[forms.GATE_QUESTION] is False
    hidden = ("phase", "bone_mets", "surgeries", "pregnancy_trimester", "guardian_consent")
    assert not set(hidden) & set(cleaned)
    assert to_answers(D, cleaned).oncology is None


def test_cleaned_values_are_json_of_the_documented_types() -> None:
    cleaned = cleaned_of(EVERYTHING)
    assert json.loads(json.dumps(cleaned)) == cleaned
    assert cleaned["platelet_count"] == 40_000
    assert cleaned["chemotherapy_last"] == "2026-11-17"
    assert cleaned["pregnant"] is True
    assert cleaned["surgeries"] == [
        {
            "site": "left_upper_trunk",
            "on": "2026-10-01",
            "incision_healed": False,
            "drains": True,
            "complications": True,
        }
    ]
    raw = parse_form(D, EVERYTHING) | {"allergies": ["scent", "oils", "scent", " latex "]}
    assert validate(D, raw, today=TODAY)["allergies"] == ["oils", "latex", "scent"]
    assert validate(D, cleaned, today=TODAY) == cleaned  # stored answers validate unchanged


def test_text_is_trimmed_and_control_characters_removed() -> None:
    raw = parse_form(D, post()) | {"goals": "  Sleep\x00 better\r\nand relax\t \x07"}
    assert validate(D, raw, today=TODAY)["goals"] == "Sleep better\nand relax"
    assert "goals" not in validate(D, raw | {"goals": "\x00\x01"}, today=TODAY)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("40,000", 40_000), (" 40 000 ", 40_000), (40000, 40_000), (40000.0, 40_000), ("0", 0)],
)
def test_whole_numbers(value: Any, expected: int) -> None:
    raw = parse_form(D, post(("knows_counts", "yes"), ("blood_test_date", "2026-11-18")))
    assert validate(D, raw | {"platelet_count": value}, today=TODAY)["platelet_count"] == expected


@pytest.mark.parametrize("value", ["40.5", 40.5, True, "-1", 2_000_001, "1e5", "forty", [40]])
def test_not_whole_numbers_in_range(value: Any) -> None:
    raw = parse_form(D, post(("knows_counts", "yes"), ("blood_test_date", "2026-11-18")))
    assert errors_of(raw | {"platelet_count": value}) == {
        "platelet_count": "Enter a whole number between 0 and 2,000,000"
    }


def test_dates_of_past_events_cannot_be_in_the_future_but_next_infusion_can() -> None:
    chemo = post(("chemotherapy_now", "yes"), ("chemotherapy_next", "2026-12-01"))
    assert cleaned_of(chemo)["chemotherapy_next"] == "2026-12-01"
    future = post(("chemotherapy_now", "yes"), ("chemotherapy_last", "2026-11-21"))
    assert errors_of(parse_form(D, future)) == {
        "chemotherapy_last": "Enter a date that is today or in the past"
    }
    backwards = post(
        ("chemotherapy_now", "yes"),
        ("chemotherapy_last", "2026-11-17"),
        ("chemotherapy_next", "2026-11-10"),
    )
    assert errors_of(parse_form(D, backwards)) == {
        "chemotherapy_next": "Enter a date on or after 17 November 2026"
    }
    for bad in ("2026-02-30", "1850-01-01", "20261102", "٢٠٢٦-١١-٠٢"):
        assert errors_of(
            parse_form(D, post(("chemotherapy_now", "yes"))) | {"chemotherapy_last": bad}
        ) == {"chemotherapy_last": "Enter the date of your last infusion, like 2026-11-02"}


def test_without_today_no_past_date_is_refused_anywhere_on_earth() -> None:
    raw = parse_form(D, post(("chemotherapy_now", "yes")))
    with clock.frozen_at(datetime(2026, 11, 20, 12, 0, tzinfo=UTC)):
        # Kiritimati (UTC+14) is already on 21 November.
        assert validate(D, raw | {"chemotherapy_last": "2026-11-21"})
        with pytest.raises(InvalidInput):
            validate(D, raw | {"chemotherapy_last": "2026-11-22"})


def test_group_entries_are_capped() -> None:
    raw = parse_form(D, post(("has_pain", "yes")))
    pain = [{"region": "neck", "new_or_unexplained": False, "bone_or_night": False}]
    assert len(validate(D, raw | {"pain": pain * 10}, today=TODAY)["pain"]) == 10
    assert errors_of(raw | {"pain": pain * 11}) == {
        "pain": "You can add up to 10. Tell your therapist about any others at your visit"
    }
    assert errors_of(raw | {"pain": [{}, {"region": ""}]}) == {
        "pain": "Add at least one place that hurts"
    }
    assert errors_of(raw | {"pain": ["neck"]}) == {"pain.0": "Answer the questions for this entry"}


def test_choices_must_be_offered() -> None:
    raw = parse_form(D, post())
    assert errors_of(raw | {"phase": "cured"}) == {"phase": "Choose one of the answers shown"}
    assert errors_of(raw | {"areas_excluded": ["head", "tail"]}) == {
        "areas_excluded": "Choose from the answers shown"
    }
    assert errors_of(raw | {"areas_excluded": "head"}) == {
        "areas_excluded": "Choose from the answers shown"
    }
    assert errors_of(raw | {"cough": "no"}) == {"cough": "Choose yes or no"}


# --- HTML posts ---------------------------------------------------------------------------


def test_field_names() -> None:
    assert field_name("pregnant") == "pregnant"
    assert field_name("surgeries", 0, "site") == "surgeries-0-site"
    assert field_name_for_path("surgeries.0.site") == "surgeries-0-site"
    with pytest.raises(ValueError, match="both"):
        field_name("surgeries", 0)


def test_parse_form_reads_an_html_post() -> None:
    fields_ = [
        ("csrf_token", "abc"),
        ("cancer_history", "yes"),
        ("pregnant", "no"),
        ("diagnosis", "  "),
        ("areas_excluded", ""),
        ("areas_excluded", "head"),
        ("areas_excluded", "left_foot"),
        ("platelet_count", "40,000"),
        ("cough", "perhaps"),
        ("surgeries-3-site", "chest"),
        ("surgeries-3-incision_healed", "yes"),
        ("surgeries-0-site", ""),
        ("surgeries-0-on", ""),
        ("surgeries-1-site", "abdomen"),
        ("surgeries-1-unknown", "x"),
        ("radiation-0-field", ""),
    ]
    assert parse_form(D, fields_) == {
        "cancer_history": True,
        "pregnant": False,
        "areas_excluded": ["head", "left_foot"],
        "platelet_count": "40,000",
        "cough": "perhaps",
        "surgeries": [{"site": "abdomen"}, {"site": "chest", "incision_healed": True}],
    }


# --- Realistic clients: post -> validate -> to_answers -> screen -----------------------------


def test_nodes_removed_in_the_left_armpit_with_lymphedema_in_the_left_arm() -> None:
    client = post(
        ("had_surgery", "yes"),
        ("surgeries-0-site", "left_upper_trunk"),
        ("surgeries-0-operation", "Lumpectomy"),
        ("surgeries-0-on", "2026-09-02"),
        ("surgeries-0-incision_healed", "yes"),
        ("surgeries-0-drains", "no"),
        ("surgeries-0-complications", "no"),
        ("lymph_nodes", "yes"),
        ("lymph_node_areas", "left_axilla"),
        ("lymphedema", "yes"),
        ("lymphedema_areas", "left_arm"),
        ("lymphedema_therapist", "yes"),
        ("lymphedema_sudden_change", "no"),
        ("hormone_therapy", "yes"),
    )
    answers = to_answers(D, cleaned_of(client))
    o = answers.oncology
    assert o is not None
    assert o.nodes == (NodeRegion.LEFT_AXILLA,)
    assert o.lymphedema == Lymphedema((Region.LEFT_ARM,), sees_lymphedema_therapist=True)
    assert o.surgeries == (Surgery(Region.LEFT_UPPER_TRUNK, date(2026, 9, 2)),)
    assert o.contact == OncologyContact("Dr Ng, City Cancer Centre", consent_to_contact=True)
    assert (o.platelets, o.neutropenia, o.clot, o.bones) == (None, None, None, None)
    plan = screen(answers, today=TODAY, visit_within_window=True)
    assert plan.lymphedema_needed
    assert plan.action is Action.ALLOW_FLAG
    assert "row 7: lymph nodes removed or radiated: left_axilla" in plan.reasons


def test_bone_metastasis_and_chemotherapy_with_a_low_recent_platelet_count() -> None:
    three_days_ago = (TODAY - timedelta(days=3)).isoformat()
    client = post(
        ("phase", "in_treatment"),
        ("bone_mets", "yes"),
        ("bone_mets_sites_known", "yes"),
        ("bone_mets_sites", "lower_back"),
        ("chemotherapy_now", "yes"),
        ("chemotherapy_drugs", "Docetaxel"),
        ("chemotherapy_last", "2026-11-10"),
        ("has_devices", "yes"),
        ("devices-0-kind", "port"),
        ("devices-0-location", "right_upper_trunk"),
        ("platelets_low", "yes"),
        ("knows_counts", "yes"),
        ("blood_test_date", three_days_ago),
        ("platelet_count", "40,000"),
    )
    answers = to_answers(D, cleaned_of(client))
    o = answers.oncology
    assert o is not None
    assert o.bone_mets == BoneMets((Region.LOWER_BACK,))
    assert o.chemotherapy == Chemotherapy(last_infusion=date(2026, 11, 10))
    assert o.platelets == Platelets(40_000, TODAY - timedelta(days=3), low_reported=True)
    plan = screen(answers, today=TODAY, visit_within_window=True)
    assert (plan.action, plan.clearance, plan.min_oncology_level) == (
        Action.HOLD,
        Clearance.REQUIRED,
        2,
    )
    assert "row 15: bleeding risk" in plan.clearance_reasons


def test_no_cancer_history_but_pregnant_in_the_second_trimester() -> None:
    client = post(
        ("pregnant", "yes"),
        ("pregnancy_trimester", "2"),
        ("pregnancy_high_risk", "no"),
        ("phase", "in_treatment"),  # left over from a Back click: hidden, so dropped
        cancer=False,
    )
    cleaned = cleaned_of(client)
    assert "phase" not in cleaned
    answers = to_answers(D, cleaned)
    assert answers.oncology is None
    assert answers.general.pregnancy == Pregnancy(trimester=2)
    plan = screen(answers, today=TODAY, visit_within_window=True)
    assert (plan.action, plan.min_oncology_level) == (Action.ALLOW_FLAG, None)
    assert plan.reasons == ("G1: pregnant, trimester 2",)


def test_a_client_with_nothing_to_report() -> None:
    answers = to_answers(D, cleaned_of(post(cancer=False)))
    assert answers == Answers()


# --- Readable answers ---------------------------------------------------------------------


def test_readable_says_the_answers_in_plain_words() -> None:
    client = post(
        ("had_surgery", "yes"),
        ("surgeries-0-site", "left_upper_trunk"),
        ("surgeries-0-on", "2026-09-02"),
        ("surgeries-0-incision_healed", "yes"),
        ("surgeries-0-drains", "no"),
        ("surgeries-0-complications", "no"),
        ("surgeries-1-site", "abdomen"),
        ("surgeries-1-operation", "Bowel resection"),
        ("surgeries-1-on", "2026-10-20"),
        ("surgeries-1-incision_healed", "no"),
        ("surgeries-1-drains", "yes"),
        ("surgeries-1-complications", "no"),
        ("had_radiation", "yes"),
        ("radiation-0-field", "left_arm"),
        ("radiation-0-field", "left_upper_trunk"),
        ("radiation-0-started_on", "2026-06-01"),
        ("radiation-0-skin_reaction", "yes"),
        ("radiation-0-internal_seeds", "no"),
        ("has_devices", "yes"),
        ("devices-0-kind", "picc"),
        ("devices-0-location", "left_arm"),
        ("knows_counts", "yes"),
        ("blood_test_date", "2026-11-17"),
        ("platelet_count", "140000"),
        ("allergies", "nuts"),
        ("allergies", "scent"),
        ("goals", "Sleep better"),
    )
    sections = readable(D, cleaned_of(client))
    assert [s.title for s in sections] == [
        "Your health",
        "Cancer and its treatment",
        "How you are today",
        "Your massage",
    ]
    general, oncology, today, preferences = (dict_of(s.items) for s in sections)
    assert general["Have you ever had cancer, or are you being treated for it now?"] == ["Yes"]
    assert general["Are you allergic or sensitive to any of these?"] == [
        "Nuts (some oils are made from nuts), Scents or perfumes"
    ]
    assert "Where on your body?" not in general  # not shown, so not answered
    assert oncology["Surgery"] == [
        "Left upper body, 2 September 2026, healed",
        "Belly (abdomen), Bowel resection, 20 October 2026, not healed yet, drain in place",
    ]
    assert oncology["Radiation"] == [
        "Left upper body and left arm, from 1 June 2026, skin reaction now"
    ]
    assert oncology["Device"] == ["PICC line, left arm"]
    assert oncology["When was the blood test?"] == ["17 November 2026"]
    assert oncology["What was your platelet count?"] == ["140,000"]
    assert oncology["Where are you with your treatment?"] == [
        "Finished treatment and living beyond cancer"
    ]
    assert today["How tired do you feel today?"] == ["Not tired"]
    assert preferences == {"What would you like from your massage?": ["Sleep better"]}


def dict_of(items: list[ReadableItem]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items:
        out.setdefault(item.label, []).append(item.text)
    return out


# --- An older version stays readable ------------------------------------------------------

OLD = {
    "form": "intake",
    "version": "2026-05",
    "title": "Health questions",
    "consent": {"version": "2026-05", "text": "True to the best of my knowledge."},
    "sections": [
        {
            "id": "general",
            "title": "Your health",
            "intro": "",
            "questions": [
                {
                    "id": "cancer_history",
                    "row": "1",
                    "kind": "yes_no",
                    "label": "Have you had cancer?",
                    "required": True,
                },
                {
                    "id": "massage_before",
                    "row": "26",
                    "kind": "yes_no",
                    "label": "Have you had a massage before?",
                    "required": True,
                },
                {
                    "id": "pregnant",
                    "row": "G1",
                    "kind": "yes_no",
                    "label": "Are you pregnant?",
                    "required": True,
                },
            ],
        },
        {
            "id": "oncology",
            "title": "Cancer",
            "intro": "",
            "shown_if": {"question": "cancer_history", "equals": True},
            "questions": [
                {
                    "id": "lymph_node_areas",
                    "row": "7",
                    "kind": "multi",
                    "label": "Were lymph nodes taken out?",
                    "required": False,
                    "options": [
                        {"value": "left_axilla", "label": "Left armpit"},
                        {"value": "right_axilla", "label": "Right armpit"},
                    ],
                }
            ],
        },
    ],
}


def test_an_older_version_stays_readable(tmp_path: Path) -> None:
    shutil.copy(FILE, tmp_path / FILE.name)
    (tmp_path / "intake-2026-05.json").write_text(json.dumps(OLD, indent=2))
    library = FormLibrary.load(tmp_path)
    old = library.by_hash(forms.canonical_hash(OLD))
    assert (old.version, library.current().version) == ("2026-05", "2026-11")
    assert library.by_hash(D.hash).version == "2026-11"

    stored = validate(
        old,
        {
            "cancer_history": True,
            "massage_before": True,
            "pregnant": True,
            "lymph_node_areas": ["left_axilla"],
        },
        today=TODAY,
    )
    read = library.by_hash(old.hash)
    answers = to_answers(read, stored)
    assert answers.oncology is not None
    assert answers.oncology.nodes == (NodeRegion.LEFT_AXILLA,)
    assert answers.oncology.contact is None
    # Pregnant, with no trimester asked: read as the most cautious one.
    assert answers.general.pregnancy == Pregnancy(trimester=1)
    assert to_answers(D, stored).oncology == answers.oncology  # newer code, old answers
    assert [(s.title, dict_of(s.items)) for s in readable(read, stored)] == [
        (
            "Your health",
            {
                "Have you had cancer?": ["Yes"],
                "Have you had a massage before?": ["Yes"],
                "Are you pregnant?": ["Yes"],
            },
        ),
        ("Cancer", {"Were lymph nodes taken out?": ["Left armpit"]}),
    ]
    plan = screen(answers, today=TODAY, visit_within_window=False)
    assert plan.min_oncology_level == 1


# --- Fuzz ---------------------------------------------------------------------------------


def _ids(questions: tuple[Question, ...]) -> list[str]:
    return [i for q in questions for i in (q.id, *_ids(q.questions))]


ALL_IDS = _ids(tuple(D.questions()))
WORDS = sorted(
    {o.value for q in D.questions() for s in (q, *q.questions) for o in s.options}
    | {"yes", "no", "2026-11-02", "2026-02-30", "9999-12-31", "40,000", "-0", "", " "}
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(WORDS)
)
KEYS = st.sampled_from(ALL_IDS) | st.text(max_size=8)
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)


def _plausible(q: Question) -> st.SearchStrategy[Any]:
    """Mostly valid answers to ``q``, so that validation often gets all the way through."""
    if q.kind is Kind.YES_NO:
        return st.booleans()
    values = [o.value for o in q.options]
    if q.kind is Kind.CHOICE:
        return st.sampled_from(values)
    if q.kind is Kind.MULTI:
        return st.lists(st.sampled_from(values), min_size=int(q.required), max_size=3)
    if q.kind is Kind.DATE:
        return st.dates(date(2000, 1, 1), TODAY).map(date.isoformat)
    if q.kind is Kind.INTEGER:
        return st.integers(q.min or 0, q.max or 0)
    if q.kind is Kind.TEXT:
        return st.text(max_size=30).map(lambda text: text + "x" if q.required else text)
    return st.lists(_answers_to(q.questions), min_size=1, max_size=3)


def _answers_to(questions: tuple[Question, ...]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {q.id: _plausible(q) for q in questions if q.required},
        optional={q.id: _plausible(q) for q in questions if not q.required},
    )


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.dictionaries(KEYS, JSONISH, max_size=30) | JSONISH)
def test_arbitrary_json_only_ever_raises_invalid_input(submitted: Any) -> None:
    messages: list[str] = []
    try:
        cleaned = validate(D, submitted, today=TODAY)
    except InvalidInput as invalid:
        messages = [invalid.message, *invalid.field_errors.values()]
    else:
        to_answers(D, cleaned)
        readable(D, cleaned)
    assert all(isinstance(m, str) and m for m in messages)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(ALL_IDS) | st.text(max_size=20), st.text()), max_size=40))
def test_arbitrary_posts_only_ever_raise_invalid_input(fields_: list[tuple[str, str]]) -> None:
    with contextlib.suppress(InvalidInput):
        validate(D, parse_form(D, fields_), today=TODAY)


@FUZZ
@given(_answers_to(tuple(D.questions())))
def test_valid_answers_screen_and_read_and_validate_unchanged(submitted: dict[str, Any]) -> None:
    try:
        cleaned = validate(D, submitted, today=TODAY)
    except InvalidInput:
        return
    assert validate(D, cleaned, today=TODAY) == cleaned
    assert json.loads(json.dumps(cleaned)) == cleaned
    screen(to_answers(D, cleaned), today=TODAY, visit_within_window=True)
    shown = {item.label for s in readable(D, cleaned) for item in s.items}
    assert D.question(forms.GATE_QUESTION).label in shown


def test_the_plausible_answers_do_get_through_validation() -> None:
    """Guards the property above against testing nothing."""
    passed = 0

    @settings(max_examples=60, deadline=None, database=None)
    @given(_answers_to(tuple(D.questions())))
    def count(submitted: dict[str, Any]) -> None:
        nonlocal passed
        try:
            validate(D, submitted, today=TODAY)
            passed += 1
        except InvalidInput:
            pass

    count()
    assert passed > 0
