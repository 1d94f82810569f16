"""The intake form as the client's pages draw it, built from the form definition (data, not
markup): a fieldset per section, every follow-up question drawn and labelled with the
answer it follows (a small script only hides the ones that do not apply), and groups as
their answered entries plus blank rows. It decides nothing about health: the definition
says what to ask, clinic/intake reads and checks the answers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from starlette.datastructures import FormData

from clinic.booking.pages.forms import form_value
from clinic.intake import forms
from clinic.intake.forms import Condition, FormDefinition, Kind, Question

# Blank entries under a group's answered ones (surgeries, radiation, devices...).
BLANK_ROWS = 3
# A single choice with more options than this is a drop-down list, fewer are radios.
MAX_RADIOS = 8
# A text answer allowed more characters than this gets a several-line box.
TEXTAREA_ABOVE = 300
SIGNED_NAME = "signed_name"
AGREED = "agreed"
# The most fields an intake post may carry (the form has about 300 with its blank rows).
MAX_FIELDS = 2000


@dataclass(frozen=True)
class OptionView:
    value: str
    label: str
    id: str
    checked: bool


@dataclass(frozen=True)
class FollowUp:
    """Which answer a follow-up follows: the words before it, and the field and value the
    progressive-enhancement script watches."""

    lead: str
    name: str
    value: str
    depth: int


@dataclass(frozen=True)
class FieldView:
    # yes_no, radios, select, checkboxes, date, integer, text, textarea or group
    kind: str
    name: str
    label: str
    hint: str | None
    error: str | None
    optional: bool
    value: str = ""
    options: tuple[OptionView, ...] = ()
    follow_up: FollowUp | None = None
    rows: tuple[RowView, ...] = ()
    max_length: int | None = None

    @property
    def id(self) -> str:
        return self.name

    @property
    def described_by(self) -> str:
        ids = ([f"{self.id}-hint"] if self.hint else []) + (
            [f"{self.name}-error"] if self.error else []
        )
        return " ".join(ids)


@dataclass(frozen=True)
class RowView:
    legend: str
    fields: tuple[FieldView, ...]


@dataclass(frozen=True)
class SectionView:
    id: str
    title: str
    intro: str
    fields: tuple[FieldView, ...]
    follow_up: FollowUp | None = None


@dataclass(frozen=True)
class FormView:
    sections: tuple[SectionView, ...]
    consent_text: str
    signed_name: str
    agreed: bool
    errors: Mapping[str, str] = field(default_factory=dict)

    def error(self, name: str) -> str | None:
        return self.errors.get(name)


def _text(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _chosen(value: Any) -> set[str]:
    if isinstance(value, list | tuple):
        return {_text(v) for v in value}
    return {_text(value)} if value is not None else set()


def _quoted(text: str) -> str:
    return f"\u201c{text}\u201d"


class _Builder:
    def __init__(
        self,
        definition: FormDefinition,
        values: Mapping[str, Any],
        errors: Mapping[str, str],
        fixed: Mapping[str, Any],
    ) -> None:
        self.definition = definition
        self.values = values
        self.errors = errors
        self.fixed = fixed
        self.questions = {q.id: q for q in definition.questions()}
        # How deep each drawn follow-up sits (a follow-up of a follow-up is indented more).
        self.depths: dict[str, int] = {}
        # Questions not drawn because an answer given elsewhere rules them out.
        self.left_out: set[str] = set()

    def applies(self, condition: Condition | None) -> bool:
        """False when the condition rests on an answer given elsewhere that rules it out,
        or on a question left out for that reason."""
        if condition is None:
            return True
        if condition.question in self.left_out:
            return False
        return condition.question not in self.fixed or condition.holds(self.fixed)

    def follow_up(
        self,
        condition: Condition | None,
        scope: Mapping[str, Question],
        previous: Question | None,
        *,
        name_of: Callable[[str], str] | None = None,
        section: bool = False,
    ) -> FollowUp | None:
        if condition is None or condition.question in self.fixed:
            return None
        target = scope[condition.question]
        if condition.value is True or condition.value is False:
            answer, value = ("yes" if condition.value else "no"), _text(condition.value)
        else:
            value = str(condition.value)
            option = target.option(value)
            answer = _quoted(option.label if option else value)
        adjacent = previous is not None and (
            previous.id == target.id
            or (previous.shown_if is not None and previous.shown_if.question == target.id)
        )
        if section:
            lead = f"Answer these if you answered {answer} to {_quoted(target.label)}"
        elif adjacent and isinstance(condition.value, bool):
            lead = f"If {answer}:"
        elif condition.includes:
            lead = f"If you ticked {answer} for {_quoted(target.label)}:"
        else:
            lead = f"If you answered {answer} to {_quoted(target.label)}:"
        name = name_of(target.id) if name_of else target.id
        return FollowUp(lead, name, value, self.depths.get(name, 0) + 1)

    def question(
        self,
        q: Question,
        values: Mapping[str, Any],
        scope: Mapping[str, Question],
        previous: Question | None,
        index: int | None = None,
        group: str | None = None,
    ) -> FieldView:
        def name_of(qid: str) -> str:
            return forms.field_name(group, index, qid) if group is not None else qid

        name = name_of(q.id)
        follow_up = self.follow_up(q.shown_if, scope, previous, name_of=name_of)
        if follow_up is not None:
            self.depths[name] = follow_up.depth
        value = values.get(q.id)
        base: dict[str, Any] = {
            "name": name,
            "label": q.label,
            "hint": q.help,
            "error": self.errors.get(name),
            "optional": not q.required,
            "follow_up": follow_up,
        }
        if q.kind is Kind.YES_NO:
            chosen = _chosen(value)
            return FieldView(
                kind="yes_no",
                options=tuple(
                    OptionView(
                        v, v.capitalize(), name if v == "yes" else f"{name}-{v}", v in chosen
                    )
                    for v in ("yes", "no")
                ),
                **base,
            )
        if q.kind in (Kind.CHOICE, Kind.MULTI):
            chosen = _chosen(value)
            options = tuple(
                OptionView(
                    o.value, o.label, name if i == 0 else f"{name}-{o.value}", o.value in chosen
                )
                for i, o in enumerate(q.options)
            )
            kind = "checkboxes" if q.kind is Kind.MULTI else "radios"
            if q.kind is Kind.CHOICE and len(options) > MAX_RADIOS:
                kind = "select"
            return FieldView(kind=kind, options=options, **base)
        if q.kind is Kind.GROUP:
            entries = (
                [e for e in value if isinstance(e, Mapping)] if isinstance(value, list) else []
            )
            count = min(len(entries) + BLANK_ROWS, max(q.max_items, len(entries)))
            inner = {s.id: s for s in q.questions}
            rows = []
            for i in range(count):
                entry = entries[i] if i < len(entries) else {}
                subs: list[FieldView] = []
                before: Question | None = None
                for sub in q.questions:
                    subs.append(self.question(sub, entry, inner, before, i, q.id))
                    before = sub
                label = q.item_label or "Entry"
                rows.append(RowView(f"{label} {i + 1}", tuple(subs)))
            return FieldView(kind="group", rows=tuple(rows), **base)
        simple = {Kind.DATE: "date", Kind.INTEGER: "integer"}.get(q.kind)
        return FieldView(
            kind=simple or ("textarea" if q.max_length > TEXTAREA_ABOVE else "text"),
            value=_text(value),
            max_length=q.max_length if q.kind is Kind.TEXT else None,
            **base,
        )

    def build(self, signed_name: str, agreed: bool) -> FormView:
        sections = []
        for section in self.definition.sections:
            if not self.applies(section.shown_if):
                self.left_out.update(q.id for q in section.questions)
                continue
            fields: list[FieldView] = []
            previous: Question | None = None
            for q in section.questions:
                if q.id in self.fixed:
                    continue
                if not self.applies(q.shown_if):
                    self.left_out.add(q.id)
                    continue
                fields.append(self.question(q, self.values, self.questions, previous))
                previous = q
            follow_up = self.follow_up(section.shown_if, self.questions, None, section=True)
            sections.append(
                SectionView(section.id, section.title, section.intro, tuple(fields), follow_up)
            )
        return FormView(
            tuple(sections), self.definition.consent.text, signed_name, agreed, dict(self.errors)
        )


def form_view(
    definition: FormDefinition,
    values: Mapping[str, Any],
    errors: Mapping[str, str],
    *,
    fixed: Mapping[str, Any] | None = None,
    signed_name: str = "",
    agreed: bool = False,
) -> FormView:
    """The form to draw. `values`: answers to show (a post's raw answers, or a signed
    intake's); `errors`: by field name; `fixed`: answers given on an earlier page, whose
    questions are not drawn again (and what they rule out is left out)."""
    return _Builder(definition, values, errors, fixed or {}).build(signed_name, agreed)


def error_names(field_errors: Mapping[str, str]) -> dict[str, str]:
    """validate's error paths (surgeries.0.site) as the fields' names (surgeries-0-site)."""
    return {forms.field_name_for_path(path): message for path, message in field_errors.items()}


def posted_fields(form: FormData, *, without: Iterable[str] = ()) -> list[tuple[str, str]]:
    """A form post's text fields, in order, for forms.parse_form."""
    skip = set(without)
    fields = [
        (name, value)
        for name, value in form.multi_items()
        if isinstance(value, str) and name not in skip
    ]
    return fields[:MAX_FIELDS]


@dataclass(frozen=True)
class Posted:
    raw: dict[str, Any]
    signed_name: str
    agreed: bool


def read_post(
    definition: FormDefinition, form: FormData, fixed: Mapping[str, Any] | None = None
) -> Posted:
    """The raw answers of an intake post, with `fixed` answers (the gate, asked on its own
    page) put in place of anything posted for them."""
    fixed = fixed or {}
    fields = posted_fields(form, without=fixed)
    raw = forms.parse_form(definition, fields)
    raw.update(fixed)
    return Posted(raw, form_value(form, SIGNED_NAME), form_value(form, AGREED) == "yes")
