"""Read models of a therapist's own day and week. The day sheet shows each visit's care
plan, so reading it is a use case that audits: one `intake.read` entry per visit whose
health details are shown, in the caller's write transaction (as clinic.intake.care_sheet
does for one visit). The week shows no health details and audits nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit
from clinic.access.window import CareWindow
from clinic.booking.models import Appointment
from clinic.booking.service import ScheduledVisit, day_bounds, therapist_for_user, visits_between
from clinic.booking.statuses import AppointmentStatus
from clinic.clearance.covering import covers
from clinic.clearance.models import CLEARING, ClearanceStatus
from clinic.clearance.models import Clearance as ClearanceRecord
from clinic.intake.models import AppointmentIntake, Intake, IntakeState
from clinic.intake.plan import CarePlan
from clinic.intake.summary import plan_from_json
from clinic.staff.models import Therapist
from clinic.therapist.care_box import (
    CareBox,
    CoveringClearance,
    care_box,
    changed_sections,
    clearance_line,
)

# A client's visits with the clinic, for "Visit 6" and "changed since last visit": the
# ones that took place or are going ahead, not holds, cancellations or no-shows.
VISIT_STATUSES = (
    AppointmentStatus.PENDING_CLEARANCE,
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.CHECKED_IN,
    AppointmentStatus.COMPLETED,
)
# The earliest and latest day a page may name: keeps date arithmetic far from its limits.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)


@dataclass(frozen=True)
class SheetVisit:
    visit: ScheduledVisit
    number: int  # "Visit 6": this client's visits with the clinic up to this one
    # None: no health details shown (outside the care window, or no intake link).
    box: CareBox | None
    state: IntakeState | None
    cancer_history: bool | None
    in_care_window: bool

    @property
    def appointment_id(self) -> int:
        return self.visit.appointment_id

    @property
    def can_complete(self) -> bool:
        return self.visit.status is AppointmentStatus.CHECKED_IN

    @property
    def can_undo_completion(self) -> bool:
        return self.visit.status is AppointmentStatus.COMPLETED


@dataclass(frozen=True)
class DaySheet:
    day: date
    start: datetime
    end: datetime
    therapist: Therapist | None
    visits: list[SheetVisit]
    # Today only: the first visit not yet over, for "Next appointment".
    next_appointment_id: int | None

    @property
    def previous_day(self) -> date | None:
        return self.day - timedelta(days=1) if self.day > FIRST_DAY else None

    @property
    def next_day(self) -> date | None:
        return self.day + timedelta(days=1) if self.day < LAST_DAY else None


@dataclass(frozen=True)
class WeekDay:
    day: date
    visits: list[ScheduledVisit]


@dataclass(frozen=True)
class Week:
    start: date
    therapist: Therapist | None
    days: list[WeekDay]

    @property
    def previous_start(self) -> date | None:
        earlier = self.start - timedelta(days=7)
        return earlier if earlier >= FIRST_DAY else None

    @property
    def next_start(self) -> date | None:
        later = self.start + timedelta(days=7)
        return later if later + timedelta(days=6) <= LAST_DAY else None


def week_start(day: date) -> date:
    """The Monday of `day`'s week."""
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class _Link:
    client_id: int
    link: AppointmentIntake | None
    signed_at: datetime | None


@dataclass(frozen=True)
class _Earlier:
    appointment_id: int
    client_id: int
    starts_at: datetime
    plan: CarePlan | None


async def _links(session: AsyncSession, ids: list[int]) -> dict[int, _Link]:
    rows = await session.execute(
        select(Appointment.id, Appointment.client_id, AppointmentIntake, Intake.signed_at)
        .outerjoin(AppointmentIntake, AppointmentIntake.appointment_id == Appointment.id)
        .outerjoin(Intake, Intake.id == AppointmentIntake.intake_id)
        .where(Appointment.id.in_(ids))
    )
    return {
        appointment_id: _Link(client_id, link, signed_at)
        for appointment_id, client_id, link, signed_at in rows
        if client_id is not None
    }


async def _history(
    session: AsyncSession, client_ids: Iterable[int], end: datetime
) -> list[_Earlier]:
    """Every visit of these clients that starts before `end`, oldest first."""
    rows = await session.execute(
        select(Appointment.id, Appointment.client_id, Appointment.starts_at, AppointmentIntake.plan)
        .outerjoin(AppointmentIntake, AppointmentIntake.appointment_id == Appointment.id)
        .where(
            Appointment.client_id.in_(sorted(set(client_ids))),
            Appointment.status.in_(VISIT_STATUSES),
            Appointment.starts_at < end,
        )
        .order_by(Appointment.starts_at, Appointment.id)
    )
    return [
        _Earlier(appointment_id, client_id, starts_at, plan_from_json(plan) if plan else None)
        for appointment_id, client_id, starts_at, plan in rows
        if client_id is not None
    ]


