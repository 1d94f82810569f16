"""Complete intake answers for tests: every required question the client would see
answered "no" (or its quietest choice), then the test's own answers on top."""

from __future__ import annotations

from typing import Any

from clinic.intake import forms

QUIET_CHOICES = {"phase": "survivorship", "clot": "none", "fatigue": "0"}


def answers(cancer_history: bool, **overrides: Any) -> dict[str, Any]:
    definition = forms.current()
    given: dict[str, Any] = {forms.GATE_QUESTION: cancer_history, **overrides}
    for section in definition.sections:
        if section.shown_if is not None and not section.shown_if.holds(given):
            continue
        for q in section.questions:
            if q.id in given or not q.required:
                continue
            if q.shown_if is not None and not q.shown_if.holds(given):
                continue
            if q.kind is forms.Kind.YES_NO:
                given[q.id] = False
            elif q.kind is forms.Kind.CHOICE:
                given[q.id] = QUIET_CHOICES.get(q.id, q.options[0].value)
            elif q.kind is forms.Kind.MULTI:
                given[q.id] = [q.options[0].value]
            else:
                raise AssertionError(f"give {q.id} ({q.kind}) in the test")
    return given


def signed(cancer_history: bool, **overrides: Any) -> dict[str, Any]:
    """A POST /api/v1/intakes body."""
    return {
        "answers": answers(cancer_history, **overrides),
        "signature": {"name": "Ruth Example", "agreed": True},
    }
