"""What the worker does for bookings: the client's booking emails (booked, changed and
cancelled with a calendar file, the reminder, the pre-visit check), and the periodic
queueing of reminders, release of expired holds and forgetting of old idempotency records.

Emails name the service by its public name and carry no health information, nor do their
calendar files; the manage link is issued afresh when the email is sent (only hashes of
tokens are stored). Every email is written from the appointment as it is when it is sent:
which emails a change queues is decided in clinic/booking/notices.py.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from clinic.api.idempotency import forget_expired
from clinic.booking.holds import expire_holds
from clinic.booking.models import Appointment, ManageLink
from clinic.booking.notices import (
    BOOKING_CANCELLED,
    BOOKING_CONFIRMED,
    BOOKING_REMINDER,
    BOOKING_RESCHEDULED,
)
from clinic.booking.policies import cancellation_terms
from clinic.booking.policy_store import stored_policies
from clinic.booking.reminders import queue_due_reminders, reminder_still_wanted
from clinic.booking.statuses import AppointmentStatus, CancelledBy
from clinic.clients.models import Client
from clinic.clock import now_utc
from clinic.intake.models import AppointmentIntake, IntakeState
from clinic.notifications.ics import (
    CALENDAR_CONTENT_TYPE,
    AppointmentEntry,
    CalendarMethod,
    appointment_calendar,
    attachment_name,
)
from clinic.notifications.mail import Attachment, mail_domain
from clinic.outbox.models import OutboxMessage
from clinic.outbox.registry import HandlerContext, handles, periodic
from clinic.payments.desk import client_has_card, money_after_cancelling, paid_in
from clinic.scheduling.models import Location, Service
from clinic.staff.models import Therapist
from clinic.tokens import token_hash
from clinic.web.formatting import clock_time, long_date, money, short_date

# Reminders go out within this long after their moment.
REMINDER_SCAN_EVERY = timedelta(minutes=5)


@dataclass(frozen=True)
class BookingEmail:
    """What a booking email says (its template's context) and the appointment's calendar
    entry for the .ics attachment."""

    context: dict[str, Any]
    entry: AppointmentEntry


async def email_context(
    ctx: HandlerContext, appointment_id: int, *, with_link: bool
) -> dict[str, Any] | None:
    """Everything a booking email says, with a fresh manage link; None when there is no
    one to write to."""
    loaded = await booking_email(ctx, appointment_id, with_link=with_link)
    return loaded.context if loaded is not None else None


async def booking_email(
    ctx: HandlerContext,
    appointment_id: int,
    *,
    with_link: bool,
    only_if: Collection[AppointmentStatus] | None = None,
) -> BookingEmail | None:
    """A booking email's context and calendar entry, with a fresh manage link; None when
    there is no one to write to, or the appointment's status is not in `only_if`."""
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
        if row is None:
            return None
        appointment, client, service, therapist, location = row
        to = client.email
        if not to or (only_if is not None and appointment.status not in only_if):
            return None
        # Only emails that show the link get one: an unsent token would be a live
        # credential nobody holds.
        token = secrets.token_urlsafe(32) if with_link else None
        if token is not None:
            session.add(ManageLink(appointment_id=appointment.id, token_hash=token_hash(token)))
        policies = await stored_policies(session)
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
    manage_url = f"{ctx.settings.base_url}/manage/{token}" if token else None
    context = {
        "to": to,
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
        "manage_url": manage_url,
        "intake_url": (
            f"{manage_url}/intake" if manage_url and intake_state is IntakeState.MISSING else None
        ),
        "pending": appointment.status is AppointmentStatus.PENDING_CLEARANCE,
        "needs_rebooking": appointment.needs_rebooking,
        "money_lines": money_lines,
    }
    organizer_name, organizer_email = parseaddr(ctx.settings.mail_from)
    entry = AppointmentEntry(
        appointment_id=appointment.id,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        zone=zone,
        sequence=appointment.calendar_sequence,
        # The public name and the clinic: a calendar is often shared or synced.
        summary=f"{service.public_name} at {ctx.clinic_name}",
        location=", ".join(
            part for part in (location.name, " ".join(location.address.split())) if part
        ),
        description=f"With {therapist.display_name}. Questions? Call us on {location.phone}.",
        url=manage_url,
        organizer_name=organizer_name.strip() or ctx.clinic_name,
        organizer_email=organizer_email,
        attendee_email=to,
    )
    return BookingEmail(context, entry)


def calendar_file(
    ctx: HandlerContext, entry: AppointmentEntry, method: CalendarMethod
) -> Attachment:
    body = appointment_calendar(
        entry, method=method, domain=mail_domain(ctx.settings.mail_from), stamp=now_utc()
    )
    return (attachment_name(method), f"{CALENDAR_CONTENT_TYPE}; method={method.value}", body)


async def _send(
    ctx: HandlerContext,
    message: OutboxMessage,
    template: str,
    *,
    with_link: bool = True,
    only_if: Collection[AppointmentStatus] | None = None,
    calendar: CalendarMethod | None = None,
) -> None:
    appointment_id = int(message.payload["appointment_id"])
    loaded = await booking_email(ctx, appointment_id, with_link=with_link, only_if=only_if)
    if loaded is None:
        return
    attachments = [calendar_file(ctx, loaded.entry, calendar)] if calendar is not None else []
    await ctx.send_email(
        message,
        to=loaded.context["to"],
        template=template,
        context=loaded.context,
        attachments=attachments,
    )


# A confirmation or a change waits in the outbox (the grace period, a retry): by the time
# it goes, the visit may be cancelled, and then the cancellation is the email that counts.
BOOKED = frozenset({AppointmentStatus.CONFIRMED, AppointmentStatus.PENDING_CLEARANCE})


@handles(BOOKING_CONFIRMED)
async def send_booking_confirmed(ctx: HandlerContext, message: OutboxMessage) -> None:
    await _send(ctx, message, "booking_confirmed", only_if=BOOKED, calendar=CalendarMethod.PUBLISH)


@handles(BOOKING_RESCHEDULED)
async def send_booking_rescheduled(ctx: HandlerContext, message: OutboxMessage) -> None:
    await _send(
        ctx, message, "booking_rescheduled", only_if=BOOKED, calendar=CalendarMethod.PUBLISH
    )


@handles(BOOKING_CANCELLED)
async def send_booking_cancelled(ctx: HandlerContext, message: OutboxMessage) -> None:
    await _send(ctx, message, "booking_cancelled", with_link=False, calendar=CalendarMethod.CANCEL)


@handles("email.previsit_check")
async def send_previsit_check(ctx: HandlerContext, message: OutboxMessage) -> None:
    await _send(ctx, message, "previsit_check")


def reminder_day(starts_at: datetime, zone: ZoneInfo, now: datetime) -> str:
    """ "today", "tomorrow" or "Tue 14 May": the visit's day as seen on the day it is sent."""
    days = (starts_at.astimezone(zone).date() - now.astimezone(zone).date()).days
    return {0: "today", 1: "tomorrow"}.get(days) or short_date(starts_at, zone)


@handles(BOOKING_REMINDER)
async def send_booking_reminder(ctx: HandlerContext, message: OutboxMessage) -> None:
    """The reminder queued by the scan, if it still stands when the worker gets to it."""
    appointment_id = int(message.payload["appointment_id"])
    now = now_utc()
    async with ctx.db.reading() as session:
        appointment = await session.get(Appointment, appointment_id)
        if appointment is None or not await reminder_still_wanted(
            session, appointment, str(message.payload["starts_at"]), now
        ):
            return
    loaded = await booking_email(
        ctx, appointment_id, with_link=True, only_if=(AppointmentStatus.CONFIRMED,)
    )
    if loaded is None:
        return
    entry = loaded.entry
    context = {
        **loaded.context,
        "reminder_day": reminder_day(entry.starts_at, entry.zone, now),
    }
    await ctx.send_email(message, to=context["to"], template="booking_reminder", context=context)


@periodic("reminders.queue", every=REMINDER_SCAN_EVERY)
async def queue_reminders(ctx: HandlerContext) -> int:
    return await queue_due_reminders(ctx.db)


@periodic("holds.expire", every=timedelta(minutes=1))
async def release_expired_holds(ctx: HandlerContext) -> int:
    return await expire_holds(ctx.db)


@periodic("idempotency.forget", every=timedelta(hours=1))
async def forget_old_idempotency_records(ctx: HandlerContext) -> int:
    return await forget_expired(ctx.db)
