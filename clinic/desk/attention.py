"""The desk's "Needs attention" list: visits still booked over the coming days that can no
longer go ahead as booked (time off over them, a licence or insurance not current on their
date, a deactivated therapist, training the visit now needs), each with what is wrong and
what to do, in plain words. Two SELECTs whatever the number of visits; writes nothing.
Sorted by time, not grouped by problem: the nearest visit is the one to move first, and a
visit with several problems stays one row.

It names therapists, dates and training levels, never anything clinical. Whether the
therapist is fit on the visit's date is the booking rule itself (`qualification_on` on the
visit's local date with the clinic's level rules, as clinic/scheduling/availability.py
decides), so this list and online booking never disagree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.booking.models import Appointment
from clinic.booking.policies import OPTION_KEY as POLICY_OPTION
from clinic.booking.policies import policies_from
from clinic.booking.service import day_bounds
from clinic.booking.statuses import AppointmentStatus
from clinic.clients.models import Client
from clinic.intake.models import AppointmentIntake, IntakeState
from clinic.options import ClinicOption
from clinic.scheduling.models import Location, Service, TimeOff
from clinic.staff.credentials import (
    CredentialFacts,
    LevelRules,
    qualification_on,
    qualification_runs,
)
from clinic.staff.models import Credential, CredentialKind, Therapist

# How far ahead the list looks: online booking's default window.
ATTENTION_DAYS = 90
# Visits the list looks at: booked, not yet arrived. Checked-in clients are at the desk.
BOOKED = (AppointmentStatus.CONFIRMED, AppointmentStatus.PENDING_CLEARANCE)
# Without these two current on the visit's date, nobody can be booked (staff/credentials.py).
REQUIRED_KINDS = (CredentialKind.MASSAGE_LICENCE, CredentialKind.LIABILITY_INSURANCE)
_KIND_WORDS = {
    CredentialKind.MASSAGE_LICENCE: "massage licence",
    CredentialKind.LIABILITY_INSURANCE: "liability insurance",
}
MOVE_OR_CANCEL = "Move the visit to another therapist or time, or cancel it."


class Reason(StrEnum):
    DEACTIVATED = "deactivated"
    TIME_OFF = "time_off"
    CREDENTIAL = "credential"
    TRAINING = "training"


@dataclass(frozen=True)
class Problem:
    reason: Reason
    # What is wrong: "Dana Payton has time off on Thu 3 Dec."
    words: str
    # What the desk can do about it.
    todo: str


@dataclass(frozen=True)
class VisitFacts:
    """What the rules read about one booked visit: no client or health facts beyond the
    training level its plan asks for."""

    therapist_name: str
    therapist_active: bool
    oncology_sessions: int
    service_name: str
    # The service's own requirement, and the level the visit's care plan asks for.
    service_level: int | None
    plan_level: int | None
    needs_lymphedema: bool
    on_time_off: bool
    # The clinical lead is deciding whether the visit goes ahead on its plan.
    in_review: bool
    # The visit's local date (the location's zone), as booking reads it.
    day: date


@dataclass(frozen=True)
class AttentionItem:
    appointment_id: int
    starts_at: datetime
    ends_at: datetime
    client_name: str
    therapist_name: str
    # The service's public name: its own name may disclose a condition.
    service_name: str
    status: AppointmentStatus
    problems: tuple[Problem, ...]


def during(start: Any = None, end: Any = None) -> list[ColumnElement[bool]]:
    """An appointment overlapping [start, end) (either end may be open): it ends after the
    start and starts before the end. Instants or columns. The admin's previews of time off,
    closures and deactivation (clinic/admin/common.py) and this list share this test."""
    conditions: list[ColumnElement[bool]] = []
    if start is not None:
        conditions.append(Appointment.ends_at > start)
    if end is not None:
        conditions.append(Appointment.starts_at < end)
    return conditions


def day_words(day: date, today: date) -> str:
    """ "Thu 3 Dec", with the year when it is not this year's."""
    words = f"{day:%a} {day.day} {day:%b}"
    return words if day.year == today.year else f"{words} {day.year}"


def _credential_problem(
    kind: CredentialKind,
    credentials: Sequence[CredentialFacts],
    facts: VisitFacts,
    today: date,
) -> Problem:
    """Why `kind` is not current on the visit's date, from the same facts the rule read."""
    name, what = facts.therapist_name, _KIND_WORDS[kind]
    verified = [c for c in credentials if c.kind is kind and c.verified]
    lapsed = [
        c.expires_on for c in verified if c.expires_on is not None and c.expires_on < facts.day
    ]
    later = [c.issued_on for c in verified if c.issued_on is not None and c.issued_on > facts.day]
    todo = f"Ask an admin to record and verify {name}'s renewal, or move the visit or cancel it."
    if lapsed:
        last = max(lapsed)
        ends = "expired on" if last < today else "expires"
        words = f"{name}'s {what} {ends} {day_words(last, today)}"
        if later:
            words += f" and the renewal starts {day_words(min(later), today)}, after this visit."
        else:
            words += "." if last < today else ", before this visit."
    elif later:
        words = f"{name}'s {what} starts {day_words(min(later), today)}, after this visit."
    else:
        words = f"{name} has no verified {what}."
        todo = f"Ask an admin to verify {name}'s {what}, or move the visit or cancel it."
    return Problem(Reason.CREDENTIAL, words, todo)


