"""The demo's physician clearances, one in every status, for the clients with health forms:
a request the desk is chasing, a reply waiting for the clinical lead, clearances with and
without restrictions, one refused, one expired and one voided by a change in treatment.
Afterwards every client's coming visits are re-checked, as the app does on each change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from clinic.clearance.models import ChaseMethod, Clearance, ClearanceChase, ClearanceStatus
from clinic.clearance.service import recheck_client

if TYPE_CHECKING:
    from clinic.demo.health import HealthForms


@dataclass(frozen=True)
class Chase:
    days_ago: int
    method: ChaseMethod
    outcome: str
    next_in_days: int | None = None


@dataclass(frozen=True)
class DemoClearance:
    client: str
    physician: str
    practice: str
    contact: str
    status: ClearanceStatus
    requested_days_ago: int
    # Decided this many days after the client signed their form (so it answers that form).
    decided_days_after_signing: int | None = None
    valid_days: int | None = None
    max_pressure: int | None = None
    restrictions: str = ""
    void_reason: str = ""
    chases: tuple[Chase, ...] = ()


CLEARANCES: tuple[DemoClearance, ...] = (
    DemoClearance(
        "Harold Brennan",
        "Dr. Samuel Okonjo",
        "Penn Medicine Abramson Cancer Center",
        "Fax (215) 555-0148, nurse line (215) 555-0149",
        ClearanceStatus.REQUESTED,
        requested_days_ago=2,
        chases=(
            Chase(2, ChaseMethod.FAX, "Faxed the letter with the care plan."),
            Chase(1, ChaseMethod.PHONE, "Nurse line: Dr. Okonjo signs forms on Mondays.", 1),
        ),
    ),
    DemoClearance(
        "Yvonne Castellanos",
        "Dr. Rachel Stein",
        "Jefferson Breast Care Center",
        "Fax (215) 555-0163",
        ClearanceStatus.RECEIVED,
        requested_days_ago=3,
        chases=(Chase(3, ChaseMethod.FAX, "Faxed the letter."),),
    ),
    DemoClearance(
        "Irene Holloway",
        "Dr. Maya Iyer",
        "Chestnut Hill Palliative Care",
        "Phone (215) 555-0171",
        ClearanceStatus.CLEARED_WITH_RESTRICTIONS,
        requested_days_ago=12,
        decided_days_after_signing=1,
        valid_days=90,
        max_pressure=1,
        restrictions="Comfort touch only. No work on the abdomen; keep her head raised.",
    ),
    DemoClearance(
        "Peter Lindgren",
        "Dr. Alan Whitcomb",
        "Northbank Oncology Associates",
        "Fax (215) 555-0182",
        ClearanceStatus.CLEARED,
        requested_days_ago=6,
        decided_days_after_signing=1,
        valid_days=90,
    ),
    DemoClearance(
        "Graham Whitley",
        "Dr. Lucia Ferraro",
        "Penn Blood and Marrow Transplant Program",
        "Phone (215) 555-0190",
        ClearanceStatus.NOT_CLEARED,
        requested_days_ago=40,
        restrictions="Not advisable until his counts recover; ask again in a month.",
    ),
    DemoClearance(
        "Gloria Abernathy",
        "Dr. Helen Marsh",
        "Ridgeway Breast Center",
        "Fax (215) 555-0115",
        ClearanceStatus.EXPIRED,
        requested_days_ago=430,
    ),
    DemoClearance(
        "Lorraine Fitch",
        "Dr. Owen Blake",
        "Roxborough Radiation Oncology",
        "Phone (215) 555-0127",
        ClearanceStatus.VOIDED,
        requested_days_ago=60,
        void_reason="A new course of radiation to the chest started after it was given.",
    ),
)


async def add_clearances(health: HealthForms) -> None:
    b = health.builder
    desk = b.users["frontdesk"]
    lead = next(user for key, user in b.users.items() if key == "Marcus Bell")
    placed = {p.spec.name: p for p in health.placed}
    moment = b.moment
    for spec in CLEARANCES:
        visit = placed[spec.client]
        requested_at = moment - timedelta(days=spec.requested_days_ago, hours=3)
        clearance = Clearance(
            client_id=visit.client.id,
            intake_id=visit.intake.id,
            physician_name=spec.physician,
            practice=spec.practice,
            contact=spec.contact,
            status=spec.status,
            requested_at=requested_at,
            requested_by_user_id=desk.id,
            restrictions=spec.restrictions,
            max_pressure=spec.max_pressure,
            void_reason=spec.void_reason,
        )
        if spec.status is not ClearanceStatus.REQUESTED:
            clearance.received_at = requested_at + timedelta(days=1)
        if spec.status in (ClearanceStatus.RECEIVED,):
            clearance.received_at = moment - timedelta(hours=5)
        if spec.status not in (ClearanceStatus.REQUESTED, ClearanceStatus.RECEIVED):
            decided = (
                visit.intake.signed_at + timedelta(days=spec.decided_days_after_signing)
                if spec.decided_days_after_signing is not None
                else requested_at + timedelta(days=2)
            )
            clearance.decided_at = min(decided, moment - timedelta(hours=1))
            clearance.decided_by_user_id = lead.id
            clearance.valid_until = _valid_until(spec, clearance.decided_at.date(), b.today)
        if spec.status is ClearanceStatus.VOIDED:
            clearance.voided_at = moment - timedelta(days=20)
        b.session.add(clearance)
        await b.session.flush()
        for chase in spec.chases:
            b.session.add(
                ClearanceChase(
                    clearance_id=clearance.id,
                    at=moment - timedelta(days=chase.days_ago, hours=2),
                    by_user_id=desk.id,
                    method=chase.method,
                    outcome=chase.outcome,
                    next_on=(
                        b.today + timedelta(days=chase.next_in_days)
                        if chase.next_in_days is not None
                        else None
                    ),
                )
            )
    await b.session.flush()
    for client_id in sorted({p.client.id for p in health.placed}):
        await recheck_client(b.session, client_id, health.screening, actor_user_id=None)


def _valid_until(spec: DemoClearance, decided_on: date, today: date) -> date | None:
    if spec.status is ClearanceStatus.EXPIRED:
        return today - timedelta(days=60)
    if spec.valid_days is None:
        return None
    return decided_on + timedelta(days=spec.valid_days)
