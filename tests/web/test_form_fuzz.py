"""Hypothesis against the parsers of what people type into forms: any text (or any JSON,
for the health form) is answered with the module's validation error or a message, never
with an exception, and well-formed input reads back as what was meant.

Pure functions, no database; a modest number of examples each so the file runs in a few
seconds (`make fuzz` runs tests/api/test_schemathesis.py longer, not these).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from clinic.admin.forms import (
    EARLIEST_YEAR,
    LATEST_YEAR,
    Checker,
    clock_text,
    date_fields,
    form_values,
    parse_clock,
)
from clinic.booking.bookings import ClientDetails
from clinic.booking.pages.times import parse_day, parse_start, slot_value
from clinic.clients.contact import email_problem, phone_problem
from clinic.clients.directory import new_client_problems
from clinic.demo.intakes import INTAKE_CLIENTS, complete_answers
from clinic.desk import overrides
from clinic.errors import InvalidInput
from clinic.intake import forms
from clinic.intake.screening import screen
from clinic.web.ids import parse_id

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ZONE = ZoneInfo("America/New_York")
TODAY = date(2026, 11, 27)

# What a browser can post: any text, with the characters people paste by accident.
typed = st.text(
    st.characters(codec="utf-8") | st.sampled_from(["\x00", "\r", "\n", "\u00b2", "\u0663", " "]),
    max_size=40,
)


def _refusal(call: Callable[[], object]) -> InvalidInput | None:
    """The InvalidInput `call` raised, or None; any other exception fails the test."""
    try:
        call()
    except InvalidInput as refused:
        return refused
    return None


# Admin forms (clinic/admin/forms.py): a Checker collects messages, done() raises them.


def _read_everything(values: Mapping[str, str]) -> Checker:
    checker = Checker()
    checker.text(values, "name", missing="Enter the name", max_length=20)
    checker.whole_number(values, "minutes", label="Minutes", low=5, high=480)
    checker.day(values, "valid_from", what="start date", required=True)
    checker.clock(values, "opens", what="opening time")
    return checker


admin_names = ["name", "minutes", *date_fields("valid_from"), "opens"]


@FUZZ
@given(st.fixed_dictionaries({}, optional=dict.fromkeys(admin_names, typed)))
def test_admin_fields_answer_any_text_with_messages(posted: dict[str, str]) -> None:
    values = form_values(posted, *admin_names)
    checker = _read_everything(values)
    assert all(isinstance(m, str) and m for m in checker.errors.values())
    assert set(checker.errors) <= set(admin_names)
    refused = _refusal(checker.done)
    assert (refused.field_errors if refused else {}) == checker.errors


@FUZZ
@given(
    st.dates(date(EARLIEST_YEAR, 1, 1), date(LATEST_YEAR, 12, 31)),
    st.integers(5, 480),
    st.times().map(lambda t: t.replace(second=0, microsecond=0)),
)
def test_admin_fields_read_back_what_was_typed(day: date, minutes: int, opens: time) -> None:
    day_field, month_field, year_field = date_fields("valid_from")
    values = {
        "name": "  Room 1 ",
        "minutes": f"{minutes:,}",
        day_field: str(day.day),
        month_field: f"{day.month:02d}",
        year_field: str(day.year),
        "opens": clock_text(opens),
    }
    checker = Checker()
    assert checker.text(values, "name", missing="Enter the name") == "Room 1"
    assert checker.whole_number(values, "minutes", label="Minutes", low=5, high=480) == minutes
    assert checker.day(values, "valid_from", what="start date", required=True) == day
    assert checker.clock(values, "opens", what="opening time") == opens
    assert checker.errors == {}


@FUZZ
@given(typed)
def test_a_clock_reads_any_text_as_a_time_or_nothing(raw: str) -> None:
    found = parse_clock(raw)
    assert found is None or isinstance(found, time)


@FUZZ
@given(st.integers(0, 23), st.integers(0, 59))
def test_a_clock_reads_both_ways_of_writing_a_time(hour: int, minute: int) -> None:
    moment = time(hour, minute)
    assert parse_clock(clock_text(moment)) == moment
    twelve = f"{hour % 12 or 12}:{minute:02d}{'pm' if hour >= 12 else 'am'}"
    assert parse_clock(twelve) == moment
    assert parse_clock(twelve.upper().replace("M", ".M.")) == moment


# Contact details (clinic/clients/): a sentence or nothing.


@FUZZ
@given(typed, typed, typed)
def test_contact_details_answer_any_text_with_sentences(name: str, email: str, phone: str) -> None:
    for problem in (email_problem(email), phone_problem(phone)):
        assert problem is None or problem.endswith(tuple("abcdefghijklmnopqrstuvwxyz0123456789"))
    booked = ClientDetails(name, email, phone).problems()
    added = new_client_problems(name, email, phone)
    assert set(booked) <= {"name", "email", "phone"}
    assert set(added) <= {"name", "email", "phone"}
    assert all(isinstance(m, str) and m for m in (*booked.values(), *added.values()))


names = st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs", "Z"]), min_size=1)
local_parts = st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,20}", fullmatch=True)
domains = st.from_regex(r"[a-z0-9-]{1,20}\.[a-z]{2,6}", fullmatch=True)
phones = st.from_regex(r"\+?[0-9 ()-]{0,6}[0-9]{7,12}", fullmatch=True)


@FUZZ
@given(names.filter(lambda n: len(n.strip()) <= 200), local_parts, domains, phones)
def test_real_contact_details_are_accepted(name: str, local: str, domain: str, phone: str) -> None:
    email = f"{local}@{domain}"
    assert email_problem(email) is None
    assert phone_problem(phone) is None
    assert new_client_problems(name, email, phone) == {}
    if len(name) <= 200:
        assert ClientDetails(name, email, phone).problems() == {}


# The online booking pages (clinic/booking/pages/times.py) and ids in paths and forms.


@FUZZ
@given(typed | st.sampled_from(["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59-12:00"]))
def test_a_posted_start_or_day_is_a_value_or_nothing(raw: str) -> None:
    start = parse_start(raw)
    assert start is None or start.tzinfo is not None
    # Whatever it names, the page can say it in the clinic's zone (a day either side).
    if start is not None:
        (start + timedelta(days=1)).astimezone(ZONE)
        (start - timedelta(days=1)).astimezone(ZONE)
    assert parse_day(raw) is None or len(raw) == 10


@FUZZ
# Hypothesis takes naive bounds; the times it draws are in UTC.
@given(st.datetimes(datetime(2000, 1, 1), datetime(2999, 12, 31), timezones=st.just(UTC)))  # noqa: DTZ001
def test_a_time_offered_on_the_page_comes_back_as_the_same_instant(start: datetime) -> None:
    assert parse_start(slot_value(start)) == start
    assert parse_day(start.date().isoformat()) == start.date()


@FUZZ
@given(typed)
@example("\u00b2")  # a superscript two: str.isdigit() says yes, int() says no
@example("\u0663")  # an Arabic-Indic three
def test_an_id_is_a_positive_number_or_nothing(raw: str) -> None:
    found = parse_id(raw)
    assert found is None or found >= 1


@FUZZ
@given(st.integers(1, 10**9 - 1))
def test_an_id_reads_back(number: int) -> None:
    assert parse_id(str(number)) == number


# The desk's "outside the usual rules" form (clinic/desk/overrides.py).

override_names = [*overrides.FIELDS, *overrides.RULE_FIELDS]
NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)


@FUZZ
@given(
    st.fixed_dictionaries(
        {}, optional=dict.fromkeys(override_names, typed | st.text(min_size=400, max_size=600))
    ),
    st.dates(date(2026, 3, 1), date(2026, 12, 31)),
)
def test_an_override_answers_any_form_with_messages(posted: dict[str, str], day: date) -> None:
    values = overrides.form_values(posted)
    request, errors = overrides.parse_override(values, {3, 4}, day, ZONE, NOW)
    assert set(errors) <= {"override_therapist", "override_time", "override_rules", *values}
    if not errors:
        assert request.therapist_id in {3, 4}
        assert request.start is not None
        assert request.start > NOW
        assert request.overrides
        assert request.reason.strip()


@FUZZ
@given(
    st.sampled_from([3, 4]),
    st.dates(date(2026, 11, 28), date(2027, 12, 31)),
    st.integers(0, 23),
    st.integers(0, 59),
    st.booleans(),
    names.filter(lambda r: r.strip() and len(r) <= overrides.REASON_LIMIT),
)
def test_a_complete_override_reads_back(
    therapist: int, day: date, hour: int, minute: int, outside_hours: bool, reason: str
) -> None:
    posted = {
        "override_therapist": str(therapist),
        "override_time": f"{hour:02d}:{minute:02d}",
        "override_reason": reason,
        "override_outside_hours" if outside_hours else "override_inside_notice": "1",
    }
    request, errors = overrides.parse_override(
        overrides.form_values(posted), {3, 4}, day, ZONE, NOW
    )
    local = datetime.combine(day, time(hour, minute), tzinfo=ZONE)
    if local.astimezone(UTC).astimezone(ZONE).replace(tzinfo=None) != local.replace(tzinfo=None):
        assert "override_time" in errors  # a time the clocks skip
        return
    assert errors == {}
    assert request.therapist_id == therapist
    assert request.start == local.astimezone(UTC)
    assert request.overrides.outside_hours is outside_hours
    assert request.reason == reason


# The health form (clinic/intake/form_answers.py): validate() raises InvalidInput and
# nothing else for any input, and what it accepts reads back unchanged.

DEFINITION = forms.current()
QUESTION_IDS = [q.id for q in DEFINITION.questions()]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**16), 10**16)
    | st.floats(allow_nan=True)
    | typed
    | st.sampled_from(["yes", "no", "2026-11-02", "9999-12-31", "0001-01-01", "1,000"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(typed, inner, max_size=4),
    max_leaves=12,
)
answer_sets = st.dictionaries(st.sampled_from(QUESTION_IDS) | typed, json_values, max_size=12)
VALID = [complete_answers(DEFINITION, client.answers(TODAY)) for client in INTAKE_CLIENTS]


def _validate(submitted: Any) -> dict[str, Any] | None:
    cleaned: list[dict[str, Any]] = []
    refused = _refusal(lambda: cleaned.append(forms.validate(DEFINITION, submitted, today=TODAY)))
    if refused is not None:
        # A refusal names the answers to fix, unless the whole body was not an object.
        assert refused.field_errors or not isinstance(submitted, Mapping)
        return None
    return cleaned[0]


@FUZZ
@given(answer_sets | json_values)
def test_any_health_form_answers_are_cleaned_or_refused(submitted: Any) -> None:
    cleaned = _validate(submitted)
    if cleaned is not None:
        _screens(cleaned)


@settings(FUZZ, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.sampled_from(VALID), st.sampled_from(QUESTION_IDS), json_values)
def test_one_changed_answer_is_cleaned_or_refused(
    answers: dict[str, Any], question: str, value: Any
) -> None:
    cleaned = _validate({**answers, question: value})
    if cleaned is not None:
        _screens(cleaned)


@pytest.mark.parametrize("answers", VALID, ids=[c.name for c in INTAKE_CLIENTS])
def test_the_demo_clients_answers_read_back_unchanged(answers: dict[str, Any]) -> None:
    cleaned = forms.validate(DEFINITION, answers, today=TODAY)
    assert cleaned == answers
    assert forms.validate(DEFINITION, cleaned, today=TODAY) == cleaned
    _screens(cleaned)


def _screens(cleaned: dict[str, Any]) -> None:
    """What is done with accepted answers never fails: reading them, saying them in words,
    and planning care from them on any day near the visit."""
    assert forms.validate(DEFINITION, cleaned, today=TODAY) == cleaned
    answers = forms.to_answers(DEFINITION, cleaned)
    forms.readable(DEFINITION, cleaned)
    for today in (TODAY, TODAY + timedelta(days=400)):
        screen(answers, today=today, visit_within_window=True)
