"""Reading a therapist's qualification from the database."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.staff.credentials import LevelRules, Qualification, qualification_on
from clinic.staff.models import Credential, Therapist


async def therapist_qualification(
    session: AsyncSession, therapist: Therapist, on: date, rules: LevelRules | None = None
) -> Qualification:
    credentials = await session.scalars(
        select(Credential).where(Credential.therapist_id == therapist.id)
    )
    return qualification_on(
        [c.facts() for c in credentials],
        on,
        oncology_sessions=therapist.oncology_sessions,
        rules=rules or LevelRules(),
    )
