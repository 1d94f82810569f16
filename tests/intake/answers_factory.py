"""Complete intake answers for tests: the test's own answers, and "no" (or the quietest
choice) to every other required question the client would see (as the demo builds them)."""

from __future__ import annotations

from typing import Any

from clinic.demo.intakes import complete_answers
from clinic.intake import forms


def answers(cancer_history: bool, **overrides: Any) -> dict[str, Any]:
    return complete_answers(forms.current(), {forms.GATE_QUESTION: cancer_history, **overrides})


def signed(cancer_history: bool, **overrides: Any) -> dict[str, Any]:
    """A POST /api/v1/intakes body."""
    return {
        "answers": answers(cancer_history, **overrides),
        "signature": {"name": "Ruth Example", "agreed": True},
    }
