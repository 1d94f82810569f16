"""Reading a therapist's qualification from the database."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.scheduling.models import Service
from clinic.staff.credentials import LevelRules, Qualification, qualification_on
from clinic.staff.models import Credential, Therapist


async def completed_oncology_sessions(session: AsyncSession, therapist: Therapist) -> int:
    """Sessions towards level 2: oncology services completed here plus those done elsewhere."""
    here = await session.scalar(
        select(func.count())
        .select_from(Appointment)
        .join(Service, Service.id == Appointment.service_id)
        .where(
            Appointment.therapist_id == therapist.id,
            Appointment.status == AppointmentStatus.COMPLETED,
            Service.min_oncology_level.is_not(None),
            Service.min_oncology_level >= 1,
        )
    )
    return (here or 0) + therapist.oncology_sessions_elsewhere


async def therapist_qualification(
    session: AsyncSession, therapist: Therapist, on: date, rules: LevelRules | None = None
) -> Qualification:
    credentials = await session.scalars(
        select(Credential).where(Credential.therapist_id == therapist.id)
    )
    return qualification_on(
        [c.facts() for c in credentials],
        on,
        oncology_sessions=await completed_oncology_sessions(session, therapist),
        rules=rules or LevelRules(),
    )
