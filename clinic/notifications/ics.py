"""iCalendar (RFC 5545) files: the VTIMEZONE components a calendar needs, shared by the
therapist's feed and the client's booking emails, and the client's appointment file.

The client's file is METHOD:PUBLISH: a calendar entry to add, not an invitation to accept
(RFC 5546 REQUEST asks the attendee for a reply we would never read). A change sends the
same UID with a higher SEQUENCE, which calendars apply over the entry they have; a
cancellation is METHOD:CANCEL with the same UID. Nothing clinical goes in: the summary is
the service's public name and the clinic's name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from icalendar import STATUS, Calendar, Event, Timezone, vCalAddress

PRODID = "-//Clinic//Appointments//EN"
# Either side of an appointment's day: enough for its zone's offset at the time, and a
# year of transitions for a calendar that keeps the entry.
ZONE_MARGIN = timedelta(days=366)
CALENDAR_CONTENT_TYPE = "text/calendar"


def add_timezones(
    calendar: Calendar, *, first_date: date, last_date: date, zones: Iterable[ZoneInfo] = ()
) -> None:
    """Give `calendar` a VTIMEZONE for every TZID its events use, and for each of `zones`
    even when no event uses it, with the transitions from `first_date` to `last_date`."""
    used = calendar.get_used_tzids()
    for position, zone in enumerate(z for z in zones if z.key not in used):
        timezone = Timezone.from_tzid(zone.key, first_date=first_date, last_date=last_date)
        calendar.subcomponents.insert(position, timezone)
    calendar.add_missing_timezones(first_date=first_date, last_date=last_date)


class CalendarMethod(StrEnum):
    PUBLISH = "PUBLISH"
    CANCEL = "CANCEL"


@dataclass(frozen=True)
class AppointmentEntry:
    """What the client's calendar file says about one appointment."""

    appointment_id: int
    starts_at: datetime
    ends_at: datetime
    zone: ZoneInfo
    # One more on every change of time.
    sequence: int
    # "Massage, 60 min at Willow & Oak Massage Therapy": the public name only.
    summary: str
    location: str
    description: str
    # The manage link already in the email, or None (a cancelled visit has none).
    url: str | None
    organizer_name: str
    organizer_email: str
    attendee_email: str


def appointment_uid(appointment_id: int, domain: str) -> str:
    """The same for every file about one appointment, and unlike the therapist feed's."""
    return f"booking-{appointment_id}@{domain}"


def _address(email: str, name: str = "") -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["CN"] = name
    return address


def appointment_calendar(
    entry: AppointmentEntry, *, method: CalendarMethod, domain: str, stamp: datetime
) -> bytes:
    """The .ics of one appointment: times with the location's TZID and its VTIMEZONE.
    A cancellation carries SEQUENCE one above the last change, so it outranks every file
    sent before it."""
    cancelled = method is CalendarMethod.CANCEL
    calendar = Calendar.new(prodid=PRODID, method=method.value)
    attendee = _address(entry.attendee_email)
    if cancelled:
        attendee.params["ROLE"] = "REQ-PARTICIPANT"
    calendar.add_component(
        Event.new(
            uid=appointment_uid(entry.appointment_id, domain),
            sequence=entry.sequence + 1 if cancelled else entry.sequence,
            stamp=stamp,
            start=entry.starts_at.astimezone(entry.zone),
            end=entry.ends_at.astimezone(entry.zone),
            summary=entry.summary,
            location=entry.location or None,
            description=entry.description or None,
            url=None if cancelled else entry.url,
            status=STATUS.CANCELLED if cancelled else STATUS.CONFIRMED,
            organizer=_address(entry.organizer_email, entry.organizer_name),
            # RFC 5546 wants the attendee on a CANCEL; a PUBLISH names none.
            attendees=[attendee] if cancelled else None,
        )
    )
    day = entry.starts_at.astimezone(entry.zone).date()
    add_timezones(
        calendar,
        first_date=day - ZONE_MARGIN,
        last_date=day + ZONE_MARGIN,
        zones=(entry.zone,),
    )
    body: bytes = calendar.to_ical()
    return body


def attachment_name(method: CalendarMethod) -> str:
    return "cancelled-appointment.ics" if method is CalendarMethod.CANCEL else "appointment.ics"
