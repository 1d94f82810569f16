"""What the worker does for bookings: the client's booking emails, and the periodic
release of expired holds and forgetting of old idempotency records.

Emails name the service by its public name and carry no health information; the manage
link is issued afresh when the email is sent (only hashes of tokens are stored).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from clinic.api.idempotency import forget_expired
from clinic.booking.holds import expire_holds
from clinic.booking.models import Appointment, ManageLink
from clinic.booking.policies import cancellation_terms, policies_from
from clinic.booking.statuses import AppointmentStatus, CancelledBy
from clinic.clients.models import Client
from clinic.clock import now_utc
from clinic.intake.models import AppointmentIntake, IntakeState
from clinic.options import get_option
from clinic.outbox.models import OutboxMessage
from clinic.outbox.registry import HandlerContext, handles, periodic
from clinic.payments.desk import client_has_card, money_after_cancelling, paid_in
from clinic.scheduling.models import Location, Service
from clinic.staff.models import Therapist
from clinic.tokens import token_hash
from clinic.web.formatting import clock_time, long_date, money, short_date


async def email_context(
    ctx: HandlerContext, appointment_id: int, *, with_link: bool
) -> dict[str, Any] | None:
    """Everything a booking email says, with a fresh manage link; None when there is no
    one to write to."""
    async with ctx.db.transaction() as session:
        row = (
            await session.execute(
                select(Appointment, Client, Service, Therapist, Location)
                .join(Client, Client.id == Appointment.client_id)
                .join(Service, Service.id == Appointment.service_id)
                .join(Therapist, Therapist.id == Appointment.therapist_id)
                .join(Location, Location.id == Appointment.location_id)
                .where(Appointment.id == appointment_id)
            )
        ).one_or_none()
        if row is None or not row[1].email:
            return None
        appointment, client, service, therapist, location = row
        # Only emails that show the link get one: an unsent token would be a live
        # credential nobody holds.
        token = secrets.token_urlsafe(32) if with_link else None
        if token is not None:
            session.add(ManageLink(appointment_id=appointment.id, token_hash=token_hash(token)))
        policies = policies_from(await get_option(session, "booking.policies"))
        intake_state = await session.scalar(
            select(AppointmentIntake.state).where(
                AppointmentIntake.appointment_id == appointment.id
            )
        )
        # What a cancellation does to what the client paid (a refund, the rest of a fee).
        money_lines = (
            money_after_cancelling(
                paid_minor=await paid_in(session, appointment.id),
                fee_minor=appointment.fee_minor,
                currency=appointment.currency,
                has_card=await client_has_card(session, client.id),
            )
            if appointment.status is AppointmentStatus.CANCELLED
            else []
        )
    zone = ZoneInfo(location.timezone)
    terms = cancellation_terms(
        policies,
        price_minor=appointment.price_minor,
        starts_at=appointment.starts_at,
        now=now_utc(),
        cancelled_by=CancelledBy.CLIENT,
    )
    return {
        "to": client.email,
        "client_first_name": (client.preferred_name or client.name).split()[0],
        "service": service.public_name,
        "therapist": therapist.display_name,
        "date": long_date(appointment.starts_at, zone),
        "time": clock_time(appointment.starts_at, zone),
        "end_time": clock_time(appointment.ends_at, zone),
        "subject_when": f"{short_date(appointment.starts_at, zone)}, "
        f"{clock_time(appointment.starts_at, zone)}",
        "zone": zone.key.rsplit("/", 1)[-1].replace("_", " ") + " time",
        "location_name": location.name,
        "address": location.address,
        "phone": location.phone,
        "price": money(appointment.price_minor, appointment.currency),
        "fee": money(appointment.fee_minor, appointment.currency),
        "has_fee": appointment.fee_minor > 0,
        "free_until": (
            f"{clock_time(terms.free_until, zone)} on {long_date(terms.free_until, zone)}"
        ),
        "manage_url": f"{ctx.settings.base_url}/manage/{token}" if token else None,
        "intake_url": (
            f"{ctx.settings.base_url}/manage/{token}/intake"
            if token and intake_state is IntakeState.MISSING
            else None
        ),
        "pending": appointment.status is AppointmentStatus.PENDING_CLEARANCE,
        "needs_rebooking": appointment.needs_rebooking,
        "money_lines": money_lines,
    }


async def _send(
    ctx: HandlerContext, message: OutboxMessage, template: str, *, with_link: bool = True
) -> None:
    appointment_id = int(message.payload["appointment_id"])
    context = await email_context(ctx, appointment_id, with_link=with_link)
    if context is not None:
        await ctx.send_email(message, to=context["to"], template=template, context=context)


@handles("email.booking_confirmed")
async def send_booking_confirmed(ctx: HandlerContext, message: OutboxMessage) -> None:
    await _send(ctx, message, "booking_confirmed")


@handles("email.booking_rescheduled")
async def send_booking_rescheduled(ctx: HandlerContext, message: OutboxMessage) -> None:
    await _send(ctx, message, "booking_rescheduled")


@handles("email.booking_cancelled")
async def send_booking_cancelled(ctx: HandlerContext, message: OutboxMessage) -> None:
    await _send(ctx, message, "booking_cancelled", with_link=False)


@handles("email.previsit_check")
async def send_previsit_check(ctx: HandlerContext, message: OutboxMessage) -> None:
    await _send(ctx, message, "previsit_check")


@periodic("holds.expire", every=timedelta(minutes=1))
async def release_expired_holds(ctx: HandlerContext) -> int:
    return await expire_holds(ctx.db)


@periodic("idempotency.forget", every=timedelta(hours=1))
async def forget_old_idempotency_records(ctx: HandlerContext) -> int:
    return await forget_expired(ctx.db)
