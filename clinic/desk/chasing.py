"""Which clearance the visit panel's "Log clearance chase" and "Mark received" forms act on:
the client's open request, newest first, by id and status only. The panel shows nothing of
it (no physician, no chase log, no outcome), so reading it is not a `clearance.read`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.booking.models import Appointment
from clinic.clearance.models import Clearance, ClearanceStatus
from clinic.clearance.pages import OPEN


@dataclass(frozen=True)
class OpenClearance:
    clearance_id: int
    status: ClearanceStatus

    @property
    def awaiting_reply(self) -> bool:
        """Still requested: the reply can be marked received."""
        return self.status is ClearanceStatus.REQUESTED


async def open_clearance(session: AsyncSession, appointment_id: int) -> OpenClearance | None:
    """The visit's client's newest clearance still waiting for a reply or an outcome."""
    row = (
        await session.execute(
            select(Clearance.id, Clearance.status)
            .join(Appointment, Appointment.client_id == Clearance.client_id)
            .where(Appointment.id == appointment_id, Clearance.status.in_(OPEN))
            .order_by(Clearance.requested_at.desc(), Clearance.id.desc())
            .limit(1)
        )
    ).one_or_none()
    return None if row is None else OpenClearance(row[0], row[1])
