"""Credentials for admins: adding one, verifying it, and the clinic-wide list of those
about to expire with what their expiry will change.

A credential counts towards bookability and the oncology level only once verified
(clinic.staff.credentials); verifying records who did it and when.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from clinic import audit
from clinic.admin.common import get_therapist, therapist_locations, visits_in, zone_of
from clinic.admin.credential_status import KIND_LABELS, ExpiryWarning, expiry_warnings
from clinic.admin.forms import Checker, date_fields
from clinic.admin.therapists import credentials_by_therapist
from clinic.db import Database
from clinic.errors import NotFound
from clinic.staff.credentials import qualification_on
from clinic.staff.models import Credential, CredentialKind, Therapist

MAX_HOURS = 10_000
FIELDS = (
    "kind",
    "title",
    "issuer",
    "number",
    "jurisdiction",
    "hours",
    *date_fields("issued"),
    *date_fields("expires"),
)


@dataclass(frozen=True)
class NewCredential:
    kind: CredentialKind
    title: str
    issuer: str
    number: str
    jurisdiction: str
    hours: int | None
    supervised_hands_on: bool
    issued_on: date | None
    expires_on: date | None
    verified: bool


def read_credential(
    values: Mapping[str, str], *, supervised_hands_on: bool, verified: bool
) -> NewCredential:
    """The credential form as typed values; InvalidInput names each bad field."""
    check = Checker()
    kind: CredentialKind | None = None
    try:
        kind = CredentialKind(values.get("kind", ""))
    except ValueError:
        check.fail("kind", "Choose what kind of credential this is")
    title = check.text(
        values,
        "title",
        missing="Enter the title as printed, like Licensed Massage Therapist",
        label="The title",
    )
    issuer = check.text(values, "issuer", label="The issuer")
    number = check.text(values, "number", max_length=100, label="The number")
    jurisdiction = check.text(values, "jurisdiction", max_length=100, label="The jurisdiction")
    hours = check.whole_number(values, "hours", label="The hours", low=0, high=MAX_HOURS)
    issued_on = check.day(values, "issued", what="issue date", required=False)
    expires_on = check.day(values, "expires", what="expiry date", required=False)
    if issued_on is not None and expires_on is not None and expires_on < issued_on:
        check.fail("expires-day", "The expiry date must be on or after the issue date")
    check.done()
    assert kind is not None
    return NewCredential(
        kind=kind,
        title=title,
        issuer=issuer,
        number=number,
        jurisdiction=jurisdiction,
        hours=hours,
        supervised_hands_on=supervised_hands_on,
        issued_on=issued_on,
        expires_on=expires_on,
        verified=verified,
    )


async def credential_form(db: Database, therapist_id: int) -> Therapist:
    async with db.reading() as session:
        return await get_therapist(session, therapist_id)


async def add_credential(
    db: Database, therapist_id: int, new: NewCredential, *, actor_user_id: int, now: datetime
) -> Credential:
    async with db.transaction() as session:
        await get_therapist(session, therapist_id, lock=True)
        credential = Credential(
            therapist_id=therapist_id,
            kind=new.kind,
            title=new.title,
            issuer=new.issuer,
            number=new.number,
            jurisdiction=new.jurisdiction,
            hours=new.hours,
            supervised_hands_on=new.supervised_hands_on,
            issued_on=new.issued_on,
            expires_on=new.expires_on,
            verified_by_user_id=actor_user_id if new.verified else None,
            verified_at=now if new.verified else None,
        )
        session.add(credential)
        await session.flush()
        audit.record(
            session,
            "therapist.credential_added",
            actor_user_id=actor_user_id,
            subject_type="therapist",
            subject_id=therapist_id,
            details={
                "credential_id": credential.id,
                "kind": new.kind.value,
                "verified": new.verified,
            },
        )
    return credential


async def verify_credential(
    db: Database, therapist_id: int, credential_id: int, *, actor_user_id: int, now: datetime
) -> tuple[Credential, bool]:
    """Mark the credential verified by the actor, now; returns it and whether it changed
    (verifying twice keeps the first verification)."""
    async with db.transaction() as session:
        await get_therapist(session, therapist_id, lock=True)
        credential = await session.get(Credential, credential_id, with_for_update=True)
        if credential is None or credential.therapist_id != therapist_id:
            raise NotFound("That credential is not on this therapist's record.")
        if credential.verified_at is not None:
            return credential, False
        credential.verified_by_user_id = actor_user_id
        credential.verified_at = now
        audit.record(
            session,
            "therapist.credential_verified",
            actor_user_id=actor_user_id,
            subject_type="therapist",
            subject_id=therapist_id,
            details={"credential_id": credential.id, "kind": credential.kind.value},
        )
    return credential, True


@dataclass(frozen=True)
class Expiring:
    therapist: Therapist
    kind_label: str
    title: str
    warning: ExpiryWarning
    # Visits still to come after the expiry that the therapist may no longer be fit for.
    visits_after: int


@dataclass(frozen=True)
class Unbookable:
    therapist: Therapist
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ExpiringPage:
    expiring: list[Expiring]
    unbookable: list[Unbookable]


async def expiring_soon(
    db: Database, *, today: date, now: datetime, fallback_zone: ZoneInfo
) -> ExpiringPage:
    """Active therapists' credentials expiring within the warning window whose expiry
    changes something, soonest first; and active therapists not bookable today."""
    async with db.reading() as session:
        therapists = list(
            await session.scalars(
                select(Therapist)
                .where(Therapist.active.is_(True))
                .order_by(Therapist.display_name, Therapist.id)
            )
        )
        credentials = await credentials_by_therapist(session, (t.id for t in therapists))
        expiring: list[Expiring] = []
        unbookable: list[Unbookable] = []
        for therapist in therapists:
            rows = credentials.get(therapist.id, [])
            facts = [c.facts() for c in rows]
            qualification = qualification_on(
                facts, today, oncology_sessions=therapist.oncology_sessions
            )
            if not qualification.bookable:
                unbookable.append(Unbookable(therapist, qualification.reasons))
                continue
            warnings = expiry_warnings(
                therapist.display_name, facts, today, oncology_sessions=therapist.oncology_sessions
            )
            if not warnings:
                continue
            zone = zone_of(await therapist_locations(session, therapist.id), fallback_zone)
            for warning in warnings:
                row = rows[facts.index(warning.facts)]
                after = datetime.combine(
                    warning.expires_on + timedelta(days=1), time(0), tzinfo=zone
                ).astimezone(UTC)
                visits = await visits_in(session, now=now, therapist_id=therapist.id, start=after)
                expiring.append(
                    Expiring(
                        therapist=therapist,
                        kind_label=KIND_LABELS[row.kind],
                        title=row.title,
                        warning=warning,
                        visits_after=visits.total,
                    )
                )
    expiring.sort(key=lambda e: (e.warning.expires_on, e.therapist.display_name))
    return ExpiringPage(expiring=expiring, unbookable=unbookable)
