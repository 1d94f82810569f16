"""HealthForms, which adds the demo's health forms to a DemoBuilder's session: the clients
of `clinic.demo.intakes` with their signed intakes, the visits they booked (placed in free
time by the builder's own bookkeeping, and planned from the intake as a booking is), and a
few general bookings whose form has not come back yet."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentSource, AppointmentStatus
from clinic.clients.models import Client, Consent, ConsentKind
from clinic.demo.data import GRID_MINUTES, TERMS_VERSION, ServiceSpec, email_local_part
from clinic.demo.intakes import INTAKE_CLIENTS, IntakeClient, Visit, cleaned_answers
from clinic.intake import forms
from clinic.intake.models import AppointmentIntake, Intake, IntakeState
from clinic.intake.rules import ScreeningRules
from clinic.intake.service import (
    BookingCare,
    ClinicScreening,
    Signature,
    add_intake,
    attach_to_appointment,
    booking_care,
    fit_problems,
    link_booking,
    plan_for,
    record_contact_consent,
)
from clinic.intake.summary import plan_from_json
from clinic.scheduling.models import Room, Service
from clinic.staff.models import Therapist

if TYPE_CHECKING:
    from clinic.demo.builder import DemoBuilder, Interval

# The intake clients' phone numbers follow those of the clients in data.CLIENTS.
FIRST_NUMBER = 60
# General bookings left waiting for their health form.
MISSING_FORMS = 3
# Clients book online a few minutes after signing their form.
BOOKED_AFTER_SIGNING = timedelta(minutes=12)
SIGNED_BEFORE_MOMENT = timedelta(hours=2)
CHECK_IN_EARLY = timedelta(minutes=10)
# A visit today starts at least this long after the demo's moment when a time allows.
TODAY_LEAD = timedelta(minutes=30)
DAYS_TRIED = 14


class DemoPlacementError(RuntimeError):
    """The demo's scripted visits do not fit its calendar or their care plans."""


@dataclass
class Placed:
    spec: IntakeClient
    client: Client
    intake: Intake
    appointment: Appointment
    booked_at: datetime
    care: BookingCare


