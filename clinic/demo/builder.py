"""DemoBuilder, which adds the demo clinic described in `clinic.demo.data` to one session,
and the small helpers it uses."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.auth.models import Role, User, UserRole
from clinic.auth.passwords import hash_password
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentSource, AppointmentStatus
from clinic.clients.models import Client, Consent, ConsentKind
from clinic.clock import now_utc
from clinic.demo.clearances import add_clearances
from clinic.demo.data import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
    BOOKED_BY,
    CLIENT_POOLS,
    CLIENTS,
    CLINICAL_LEAD,
    CONTACT_FIRST_NAMES,
    DAYS_AHEAD,
    DAYS_BACK,
    DOMAIN,
    FRONT_DESK_NOTES,
    FRONTDESK_NAME,
    FRONTDESK_PASSWORD,
    GRID_MINUTES,
    LEAD_PASSWORD,
    MAX_ATTEMPTS,
    ROOMS,
    SAT,
    SEED,
    SERVICES,
    TARGET_APPOINTMENTS,
    TERMS_VERSION,
    THERAPIST_PASSWORD,
    THERAPISTS,
    ServiceSpec,
    TherapistSpec,
    email_local_part,
    offers,
    staff_email,
)
from clinic.demo.health import HealthForms
from clinic.demo.payments import add_payments
from clinic.demo.payments import check as check_payments
from clinic.scheduling.models import (
    Closure,
    Location,
    Room,
    Service,
    TimeOff,
    WeeklyHours,
    service_therapist,
)
from clinic.staff.models import Credential, Therapist, therapist_location

Interval = tuple[datetime, datetime]


@dataclass
class DemoBuilder:
    """Adds the demo clinic to one session. Every random choice comes from `rng`."""

    session: AsyncSession
    zone: ZoneInfo
    today: date
    currency: str
    moment: datetime
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))  # noqa: S311
    location: Location = field(init=False)
    rooms: list[Room] = field(default_factory=list)
    users: dict[str, User] = field(default_factory=dict)
    therapists: list[tuple[TherapistSpec, Therapist]] = field(default_factory=list)
    services: list[tuple[ServiceSpec, Service]] = field(default_factory=list)
    clients: dict[str, list[tuple[Client, int]]] = field(default_factory=dict)
    client_by_name: dict[str, Client] = field(default_factory=dict)
    hours: dict[int, dict[int, list[tuple[int, int]]]] = field(default_factory=dict)
    time_off: dict[int, list[Interval]] = field(default_factory=dict)
    closure: date = field(init=False)
    busy: dict[tuple[str, int], list[Interval]] = field(default_factory=dict)
    pending_clearances: int = 0
    appointments: list[Appointment] = field(default_factory=list)

    async def build(self) -> None:
        await self.add_location_and_rooms()
        await self.add_staff_users()
        await self.add_therapists()
        await self.add_services()
        await self.add_clients()
        self.add_time_off_and_closure()
        self.add_appointments()
        await self.session.flush()
        health = HealthForms(self)
        await health.add()
        await add_clearances(health)
        await self.count_oncology_sessions()
        await health.check()
        await add_payments(self)
        await check_payments(self)

    async def count_oncology_sessions(self) -> None:
        """Keep each therapist's counter of completed oncology sessions true to the rows."""
        counts = await self.session.execute(
            select(Appointment.therapist_id, func.count())
            .join(Service, Service.id == Appointment.service_id)
            .where(
                Appointment.status == AppointmentStatus.COMPLETED,
                Service.min_oncology_level >= 1,
            )
            .group_by(Appointment.therapist_id)
        )
        completed = dict(counts.all())
        for _, therapist in self.therapists:
            therapist.oncology_sessions_here = completed.get(therapist.id, 0)
        await self.session.flush()

    def local(self, day: date, minutes: int) -> datetime:
        """A local wall time on `day` as a UTC instant."""
        wall = time(minutes // 60, minutes % 60)
        return datetime.combine(day, wall, tzinfo=self.zone).astimezone(UTC)

    def days_ago(self, days: int) -> datetime:
        return self.moment - timedelta(days=days, minutes=self.rng.randint(0, 600))

    async def add_location_and_rooms(self) -> None:
        self.location = Location(
            name="Willow & Oak Massage Therapy",
            address="2217 Walnut Street, Suite 3\nPhiladelphia, PA 19103",
            phone="(215) 555-0170",
            timezone=self.zone.key,
        )
        self.session.add(self.location)
        await self.session.flush()
        self.rooms = [
            Room(location_id=self.location.id, name=name, attributes=[a.value for a in attrs])
            for name, attrs in ROOMS
        ]
        self.session.add_all(self.rooms)

    async def add_staff_users(self) -> None:
        hashes = await asyncio.to_thread(hash_demo_passwords)
        people: list[tuple[str, str, str, str, tuple[Role, ...]]] = [
            ("admin", ADMIN_NAME, f"admin@{DOMAIN}", ADMIN_PASSWORD, (Role.ADMIN,)),
            (
                "frontdesk",
                FRONTDESK_NAME,
                f"frontdesk@{DOMAIN}",
                FRONTDESK_PASSWORD,
                (Role.FRONTDESK,),
            ),
        ]
        for spec in THERAPISTS:
            password = LEAD_PASSWORD if spec.name == CLINICAL_LEAD else THERAPIST_PASSWORD
            people.append((spec.name, spec.name, staff_email(spec.name), password, spec.roles))
        for key, name, email, password, roles in people:
            user = User(email=email, name=name, password_hash=hashes[password], active=True)
            user.role_rows = [UserRole(role=role) for role in roles]
            self.users[key] = user
        self.session.add_all(self.users.values())
        await self.session.flush()

    async def add_therapists(self) -> None:
        for spec in THERAPISTS:
            therapist = Therapist(
                user_id=self.users[spec.name].id,
                display_name=spec.name,
                bio=spec.bio,
                active=True,
                oncology_sessions_elsewhere=spec.sessions_elsewhere,
            )
            self.therapists.append((spec, therapist))
        self.session.add_all(t for _, t in self.therapists)
        await self.session.flush()
        await self.session.execute(
            insert(therapist_location),
            [{"therapist_id": t.id, "location_id": self.location.id} for _, t in self.therapists],
        )
        for spec, therapist in self.therapists:
            self.add_credentials(spec, therapist)
            self.add_weekly_hours(spec, therapist)

    def add_credentials(self, spec: TherapistSpec, therapist: Therapist) -> None:
        admin = self.users["admin"]
        for c in spec.credentials:
            expires = (
                None if c.expires_in_days is None else self.today + timedelta(c.expires_in_days)
            )
            self.session.add(
                Credential(
                    therapist_id=therapist.id,
                    kind=c.kind,
                    title=c.title,
                    issuer=c.issuer,
                    number=c.number,
                    jurisdiction=c.jurisdiction,
                    hours=c.hours,
                    supervised_hands_on=c.hands_on,
                    issued_on=self.today - timedelta(c.issued_days_ago),
                    expires_on=expires,
                    verified_by_user_id=admin.id,
                    verified_at=self.moment,
                )
            )

    def add_weekly_hours(self, spec: TherapistSpec, therapist: Therapist) -> None:
        by_weekday = self.hours.setdefault(therapist.id, {})
        for weekday, start, end in spec.hours:
            start_time, end_time = time.fromisoformat(start), time.fromisoformat(end)
            self.session.add(
                WeeklyHours(
                    therapist_id=therapist.id,
                    location_id=self.location.id,
                    weekday=weekday,
                    start_time=start_time,
                    end_time=end_time,
                )
            )
            span = (minutes_of(start_time), minutes_of(end_time))
            by_weekday.setdefault(weekday, []).append(span)

    async def add_services(self) -> None:
        for order, spec in enumerate(SERVICES, start=1):
            service = Service(
                name=spec.name,
                public_name=spec.public_name,
                description=spec.description,
                duration_minutes=spec.minutes,
                price_minor=spec.dollars * 100,
                buffer_before_minutes=spec.before,
                buffer_after_minutes=spec.after,
                min_oncology_level=spec.min_level,
                needs_lymphedema=spec.lymphedema,
                room_attributes=[a.value for a in spec.room_attributes],
                bookable_online=spec.online,
                deposit_kind=spec.deposit_kind,
                deposit_value=spec.deposit_value,
                active=True,
                display_order=order * 10,
            )
            self.services.append((spec, service))
        self.session.add_all(s for _, s in self.services)
        await self.session.flush()
        await self.session.execute(
            insert(service_therapist),
            [
                {"service_id": service.id, "therapist_id": therapist.id}
                for t_spec, therapist in self.therapists
                for s_spec, service in self.services
                if offers(t_spec, s_spec)
            ],
        )

    async def add_clients(self) -> None:
        for i, (name, preferred, pronouns, group) in enumerate(CLIENTS):
            client = self.make_client(i, name, preferred, pronouns, group)
            self.client_by_name[name] = client
            # Regulars come back more often than the rest.
            frequency = self.rng.choice((1, 1, 2, 3, 5))
            self.clients.setdefault(group, []).append((client, frequency))
        self.session.add_all(self.client_by_name.values())
        await self.session.flush()
        frontdesk = self.users["frontdesk"]
        for i, client in enumerate(self.client_by_name.values()):
            if i % 9 == 8:
                continue  # a few clients have not signed anything yet
            recorded_by = frontdesk.id if i % 3 == 0 else None
            for kind in (ConsentKind.PRIVACY_NOTICE, ConsentKind.CANCELLATION_TERMS):
                self.session.add(
                    Consent(
                        client_id=client.id,
                        kind=kind,
                        terms_version=TERMS_VERSION,
                        given_at=client.created_at,
                        recorded_by_user_id=recorded_by,
                    )
                )

    def make_client(self, i: int, name: str, preferred: str, pronouns: str, group: str) -> Client:
        low, high = (
            (27, 39) if group == "prenatal" else (36, 79) if group != "general" else (19, 74)
        )
        age_days = self.rng.randint(low * 365, high * 365)
        last_name = name.split()[-1]
        has_contact = group in {"oncology", "lymphedema"} or i % 5 == 0
        contact = f"{self.rng.choice(CONTACT_FIRST_NAMES)} {last_name}" if has_contact else ""
        note = self.rng.choice(FRONT_DESK_NOTES) if i % 7 == 3 else ""
        return Client(
            name=name,
            email=f"{email_local_part(name)}@example.com",
            phone=f"(215) 555-01{i:02d}",
            date_of_birth=self.today - timedelta(days=age_days),
            emergency_contact_name=contact,
            emergency_contact_phone=f"(267) 555-01{i:02d}" if contact else "",
            preferred_name=preferred,
            pronouns=pronouns,
            notes=note,
            created_at=self.days_ago(self.rng.randint(30, 900)),
        )

    def add_time_off_and_closure(self) -> None:
        self.closure = next_weekday(self.today + timedelta(days=20))
        self.session.add(
            Closure(location_id=self.location.id, on_date=self.closure, reason="Staff training day")
        )
        by_name = {spec.name: t for spec, t in self.therapists}
        day = timedelta(days=1)
        vacation = self.today + 9 * day
        dentist = self.next_workday(by_name["Sam Whitaker"], self.today + 4 * day)
        sick = self.next_workday(by_name["Grace O'Connell"], self.today - 6 * day)
        conference = self.today + 16 * day
        entries = (
            ("Priya Raman", vacation, 0, vacation + 5 * day, 0, "Vacation"),
            ("Sam Whitaker", dentist, 13 * 60, dentist, 17 * 60, "Dentist appointment"),
            ("Grace O'Connell", sick, 0, sick + day, 0, "Sick day"),
            (CLINICAL_LEAD, conference, 0, conference + 2 * day, 0, "S4OM conference"),
        )
        for name, start_day, start_min, end_day, end_min, reason in entries:
            therapist = by_name[name]
            span = (self.local(start_day, start_min), self.local(end_day, end_min))
            self.time_off.setdefault(therapist.id, []).append(span)
            self.session.add(
                TimeOff(
                    therapist_id=therapist.id, starts_at=span[0], ends_at=span[1], reason=reason
                )
            )

    def next_workday(self, therapist: Therapist, start: date) -> date:
        day = start
        while day.weekday() not in self.hours[therapist.id]:
            day += timedelta(days=1)
        return day

    # Appointments.
    def add_appointments(self) -> None:
        workdays = self.therapist_workdays()
        weights = [self.day_weight(day) for _, _, day in workdays]
        placed = 0
        for _ in range(MAX_ATTEMPTS):
            if placed >= TARGET_APPOINTMENTS:
                break
            spec, therapist, day = self.rng.choices(workdays, weights)[0]
            appointment = self.try_appointment(spec, therapist, day)
            if appointment is not None:
                self.session.add(appointment)
                placed += 1

    def therapist_workdays(self) -> list[tuple[TherapistSpec, Therapist, date]]:
        first = self.today - timedelta(days=DAYS_BACK)
        days = [first + timedelta(days=n) for n in range(DAYS_BACK + DAYS_AHEAD + 1)]
        return [
            (spec, therapist, day)
            for spec, therapist in self.therapists
            for day in days
            if day != self.closure
            and day.weekday() in self.hours[therapist.id]
            # Nothing from the licence's expiry day on, so the lapse never shows as booked.
            and not (spec.licence_lapsed and day >= spec.licence_expiry(self.today))
        ]

    def day_weight(self, day: date) -> float:
        # The calendar thins out further ahead: fewer people have booked yet.
        ahead = (day - self.today).days
        return 1.0 if ahead <= 7 else max(0.35, 1.0 - (ahead - 7) / 30)

    def try_appointment(
        self, spec: TherapistSpec, therapist: Therapist, day: date
    ) -> Appointment | None:
        offered = [(s, service) for s, service in self.services if offers(spec, s)]
        s_spec, service = self.rng.choices(offered, [s.popularity for s, _ in offered])[0]
        start_min = self.pick_start(therapist, day, s_spec)
        if start_min is None:
            return None
        starts_at = self.local(day, start_min)
        ends_at = starts_at + timedelta(minutes=s_spec.minutes)
        block = (
            starts_at - timedelta(minutes=s_spec.before),
            ends_at + timedelta(minutes=s_spec.after),
        )
        if self.on_time_off(therapist, block):
            return None
        status = self.pick_status(day, s_spec, starts_at, ends_at)
        client = self.pick_client(s_spec)
        occupies = status is not AppointmentStatus.CANCELLED
        rooms = [r for r in self.rooms if room_fits(r, s_spec)]
        if occupies:
            if not (self.free(("t", therapist.id), block) and self.free(("c", client.id), block)):
                return None
            rooms = [r for r in rooms if self.free(("r", r.id), block)]
        if not rooms:
            return None
        room = self.rng.choice(rooms)
        if occupies:
            for key in (("t", therapist.id), ("c", client.id), ("r", room.id)):
                self.busy.setdefault(key, []).append(block)
        if status is AppointmentStatus.PENDING_CLEARANCE:
            self.pending_clearances += 1
        return self.make_appointment(therapist, service, s_spec, client, room, status, block)

    def pick_start(self, therapist: Therapist, day: date, spec: ServiceSpec) -> int | None:
        """A start on the 15-minute grid whose buffered block fits in that day's hours."""
        starts = [
            m
            for open_min, close_min in self.hours[therapist.id][day.weekday()]
            for m in range(open_min, close_min, GRID_MINUTES)
            if m - spec.before >= open_min and m + spec.minutes + spec.after <= close_min
        ]
        return self.rng.choice(starts) if starts else None

    def pick_status(
        self, day: date, spec: ServiceSpec, starts_at: datetime, ends_at: datetime
    ) -> AppointmentStatus:
        roll = self.rng.random()
        if day < self.today:
            if roll < 0.08:
                return AppointmentStatus.CANCELLED
            return AppointmentStatus.NO_SHOW if roll < 0.12 else AppointmentStatus.COMPLETED
        if day == self.today:
            if roll < 0.05:
                return AppointmentStatus.CANCELLED
            if ends_at <= self.moment:
                return AppointmentStatus.COMPLETED
            # Clients check in at the desk a few minutes early.
            if starts_at - timedelta(minutes=10) <= self.moment:
                return AppointmentStatus.CHECKED_IN
            return AppointmentStatus.CONFIRMED
        if roll < 0.06:
            return AppointmentStatus.CANCELLED
        # A few new oncology clients wait for the clinical lead's review.
        if spec.min_level is not None and roll < 0.3 and self.pending_clearances < 3:
            return AppointmentStatus.PENDING_CLEARANCE
        return AppointmentStatus.CONFIRMED

    def pick_client(self, spec: ServiceSpec) -> Client:
        pool = [entry for group in CLIENT_POOLS[spec.clients] for entry in self.clients[group]]
        return self.rng.choices([c for c, _ in pool], [w for _, w in pool])[0]

    def free(self, key: tuple[str, int], block: Interval) -> bool:
        return not any(overlaps(block, other) for other in self.busy.get(key, []))

    def on_time_off(self, therapist: Therapist, block: Interval) -> bool:
        return any(overlaps(block, off) for off in self.time_off.get(therapist.id, []))

    def make_appointment(
        self,
        therapist: Therapist,
        service: Service,
        spec: ServiceSpec,
        client: Client,
        room: Room,
        status: AppointmentStatus,
        block: Interval,
    ) -> Appointment:
        starts_at = block[0] + timedelta(minutes=spec.before)
        ends_at = starts_at + timedelta(minutes=spec.minutes)
        source = self.rng.choices(
            (AppointmentSource.ONLINE, AppointmentSource.DESK, AppointmentSource.PHONE), (5, 3, 2)
        )[0]
        if source is AppointmentSource.ONLINE and not spec.online:
            source = AppointmentSource.PHONE
        lead = timedelta(hours=self.rng.randint(3, 24 * 30))
        created_at = min(starts_at - lead, self.moment)
        booked_by = BOOKED_BY.get(client.name)
        return self.appointment_row(
            therapist,
            service,
            client,
            room,
            status,
            block,
            (starts_at, ends_at),
            source=source,
            created_at=created_at,
            booked_by=self.client_by_name[booked_by] if booked_by else None,
        )

    def appointment_row(
        self,
        therapist: Therapist,
        service: Service,
        client: Client,
        room: Room,
        status: AppointmentStatus,
        block: Interval,
        visit: Interval,
        *,
        source: AppointmentSource,
        created_at: datetime,
        booked_by: Client | None = None,
    ) -> Appointment:
        starts_at, ends_at = visit
        appointment = Appointment(
            location_id=self.location.id,
            therapist_id=therapist.id,
            client_id=client.id,
            booked_by_client_id=booked_by.id if booked_by else None,
            service_id=service.id,
            room_id=room.id,
            starts_at=starts_at,
            ends_at=ends_at,
            blocked_from=block[0],
            blocked_until=block[1],
            status=status,
            price_minor=service.price_minor,
            currency=self.currency,
            source=source,
            # Staff take desk and phone bookings; online ones are made by the client.
            created_by_user_id=(
                None if source is AppointmentSource.ONLINE else self.users["frontdesk"].id
            ),
            created_at=created_at,
            updated_at=self.last_change(status, created_at, starts_at, ends_at),
        )
        self.appointments.append(appointment)
        return appointment

    def last_change(
        self,
        status: AppointmentStatus,
        created_at: datetime,
        starts_at: datetime,
        ends_at: datetime,
    ) -> datetime:
        if status in (AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW):
            return max(created_at, ends_at)
        if status is AppointmentStatus.CHECKED_IN:
            return max(created_at, starts_at)
        if status is AppointmentStatus.CANCELLED:
            return created_at + (min(starts_at, self.moment) - created_at) / 2
        return created_at


def minutes_of(value: time) -> int:
    return value.hour * 60 + value.minute


def next_weekday(day: date) -> date:
    while day.weekday() >= SAT:
        day += timedelta(days=1)
    return day


def overlaps(a: Interval, b: Interval) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def room_fits(room: Room, spec: ServiceSpec) -> bool:
    return {a.value for a in spec.room_attributes} <= set(room.attributes)


def hash_demo_passwords() -> dict[str, str]:
    passwords = (ADMIN_PASSWORD, FRONTDESK_PASSWORD, LEAD_PASSWORD, THERAPIST_PASSWORD)
    return {password: hash_password(password) for password in passwords}


def reference_moment(today: date, zone: ZoneInfo) -> datetime:
    """Now, when `today` is today; otherwise noon of `today` so the demo stays consistent."""
    now = now_utc()
    if now.astimezone(zone).date() == today:
        return now
    return datetime.combine(today, time(12, 0), tzinfo=zone).astimezone(UTC)