def problems_of(
    facts: VisitFacts,
    credentials: Iterable[CredentialFacts],
    *,
    rules: LevelRules,
    today: date,
) -> tuple[Problem, ...]:
    """What stops the visit going ahead as booked, or nothing.

    The qualification test is availability's (`_qualified`): bookable on the visit's local
    date, at least the level needed (the service's, raised by the visit's plan), and
    lymphedema-trained when the service needs it."""
    credentials = tuple(credentials)
    name = facts.therapist_name
    found: list[Problem] = []
    if not facts.therapist_active:
        found.append(Problem(Reason.DEACTIVATED, f"{name} is deactivated.", MOVE_OR_CANCEL))
    if facts.on_time_off:
        words = f"{name} has time off on {day_words(facts.day, today)}."
        found.append(Problem(Reason.TIME_OFF, words, MOVE_OR_CANCEL))
    qualification = qualification_on(
        credentials, facts.day, oncology_sessions=facts.oncology_sessions, rules=rules
    )
    if not qualification.bookable:
        for kind in REQUIRED_KINDS:
            if not any(c.kind is kind and c.current_on(facts.day) for c in credentials):
                found.append(_credential_problem(kind, credentials, facts, today))
        return tuple(found)
    level = qualification.oncology_level or 0
    levels = [lv for lv in (facts.service_level, facts.plan_level) if lv is not None]
    needed = max(levels) if levels else None
    if needed is not None and level < needed:
        # The service's requirement is named; the plan's reason never is.
        from_plan = facts.service_level != needed
        asks = "This visit" if from_plan else facts.service_name
        words = f"{asks} needs training level {needed}; {name} has level {level}."
        todo = f"Move the visit to a therapist with level {needed}, or cancel it."
        if from_plan and facts.in_review:
            todo = "The clinical lead is reviewing this visit: move it if they ask you to."
        found.append(Problem(Reason.TRAINING, words, todo))
    if facts.needs_lymphedema and not qualification.lymphedema:
        words = f"{facts.service_name} needs specialist training that {name} does not have."
        todo = "Move the visit to a therapist with that training, or cancel it."
        found.append(Problem(Reason.TRAINING, words, todo))
    return tuple(found)


# Loading


def _window(now: datetime, days: int) -> list[ColumnElement[bool]]:
    return [
        Appointment.status.in_(BOOKED),
        Appointment.starts_at >= now,
        Appointment.starts_at < now + timedelta(days=days),
    ]


@dataclass
class _Roster:
    """The therapists with visits in the window, their credentials, and the clinic's
    level rules and zone: what judging a visit needs besides the visit."""

    credentials: dict[int, list[CredentialFacts]]
    sessions: dict[int, int]
    rules: LevelRules
    zone: ZoneInfo


async def _roster(session: AsyncSession, now: datetime, days: int) -> _Roster:
    """One statement: each therapist with a visit in the window, with their credentials."""
    policies = select(ClinicOption.value).where(ClinicOption.key == POLICY_OPTION).scalar_subquery()
    zone = (
        select(Location.timezone)
        .where(Location.active.is_(True))
        .order_by(Location.id)
        .limit(1)
        .scalar_subquery()
    )
    rows = (
        await session.execute(
            select(
                Therapist.id,
                (Therapist.oncology_sessions_elsewhere + Therapist.oncology_sessions_here),
                Credential,
                policies,
                zone,
            )
            .outerjoin(Credential, Credential.therapist_id == Therapist.id)
            .where(Therapist.id.in_(select(Appointment.therapist_id).where(*_window(now, days))))
            .order_by(Therapist.id, Credential.id)
        )
    ).all()
    credentials: dict[int, list[CredentialFacts]] = defaultdict(list)
    sessions: dict[int, int] = {}
    for therapist_id, count, credential, _, _ in rows:
        sessions[therapist_id] = count
        if credential is not None:
            credentials[therapist_id].append(credential.facts())
    stored = rows[0][3] if rows else None
    # The level rules booking reads (clinic/booking/policies.py), so the two agree.
    rules = policies_from(stored if isinstance(stored, dict) else None).booking_rules().level_rules
    return _Roster(credentials, sessions, rules, ZoneInfo(rows[0][4] if rows else "UTC"))


