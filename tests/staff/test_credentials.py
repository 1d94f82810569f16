"""Bookability, oncology level and lymphedema derived from credentials on a date."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinic.staff.credentials import (
    CredentialFacts,
    LevelRules,
    Qualification,
    expiring_within,
    format_date,
    oncology_level_on,
    qualification_on,
    qualification_runs,
)
from clinic.staff.models import CredentialKind as K

TODAY = date(2026, 6, 15)


def cred(
    kind: K,
    *,
    verified: bool = True,
    issued: date | None = date(2025, 1, 1),
    expires: date | None = None,
    hours: int | None = None,
    hands_on: bool = False,
) -> CredentialFacts:
    return CredentialFacts(
        kind=kind,
        verified=verified,
        issued_on=issued,
        expires_on=expires,
        hours=hours,
        supervised_hands_on=hands_on,
    )


LICENCE = cred(K.MASSAGE_LICENCE, expires=date(2027, 1, 31))
INSURANCE = cred(K.LIABILITY_INSURANCE, expires=date(2026, 12, 31))
BASE = (LICENCE, INSURANCE)
FOUNDATIONAL = cred(K.ONCOLOGY_FOUNDATIONAL, hours=24, hands_on=True)
LEVEL1 = (*BASE, FOUNDATIONAL)
CE_30 = cred(K.ONCOLOGY_CE, hours=30)
SUPERVISED_18 = cred(K.ONCOLOGY_SUPERVISED_HOURS, hours=18)
SPECIALTY = cred(K.ONCOLOGY_SPECIALTY_CERTIFICATE, hours=100)
HOSPITAL = cred(K.HOSPITAL_CREDENTIALING, expires=date(2027, 3, 1))
EDUCATOR = cred(K.ONCOLOGY_EDUCATOR)
LYMPHEDEMA = cred(K.LYMPHEDEMA_MLD_CDT, hours=135, expires=date(2027, 6, 30))


@pytest.mark.parametrize(
    ("credentials", "on", "bookable"),
    [
        pytest.param((), TODAY, False, id="no-credentials"),
        pytest.param((LICENCE,), TODAY, False, id="licence-only"),
        pytest.param((INSURANCE,), TODAY, False, id="insurance-only"),
        pytest.param(BASE, TODAY, True, id="licence-and-insurance"),
        pytest.param(
            (cred(K.MASSAGE_LICENCE, verified=False), INSURANCE),
            TODAY,
            False,
            id="unverified-licence",
        ),
        pytest.param(BASE, date(2026, 12, 31), True, id="insurance-expiry-day-itself"),
        pytest.param(BASE, date(2027, 1, 1), False, id="day-after-insurance-expiry"),
        pytest.param(
            (cred(K.MASSAGE_LICENCE, expires=TODAY), INSURANCE),
            TODAY,
            True,
            id="licence-expiry-day-itself",
        ),
        pytest.param(
            (cred(K.MASSAGE_LICENCE, expires=date(2026, 6, 14)), INSURANCE),
            TODAY,
            False,
            id="day-after-licence-expiry",
        ),
        pytest.param(
            (cred(K.MASSAGE_LICENCE, issued=date(2026, 7, 1)), INSURANCE),
            TODAY,
            False,
            id="licence-issued-in-future",
        ),
        pytest.param(
            (cred(K.MASSAGE_LICENCE, issued=TODAY), INSURANCE),
            TODAY,
            True,
            id="licence-issued-today",
        ),
        pytest.param(
            (cred(K.MASSAGE_LICENCE, issued=None, expires=None), INSURANCE),
            TODAY,
            True,
            id="licence-without-dates",
        ),
        pytest.param(
            (cred(K.MASSAGE_LICENCE, expires=date(2026, 6, 1)), LICENCE, INSURANCE),
            TODAY,
            True,
            id="expired-licence-beside-renewed-one",
        ),
    ],
)
def test_therapist_is_bookable_only_with_current_verified_licence_and_insurance(
    credentials: tuple[CredentialFacts, ...], on: date, bookable: bool
) -> None:
    result = qualification_on(credentials, on)
    assert result.bookable is bookable
    assert (result.reasons == ()) is bookable
    if not bookable:
        assert result.oncology_level is None
        assert result.lymphedema is False


def test_expired_licence_makes_therapist_unbookable() -> None:
    licence = cred(K.MASSAGE_LICENCE, expires=date(2026, 11, 1))
    result = qualification_on([licence, INSURANCE], date(2026, 11, 2))
    assert result == Qualification(
        bookable=False,
        oncology_level=None,
        lymphedema=False,
        reasons=("Massage licence expired on 1 November 2026.",),
    )


@pytest.mark.parametrize(
    ("credentials", "reasons"),
    [
        pytest.param(
            (),
            ("No verified massage licence.", "No verified liability insurance."),
            id="nothing-stored",
        ),
        pytest.param(
            (LICENCE,),
            ("No verified liability insurance.",),
            id="insurance-missing",
        ),
        pytest.param(
            (cred(K.MASSAGE_LICENCE, verified=False), INSURANCE),
            ("No verified massage licence.",),
            id="unverified-licence-counts-as-none",
        ),
        pytest.param(
            (
                cred(K.MASSAGE_LICENCE, expires=date(2026, 3, 9)),
                cred(K.MASSAGE_LICENCE, expires=date(2026, 5, 31)),
                INSURANCE,
            ),
            ("Massage licence expired on 31 May 2026.",),
            id="latest-expiry-named",
        ),
        pytest.param(
            (LICENCE, cred(K.LIABILITY_INSURANCE, issued=date(2026, 7, 4))),
            ("Liability insurance not valid until 4 July 2026.",),
            id="insurance-issued-in-future",
        ),
        pytest.param(
            (
                cred(K.MASSAGE_LICENCE, expires=date(2026, 6, 10)),
                cred(K.MASSAGE_LICENCE, issued=date(2026, 6, 20)),
                INSURANCE,
            ),
            (
                "Massage licence expired on 10 June 2026"
                " and the renewal is not valid until 20 June 2026.",
            ),
            id="gap-between-licences",
        ),
    ],
)
def test_unbookable_reasons_name_each_missing_or_expired_credential(
    credentials: tuple[CredentialFacts, ...], reasons: tuple[str, ...]
) -> None:
    assert qualification_on(credentials, TODAY).reasons == reasons


@pytest.mark.parametrize(
    ("credentials", "sessions", "level"),
    [
        pytest.param(BASE, 0, 0, id="licensed-only-is-level-0"),
        pytest.param(LEVEL1, 0, 1, id="24h-supervised-foundational-is-level-1"),
        pytest.param(
            (*BASE, cred(K.ONCOLOGY_FOUNDATIONAL, hours=20, hands_on=True)),
            0,
            0,
            id="20h-foundational-stays-0",
        ),
        pytest.param(
            (*BASE, cred(K.ONCOLOGY_FOUNDATIONAL, hours=24, hands_on=False)),
            0,
            0,
            id="foundational-without-hands-on-stays-0",
        ),
        pytest.param(
            (*BASE, cred(K.ONCOLOGY_FOUNDATIONAL, hours=None, hands_on=True)),
            0,
            0,
            id="foundational-without-hours-stays-0",
        ),
        pytest.param(
            (*BASE, cred(K.ONCOLOGY_FOUNDATIONAL, verified=False, hours=24, hands_on=True)),
            0,
            0,
            id="unverified-foundational-stays-0",
        ),
        pytest.param((*LEVEL1, CE_30, SUPERVISED_18), 50, 2, id="30ce-plus-18-supervised-50-sess"),
        pytest.param((*LEVEL1, CE_30, SUPERVISED_18), 49, 1, id="49-sessions-not-enough"),
        pytest.param((*LEVEL1, CE_30), 50, 1, id="30h-ce-alone-not-enough"),
        pytest.param(
            (*LEVEL1, CE_30, cred(K.ONCOLOGY_SUPERVISED_HOURS, hours=17)),
            500,
            1,
            id="47h-not-enough",
        ),
        pytest.param(
            (*LEVEL1, CE_30, cred(K.ONCOLOGY_CE, verified=False, hours=18)),
            50,
            1,
            id="unverified-ce-hours-ignored",
        ),
        pytest.param(
            (*BASE, CE_30, SUPERVISED_18),
            50,
            0,
            id="level-2-facts-without-foundational-stay-0",
        ),
        pytest.param((*LEVEL1, SPECIALTY), 0, 3, id="specialty-certificate-is-level-3"),
        pytest.param((*BASE, SPECIALTY), 0, 0, id="specialty-without-foundational-stays-0"),
        pytest.param((*LEVEL1, HOSPITAL), 0, 4, id="hospital-credentialing-is-level-4"),
        pytest.param((*LEVEL1, EDUCATOR), 0, 4, id="educator-is-level-4"),
        pytest.param((*BASE, EDUCATOR), 0, 0, id="educator-without-foundational-stays-0"),
        pytest.param(
            (*LEVEL1, SPECIALTY, cred(K.HOSPITAL_CREDENTIALING, expires=date(2026, 6, 14))),
            0,
            3,
            id="expired-hospital-credentialing-drops-to-3",
        ),
        pytest.param(
            (*LEVEL1, cred(K.HOSPITAL_CREDENTIALING, expires=date(2026, 6, 14))),
            0,
            1,
            id="expired-hospital-credentialing-drops-to-1",
        ),
        pytest.param(
            (*LEVEL1, cred(K.HOSPITAL_CREDENTIALING, issued=date(2026, 9, 1))),
            0,
            1,
            id="future-hospital-credentialing-not-yet-counted",
        ),
        pytest.param((*LEVEL1, CE_30, SUPERVISED_18, HOSPITAL), 50, 4, id="highest-level-wins"),
    ],
)
def test_oncology_level_is_highest_level_whose_evidence_holds(
    credentials: tuple[CredentialFacts, ...], sessions: int, level: int
) -> None:
    assert oncology_level_on(credentials, TODAY, oncology_sessions=sessions) == level
    result = qualification_on(credentials, TODAY, oncology_sessions=sessions)
    assert result.oncology_level == level


def test_oncology_level_is_none_when_not_bookable() -> None:
    assert oncology_level_on((FOUNDATIONAL, SPECIALTY, HOSPITAL), TODAY) is None


@pytest.mark.parametrize(
    ("rules", "level"),
    [
        pytest.param(LevelRules(), 2, id="defaults"),
        pytest.param(LevelRules(foundational_min_hours=30), 0, id="higher-foundational-minimum"),
        pytest.param(LevelRules(level2_min_hours=49), 1, id="higher-level2-hours"),
        pytest.param(LevelRules(level2_min_sessions=10), 2, id="lower-level2-sessions"),
        pytest.param(LevelRules(level2_min_sessions=51), 1, id="higher-level2-sessions"),
    ],
)
def test_level_thresholds_follow_clinic_settings(rules: LevelRules, level: int) -> None:
    credentials = (*LEVEL1, CE_30, SUPERVISED_18)
    assert oncology_level_on(credentials, TODAY, oncology_sessions=50, rules=rules) == level


@pytest.mark.parametrize(
    ("credentials", "lymphedema"),
    [
        pytest.param(BASE, False, id="no-lymphedema-credential"),
        pytest.param((*BASE, LYMPHEDEMA), True, id="current-lymphedema-credential"),
        pytest.param(
            (*BASE, cred(K.LYMPHEDEMA_MLD_CDT, expires=date(2026, 6, 14))),
            False,
            id="expired-lymphedema-credential",
        ),
        pytest.param(
            (*BASE, cred(K.LYMPHEDEMA_MLD_CDT, expires=None)),
            True,
            id="lymphedema-credential-without-expiry",
        ),
        pytest.param(
            (*BASE, cred(K.LYMPHEDEMA_MLD_CDT, verified=False)),
            False,
            id="unverified-lymphedema-credential",
        ),
        pytest.param((LICENCE, LYMPHEDEMA), False, id="unbookable-therapist"),
    ],
)
def test_lymphedema_needs_bookable_therapist_with_current_mld_cdt(
    credentials: tuple[CredentialFacts, ...], lymphedema: bool
) -> None:
    assert qualification_on(credentials, TODAY).lymphedema is lymphedema


def test_lymphedema_is_independent_of_oncology_level() -> None:
    result = qualification_on((*BASE, LYMPHEDEMA), TODAY)
    assert (result.oncology_level, result.lymphedema) == (0, True)


OLD = date(2020, 3, 1)
# Licence and insurance without expiry, so that far-off dates (29 February 2028) stay bookable.
LASTING = (cred(K.MASSAGE_LICENCE), cred(K.LIABILITY_INSURANCE))


@pytest.mark.parametrize(
    ("credentials", "rules", "on", "level"),
    [
        pytest.param(
            (*LASTING, cred(K.ONCOLOGY_FOUNDATIONAL, issued=OLD, hours=24, hands_on=True)),
            LevelRules(),
            TODAY,
            1,
            id="off-by-default-old-training-counts",
        ),
        pytest.param(
            (
                *LASTING,
                cred(K.ONCOLOGY_FOUNDATIONAL, issued=OLD, hours=24, hands_on=True),
                cred(K.ONCOLOGY_CE, issued=date(2025, 9, 1), hours=6),
            ),
            LevelRules(ce_recency_years=3),
            TODAY,
            1,
            id="on-recent-ce-keeps-level-1",
        ),
        pytest.param(
            (
                *LASTING,
                cred(K.ONCOLOGY_FOUNDATIONAL, issued=OLD, hours=24, hands_on=True),
                cred(K.ONCOLOGY_SPECIALTY_CERTIFICATE, issued=OLD),
                cred(K.ONCOLOGY_SUPERVISED_HOURS, issued=date(2024, 1, 1), hours=10),
            ),
            LevelRules(ce_recency_years=3),
            TODAY,
            3,
            id="on-recent-supervised-hours-keep-level-3",
        ),
        pytest.param(
            (
                *LASTING,
                cred(K.ONCOLOGY_FOUNDATIONAL, issued=OLD, hours=24, hands_on=True),
                cred(K.ONCOLOGY_SPECIALTY_CERTIFICATE, issued=OLD),
            ),
            LevelRules(ce_recency_years=3),
            TODAY,
            0,
            id="on-old-training-only-drops-to-0",
        ),
        pytest.param(
            (
                *LASTING,
                cred(K.ONCOLOGY_FOUNDATIONAL, issued=OLD, hours=24, hands_on=True),
                cred(K.ONCOLOGY_EDUCATOR, issued=date(2026, 1, 1)),
            ),
            LevelRules(ce_recency_years=3),
            TODAY,
            0,
            id="on-educator-status-is-not-oncology-education",
        ),
        pytest.param(
            (
                *LASTING,
                cred(K.ONCOLOGY_FOUNDATIONAL, issued=OLD, hours=24, hands_on=True),
                cred(K.ONCOLOGY_CE, verified=False, issued=date(2026, 1, 1), hours=6),
            ),
            LevelRules(ce_recency_years=3),
            TODAY,
            0,
            id="on-unverified-recent-ce-ignored",
        ),
        pytest.param(
            (
                *LASTING,
                cred(K.ONCOLOGY_FOUNDATIONAL, issued=date(2023, 6, 15), hours=24, hands_on=True),
            ),
            LevelRules(ce_recency_years=3),
            TODAY,
            1,
            id="on-issued-exactly-n-years-ago-counts",
        ),
        pytest.param(
            (
                *LASTING,
                cred(K.ONCOLOGY_FOUNDATIONAL, issued=date(2023, 6, 14), hours=24, hands_on=True),
            ),
            LevelRules(ce_recency_years=3),
            TODAY,
            0,
            id="on-issued-a-day-too-early-drops",
        ),
        pytest.param(
            (
                *LASTING,
                cred(K.ONCOLOGY_FOUNDATIONAL, issued=date(2025, 2, 28), hours=24, hands_on=True),
            ),
            LevelRules(ce_recency_years=1),
            date(2026, 2, 28),
            1,
            id="one-year-window-inclusive-start",
        ),
        pytest.param(
            (
                *LASTING,
                cred(K.ONCOLOGY_FOUNDATIONAL, issued=date(2025, 2, 28), hours=24, hands_on=True),
            ),
            LevelRules(ce_recency_years=1),
            date(2028, 2, 29),
            0,
            id="feb-29-old-training-drops",
        ),
        pytest.param(
            (
                *LASTING,
                cred(K.ONCOLOGY_FOUNDATIONAL, issued=date(2027, 2, 28), hours=24, hands_on=True),
            ),
            LevelRules(ce_recency_years=1),
            date(2028, 2, 29),
            1,
            id="feb-29-window-starts-feb-28",
        ),
        pytest.param(
            (
                *LASTING,
                cred(K.ONCOLOGY_FOUNDATIONAL, issued=date(2027, 2, 27), hours=24, hands_on=True),
            ),
            LevelRules(ce_recency_years=1),
            date(2028, 2, 29),
            0,
            id="feb-29-day-before-window-drops",
        ),
    ],
)
def test_ce_recency_rule_needs_recent_oncology_education(
    credentials: tuple[CredentialFacts, ...], rules: LevelRules, on: date, level: int
) -> None:
    assert oncology_level_on(credentials, on, rules=rules) == level


@pytest.mark.parametrize(
    ("on", "days", "expected"),
    [
        pytest.param(date(2026, 12, 1), 30, [INSURANCE], id="insurance-within-30-days"),
        pytest.param(date(2026, 12, 1), 29, [], id="expiry-just-outside-window"),
        pytest.param(date(2026, 12, 31), 31, [LICENCE], id="expiry-today-excluded"),
        pytest.param(
            date(2026, 12, 1),
            120,
            [INSURANCE, LICENCE, HOSPITAL],
            id="sorted-by-expiry-date",
        ),
        pytest.param(
            date(2027, 6, 1), 29, [LYMPHEDEMA], id="lymphedema-expiry-on-last-day-included"
        ),
        pytest.param(date(2027, 6, 1), 28, [], id="lymphedema-expiry-day-after-window"),
    ],
)
def test_expiring_within_lists_watched_credentials_expiring_soon(
    on: date, days: int, expected: list[CredentialFacts]
) -> None:
    credentials = (
        LICENCE,
        INSURANCE,
        HOSPITAL,
        LYMPHEDEMA,
        cred(K.ONCOLOGY_CE, expires=date(2026, 12, 15)),
        cred(K.MASSAGE_LICENCE, verified=False, expires=date(2026, 12, 15)),
        EDUCATOR,
    )
    assert expiring_within(credentials, on, days) == expected


@pytest.mark.parametrize(
    ("day", "text"),
    [
        pytest.param(date(2026, 11, 1), "1 November 2026", id="single-digit-day"),
        pytest.param(date(2028, 2, 29), "29 February 2028", id="leap-day"),
        pytest.param(date(2027, 12, 31), "31 December 2027", id="year-end"),
    ],
)
def test_format_date_has_no_leading_zero(day: date, text: str) -> None:
    assert format_date(day) == text


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"foundational_min_hours": -1}, id="negative-hours"),
        pytest.param({"level2_min_sessions": -1}, id="negative-sessions"),
        pytest.param({"ce_recency_years": -3}, id="negative-window"),
    ],
)
def test_level_rules_reject_negative_thresholds(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="negative"):
        LevelRules(**kwargs)


# Runs of days: the same answers as asking day by day.

_DAYS = st.dates(min_value=date(2023, 1, 1), max_value=date(2029, 12, 31))
_CREDENTIAL = st.builds(
    CredentialFacts,
    kind=st.sampled_from(list(K)),
    verified=st.booleans(),
    issued_on=st.one_of(st.none(), _DAYS),
    expires_on=st.one_of(st.none(), _DAYS),
    hours=st.one_of(st.none(), st.integers(0, 200)),
    supervised_hands_on=st.booleans(),
)


# A licence and insurance each time (else nobody is ever bookable), then anything.
_BASICS = st.tuples(
    *(
        st.builds(
            CredentialFacts,
            kind=st.just(kind),
            verified=st.just(True),
            issued_on=st.one_of(st.none(), _DAYS),
            expires_on=st.one_of(st.none(), _DAYS),
        )
        for kind in (K.MASSAGE_LICENCE, K.LIABILITY_INSURANCE)
    )
)


@settings(max_examples=300, deadline=None)
@given(
    basics=_BASICS,
    others=st.lists(_CREDENTIAL, max_size=5),
    first=st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)),
    span=st.integers(0, 400),
    sessions=st.integers(0, 80),
    recency=st.one_of(st.none(), st.integers(0, 3)),
)
def test_runs_of_days_agree_with_asking_day_by_day(
    basics: tuple[CredentialFacts, CredentialFacts],
    others: list[CredentialFacts],
    first: date,
    span: int,
    sessions: int,
    recency: int | None,
) -> None:
    credentials = [*basics, *others]
    rules = LevelRules(ce_recency_years=recency)
    last = first + timedelta(days=span)
    runs = qualification_runs(credentials, first, last, oncology_sessions=sessions, rules=rules)
    assert runs[0][0] == first
    assert runs[-1][1] == last
    day = first
    for run_first, run_last, found in runs:
        assert run_first == day
        while day <= run_last:
            asked = qualification_on(credentials, day, oncology_sessions=sessions, rules=rules)
            assert asked.standing == found.standing, day
            day += timedelta(days=1)
    for earlier, later in pairwise(runs):
        assert earlier[2].standing != later[2].standing


@pytest.mark.parametrize(
    ("issued", "leaves"),
    [
        (date(2024, 3, 10), date(2026, 3, 11)),
        # Issued on 29 February: the window's start is 28 February in other years.
        (date(2024, 2, 29), date(2026, 3, 1)),
    ],
)
def test_a_run_ends_the_day_education_leaves_the_recency_window(issued: date, leaves: date) -> None:
    rules = LevelRules(ce_recency_years=2)
    foundational = cred(K.ONCOLOGY_FOUNDATIONAL, issued=issued, hours=24, hands_on=True)
    credentials = [*BASE, foundational]
    first, last = leaves - timedelta(days=20), leaves + timedelta(days=20)
    runs = qualification_runs(credentials, first, last, rules=rules)
    assert [(start, end, found.oncology_level) for start, end, found in runs] == [
        (first, leaves - timedelta(days=1), 1),
        (leaves, last, 0),
    ]