@dataclass
class HealthForms:
    builder: DemoBuilder
    definition: forms.FormDefinition = field(default_factory=forms.current)
    # The demo clinic keeps the product's screening settings.
    screening: ClinicScreening = field(init=False)

    def __post_init__(self) -> None:
        self.screening = ClinicScreening(self.builder.zone, ScreeningRules())

    placed: list[Placed] = field(default_factory=list)
    missing: list[Appointment] = field(default_factory=list)

    async def add(self) -> None:
        b = self.builder
        # Chosen among the builder's own bookings, before any visit is added here.
        waiting = self.bookings_waiting_for_forms()
        clients = [(spec, self.make_client(i, spec)) for i, spec in enumerate(INTAKE_CLIENTS)]
        b.session.add_all(client for _, client in clients)
        await b.session.flush()
        for spec, client in clients:
            self.add_consents(spec, client)
            intake = self.add_intake(spec, client)
            await b.session.flush()
            record_contact_consent(b.session, intake, client.id, intake.signed_at)
            for visit in spec.visits:
                self.place(spec, client, intake, visit)
        await b.session.flush()
        for placed in self.placed:
            await self.link(placed)
        for appointment in waiting:
            assert appointment.client_id is not None
            await link_booking(
                b.session,
                appointment,
                BookingCare(cancer_history=False),
                appointment.client_id,
                appointment.created_at,
            )
        self.missing = waiting
        await b.session.flush()

    def signed_at(self, spec: IntakeClient) -> datetime:
        return self.builder.moment - timedelta(days=spec.signed_days_ago) - SIGNED_BEFORE_MOMENT

    def booked_at(self, spec: IntakeClient) -> datetime:
        if spec.booked_before_intake_days_ago is not None:
            return self.builder.moment - timedelta(days=spec.booked_before_intake_days_ago)
        return self.signed_at(spec) + BOOKED_AFTER_SIGNING

    def make_client(self, i: int, spec: IntakeClient) -> Client:
        b = self.builder
        number = FIRST_NUMBER + i
        first_contact = min(self.signed_at(spec), self.booked_at(spec))
        return Client(
            name=spec.name,
            email=f"{email_local_part(spec.name)}@example.com",
            phone=f"(215) 555-01{number:02d}",
            date_of_birth=b.today - timedelta(days=spec.age * 365 + 31 * i),
            emergency_contact_name=spec.emergency_contact,
            emergency_contact_phone=f"(267) 555-01{number:02d}" if spec.emergency_contact else "",
            preferred_name=spec.preferred_name,
            pronouns=spec.pronouns,
            notes=spec.note,
            created_at=first_contact - timedelta(minutes=5),
        )

    def add_consents(self, spec: IntakeClient, client: Client) -> None:
        by_phone = spec.booked_before_intake_days_ago is not None
        for kind in (ConsentKind.PRIVACY_NOTICE, ConsentKind.CANCELLATION_TERMS):
            self.builder.session.add(
                Consent(
                    client_id=client.id,
                    kind=kind,
                    terms_version=TERMS_VERSION,
                    given_at=client.created_at,
                    recorded_by_user_id=self.builder.users["frontdesk"].id if by_phone else None,
                )
            )

    def add_intake(self, spec: IntakeClient, client: Client) -> Intake:
        signed_at = self.signed_at(spec)
        signed_on = signed_at.astimezone(self.builder.zone).date()
        cleaned = cleaned_answers(self.definition, spec.answers(signed_on), signed_on)
        intake, _token = add_intake(
            self.builder.session,
            self.definition,
            cleaned,
            Signature(spec.name, agreed=True),
            now=signed_at,
            client_id=client.id,
        )
        return intake

    def place(self, spec: IntakeClient, client: Client, intake: Intake, visit: Visit) -> None:
        """Book `visit` at the free time nearest its preferred one, on its day or the
        nearest day after (before, for a past visit) that has one."""
        b = self.builder
        therapist = self.therapist(visit.therapist)
        s_spec, service = self.service(visit.service)
        booked_at = self.booked_at(spec)
        review = spec.booked_before_intake_days_ago is not None
        # A booking made before the intake knows only the gate answer; the others are
        # planned from the intake for their own date (the plan decides the room as well).
        needed = {a.value for a in s_spec.room_attributes}
        if not review:
            plan = plan_for(intake, now=booked_at, clinic=self.screening, visit_start=None)
            needed |= set(plan.room_attributes)
        step = -1 if visit.days < 0 else 1
        day = b.today + timedelta(days=visit.days)
        for _ in range(DAYS_TRIED):
            found = self.free_time(therapist, client, day, s_spec, needed, visit.at)
            if found is not None:
                break
            day += timedelta(days=step)
        else:
            raise DemoPlacementError(f"no free time for {spec.name} with {visit.therapist}")
        block, (starts_at, ends_at), room = found
        if booked_at >= starts_at:
            raise DemoPlacementError(f"{spec.name}'s visit on {day} starts before it was booked")
        care = (
            BookingCare(cancer_history=intake.cancer_history)
            if review
            else booking_care(
                intake, intake.cancer_history, now=booked_at, clinic=self.screening, start=starts_at
            )
        )
        status = self.status(day, starts_at, ends_at, care.status)
        for key in (("t", therapist.id), ("c", client.id), ("r", room.id)):
            b.busy.setdefault(key, []).append(block)
        appointment = b.appointment_row(
            therapist,
            service,
            client,
            room,
            status,
            block,
            (starts_at, ends_at),
            source=AppointmentSource.PHONE if review else AppointmentSource.ONLINE,
            created_at=booked_at,
        )
        b.session.add(appointment)
        self.placed.append(Placed(spec, client, intake, appointment, booked_at, care))

    def free_time(
        self,
        therapist: Therapist,
        client: Client,
        day: date,
        spec: ServiceSpec,
        rooms_needed: set[str],
        preferred: str,
    ) -> tuple[Interval, Interval, Room] | None:
        b = self.builder
        spans = b.hours[therapist.id].get(day.weekday(), [])
        if day == b.closure or not spans:
            return None
        wall = time.fromisoformat(preferred)
        wanted = wall.hour * 60 + wall.minute
        starts = [
            m
            for open_min, close_min in spans
            for m in range(open_min, close_min, GRID_MINUTES)
            if m - spec.before >= open_min and m + spec.minutes + spec.after <= close_min
        ]
        soon = b.moment + TODAY_LEAD

        def order(m: int) -> tuple[bool, int, int]:
            return (day == b.today and b.local(day, m) < soon, abs(m - wanted), m)

        for m in sorted(starts, key=order):
            starts_at = b.local(day, m)
            ends_at = starts_at + timedelta(minutes=spec.minutes)
            block = (
                starts_at - timedelta(minutes=spec.before),
                ends_at + timedelta(minutes=spec.after),
            )
            if b.on_time_off(therapist, block):
                continue
            if not (b.free(("t", therapist.id), block) and b.free(("c", client.id), block)):
                continue
            for room in b.rooms:
                if rooms_needed <= set(room.attributes) and b.free(("r", room.id), block):
                    return block, (starts_at, ends_at), room
        return None

    def status(
        self, day: date, starts_at: datetime, ends_at: datetime, booked: AppointmentStatus
    ) -> AppointmentStatus:
        b = self.builder
        if day < b.today or (day == b.today and ends_at <= b.moment):
            return AppointmentStatus.COMPLETED
        if day == b.today and starts_at - CHECK_IN_EARLY <= b.moment:
            return AppointmentStatus.CHECKED_IN
        return booked

    async def link(self, placed: Placed) -> None:
        b = self.builder
        await link_booking(
            b.session, placed.appointment, placed.care, placed.client.id, placed.booked_at
        )
        if placed.spec.booked_before_intake_days_ago is not None:
            # The form came later through the booking's link, and asks more than was booked.
            await b.session.flush()
            await attach_to_appointment(
                b.session,
                placed.appointment,
                placed.intake,
                now=placed.intake.signed_at,
                clinic=self.screening,
            )

    def bookings_waiting_for_forms(self) -> list[Appointment]:
        """General bookings still to come, one today when there is one, from different
        clients: their clients have been sent the form and not sent it back yet."""
        b = self.builder
        general = {service.id for spec, service in b.services if spec.clients == "general"}
        upcoming = sorted(
            (
                a
                for a in b.appointments
                if a.status is AppointmentStatus.CONFIRMED
                and a.service_id in general
                and a.starts_at > b.moment
            ),
            key=lambda a: (a.starts_at, a.id),
        )
        today = [a for a in upcoming if a.starts_at.astimezone(b.zone).date() == b.today]
        later = [a for a in upcoming if a not in today]
        chosen: list[Appointment] = []
        for appointment in today[:1] + later:
            if len(chosen) < MISSING_FORMS and all(
                appointment.client_id != c.client_id for c in chosen
            ):
                chosen.append(appointment)
        return chosen

    async def check(self) -> None:
        """Every planned visit fits its plan (therapist level and lymphedema credential on
        its date, room, length); the one booked before its intake is in review."""
        b = self.builder
        for placed in self.placed:
            appointment = placed.appointment
            link = await b.session.get(AppointmentIntake, appointment.id)
            if link is None or link.plan is None:
                raise DemoPlacementError(f"{placed.spec.name}'s visit has no plan")
            problems = await fit_problems(b.session, appointment, plan_from_json(link.plan), b.zone)
            review = placed.spec.booked_before_intake_days_ago is not None
            if review != (link.state is IntakeState.REVIEW) or (problems and not review):
                raise DemoPlacementError(
                    f"{placed.spec.name}'s visit on {appointment.starts_at:%Y-%m-%d} is "
                    f"{link.state.value}: {'; '.join(problems) or 'it fits its plan'}"
                )

    def therapist(self, name: str) -> Therapist:
        return next(t for spec, t in self.builder.therapists if spec.name == name)

    def service(self, name: str) -> tuple[ServiceSpec, Service]:
        return next((spec, s) for spec, s in self.builder.services if spec.name == name)
