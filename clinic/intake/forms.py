"""Intake form definitions kept as data (clinic/intake/forms/*.json); validating, reading and
summing up the answers to them is in form_answers.py, re-exported here.

A definition is identified by the sha256 of its canonical JSON, and answers are stored beside
that hash, so they stay readable after a new version is published: publish a new file, never
edit one. The JSON format, checked when a file loads (``FormDefinitionError`` otherwise):

- form: ``form``, ``version`` (``YYYY-MM`` or ``YYYY-MM-DD``; the file is named
  ``<form>-<version>.json``), ``title``, ``consent`` {``version``, ``text``}, ``option_sets``
  (optional, {name: [options]}) and ``sections`` [{``id``, ``title``, ``intro``, ``shown_if``
  (optional), ``questions``}].
- question: ``id``, ``row`` (domain row, e.g. "4" or "G1"; a group's sub-questions inherit it),
  ``kind`` (yes_no, choice, multi, date, integer, text or group), ``label``, ``help``
  (optional), ``required``; ``options`` (choice and multi: a list of {``value``, ``label``,
  ``short`` (optional, for summaries)}, or an option set's name); ``min`` and ``max``
  (integer); ``max_length`` (text, default 500); ``past`` (date: a past event, so not after
  today) and ``not_before`` (date: an earlier date question in the same scope); ``shown_if``
  {``question``, ``equals`` or ``includes``} on an earlier question in the same scope (the
  form, or one group entry); ``error`` (what to do when the answer is missing or unreadable);
  in a group, ``yes_text``/``no_text`` (yes_no: the words in a summary, "" for none) or
  ``summary`` (other kinds: "from {}"); group: ``item_label``, ``max_items`` (default 10) and
  ``questions`` (no nested groups).

HTML field names (``field_name``): a question's id; a group entry's sub-question is
``<group id>-<index>-<sub id>`` (index from 0). yes_no posts "yes" or "no", multi its name once
per ticked value, dates ``YYYY-MM-DD``; integers may have thousands separators. Error paths of
``validate`` are ``<id>`` or ``<group id>.<index>.<sub id>`` (``field_name_for_path``).
Re-render a failed page from what ``parse_form`` returned: it drops blank group entries, so
the indexes match the error paths.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

# The answers side, re-exported so that callers need only this module.
from clinic.intake.form_answers import GATE_QUESTION as GATE_QUESTION
from clinic.intake.form_answers import ReadableItem as ReadableItem
from clinic.intake.form_answers import ReadableSection as ReadableSection
from clinic.intake.form_answers import long_date as long_date
from clinic.intake.form_answers import readable as readable
from clinic.intake.form_answers import to_answers as to_answers
from clinic.intake.form_answers import validate as validate

FORMS_DIR = Path(__file__).with_name("forms")
_ID = re.compile(r"[a-z][a-z0-9_]{0,49}")
_VALUE = re.compile(r"[a-z0-9_]{1,50}")
_VERSION = re.compile(r"[0-9]{4}-[0-9]{2}(-[0-9]{2})?")


class Kind(StrEnum):
    YES_NO = "yes_no"
    CHOICE = "choice"
    MULTI = "multi"
    DATE = "date"
    INTEGER = "integer"
    TEXT = "text"
    GROUP = "group"


class UnknownForm(KeyError):
    """No definition file has this hash."""


class FormDefinitionError(ValueError):
    """A definition file is malformed (a mistake in the repo, never the client's)."""


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    short: str | None = None  # for summaries, where the label explains a term

    @property
    def summary(self) -> str:
        return self.short or self.label


@dataclass(frozen=True)
class Condition:
    question: str
    value: bool | str
    includes: bool = False  # the answer (a multi) includes the value; else it equals it

    def holds(self, answers: Mapping[str, Any]) -> bool:
        answer = answers.get(self.question)
        if self.includes:
            return isinstance(answer, list) and self.value in answer
        return type(answer) is type(self.value) and answer == self.value


@dataclass(frozen=True)
class Question:
    id: str
    row: str
    kind: Kind
    label: str
    required: bool
    help: str | None = None
    options: tuple[Option, ...] = ()
    min: int | None = None
    max: int | None = None
    max_length: int = 500
    past: bool = False
    not_before: str | None = None
    shown_if: Condition | None = None
    error: str | None = None
    yes_text: str | None = None
    no_text: str | None = None
    summary: str | None = None  # in a group's summary, "{}" is the answer: "from {}"
    item_label: str = ""
    max_items: int = 10
    questions: tuple[Question, ...] = ()

    def option(self, value: str) -> Option | None:
        return next((o for o in self.options if o.value == value), None)


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    intro: str
    questions: tuple[Question, ...]
    shown_if: Condition | None = None


@dataclass(frozen=True)
class ConsentText:
    version: str
    text: str


@dataclass(frozen=True)
class FormDefinition:
    form: str
    version: str
    title: str
    consent: ConsentText
    sections: tuple[Section, ...]
    hash: str  # sha256 hex of the canonical JSON
    raw: dict[str, Any] = field(compare=False, repr=False)  # the file's JSON; do not change it

    def questions(self) -> Iterator[Question]:
        """The top-level questions of every section, in order."""
        for section in self.sections:
            yield from section.questions

    def question(self, question_id: str) -> Question:
        for q in self.questions():
            if q.id == question_id:
                return q
        raise KeyError(question_id)


def canonical_hash(obj: object) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class _Obj:
    """A JSON object of a definition, read with its place in the file for error messages."""

    def __init__(self, obj: object, where: str, required: str, optional: str = "") -> None:
        if not isinstance(obj, dict):
            raise FormDefinitionError(f"{where}: expected an object")
        missing = set(required.split()) - set(obj)
        unknown = set(obj) - set(required.split()) - set(optional.split())
        if missing or unknown:
            raise FormDefinitionError(
                f"{where}: missing {sorted(missing)}, unknown {sorted(unknown)}"
            )
        self.obj: dict[str, object] = obj
        self.where = where

    def get(self, key: str, kind: type[Any], default: Any = None) -> Any:
        value = self.obj.get(key, default)
        if value is not default and (type(value) is not kind):
            raise FormDefinitionError(f"{self.where}.{key}: expected {kind.__name__}")
        return value


# The keys each kind needs, and those it may have besides "help shown_if error row summary".
_KIND_KEYS = {
    Kind.YES_NO: ("", "yes_text no_text"),
    Kind.CHOICE: ("options", ""),
    Kind.MULTI: ("options", ""),
    Kind.DATE: ("", "past not_before"),
    Kind.INTEGER: ("min max", ""),
    Kind.TEXT: ("", "max_length"),
    Kind.GROUP: ("questions item_label", "max_items"),
}


def _options(spec: object, sets: Mapping[str, object], where: str) -> tuple[Option, ...]:
    if isinstance(spec, str):
        if spec not in sets:
            raise FormDefinitionError(f"{where}: no option set {spec!r}")
        spec = sets[spec]
    if not isinstance(spec, list) or not spec:
        raise FormDefinitionError(f"{where}: options must be a non-empty list or a set's name")
    options = []
    for i, item in enumerate(spec):
        o = _Obj(item, f"{where}[{i}]", "value label", "short")
        options.append(Option(o.get("value", str), o.get("label", str), o.get("short", str)))
    values = [o.value for o in options]
    if len(set(values)) != len(values) or not all(_VALUE.fullmatch(v) for v in values):
        raise FormDefinitionError(f"{where}: option values must be unique [a-z0-9_] words")
    return tuple(options)


def _condition(spec: object, earlier: Mapping[str, Question], where: str) -> Condition:
    o = _Obj(spec, where, "question", "equals includes")
    target = earlier.get(o.get("question", str))
    if target is None or ("equals" in o.obj) == ("includes" in o.obj):
        raise FormDefinitionError(f"{where}: needs an earlier question and equals or includes")
    value = o.obj.get("equals", o.obj.get("includes"))
    ok = (
        (target.kind is Kind.MULTI and "includes" in o.obj and target.option(str(value)))
        or (target.kind is Kind.YES_NO and isinstance(value, bool) and "equals" in o.obj)
        or (target.kind is Kind.CHOICE and isinstance(value, str) and target.option(value))
    )
    if not ok:
        raise FormDefinitionError(f"{where}: the value does not fit {target.id!r}")
    assert isinstance(value, bool | str)
    return Condition(target.id, value, includes="includes" in o.obj)


def _question(
    spec: object, sets: Mapping[str, object], scope: dict[str, Question], where: str, row: str
) -> Question:
    try:
        kind = Kind(str(spec.get("kind")) if isinstance(spec, dict) else "")
        needed, optional = _KIND_KEYS[kind]
    except ValueError:
        raise FormDefinitionError(f"{where}: a question with a known kind") from None
    o = _Obj(
        spec,
        where,
        f"id kind label required {needed}",
        f"help shown_if error row summary {optional}",
    )
    qid, where = o.get("id", str), f"{where}:{o.obj['id']}"
    if not _ID.fullmatch(qid) or qid in scope or not (row or "row" in o.obj):
        raise FormDefinitionError(f"{where}: ids are unique [a-z][a-z0-9_] words; rows are given")
    questions: tuple[Question, ...] = ()
    if kind is Kind.GROUP:
        inner: dict[str, Question] = {}
        for i, sub in enumerate(o.get("questions", list)):
            q = _question(sub, sets, inner, f"{where}.questions[{i}]", o.get("row", str, row))
            if q.kind is Kind.GROUP:
                raise FormDefinitionError(f"{where}: no groups inside groups")
        questions = tuple(inner.values())
    not_before, summary = o.get("not_before", str), o.get("summary", str)
    low, high = o.get("min", int), o.get("max", int)
    max_length, max_items = o.get("max_length", int, 500), o.get("max_items", int, 10)
    if (
        (not_before is not None and getattr(scope.get(not_before), "kind", None) != Kind.DATE)
        or (summary is not None and summary.count("{}") != 1)
        or (kind is Kind.GROUP and not questions)
        or min(max_items, max_length) < 1
        or (low is not None and high is not None and low > high)
    ):
        raise FormDefinitionError(
            f"{where}: not_before names an earlier date question, a summary holds one {{}}, a"
            " group has questions, limits are positive and min is not above max"
        )
    question = Question(
        id=qid,
        row=o.get("row", str, row),
        kind=kind,
        label=o.get("label", str),
        required=o.get("required", bool),
        help=o.get("help", str),
        options=_options(o.obj["options"], sets, where) if "options" in needed else (),
        min=low,
        max=high,
        max_length=max_length,
        past=o.get("past", bool, False),
        not_before=not_before,
        shown_if=_condition(o.obj["shown_if"], scope, f"{where}.shown_if")
        if "shown_if" in o.obj
        else None,
        error=o.get("error", str),
        yes_text=o.get("yes_text", str),
        no_text=o.get("no_text", str),
        summary=summary,
        item_label=o.get("item_label", str, ""),
        max_items=max_items,
        questions=questions,
    )
    scope[qid] = question
    return question


def parse_definition(obj: object) -> FormDefinition:
    """A definition from a file's parsed JSON; ``FormDefinitionError`` if it is malformed."""
    o = _Obj(obj, "form", "form version title consent sections", "option_sets")
    version = o.get("version", str)
    if not _VERSION.fullmatch(version) or not _ID.fullmatch(o.get("form", str)):
        raise FormDefinitionError("form: the version is YYYY-MM or YYYY-MM-DD")
    c = _Obj(o.obj["consent"], "consent", "version text")
    sets = o.get("option_sets", dict, {})
    scope: dict[str, Question] = {}
    sections = []
    for i, spec in enumerate(o.get("sections", list)):
        s = _Obj(spec, f"sections[{i}]", "id title intro questions", "shown_if")
        shown_if = None
        if "shown_if" in s.obj:
            shown_if = _condition(s.obj["shown_if"], scope, f"{s.where}.shown_if")
        questions = tuple(
            _question(q, sets, scope, f"{s.where}.questions[{j}]", "")
            for j, q in enumerate(s.get("questions", list))
        )
        sections.append(
            Section(s.get("id", str), s.get("title", str), s.get("intro", str), questions, shown_if)
        )
    first = sections[0].questions[0] if sections and sections[0].questions else None
    if o.obj["form"] == "intake" and (
        first is None or first.id != GATE_QUESTION or first.kind is not Kind.YES_NO
    ):
        raise FormDefinitionError(f"form: the first question must be the {GATE_QUESTION} gate")
    return FormDefinition(
        form=o.get("form", str),
        version=version,
        title=o.get("title", str),
        consent=ConsentText(c.get("version", str), c.get("text", str)),
        sections=tuple(sections),
        hash=canonical_hash(obj),
        raw=o.obj,
    )


def load_definition(path: Path) -> FormDefinition:
    definition = parse_definition(json.loads(path.read_text(encoding="utf-8")))
    if path.stem != f"{definition.form}-{definition.version}":
        raise FormDefinitionError(f"{path.name}: name it {definition.form}-{definition.version}")
    return definition


class FormLibrary:
    """Every definition in a directory, by hash; the newest version of each form is current."""

    def __init__(self, definitions: Sequence[FormDefinition]) -> None:
        self.definitions = tuple(sorted(definitions, key=lambda d: (d.form, d.version)))
        self._by_hash = {d.hash: d for d in self.definitions}
        versions = {(d.form, d.version) for d in self.definitions}
        if len(versions) != len(self.definitions) or len(self._by_hash) != len(versions):
            raise FormDefinitionError("each published version has one file")

    @classmethod
    def load(cls, directory: Path) -> FormLibrary:
        return cls([load_definition(p) for p in sorted(directory.glob("*.json"))])

    def current(self, form: str = "intake") -> FormDefinition:
        versions = [d for d in self.definitions if d.form == form]
        if not versions:
            raise UnknownForm(form)
        return versions[-1]

    def by_hash(self, form_hash: str) -> FormDefinition:
        try:
            return self._by_hash[form_hash]
        except (KeyError, TypeError):
            raise UnknownForm(form_hash) from None


@cache
def library() -> FormLibrary:
    return FormLibrary.load(FORMS_DIR)


def current() -> FormDefinition:
    """The newest intake definition shipped with the app."""
    return library().current()


def by_hash(form_hash: str) -> FormDefinition:
    """The shipped definition with this hash, old versions included; ``UnknownForm`` if none."""
    return library().by_hash(form_hash)


def field_name(question_id: str, index: int | None = None, sub_id: str | None = None) -> str:
    """The HTML name of a question's input, or of sub-question ``sub_id`` of group entry
    ``index`` (from 0): ``surgeries-0-site``."""
    if (index is None) != (sub_id is None):
        raise ValueError("Give both the entry index and the sub-question id, or neither.")
    return question_id if index is None else f"{question_id}-{index}-{sub_id}"


def field_name_for_path(path: str) -> str:
    """The HTML name for an error path of ``validate``: surgeries.0.site -> surgeries-0-site."""
    return path.replace(".", "-")


_ENTRY_FIELD = re.compile(r"([a-z][a-z0-9_]*)-([0-9]{1,4})-([a-z][a-z0-9_]*)")


def parse_form(definition: FormDefinition, fields: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The raw answers of an HTML form post (names as ``field_name`` gives them), for
    ``validate``. Fields that are not questions (a CSRF token, the signature) are ignored, blank
    ones are left out, a group entry whose fields are all blank is dropped and the others are
    numbered from 0 in the order of their posted indexes. yes_no "yes"/"no" become booleans;
    other values stay strings for ``validate`` to read (and refuse)."""
    posted: dict[str, list[str]] = {}
    entries: dict[str, dict[int, dict[str, list[str]]]] = {}
    for name, value in fields:
        m = _ENTRY_FIELD.fullmatch(name)
        if m:
            entry = entries.setdefault(m[1], {}).setdefault(int(m[2]), {})
            entry.setdefault(m[3], []).append(value)
        else:
            posted.setdefault(name, []).append(value)
    raw: dict[str, Any] = {}
    for q in definition.questions():
        if q.kind is Kind.GROUP:
            items = [
                {s.id: v for s in q.questions if (v := _posted(s, entry.get(s.id, []))) is not None}
                for _, entry in sorted(entries.get(q.id, {}).items())
            ]
            if any(items):
                raw[q.id] = [item for item in items if item]
        elif (value := _posted(q, posted.get(q.id, []))) is not None:
            raw[q.id] = value
    return raw


def _posted(q: Question, values: list[str]) -> Any:
    values = [v.strip() for v in values if v.strip()]
    if q.kind is Kind.MULTI:
        return values or None
    if not values:
        return None
    if q.kind is Kind.YES_NO:
        return {"yes": True, "no": False}.get(values[-1], values[-1])
    return values[-1]