async def _clearances(
    session: AsyncSession, client_ids: Iterable[int]
) -> dict[int, list[ClearanceRecord]]:
    found: dict[int, list[ClearanceRecord]] = {}
    rows = await session.scalars(
        select(ClearanceRecord)
        .where(
            ClearanceRecord.client_id.in_(sorted(set(client_ids))),
            ClearanceRecord.status.in_(CLEARING),
        )
        .order_by(ClearanceRecord.decided_at.desc(), ClearanceRecord.id.desc())
    )
    for clearance in rows:
        found.setdefault(clearance.client_id, []).append(clearance)
    return found


def _covering(
    clearances: list[ClearanceRecord], *, signed_at: datetime | None, visit_day: date
) -> CoveringClearance | None:
    for clearance in clearances:
        if covers(clearance, intake_signed_at=signed_at, visit_day=visit_day):
            assert clearance.valid_until is not None  # covers() checks it
            return CoveringClearance(
                valid_until=clearance.valid_until,
                with_changes=clearance.status is ClearanceStatus.CLEARED_WITH_RESTRICTIONS,
            )
    return None


def _shows_health(link: AppointmentIntake | None) -> bool:
    return link is not None and (
        link.plan is not None or link.intake_id is not None or link.cancer_history is not None
    )


async def day_sheet(
    session: AsyncSession,
    *,
    user_id: int,
    day: date,
    zone: ZoneInfo,
    now: datetime,
    window: CareWindow,
    view: str = "day_sheet",
) -> DaySheet:
    """The signed-in therapist's own visits on `day` (local), in time order, each with its
    care-plan box. Audits each visit whose health details it shows; `session` must be a
    write transaction's."""
    start, end = day_bounds(day, zone)
    therapist = await therapist_for_user(session, user_id)
    if therapist is None:
        return DaySheet(day, start, end, None, [], None)
    visits = await visits_between(session, start, end, therapist_id=therapist.id)
    links = await _links(session, [v.appointment_id for v in visits])
    client_ids = [link.client_id for link in links.values()]
    history = await _history(session, client_ids, end)
    clearances = await _clearances(session, client_ids)

    sheet_visits: list[SheetVisit] = []
    for visit in visits:
        found = links.get(visit.appointment_id)
        client_id = found.client_id if found is not None else None
        earlier = [
            h
            for h in history
            if h.client_id == client_id
            and h.starts_at < visit.starts_at
            and h.appointment_id != visit.appointment_id
        ]
        link = found.link if found is not None else None
        shows = window.holds(visit.starts_at, visit.ends_at, now)
        box = None
        if shows and link is not None and link.plan is not None:
            plan = plan_from_json(link.plan)
            covering = _covering(
                clearances.get(client_id, []) if client_id is not None else [],
                signed_at=found.signed_at if found is not None else None,
                visit_day=visit.starts_at.astimezone(zone).date(),
            )
            box = care_box(
                plan,
                clearance=clearance_line(
                    plan,
                    covering=covering,
                    awaiting_clearance=visit.status is AppointmentStatus.PENDING_CLEARANCE,
                    in_review=link.state is IntakeState.REVIEW,
                ),
                changed=changed_sections(plan, earlier[-1].plan) if earlier else frozenset(),
            )
        if shows and _shows_health(link):
            assert link is not None
            audit.record(
                session,
                "intake.read",
                actor_user_id=user_id,
                subject_type="intake" if link.intake_id is not None else "appointment",
                subject_id=link.intake_id if link.intake_id is not None else visit.appointment_id,
                details={
                    "appointment_id": visit.appointment_id,
                    "by": "treating_therapist",
                    "view": view,
                },
            )
        sheet_visits.append(
            SheetVisit(
                visit=visit,
                number=len(earlier) + 1,
                box=box,
                state=link.state if link is not None and shows else None,
                cancer_history=link.cancer_history if link is not None and shows else None,
                in_care_window=shows,
            )
        )
    upcoming = [
        v.appointment_id
        for v in sheet_visits
        if v.visit.ends_at > now
        and v.visit.status not in (AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW)
    ]
    is_today = now.astimezone(zone).date() == day
    return DaySheet(
        day, start, end, therapist, sheet_visits, upcoming[0] if upcoming and is_today else None
    )


async def week_of(session: AsyncSession, *, user_id: int, start: date, zone: ZoneInfo) -> Week:
    """Seven days from `start` (a Monday): times, client short names and services only."""
    therapist = await therapist_for_user(session, user_id)
    days = [start + timedelta(days=n) for n in range(7)]
    if therapist is None:
        return Week(start, None, [WeekDay(d, []) for d in days])
    first, _ = day_bounds(days[0], zone)
    _, last = day_bounds(days[-1], zone)
    visits = await visits_between(session, first, last, therapist_id=therapist.id)
    by_day: dict[date, list[ScheduledVisit]] = {d: [] for d in days}
    for visit in visits:
        local_day = visit.starts_at.astimezone(zone).date()
        if local_day in by_day:
            by_day[local_day].append(visit)
    return Week(start, therapist, [WeekDay(d, by_day[d]) for d in days])
