"""What a credential's state means, in words: its tag on the therapist's page, and what
happens when it expires. Pure: no database; `today` is passed in.

The consequence of an expiry is not a table of kinds: it is the difference between the
therapist's qualification on the expiry day and on the day after
(clinic.staff.credentials), so a renewal already verified means no warning at all, and a
lost hospital credential names the level it falls to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from clinic.dates import MONTHS
from clinic.staff.credentials import (
    CredentialFacts,
    LevelRules,
    Qualification,
    expiring_within,
    format_date,
    qualification_on,
)
from clinic.staff.models import CredentialKind

DEFAULT_RULES = LevelRules()
# Warnings start this many days before a credential expires.
WARN_DAYS = 60

KIND_LABELS: dict[CredentialKind, str] = {
    CredentialKind.MASSAGE_LICENCE: "Massage licence",
    CredentialKind.LIABILITY_INSURANCE: "Liability insurance",
    CredentialKind.ONCOLOGY_FOUNDATIONAL: "Foundational oncology massage course",
    CredentialKind.ONCOLOGY_CE: "Oncology continuing education",
    CredentialKind.ONCOLOGY_SUPERVISED_HOURS: "Supervised oncology clinical hours",
    CredentialKind.ONCOLOGY_SPECIALTY_CERTIFICATE: "Oncology specialty certificate",
    CredentialKind.HOSPITAL_CREDENTIALING: "Hospital credentialing",
    CredentialKind.ONCOLOGY_EDUCATOR: "Oncology massage educator",
    CredentialKind.LYMPHEDEMA_MLD_CDT: "Lymphedema training (MLD/CDT)",
    CredentialKind.OTHER: "Other",
}

Look = Literal["on", "off", "warn"]


@dataclass(frozen=True)
class Tag:
    label: str
    look: Look  # the tag's border: tag-on, tag-off, tag-warn; the words carry the meaning


def credential_tag(facts: CredentialFacts, today: date) -> Tag:
    """Valid, "Expires in 23 days", Expired, "Does not expire", or why it does not count."""
    if not facts.verified:
        return Tag("Not verified", "warn")
    if facts.issued_on is not None and facts.issued_on > today:
        return Tag(f"Valid from {format_date(facts.issued_on)}", "warn")
    if facts.expires_on is None:
        return Tag("Does not expire", "on")
    days = (facts.expires_on - today).days
    if days < 0:
        return Tag("Expired", "off")
    if days == 0:
        return Tag("Expires today", "warn")
    if days == 1:
        return Tag("Expires tomorrow", "warn")
    if days <= WARN_DAYS:
        return Tag(f"Expires in {days} days", "warn")
    return Tag("Valid", "on")


def short_date(day: date, today: date) -> str:
    """ "1 June", or "1 June 2027" when it is not this year."""
    if day.year == today.year:
        return f"{day.day} {MONTHS[day.month - 1]}"
    return format_date(day)


def expiry_consequence(
    name: str,
    credentials: Iterable[CredentialFacts],
    expires_on: date,
    today: date,
    *,
    oncology_sessions: int = 0,
    rules: LevelRules = DEFAULT_RULES,
) -> str | None:
    """What changes for clients the day after `expires_on`, as one sentence, or None when
    nothing does (a verified renewal is already recorded, say)."""
    credentials = tuple(credentials)
    before = qualification_on(
        credentials, expires_on, oncology_sessions=oncology_sessions, rules=rules
    )
    after = qualification_on(
        credentials,
        expires_on + timedelta(days=1),
        oncology_sessions=oncology_sessions,
        rules=rules,
    )
    when = f"After {short_date(expires_on, today)}"
    if before.bookable and not after.bookable:
        return f"{when}, {name} stops appearing in online booking."
    if not before.bookable:
        return None
    changes: list[str] = []
    if (
        before.oncology_level is not None
        and after.oncology_level is not None
        and after.oncology_level < before.oncology_level
    ):
        changes.append(
            f"{name}'s oncology level falls from {before.oncology_level} to "
            f"{after.oncology_level}, so services that need a higher level stop offering them"
        )
    if before.lymphedema and not after.lymphedema:
        changes.append(f"{name} can no longer be booked for lymphedema visits")
    if not changes:
        return None
    return f"{when}, " + " and ".join(changes) + "."


@dataclass(frozen=True)
class ExpiryWarning:
    facts: CredentialFacts
    expires_on: date
    days_left: int
    consequence: str


def expiry_warnings(
    name: str,
    credentials: Iterable[CredentialFacts],
    today: date,
    *,
    oncology_sessions: int = 0,
    rules: LevelRules = DEFAULT_RULES,
) -> list[ExpiryWarning]:
    """Credentials expiring from today to WARN_DAYS ahead whose expiry changes something,
    soonest first."""
    credentials = tuple(credentials)
    warnings: list[ExpiryWarning] = []
    # expiring_within counts from the day after `on`: start a day early so that a
    # credential in its last day is warned about too.
    for facts in expiring_within(credentials, today - timedelta(days=1), WARN_DAYS + 1):
        assert facts.expires_on is not None
        consequence = expiry_consequence(
            name,
            credentials,
            facts.expires_on,
            today,
            oncology_sessions=oncology_sessions,
            rules=rules,
        )
        if consequence is not None:
            warnings.append(
                ExpiryWarning(
                    facts=facts,
                    expires_on=facts.expires_on,
                    days_left=(facts.expires_on - today).days,
                    consequence=consequence,
                )
            )
    return warnings


def level_words(qualification: Qualification) -> str:
    """ "Level 2", "Level 0 (no oncology training)", or "Not bookable"."""
    if not qualification.bookable or qualification.oncology_level is None:
        return "Not bookable"
    if qualification.oncology_level == 0:
        return "Level 0 (no oncology training)"
    return f"Level {qualification.oncology_level}"
