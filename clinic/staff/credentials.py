"""Bookability and oncology level derived from a therapist's credentials on a date.

Pure rules, no database: callers turn stored ``Credential`` rows into ``CredentialFacts``.
See shared/domain/oncology.md, section (c). The thresholds are clinic settings
(``LevelRules``); the defaults are the product defaults.

- Only verified credentials count. A credential is *current* on D when ``issued_on`` is None or
  ``issued_on <= D`` and ``expires_on`` is None or ``D <= expires_on`` (valid through expiry).
- Bookable (level 0): a current massage licence and a current liability insurance. Otherwise
  the therapist is not bookable, has no level, no lymphedema flag, and ``reasons`` says why.
- Level 1: bookable + a current foundational oncology course of at least
  ``foundational_min_hours`` hours with supervised hands-on work.
- Level 2: level 1 + current oncology CE and supervised clinical hours summing to at least
  ``level2_min_hours`` + at least ``level2_min_sessions`` completed oncology sessions.
- Level 3: level 1 + a current oncology specialty certificate.
- Level 4: level 1 + current hospital credentialing or oncology-educator status.
- The level is the highest that holds (level 3 does not need level 2's facts).
- CE recency (off unless ``ce_recency_years`` = N is set): levels >= 1 count only if some
  verified oncology education credential (foundational, CE, supervised hours, specialty
  certificate) was issued within the N years up to D; otherwise the level is 0. "D minus N
  years" on 29 February falls back to 28 February.
- Lymphedema: bookable + a current MLD/CDT credential; independent of the level.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from clinic.dates import day_month_year
from clinic.staff.models import CredentialKind

__all__ = [
    "CredentialFacts",
    "LevelRules",
    "Qualification",
    "expiring_within",
    "format_date",
    "oncology_level_on",
    "qualification_on",
]


_ONCOLOGY_EDUCATION = frozenset(
    {
        CredentialKind.ONCOLOGY_FOUNDATIONAL,
        CredentialKind.ONCOLOGY_CE,
        CredentialKind.ONCOLOGY_SUPERVISED_HOURS,
        CredentialKind.ONCOLOGY_SPECIALTY_CERTIFICATE,
    }
)
_LEVEL2_HOURS = frozenset({CredentialKind.ONCOLOGY_CE, CredentialKind.ONCOLOGY_SUPERVISED_HOURS})
_LEVEL4 = frozenset({CredentialKind.HOSPITAL_CREDENTIALING, CredentialKind.ONCOLOGY_EDUCATOR})
_EXPIRY_WATCHED = frozenset(
    {
        CredentialKind.MASSAGE_LICENCE,
        CredentialKind.LIABILITY_INSURANCE,
        CredentialKind.LYMPHEDEMA_MLD_CDT,
        CredentialKind.HOSPITAL_CREDENTIALING,
    }
)


@dataclass(frozen=True)
class CredentialFacts:
    kind: CredentialKind
    verified: bool
    issued_on: date | None
    expires_on: date | None
    hours: int | None = None
    supervised_hands_on: bool = False

    def current_on(self, on: date) -> bool:
        """Verified, already issued and not yet expired on ``on`` (expiry day included)."""
        return (
            self.verified
            and (self.issued_on is None or self.issued_on <= on)
            and (self.expires_on is None or on <= self.expires_on)
        )


@dataclass(frozen=True)
class LevelRules:
    """Thresholds for the levels; every one is a clinic setting, these are the product defaults."""

    foundational_min_hours: int = 24
    level2_min_hours: int = 48  # supplemental oncology CE + supervised clinical hours, summed
    level2_min_sessions: int = 50  # completed oncology sessions (here + imported figure)
    ce_recency_years: int | None = None  # None = the CE-recency rule is off (the default)

    def __post_init__(self) -> None:
        if min(self.foundational_min_hours, self.level2_min_hours, self.level2_min_sessions) < 0:
            raise ValueError("Level thresholds cannot be negative.")
        if self.ce_recency_years is not None and self.ce_recency_years < 0:
            raise ValueError("The CE-recency window cannot be negative.")


@dataclass(frozen=True)
class Qualification:
    bookable: bool  # licence and insurance both current on the date
    oncology_level: int | None  # 0-4; None when not bookable
    lymphedema: bool  # False when not bookable
    reasons: tuple[str, ...]  # plain sentences why not bookable

    @property
    def standing(self) -> tuple[bool, int | None, bool]:
        """What booking reads of it, without the reasons' wording."""
        return self.bookable, self.oncology_level, self.lymphedema


def format_date(day: date) -> str:
    """``1 November 2026``: no leading zero, English month names, no locale."""
    return day_month_year(day)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a non-leap target year
        return day.replace(year=day.year - years, day=28)


def _missing_reason(
    credentials: tuple[CredentialFacts, ...], kind: CredentialKind, on: date
) -> str:
    """Why no verified credential of ``kind`` is current on ``on`` (there is none current)."""
    label = "massage licence" if kind is CredentialKind.MASSAGE_LICENCE else "liability insurance"
    verified = [c for c in credentials if c.kind is kind and c.verified]
    expired = [c.expires_on for c in verified if c.expires_on is not None and c.expires_on < on]
    future = [c.issued_on for c in verified if c.issued_on is not None and c.issued_on > on]
    if expired and future:
        return (
            f"{label.capitalize()} expired on {format_date(max(expired))}"
            f" and the renewal is not valid until {format_date(min(future))}."
        )
    if expired:
        return f"{label.capitalize()} expired on {format_date(max(expired))}."
    if future:
        return f"{label.capitalize()} not valid until {format_date(min(future))}."
    return f"No verified {label}."


