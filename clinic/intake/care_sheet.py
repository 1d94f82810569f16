"""What a treating therapist reads before a visit: the care plan the visit was booked on
and the client's answers. Only the appointment's own therapist, only near the visit
(reliability.md: 30 days back, 14 days ahead), and every read is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit
from clinic.booking.models import Appointment
from clinic.clients.models import Client
from clinic.errors import ClinicError, NotFound
from clinic.intake import forms
from clinic.intake.models import AppointmentIntake, Intake, IntakeState
from clinic.intake.plan import CarePlan
from clinic.intake.summary import plan_from_json
from clinic.scheduling.models import Room, Service

DAYS_BACK = 30
DAYS_AHEAD = 14


class OutsideCareWindow(ClinicError):
    status_code = 403
    title = "Not available now"

    def __init__(self) -> None:
        super().__init__(
            f"Health details are shown from {DAYS_AHEAD} days before a visit until "
            f"{DAYS_BACK} days after it."
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
    session: AsyncSession, appointment_id: int, *, therapist_id: int, user_id: int, now: datetime
) -> CareSheet:
    """The sheet for one of `therapist_id`'s own appointments; anyone else's is "not found"
    (no hint that it exists)."""
    row = (
        await session.execute(
            select(Appointment, Client.name, Service.name, Room.name)
            .join(Client, Client.id == Appointment.client_id)
            .join(Service, Service.id == Appointment.service_id)
            .outerjoin(Room, Room.id == Appointment.room_id)
            .where(Appointment.id == appointment_id, Appointment.therapist_id == therapist_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound("There is no such appointment on your schedule.")
    appointment, client_name, service_name, room_name = row
    if not (
        appointment.starts_at - timedelta(days=DAYS_AHEAD)
        <= now
        <= appointment.ends_at + timedelta(days=DAYS_BACK)
    ):
        raise OutsideCareWindow()
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
            details={"appointment_id": appointment.id, "by": "treating_therapist"},
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