def _problem(standing: tuple[bool, int | None, bool]) -> ColumnElement[bool]:
    """A visit the therapist cannot take with this `Qualification.standing` (bookable,
    level, lymphedema): what `problems_of` checks."""
    bookable, level, lymphedema = standing
    if not bookable:
        return true()
    wrong = [
        Service.min_oncology_level > (level or 0),
        AppointmentIntake.required_level > (level or 0),
    ]
    if not lymphedema:
        wrong.append(Service.needs_lymphedema.is_(True))
    return or_(*wrong)


def _may_need_attention(
    roster: _Roster, now: datetime, days: int, on_time_off: ColumnElement[bool]
) -> ColumnElement[bool]:
    """A superset of the visits `problems_of` flags, for the database to find: so that
    only those rows come back, however many visits are booked. Qualification is the
    booking rule, as runs of days per therapist (`qualification_runs`). Therapists whose
    qualification holds all through share one condition per qualification; each other
    run of days becomes its own."""
    conditions: list[ColumnElement[bool]] = [Therapist.active.is_(False), on_time_off]
    first = now.astimezone(roster.zone).date()
    last = (now + timedelta(days=days)).astimezone(roster.zone).date()
    steady: dict[tuple[bool, int | None, bool], list[int]] = defaultdict(list)
    for therapist_id, count in roster.sessions.items():
        credentials = roster.credentials.get(therapist_id, [])
        runs = qualification_runs(
            credentials, first, last, oncology_sessions=count, rules=roster.rules
        )
        if len(runs) == 1:
            steady[runs[0][2].standing].append(therapist_id)
            continue
        for run_first, run_last, found in runs:
            conditions.append(
                and_(
                    Appointment.therapist_id == therapist_id,
                    Appointment.starts_at >= day_bounds(run_first, roster.zone)[0],
                    Appointment.starts_at < day_bounds(run_last, roster.zone)[1],
                    _problem(found.standing),
                )
            )
    for standing, therapist_ids in steady.items():
        conditions.append(and_(Appointment.therapist_id.in_(therapist_ids), _problem(standing)))
    return or_(*conditions)


async def needs_attention(
    session: AsyncSession, *, now: datetime, days: int = ATTENTION_DAYS
) -> list[AttentionItem]:
    """Booked visits from `now` to `days` ahead that cannot go ahead as booked, soonest
    first, in two statements: the therapists with visits then and their credentials, and
    the visits that may need attention (only those), each then judged by `problems_of`."""
    roster = await _roster(session, now, days)
    on_time_off = exists().where(
        TimeOff.therapist_id == Appointment.therapist_id,
        *during(TimeOff.starts_at, TimeOff.ends_at),
    )
    rows = (
        await session.execute(
            select(
                Appointment.id,
                Appointment.starts_at,
                Appointment.ends_at,
                Appointment.status,
                Appointment.therapist_id,
                Client.name.label("client_name"),
                Therapist.display_name,
                Therapist.active,
                Service.public_name,
                Service.min_oncology_level,
                Service.needs_lymphedema,
                AppointmentIntake.required_level,
                AppointmentIntake.state.label("intake_state"),
                Location.timezone,
                on_time_off.label("on_time_off"),
            )
            .join(Client, Client.id == Appointment.client_id)
            .join(Therapist, Therapist.id == Appointment.therapist_id)
            .join(Service, Service.id == Appointment.service_id)
            .join(Location, Location.id == Appointment.location_id)
            .outerjoin(AppointmentIntake, AppointmentIntake.appointment_id == Appointment.id)
            .where(*_window(now, days), _may_need_attention(roster, now, days, on_time_off))
            .order_by(Appointment.starts_at, Therapist.display_name, Appointment.id)
        )
    ).all()
    items = []
    for row in rows:
        zone = ZoneInfo(row.timezone)
        facts = VisitFacts(
            therapist_name=row.display_name,
            therapist_active=bool(row.active),
            oncology_sessions=roster.sessions.get(row.therapist_id, 0),
            service_name=row.public_name,
            service_level=row.min_oncology_level,
            plan_level=row.required_level,
            needs_lymphedema=bool(row.needs_lymphedema),
            on_time_off=bool(row.on_time_off),
            in_review=row.intake_state is IntakeState.REVIEW,
            day=row.starts_at.astimezone(zone).date(),
        )
        problems = problems_of(
            facts,
            roster.credentials.get(row.therapist_id, []),
            rules=roster.rules,
            today=now.astimezone(zone).date(),
        )
        if problems:
            items.append(
                AttentionItem(
                    appointment_id=row.id,
                    starts_at=row.starts_at,
                    ends_at=row.ends_at,
                    client_name=row.client_name,
                    therapist_name=row.display_name,
                    service_name=row.public_name,
                    status=row.status,
                    problems=problems,
                )
            )
    return items


__all__ = [
    "ATTENTION_DAYS",
    "AttentionItem",
    "Problem",
    "Reason",
    "VisitFacts",
    "day_words",
    "during",
    "needs_attention",
    "problems_of",
]
