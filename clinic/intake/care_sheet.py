"""What a treating therapist reads before a visit: the care plan the visit was booked on
and the client's answers. Only the appointment's own therapist, only in the care window
(clinic/access/window.py), unless they opened a break-glass grant for it; every read is
audited, with the grant's reason when read under one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit
from clinic.access.break_glass import active_grant
from clinic.access.window import CareWindow
from clinic.booking.models import Appointment
from clinic.clients.models import Client
from clinic.errors import ClinicError, NotFound
from clinic.intake import forms
from clinic.intake.models import AppointmentIntake, Intake, IntakeState
from clinic.intake.plan import CarePlan
from clinic.intake.summary import plan_from_json
from clinic.scheduling.models import Room, Service


class NeedsBreakGlass(ClinicError):
    """The appointment exists, but its health details are not the caller's to read now:
    the page offers break-glass instead."""

    status_code = 403
    title = "Not available now"

    def __init__(self, appointment_id: int, *, own: bool, window: CareWindow) -> None:
        self.appointment_id = appointment_id
        self.own = own
        super().__init__(
            window.describe() if own else "This visit is not on your schedule.",
        )


@dataclass(frozen=True)
class CareSheet:
    appointment: Appointment
    client_name: str
    service_name: str
    room_name: str | None
    state: IntakeState | None
    review_reason: str
    cancer_history: bool | None
    plan: CarePlan | None
    answers: list[forms.ReadableSection]
    signed_by: str
    signed_at: datetime | None


async def care_sheet(
    session: AsyncSession,
    appointment_id: int,
    *,
    therapist_id: int,
    user_id: int,
    now: datetime,
    window: CareWindow,
) -> CareSheet:
    """The sheet for one of `therapist_id`'s own appointments in the care window, or any
    appointment `user_id` holds a live break-glass grant for. Otherwise NeedsBreakGlass
    (nothing about the visit is read), or NotFound when there is no such appointment."""
    row = (
        await session.execute(
            select(Appointment, Client.name, Service.name, Room.name)
            .join(Client, Client.id == Appointment.client_id)
            .join(Service, Service.id == Appointment.service_id)
            .outerjoin(Room, Room.id == Appointment.room_id)
            .where(Appointment.id == appointment_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound("There is no such appointment.")
    appointment, client_name, service_name, room_name = row
    own = appointment.therapist_id == therapist_id
    read_as: dict[str, object] = {"by": "treating_therapist"}
    if not (own and window.holds(appointment.starts_at, appointment.ends_at, now)):
        grant = await active_grant(session, user_id=user_id, appointment_id=appointment.id, now=now)
        if grant is None:
            raise NeedsBreakGlass(appointment.id, own=own, window=window)
        read_as = {"by": "break_glass", "grant_id": grant.id, "reason": grant.reason}
    link = await session.get(AppointmentIntake, appointment.id)
    intake = (
        await session.get(Intake, link.intake_id)
        if link is not None and link.intake_id is not None
        else None
    )
    answers: list[forms.ReadableSection] = []
    if intake is not None:
        answers = forms.readable(forms.by_hash(intake.form_hash), intake.answers)
    if intake is not None or (link is not None and link.plan is not None):
        # The plan is health information too: a plan shown without its form is audited.
        audit.record(
            session,
            "intake.read",
            actor_user_id=user_id,
            subject_type="intake" if intake is not None else "appointment",
            subject_id=intake.id if intake is not None else appointment.id,
            details={"appointment_id": appointment.id, **read_as},
        )
    return CareSheet(
        appointment=appointment,
        client_name=client_name,
        service_name=service_name,
        room_name=room_name,
        state=link.state if link is not None else None,
        review_reason=link.review_reason if link is not None else "",
        cancer_history=link.cancer_history if link is not None else None,
        plan=plan_from_json(link.plan) if link is not None and link.plan else None,
        answers=answers,
        signed_by=intake.signed_name if intake is not None else "",
        signed_at=intake.signed_at if intake is not None else None,
    )
