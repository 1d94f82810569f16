"""What the health-form and clearance emails share: the visit as it stands when the handler
runs (each handler decides from it whether its message is still true), and the client's
email context, which is booking's (`clinic.booking.jobs.email_context`: the service's
public name, the date and time in the location's zone, a fresh manage link) with the day
for the subject line and the release deadline added."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from clinic.booking.jobs import email_context
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus, CancelledBy
from clinic.clearance.notices import release_deadline
from clinic.clock import now_utc
from clinic.intake.models import AppointmentIntake, IntakeState
from clinic.intake.service import clinic_screening
from clinic.outbox.models import OutboxMessage
from clinic.outbox.registry import HandlerContext
from clinic.scheduling.models import Location
from clinic.web.formatting import clock_time, long_date, short_date


@dataclass(frozen=True)
class Visit:
    """One appointment as it is now: enough to tell whether a message still holds."""

    id: int
    status: AppointmentStatus
    starts_at: datetime
    cancelled_by: CancelledBy | None
    zone: ZoneInfo
    intake_state: IntakeState | None
    # When a visit still waiting for a clearance is released.
    deadline: datetime
    now: datetime

    @property
    def upcoming(self) -> bool:
        return self.starts_at > self.now

    @property
    def waiting_before_deadline(self) -> bool:
        """Waiting for a clearance with time left to get it: inside the deadline the
        release follows within minutes and sends its own message."""
        return self.status is AppointmentStatus.PENDING_CLEARANCE and self.now < self.deadline


async def visit_now(ctx: HandlerContext, message: OutboxMessage) -> Visit | None:
    """The visit named by the message's payload, or None when it is gone."""
    appointment_id = int(message.payload["appointment_id"])
    async with ctx.db.reading() as session:
        row = (
            await session.execute(
                select(Appointment, Location.timezone, AppointmentIntake.state)
                .join(Location, Location.id == Appointment.location_id)
                .outerjoin(AppointmentIntake, AppointmentIntake.appointment_id == Appointment.id)
                .where(Appointment.id == appointment_id)
            )
        ).one_or_none()
        if row is None:
            return None
        screening = await clinic_screening(session)
    appointment, timezone, intake_state = row
    return Visit(
        id=appointment.id,
        status=appointment.status,
        starts_at=appointment.starts_at,
        cancelled_by=appointment.cancelled_by,
        zone=ZoneInfo(timezone),
        intake_state=intake_state,
        deadline=release_deadline(appointment.starts_at, screening),
        now=now_utc(),
    )


async def send_visit_email(
    ctx: HandlerContext,
    message: OutboxMessage,
    visit: Visit,
    template: str,
    *,
    with_link: bool = True,
    needs: str | None = None,
    extra: dict[str, Any] | None = None,
) -> bool:
    """Render emails/{template}.* for the visit's client and send it; False when there is
    no one to write to (no client, or no email address), or when the context lacks what
    the message `needs` (its state changed since `visit_now` looked)."""
    context = await email_context(ctx, visit.id, with_link=with_link)
    if context is None or (needs is not None and not context.get(needs)):
        return False
    context |= {
        "subject_day": short_date(visit.starts_at, visit.zone),
        "deadline": f"{clock_time(visit.deadline, visit.zone)} on "
        f"{long_date(visit.deadline, visit.zone)}",
        **(extra or {}),
    }
    await ctx.send_email(message, to=context["to"], template=template, context=context)
    return True