def _level(
    current: list[CredentialFacts],
    credentials: tuple[CredentialFacts, ...],
    on: date,
    oncology_sessions: int,
    rules: LevelRules,
) -> int:
    kinds = {c.kind for c in current}
    foundational = any(
        c.kind is CredentialKind.ONCOLOGY_FOUNDATIONAL
        and c.supervised_hands_on
        and c.hours is not None
        and c.hours >= rules.foundational_min_hours
        for c in current
    )
    if not foundational:
        return 0
    if rules.ce_recency_years is not None:
        window_start = _years_before(on, rules.ce_recency_years)
        if not any(
            c.verified
            and c.kind in _ONCOLOGY_EDUCATION
            and c.issued_on is not None
            and window_start <= c.issued_on <= on
            for c in credentials
        ):
            return 0
    if kinds & _LEVEL4:
        return 4
    if CredentialKind.ONCOLOGY_SPECIALTY_CERTIFICATE in kinds:
        return 3
    extra_hours = sum(c.hours or 0 for c in current if c.kind in _LEVEL2_HOURS)
    if extra_hours >= rules.level2_min_hours and oncology_sessions >= rules.level2_min_sessions:
        return 2
    return 1


def qualification_on(
    credentials: Iterable[CredentialFacts],
    on: date,
    *,
    oncology_sessions: int = 0,
    rules: LevelRules = LevelRules(),
) -> Qualification:
    """Whether the therapist is bookable on ``on``, at which oncology level, and lymphedema."""
    credentials = tuple(credentials)
    current = [c for c in credentials if c.current_on(on)]
    kinds = {c.kind for c in current}
    reasons = tuple(
        _missing_reason(credentials, kind, on)
        for kind in (CredentialKind.MASSAGE_LICENCE, CredentialKind.LIABILITY_INSURANCE)
        if kind not in kinds
    )
    if reasons:
        return Qualification(bookable=False, oncology_level=None, lymphedema=False, reasons=reasons)
    return Qualification(
        bookable=True,
        oncology_level=_level(current, credentials, on, oncology_sessions, rules),
        lymphedema=CredentialKind.LYMPHEDEMA_MLD_CDT in kinds,
        reasons=(),
    )


def _may_change_on(credentials: Iterable[CredentialFacts], rules: LevelRules) -> set[date]:
    """Every day `qualification_on` may answer differently from the day before: a
    credential starts or has expired, or (with the CE-recency rule) leaves the window."""
    days: set[date] = set()
    for credential in credentials:
        if credential.issued_on is not None:
            days.add(credential.issued_on)
            if rules.ce_recency_years is not None:
                # The window is `_years_before(on)`..on: the day after this one leaves it
                # (a day either side, for 29 February).
                shifted = _years_before(credential.issued_on, -rules.ce_recency_years)
                days.update(shifted + timedelta(days=step) for step in range(-1, 3))
        if credential.expires_on is not None:
            days.add(credential.expires_on + timedelta(days=1))
    return days


def qualification_runs(
    credentials: Iterable[CredentialFacts],
    first: date,
    last: date,
    *,
    oncology_sessions: int = 0,
    rules: LevelRules = LevelRules(),
) -> list[tuple[date, date, Qualification]]:
    """`qualification_on` for every day of first..last (inclusive), as runs of days that
    answer alike (bookable, level, lymphedema): worked out only where it may change."""
    credentials = tuple(credentials)
    changes = {day for day in _may_change_on(credentials, rules) if first < day <= last}
    starts = sorted(changes | {first})
    runs: list[tuple[date, date, Qualification]] = []
    for index, start in enumerate(starts):
        end = starts[index + 1] - timedelta(days=1) if index + 1 < len(starts) else last
        found = qualification_on(
            credentials, start, oncology_sessions=oncology_sessions, rules=rules
        )
        if runs and runs[-1][2].standing == found.standing:
            runs[-1] = (runs[-1][0], end, runs[-1][2])
        else:
            runs.append((start, end, found))
    return runs


def oncology_level_on(
    credentials: Iterable[CredentialFacts],
    on: date,
    *,
    oncology_sessions: int = 0,
    rules: LevelRules = LevelRules(),
) -> int | None:
    """The oncology level on ``on`` (0-4), or None when the therapist is not bookable."""
    return qualification_on(
        credentials, on, oncology_sessions=oncology_sessions, rules=rules
    ).oncology_level


def expiring_within(
    credentials: Iterable[CredentialFacts], on: date, days: int
) -> list[CredentialFacts]:
    """Verified licence, insurance, lymphedema and hospital credentials expiring in (on, on+days].

    Sorted by expiry date (input order among equal dates), for advance warnings.
    """
    last = on + timedelta(days=days)
    found = [
        c
        for c in credentials
        if c.verified
        and c.kind in _EXPIRY_WATCHED
        and c.expires_on is not None
        and on < c.expires_on <= last
    ]
    return sorted(found, key=lambda c: c.expires_on or on)
