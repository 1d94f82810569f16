"""A client's answers to an intake form definition (clinic/intake/forms.py): validated and
cleaned for storage, turned into the ``Answers`` screening reads, and said in plain words.

Cleaned answers are JSON: ``{question id: answer}`` for answered questions that were shown, with
yes_no as bool, choice as its option value, multi as a list of option values in option order,
dates as ``YYYY-MM-DD``, integers as int, text trimmed, groups as a list of such dicts. Reading
them goes by question id, so answers to an older version stay readable by newer code.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from clinic import clock
from clinic.dates import day_month_year
from clinic.errors import InvalidInput
from clinic.intake import answers as ans

if TYPE_CHECKING:  # forms imports this module at run time
    from clinic.intake.forms import FormDefinition, Question

GATE_QUESTION = "cancer_history"

CHECK_ANSWERS = "Check the highlighted answers."
UNKNOWN_QUESTION = "This question is not on the form. Reload the page and try again."
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_WHOLE = re.compile(r"-?[0-9]{1,15}")
_SEPARATORS = re.compile(r"[,_\s]")
_MISSING = {
    "yes_no": "Choose yes or no",
    "choice": "Choose one answer",
    "multi": "Choose at least one answer",
    "date": "Enter a date, like 2026-11-02",
    "text": "Enter your answer",
    "group": "Add at least one entry",
}


class _Bad(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def long_date(day: date) -> str:
    """2 September 2026."""
    return day_month_year(day)


def validate(
    definition: FormDefinition, submitted: Mapping[str, Any], *, today: date | None = None
) -> dict[str, Any]:
    """The cleaned answers (module docstring) to ``definition``; answers to questions that are
    not shown are dropped. Anything wrong raises ``InvalidInput`` with ``field_errors`` by path
    (``id`` or ``group_id.N.sub_id``), and nothing else is raised for any input.

    ``today`` decides which dates are in the future (pass the clinic's ``clock.today_in``); by
    default it is the latest date anywhere on Earth, so no past date is refused.
    """
    if not isinstance(submitted, Mapping):
        raise InvalidInput("Send the answers as a JSON object.")
    latest = today or (clock.now_utc() + timedelta(hours=14)).date()
    known = {q.id for q in definition.questions()}
    errors = {str(key)[:100]: UNKNOWN_QUESTION for key in submitted if key not in known}
    cleaned: dict[str, Any] = {}
    for section in definition.sections:
        if section.shown_if is None or section.shown_if.holds(cleaned):
            _scope(section.questions, submitted, cleaned, "", latest, errors)
    if errors:
        raise InvalidInput(CHECK_ANSWERS, field_errors=errors)
    return cleaned


def _empty(value: object) -> bool:
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple):
        return all(v is None or (isinstance(v, str) and not v.strip()) for v in value)
    return value is None or (isinstance(value, Mapping) and not value)


def _blank_entry(value: object) -> bool:
    return _empty(value) or (isinstance(value, Mapping) and all(map(_empty, value.values())))


def _missing(q: Question) -> str:
    if q.error:
        return q.error
    if q.kind == "integer":
        return _range(q)
    return _MISSING[q.kind]


def _range(q: Question) -> str:
    low, high = q.min or 0, q.max if q.max is not None else 10**12
    return f"Enter a whole number between {low:,} and {high:,}"


def _scope(
    questions: Sequence[Question],
    raw: Mapping[Any, Any],
    cleaned: dict[str, Any],
    prefix: str,
    latest: date,
    errors: dict[str, str],
) -> None:
    for q in questions:
        if q.shown_if is not None and not q.shown_if.holds(cleaned):
            continue
        path, value = prefix + q.id, raw.get(q.id)
        try:
            if _empty(value):
                value = None
            elif q.kind == "group":
                value = _group(q, value, path, latest, errors)
            else:
                value = _value(q, value, cleaned, latest)
        except _Bad as bad:
            errors[path] = bad.message
            continue
        if value is not None:
            cleaned[q.id] = value
        elif q.required:
            errors[path] = _missing(q)


def _group(q: Question, value: object, path: str, latest: date, errors: dict[str, str]) -> Any:
    if not isinstance(value, list | tuple):
        raise _Bad("Add your answers as a list of entries")
    entries = [(i, e) for i, e in enumerate(value) if not _blank_entry(e)]
    if len(entries) > q.max_items:
        raise _Bad(
            f"You can add up to {q.max_items}. Tell your therapist about any others at your visit"
        )
    known, before = {s.id for s in q.questions}, len(errors)
    items = []
    for i, entry in entries:
        if not isinstance(entry, Mapping):
            errors[f"{path}.{i}"] = "Answer the questions for this entry"
            continue
        errors.update(
            {f"{path}.{i}.{str(k)[:100]}": UNKNOWN_QUESTION for k in entry if k not in known}
        )
        item: dict[str, Any] = {}
        _scope(q.questions, entry, item, f"{path}.{i}.", latest, errors)
        if item:
            items.append(item)
    return items or (None if len(errors) == before else [])  # [] keeps "add one" off


def _value(q: Question, value: object, cleaned: Mapping[str, Any], latest: date) -> Any:
    if q.kind == "yes_no":
        if isinstance(value, bool):
            return value
        raise _Bad(_missing(q))
    if q.kind == "choice":
        if isinstance(value, str) and q.option(value.strip()):
            return value.strip()
        raise _Bad(q.error or "Choose one of the answers shown")
    if q.kind == "multi":
        if isinstance(value, list | tuple) and all(isinstance(v, str | None) for v in value):
            chosen = {v.strip() for v in value if v is not None}
            values = [o.value for o in q.options if o.value in chosen]
            if len(values) == len(chosen - {""}):
                return values
        raise _Bad("Choose from the answers shown")
    if q.kind == "date":
        return _date(q, value, cleaned, latest)
    if q.kind == "integer":
        return _integer(q, value)
    if not isinstance(value, str):
        raise _Bad("Enter your answer as text")
    text = "".join(
        c
        for c in value.replace("\r\n", "\n")
        if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cs")
    ).strip()
    if len(text) > q.max_length:
        raise _Bad(f"Write {q.max_length:,} characters or fewer")
    return text or None


def _date(q: Question, value: object, cleaned: Mapping[str, Any], latest: date) -> str:
    day = None
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        with suppress(ValueError):
            day = date.fromisoformat(value.strip())
    if day is None or day.year < 1900:
        raise _Bad(_missing(q))
    if q.past and day > latest:
        raise _Bad("Enter a date that is today or in the past")
    earlier = cleaned.get(q.not_before) if q.not_before else None
    if isinstance(earlier, str) and day < date.fromisoformat(earlier):
        raise _Bad(f"Enter a date on or after {long_date(date.fromisoformat(earlier))}")
    return day.isoformat()


def _integer(q: Question, value: object) -> int:
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _WHOLE.fullmatch(digits := _SEPARATORS.sub("", value)):
        number = int(digits)
    low, high = q.min or 0, q.max if q.max is not None else 10**12
    if number is None or not low <= number <= high:
        raise _Bad(_range(q))
    return number


E = TypeVar("E", bound=StrEnum)


class _Read:
    """Typed reads of cleaned answers; anything missing reads as the dataclass default."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values

    def yes(self, key: str, default: bool = False) -> bool:
        value = self.values.get(key)
        return value if isinstance(value, bool) else default

    def text(self, key: str) -> str:
        value = self.values.get(key)
        return value if isinstance(value, str) else ""

    def day(self, key: str) -> date | None:
        value = self.values.get(key)
        return date.fromisoformat(value) if isinstance(value, str) else None

    def number(self, key: str) -> int | None:
        value = self.values.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def one(self, key: str, kind: type[E]) -> E | None:
        value = self.values.get(key)
        return kind(value) if isinstance(value, str) else None

    def many(self, key: str, kind: type[E]) -> tuple[E, ...]:
        value = self.values.get(key)
        return tuple(kind(v) for v in value) if isinstance(value, list) else ()

    def entries(self, key: str) -> list[_Read]:
        value = self.values.get(key)
        return (
            [_Read(e) for e in value if isinstance(e, Mapping)] if isinstance(value, list) else []
        )


def to_answers(definition: FormDefinition, cleaned: Mapping[str, Any]) -> ans.Answers:
    """The screening answers in ``cleaned`` (given to ``definition``). Read by question id:
    a question the definition lacks reads as the dataclass default, a group entry missing a
    field its dataclass needs is left out (``readable`` still shows it)."""
    ids = {q.id for q in definition.questions()}
    a = _Read({k: v for k, v in cleaned.items() if k in ids})
    fatigue = a.values.get("fatigue")
    return ans.Answers(
        oncology=_oncology(a) if a.yes(GATE_QUESTION) else None,
        general=_general(a),
        day_of_visit=ans.DayOfVisit(
            fever_or_chills=a.yes("fever_or_chills"),
            active_infection=a.yes("active_infection"),
            contagious_illness=a.yes("contagious_illness"),
            contagious_skin=a.yes("contagious_skin"),
            nausea_or_vomiting=a.yes("nausea_or_vomiting"),
            mouth_sores=a.yes("mouth_sores"),
            cough=a.yes("cough"),
            fatigue=ans.Fatigue(int(fatigue)) if isinstance(fatigue, str) else ans.Fatigue.NONE,
        ),
        preferences=ans.Preferences(a.many("areas_excluded", ans.Region), a.yes("trauma_history")),
    )


def _general(a: _Read) -> ans.General:
    trimester = a.values.get("pregnancy_trimester")
    return ans.General(
        # Pregnant without a trimester (a version that did not ask): the most cautious one.
        pregnancy=ans.Pregnancy(
            int(trimester) if trimester in ("1", "2", "3") else 1, a.yes("pregnancy_high_risk")
        )
        if a.yes("pregnant")
        else None,
        recent_injury=a.many("recent_injury_areas", ans.Region),
        unstable_fracture=a.yes("unstable_fracture"),
        blood_thinners_or_bleeding_disorder=a.yes("blood_thinners")
        or a.yes("bruising_or_bleeding"),
        skin_local=a.many("skin_concern_areas", ans.Region),
        failure_with_edema=a.yes("failure_with_edema"),
        uncontrolled_blood_pressure=a.yes("high_blood_pressure"),
        severe_unstable_hypertension=a.yes("blood_pressure_severe"),
        diabetes=a.yes("diabetes"),
        reduced_sensation=a.many("reduced_sensation_areas", ans.Region),
        inflamed_joints=a.many("inflamed_joint_areas", ans.Region),
        osteoporosis_or_bone_drugs=a.yes("osteoporosis") or a.yes("bone_weakening_medicine"),
        allergies=a.many("allergies", ans.Allergy),
        seizures=a.yes("seizures"),
        implants=a.many("implant_areas", ans.Region),
        able_to_consent=not a.yes("impaired_at_visit"),
        minor=a.yes("minor"),
        guardian_consent=a.yes("guardian_consent"),
    )


def _oncology(a: _Read) -> ans.Oncology:
    tumor_sites, bone_sites = (
        a.many("tumor_sites", ans.Region),
        a.many("bone_mets_sites", ans.Region),
    )
    organs, breathless = a.many("organ_spread", ans.Organ), a.yes("breathless")
    platelets = ans.Platelets(
        count=a.number("platelet_count"),
        measured_on=a.day("blood_test_date"),
        low_reported=a.yes("platelets_low"),
        bruising_or_bleeding=a.yes("bruising_or_bleeding"),
        anticoagulant=a.yes("blood_thinners"),
    )
    neutropenia = ans.Neutropenia(
        a.number("anc"), a.yes("white_count_low"), a.yes("infection_precautions")
    )
    bones = ans.Bones(
        a.yes("osteoporosis"), a.yes("bone_weakening_medicine"), a.yes("bones_severe")
    )
    clot = a.one("clot", ans.ClotStatus) if a.values.get("clot") != "none" else None
    consent = a.values.get("contact_consent")
    return ans.Oncology(
        phase=a.one("phase", ans.Phase),
        # Where the answer is missing, listed sites mean the location is known.
        tumors=ans.Tumors(tumor_sites, a.yes("tumor_location_known", bool(tumor_sites)))
        if a.yes("tumors_now")
        else None,
        bone_mets=ans.BoneMets(bone_sites, a.yes("bone_mets_sites_known", bool(bone_sites)))
        if a.yes("bone_mets")
        else None,
        organ_spread=ans.OrganSpread(organs, breathless) if organs or breathless else None,
        surgeries=tuple(
            ans.Surgery(
                site, on, e.yes("incision_healed", True), e.yes("drains"), e.yes("complications")
            )
            for e in a.entries("surgeries")
            if (site := e.one("site", ans.Region)) is not None and (on := e.day("on")) is not None
        ),
        nodes=a.many("lymph_node_areas", ans.NodeRegion),
        lymphedema=ans.Lymphedema(
            a.many("lymphedema_areas", ans.Region),
            a.yes("lymphedema_therapist"),
            a.yes("lymphedema_sudden_change"),
        )
        if a.yes("lymphedema")
        else None,
        chemotherapy=ans.Chemotherapy(a.day("chemotherapy_last"), a.day("chemotherapy_next"))
        if a.yes("chemotherapy_now")
        else None,
        radiation=tuple(
            ans.Radiation(
                field, started, e.day("ended_on"), e.yes("skin_reaction"), e.yes("internal_seeds")
            )
            for e in a.entries("radiation")
            if (field := e.many("field", ans.Region))
            and (started := e.day("started_on")) is not None
        ),
        immuno_or_targeted=a.yes("immuno_or_targeted"),
        hormone_therapy=a.yes("hormone_therapy"),
        transplant=ans.Transplant(
            a.day("transplant_date"),
            a.yes("transplant_donor"),
            a.many("gvhd_skin_areas", ans.Region),
            a.yes("immunosuppressed"),
        )
        if a.yes("transplant")
        else None,
        devices=tuple(
            ans.Device(device, location)
            for e in a.entries("devices")
            if (device := e.one("kind", ans.DeviceKind)) is not None
            and (location := e.one("location", ans.Region)) is not None
        ),
        platelets=platelets if platelets != ans.Platelets() else None,
        neutropenia=neutropenia if neutropenia != ans.Neutropenia() else None,
        anemia_symptoms=a.yes("anemia_symptoms"),
        clot=ans.Clot(clot, a.day("clot_treatment_ended")) if clot is not None else None,
        neuropathy=a.many("neuropathy_areas", ans.Region),
        bones=bones if bones != ans.Bones() else None,
        skin=tuple(
            ans.SkinProblem(skin, regions)
            for e in a.entries("skin_problems")
            if (skin := e.one("kind", ans.SkinKind)) is not None
            and (regions := e.many("regions", ans.Region))
        ),
        pain=tuple(
            ans.Pain(region, e.yes("new_or_unexplained"), e.yes("bone_or_night"))
            for e in a.entries("pain")
            if (region := e.one("region", ans.Region)) is not None
        ),
        contact=ans.OncologyContact(a.text("oncology_contact_name"), consent is True)
        if isinstance(consent, bool)
        else None,
    )


@dataclass(frozen=True)
class ReadableItem:
    label: str
    text: str


@dataclass(frozen=True)
class ReadableSection:
    title: str
    items: list[ReadableItem]


def readable(definition: FormDefinition, cleaned: Mapping[str, Any]) -> list[ReadableSection]:
    """The answered questions of ``definition`` in plain words, section by section: the
    question's label and the answer; one item per group entry (its ``item_label`` and its
    answers joined, "Left upper body, 2 September 2026, healed")."""
    sections = []
    for section in definition.sections:
        items = []
        for q in section.questions:
            value = cleaned.get(q.id)
            if value is None:
                continue
            if q.kind != "group":
                items.append(ReadableItem(q.label, _words(q, value, in_group=False)))
                continue
            for entry in value if isinstance(value, list) else ():
                if isinstance(entry, Mapping):
                    parts: list[str] = []
                    for s in q.questions:
                        if s.id in entry and (said := _words(s, entry[s.id], first=not parts)):
                            parts.append(said)
                    items.append(ReadableItem(q.item_label, ", ".join(parts)))
        if items:
            sections.append(ReadableSection(section.title, items))
    return sections


def _words(q: Question, value: Any, *, in_group: bool = True, first: bool = True) -> str:
    """An answer in words; in a group entry's summary, option labels after the first part
    are lower-cased to read as one phrase ("PICC line, left arm")."""
    if q.kind == "yes_no":
        said = q.yes_text if value else q.no_text
        if in_group and said is not None:
            return said
        return f"{q.label} {'Yes' if value else 'No'}" if in_group else ("Yes" if value else "No")
    if q.kind in ("choice", "multi"):
        chosen = value if isinstance(value, list) else [value]
        labels = [o.summary if in_group else o.label for o in q.options if o.value in chosen]
        if not in_group:
            return ", ".join(labels)
        labels = [label if first and i == 0 else _lower(label) for i, label in enumerate(labels)]
        text = " and ".join([", ".join(labels[:-1]), labels[-1]] if len(labels) > 2 else labels)
    elif q.kind == "date":
        text = long_date(date.fromisoformat(str(value)))
    elif q.kind == "integer" and isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
    return q.summary.format(text) if in_group and q.summary else text


def _lower(label: str) -> str:
    """The label inside a sentence: "Left arm" -> "left arm", but "PICC line" stays."""
    return label[0].lower() + label[1:] if label[1:2].islower() else label
