"""The demo clinic used by `make run` and the tests: one location, eight therapists,
sixty clients and about three hundred appointments around a given day, all deterministic."""

from __future__ import annotations

import asyncio
import random
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

import clinic.models  # noqa: F401  (every table must be in Base.metadata for a reset)
from clinic.auth.models import Role, User, UserRole
from clinic.auth.passwords import hash_password
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentSource, AppointmentStatus
from clinic.clients.models import Client, Consent, ConsentKind
from clinic.clock import now_utc, today_in
from clinic.db import Base, Database
from clinic.options import get_option, set_option
from clinic.scheduling.models import (
    Closure,
    Location,
    Room,
    RoomAttribute,
    Service,
    TimeOff,
    WeeklyHours,
    service_therapist,
)
from clinic.staff.models import Credential, CredentialKind, Therapist, therapist_location

DEMO_VERSION: int = 1
VERSION_OPTION = "demo.version"
DOMAIN = "willowoak.test"
SEED = 2026
TARGET_APPOINTMENTS = 300
MAX_ATTEMPTS = 20_000
DAYS_BACK = 14
DAYS_AHEAD = 28
GRID_MINUTES = 15
TERMS_VERSION = "2026-01"


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    password: str


@dataclass(frozen=True)
class DemoSummary:
    seeded: bool
    therapists: int
    services: int
    clients: int
    appointments: int
    logins: tuple[DemoLogin, ...]


# Demo-only passwords, printed by `make run`; they protect nothing real.
ADMIN_PASSWORD = "demo-admin-2026"  # noqa: S105
FRONTDESK_PASSWORD = "demo-frontdesk-2026"  # noqa: S105
LEAD_PASSWORD = "demo-lead-2026"  # noqa: S105
THERAPIST_PASSWORD = "demo-therapist-2026"  # noqa: S105

ADMIN_NAME = "Dana Whitfield"
FRONTDESK_NAME = "Luis Ortega"
CLINICAL_LEAD = "Marcus Bell"
PLAIN_THERAPIST = "Jordan Kim"
LYMPHEDEMA_THERAPIST = "Elena Vasquez"


def staff_email(name: str) -> str:
    return f"{email_local_part(name)}@{DOMAIN}"


def email_local_part(name: str) -> str:
    """ "José Hernández" -> "jose.hernandez": first and last word, ASCII, lower case."""
    words = name.split()
    ascii_name = unicodedata.normalize("NFKD", f"{words[0]}.{words[-1]}")
    ascii_name = ascii_name.encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z.-]", "", ascii_name)


DEMO_LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin(Role.ADMIN.value, f"admin@{DOMAIN}", ADMIN_PASSWORD),
    DemoLogin(Role.FRONTDESK.value, f"frontdesk@{DOMAIN}", FRONTDESK_PASSWORD),
    DemoLogin(Role.CLINICAL_LEAD.value, staff_email(CLINICAL_LEAD), LEAD_PASSWORD),
    DemoLogin(Role.THERAPIST.value, staff_email(PLAIN_THERAPIST), THERAPIST_PASSWORD),
)


# --- Therapists and their credentials -------------------------------------------------


@dataclass(frozen=True)
class CredentialSpec:
    kind: CredentialKind
    title: str
    issuer: str
    number: str = ""
    jurisdiction: str = ""
    hours: int | None = None
    hands_on: bool = False
    issued_days_ago: int = 1500
    expires_in_days: int | None = None


def licence(number: str, issued_days_ago: int, expires_in_days: int) -> CredentialSpec:
    return CredentialSpec(
        CredentialKind.MASSAGE_LICENCE,
        "Licensed Massage Therapist",
        "Pennsylvania State Board of Massage Therapy",
        number,
        "PA",
        issued_days_ago=issued_days_ago,
        expires_in_days=expires_in_days,
    )


def insurance(insurer: str, number: str, issued_days_ago: int) -> CredentialSpec:
    # One-year policies, so the days left follow from the days since issue.
    issuer = {
        "ABMP": "Associated Bodywork & Massage Professionals (ABMP)",
        "AMTA": "American Massage Therapy Association (AMTA)",
    }[insurer]
    return CredentialSpec(
        CredentialKind.LIABILITY_INSURANCE,
        "Professional and general liability insurance",
        issuer,
        number,
        issued_days_ago=issued_days_ago,
        expires_in_days=365 - issued_days_ago,
    )


WALTON_INTENSIVE = CredentialSpec(
    CredentialKind.ONCOLOGY_FOUNDATIONAL,
    "Caring for Clients with Cancer: 4-day intensive",
    "Tracy Walton & Associates (S4OM-recognised provider)",
    "TWA-32-1187",
    hours=32,
    hands_on=True,
    issued_days_ago=2900,
)
OMHA_FOUNDATIONS = CredentialSpec(
    CredentialKind.ONCOLOGY_FOUNDATIONAL,
    "Oncology Massage Foundations",
    "Oncology Massage Healing Arts (S4OM-recognised provider)",
    "OMHA-F24-0562",
    hours=24,
    hands_on=True,
    issued_days_ago=1100,
)
HEALWELL_FOUNDATIONS = CredentialSpec(
    CredentialKind.ONCOLOGY_FOUNDATIONAL,
    "Oncology Massage Foundations in the Hospital Setting",
    "Healwell (S4OM-recognised provider)",
    "HW-OMF-2231",
    hours=28,
    hands_on=True,
    issued_days_ago=1400,
)


@dataclass(frozen=True)
class TherapistSpec:
    name: str
    bio: str
    # The level the credentials give while the licence is current.
    level: int
    hours: tuple[tuple[int, str, str], ...]
    credentials: tuple[CredentialSpec, ...]
    roles: tuple[Role, ...] = (Role.THERAPIST,)
    sessions_elsewhere: int = 0
    lymphedema: bool = False
    licence_lapsed: bool = False

    def licence_expiry(self, today: date) -> date:
        days = next(
            c.expires_in_days for c in self.credentials if c.kind is CredentialKind.MASSAGE_LICENCE
        )
        assert days is not None
        return today + timedelta(days=days)


MON, TUE, WED, THU, FRI, SAT = range(6)

THERAPISTS: tuple[TherapistSpec, ...] = (
    TherapistSpec(
        "Naomi Okafor",
        "Founded Willow & Oak after eight years on the integrative oncology team at Fox Chase. "
        "Gentle, unhurried work for people in and after cancer treatment.",
        level=4,
        roles=(Role.THERAPIST, Role.ADMIN),
        sessions_elsewhere=640,
        hours=((MON, "09:00", "15:00"), (WED, "09:00", "15:00"), (THU, "09:00", "15:00")),
        credentials=(
            licence("MT.008871", 4700, 320),
            insurance("ABMP", "ABMP-PL-1184523", 140),
            WALTON_INTENSIVE,
            CredentialSpec(
                CredentialKind.ONCOLOGY_CE,
                "Clinical Reasoning in Oncology Massage",
                "Tracy Walton & Associates",
                "TWA-CR-0419",
                hours=16,
                issued_days_ago=600,
            ),
            CredentialSpec(
                CredentialKind.HOSPITAL_CREDENTIALING,
                "Integrative oncology massage staff credentialing",
                "Fox Chase Cancer Center, Philadelphia",
                "FCCC-IM-2291",
                issued_days_ago=1000,
                expires_in_days=210,
            ),
        ),
    ),
    TherapistSpec(
        CLINICAL_LEAD,
        "Clinical lead. Holds the NCBTMB–S4OM specialty certificate and reviews every "
        "oncology intake before a first visit.",
        level=3,
        roles=(Role.THERAPIST, Role.CLINICAL_LEAD),
        sessions_elsewhere=260,
        hours=(
            (TUE, "10:00", "18:00"),
            (WED, "10:00", "18:00"),
            (THU, "10:00", "18:00"),
            (FRI, "10:00", "18:00"),
        ),
        credentials=(
            licence("MT.012345", 3300, 320),
            insurance("AMTA", "AMTA-PL-774109", 75),
            HEALWELL_FOUNDATIONS,
            CredentialSpec(
                CredentialKind.ONCOLOGY_SPECIALTY_CERTIFICATE,
                "NCBTMB–S4OM Oncology Massage Specialty Certificate",
                "NCBTMB and the Society for Oncology Massage (S4OM)",
                "OMSC-0417",
                hours=100,
                issued_days_ago=700,
            ),
        ),
    ),
    TherapistSpec(
        "Priya Raman",
        "Trained at Jefferson's integrative medicine externship; calm, steady pressure and "
        "careful positioning for clients in active treatment.",
        level=2,
        sessions_elsewhere=85,
        hours=(
            (MON, "12:00", "20:00"),
            (TUE, "12:00", "20:00"),
            (THU, "12:00", "20:00"),
            (SAT, "09:00", "14:00"),
        ),
        credentials=(
            licence("MT.015502", 2500, 320),
            insurance("ABMP", "ABMP-PL-1209877", 210),
            OMHA_FOUNDATIONS,
            CredentialSpec(
                CredentialKind.ONCOLOGY_SUPERVISED_HOURS,
                "Supervised oncology massage externship",
                "Jefferson Health Integrative Medicine",
                "JH-EXT-2024-07",
                hours=52,
                issued_days_ago=800,
            ),
            CredentialSpec(
                CredentialKind.ONCOLOGY_CE,
                "Massage and Chemotherapy-Induced Neuropathy",
                "Healwell",
                "HW-CE-3318",
                hours=16,
                issued_days_ago=400,
            ),
        ),
    ),
    TherapistSpec(
        LYMPHEDEMA_THERAPIST,
        "Certified lymphedema therapist (Klose Training). Manual lymphatic drainage and "
        "oncology massage, early mornings on weekdays.",
        level=1,
        lymphedema=True,
        sessions_elsewhere=30,
        hours=tuple((day, "08:30", "14:30") for day in (MON, TUE, WED, THU, FRI)),
        credentials=(
            licence("MT.019930", 2100, 320),
            insurance("AMTA", "AMTA-PL-802216", 30),
            OMHA_FOUNDATIONS,
            CredentialSpec(
                CredentialKind.ONCOLOGY_CE,
                "Lymphedema Risk Reduction in Oncology Massage",
                "Oncology Massage Healing Arts",
                "OMHA-CE-0877",
                hours=8,
                issued_days_ago=500,
            ),
            CredentialSpec(
                CredentialKind.LYMPHEDEMA_MLD_CDT,
                "Certified Lymphedema Therapist (MLD/CDT)",
                "Klose Training",
                "KT-CLT-30518",
                hours=135,
                issued_days_ago=1300,
            ),
        ),
    ),
    TherapistSpec(
        PLAIN_THERAPIST,
        "Sports and Swedish massage, now oncology-trained. Evenings and Saturdays.",
        level=1,
        sessions_elsewhere=18,
        hours=((WED, "12:00", "20:00"), (FRI, "12:00", "20:00"), (SAT, "09:00", "17:00")),
        credentials=(
            licence("MT.021187", 1500, 320),
            insurance("ABMP", "ABMP-PL-1311402", 300),
            CredentialSpec(
                CredentialKind.ONCOLOGY_FOUNDATIONAL,
                "Oncology Massage Foundations",
                "Oncology Massage Healing Arts (S4OM-recognised provider)",
                "OMHA-F24-0918",
                hours=24,
                hands_on=True,
                issued_days_ago=240,
            ),
            CredentialSpec(
                CredentialKind.ONCOLOGY_CE,
                "Positioning and Pressure for Clients in Treatment",
                "Oncology Massage Healing Arts",
                "OMHA-CE-1202",
                hours=12,
                issued_days_ago=90,
            ),
        ),
    ),
    TherapistSpec(
        "Sam Whitaker",
        "Deep tissue and Swedish massage for desk backs and runners' legs.",
        level=0,
        hours=tuple((day, "09:00", "17:00") for day in (MON, TUE, WED, THU)),
        credentials=(
            licence("MT.023564", 1200, 320),
            insurance("AMTA", "AMTA-PL-815530", 120),
        ),
    ),
    TherapistSpec(
        "Grace O'Connell",
        "Prenatal and relaxation massage; hot stone on request.",
        level=0,
        hours=(
            (TUE, "12:00", "20:00"),
            (THU, "12:00", "20:00"),
            (FRI, "09:00", "17:00"),
            (SAT, "10:00", "16:00"),
        ),
        credentials=(
            licence("MT.024410", 900, 320),
            insurance("ABMP", "ABMP-PL-1327715", 250),
        ),
    ),
    TherapistSpec(
        "Tomás Reyes",
        "Swedish and chair massage, including our workplace chair-massage days.",
        level=0,
        # The licence lapsed ten days ago and the renewal has not arrived yet.
        licence_lapsed=True,
        hours=((MON, "09:00", "17:00"), (WED, "09:00", "17:00"), (FRI, "09:00", "17:00")),
        credentials=(
            licence("MT.017726", 720, -10),
            insurance("AMTA", "AMTA-PL-790041", 180),
        ),
    ),
)

INTENDED_LEVELS: dict[str, int | None] = {
    t.name: None if t.licence_lapsed else t.level for t in THERAPISTS
}


# --- Rooms and services ------------------------------------------------------------------

A = RoomAttribute
ROOMS: tuple[tuple[str, tuple[RoomAttribute, ...]], ...] = (
    (
        "Birch",
        (A.WHEELCHAIR_ACCESSIBLE, A.SEMI_RECLINED_TABLE, A.SIDE_LYING_BOLSTERS, A.HYDRAULIC_TABLE),
    ),
    ("Cedar", (A.SIDE_LYING_BOLSTERS,)),
    ("Maple", (A.SEMI_RECLINED_TABLE, A.SIDE_LYING_BOLSTERS)),
    ("Studio", (A.MASSAGE_CHAIR,)),
)


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    public_name: str
    description: str
    minutes: int
    dollars: int
    after: int
    # Which clients book it: "general", "prenatal", "oncology" or "lymphedema".
    clients: str = "general"
    # Relative frequency among the services a therapist offers.
    popularity: int = 2
    before: int = 0
    min_level: int | None = None
    lymphedema: bool = False
    room_attributes: tuple[RoomAttribute, ...] = ()
    online: bool = True


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "Swedish massage, 60 min",
        "Massage, 60 min",
        "Full-body relaxation massage with long, flowing strokes.",
        60,
        95,
        after=15,
        popularity=10,
    ),
    ServiceSpec(
        "Swedish massage, 90 min",
        "Massage, 90 min",
        "A longer relaxation massage with extra time for neck, shoulders and feet.",
        90,
        135,
        after=15,
        popularity=4,
    ),
    ServiceSpec(
        "Deep tissue massage, 60 min",
        "Massage, 60 min",
        "Slower, firmer work on chronically tight areas.",
        60,
        110,
        after=15,
        popularity=6,
    ),
    ServiceSpec(
        "Prenatal massage, 60 min",
        "Massage, 60 min",
        "Side-lying massage with bolsters, for the second and third trimesters.",
        60,
        105,
        after=15,
        clients="prenatal",
        popularity=1,
        room_attributes=(A.SIDE_LYING_BOLSTERS,),
    ),
    ServiceSpec(
        "Oncology massage, 30 min",
        "Massage, 30 min",
        "A short, gentle session adapted to treatment effects; for days with little energy.",
        30,
        60,
        after=15,
        clients="oncology",
        popularity=3,
        min_level=1,
    ),
    ServiceSpec(
        "Oncology massage, 60 min",
        "Massage, 60 min",
        "Massage adapted in pressure, site and position for people with a cancer history.",
        60,
        100,
        after=15,
        clients="oncology",
        popularity=5,
        min_level=1,
    ),
    ServiceSpec(
        "Comfort touch, 30 min",
        "Massage, 30 min",
        "Very light, still holds and slow strokes on a semi-reclined table.",
        30,
        55,
        after=15,
        clients="oncology",
        min_level=2,
        room_attributes=(A.SEMI_RECLINED_TABLE,),
    ),
    ServiceSpec(
        "Manual lymphatic drainage, 60 min",
        "Massage, 60 min",
        "Manual lymphatic drainage by a certified lymphedema therapist; limb measurements first.",
        60,
        120,
        before=15,
        after=15,
        clients="lymphedema",
        popularity=6,
        min_level=1,
        lymphedema=True,
    ),
    ServiceSpec(
        "Chair massage, 15 min",
        "Chair massage, 15 min",
        "Seated, clothed massage for neck, shoulders and back.",
        15,
        25,
        after=0,
        room_attributes=(A.MASSAGE_CHAIR,),
    ),
    ServiceSpec(
        "Hot stone massage, 75 min",
        "Massage, 75 min",
        "Warm basalt stones with Swedish strokes. Booked by phone or at the desk.",
        75,
        130,
        after=15,
        popularity=1,
        online=False,
    ),
)


def offers(therapist: TherapistSpec, service: ServiceSpec) -> bool:
    if service.lymphedema and not therapist.lymphedema:
        return False
    return service.min_level is None or therapist.level >= service.min_level


# --- Clients -------------------------------------------------------------------------------

# (name, preferred name, pronouns, which services they book)
CLIENTS: tuple[tuple[str, str, str, str], ...] = (
    ("Margaret Chen", "Maggie", "she/her", "oncology"),
    ("David Okonkwo", "", "he/him", "general"),
    ("Sofia Rossi", "", "she/her", "prenatal"),
    ("James O'Brien", "Jim", "", "general"),
    ("Aisha Rahman", "", "she/her", "oncology"),
    ("Robert Kowalski", "Bob", "he/him", "oncology"),
    ("Linh Nguyen", "", "she/her", "prenatal"),
    ("Carlos Mendoza", "", "", "general"),
    ("Hannah Goldberg", "", "she/her", "general"),
    ("Ruth Goldberg", "", "she/her", "lymphedema"),
    ("Kwame Asante", "", "he/him", "general"),
    ("Emily Thompson", "Em", "she/her", "prenatal"),
    ("Mei Tanaka", "", "", "general"),
    ("Patrick Murphy", "Pat", "he/him", "oncology"),
    ("Fatima Al-Sayed", "", "she/her", "lymphedema"),
    ("Zoë Lefèvre", "", "she/her", "general"),
    ("Jamal Washington", "", "he/him", "general"),
    ("Olga Petrova", "", "", "oncology"),
    ("Rajesh Iyer", "Raj", "he/him", "general"),
    ("Soo-jin Park", "", "she/her", "general"),
    ("Alex Rivera", "", "they/them", "general"),
    ("William Foster", "Bill", "he/him", "oncology"),
    ("Isabella Costa", "Bella", "she/her", "prenatal"),
    ("Michael Adeyemi", "", "he/him", "general"),
    ("Catherine Dubois", "Kate", "she/her", "lymphedema"),
    ("Daniel Cohen", "Danny", "", "general"),
    ("Priyanka Shah", "", "she/her", "general"),
    ("Ahmed Hassan", "", "he/him", "general"),
    ("Laura Jensen", "", "she/her", "oncology"),
    ("Samuel Osei", "Sam", "he/him", "general"),
    ("Rosa Delgado", "", "she/her", "oncology"),
    ("Benjamin Wright", "Ben", "", "general"),
    ("Yuki Sato", "", "", "general"),
    ("Nadia Haddad", "", "she/her", "prenatal"),
    ("George Papadopoulos", "", "he/him", "oncology"),
    ("Chloe Martin", "", "she/her", "general"),
    ("Andre Baptiste", "", "he/him", "general"),
    ("Ingrid Johansson", "", "she/her", "lymphedema"),
    ("Kevin Liu", "", "", "general"),
    ("José Hernández", "Pepe", "he/him", "general"),
    ("Eleanor Whitman", "Nell", "she/her", "oncology"),
    ("Tariq Mahmoud", "", "he/him", "general"),
    ("Sarah Levine", "", "she/her", "general"),
    ("Ethan Brooks", "", "", "general"),
    ("Amara Nwosu", "", "she/her", "oncology"),
    ("Diego Alvarez", "", "he/him", "general"),
    ("Nora Fitzgerald", "", "she/her", "general"),
    ("Vikram Patel", "Vik", "he/him", "general"),
    ("Leila Karimi", "", "she/her", "general"),
    ("Henry Nakamura", "Hank", "he/him", "oncology"),
    ("Jasmine Carter", "Jas", "she/her", "general"),
    ("Oliver Schmidt", "Olli", "", "general"),
    ("Valentina Greco", "", "she/her", "general"),
    ("Malik Jefferson", "", "he/him", "general"),
    ("Helen Kowalczyk", "", "she/her", "oncology"),
    ("Riley Morgan", "", "they/them", "general"),
    ("Beatriz Santos", "Bia", "she/her", "general"),
    ("Christopher Lee", "Chris", "he/him", "general"),
    ("Anjali Desai", "", "she/her", "oncology"),
    ("Frank DiMarco", "", "he/him", "oncology"),
)
# A daughter who books her mother's appointments.
BOOKED_BY = {"Ruth Goldberg": "Hannah Goldberg"}
CONTACT_FIRST_NAMES = ("Anne", "Michael", "Lucia", "Tom", "Grace", "Samir", "Joan", "Peter")
FRONT_DESK_NOTES = (
    "Prefers text reminders.",
    "Parks in the Sansom Street garage.",
    "Prefers afternoon appointments.",
    "Likes the room a little warmer.",
)
# Which client groups each service's client pool draws from.
CLIENT_POOLS = {
    "general": ("general",),
    "prenatal": ("prenatal",),
    "oncology": ("oncology", "lymphedema"),
    "lymphedema": ("lymphedema",),
}


# --- Seeding --------------------------------------------------------------------------------

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

    async def build(self) -> None:
        await self.add_location_and_rooms()
        await self.add_staff_users()
        await self.add_therapists()
        await self.add_services()
        await self.add_clients()
        self.add_time_off_and_closure()
        self.add_appointments()
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

    # --- Appointments ---

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
        if any(overlaps(block, off) for off in self.time_off.get(therapist.id, [])):
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
        return Appointment(
            location_id=self.location.id,
            therapist_id=therapist.id,
            client_id=client.id,
            booked_by_client_id=self.client_by_name[booked_by].id if booked_by else None,
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
    # A table service never goes to the chair-only studio, even though it has no needs.
    needs_chair = RoomAttribute.MASSAGE_CHAIR in spec.room_attributes
    has_chair = RoomAttribute.MASSAGE_CHAIR.value in room.attributes
    needed = {a.value for a in spec.room_attributes}
    return needed <= set(room.attributes) and needs_chair == has_chair


def hash_demo_passwords() -> dict[str, str]:
    passwords = (ADMIN_PASSWORD, FRONTDESK_PASSWORD, LEAD_PASSWORD, THERAPIST_PASSWORD)
    return {password: hash_password(password) for password in passwords}


def reference_moment(today: date, zone: ZoneInfo) -> datetime:
    """Now, when `today` is today; otherwise noon of `today` so the demo stays consistent."""
    now = now_utc()
    if now.astimezone(zone).date() == today:
        return now
    return datetime.combine(today, time(12, 0), tzinfo=zone).astimezone(UTC)


async def delete_everything(session: AsyncSession) -> None:
    # Children before parents; alembic_version is not in the metadata, so it stays.
    for table in reversed(Base.metadata.sorted_tables):
        await session.execute(table.delete())


async def count_rows(session: AsyncSession) -> tuple[int, int, int, int]:
    counts: list[int] = []
    for model in (Therapist, Service, Client, Appointment):
        counts.append(await session.scalar(select(func.count()).select_from(model)) or 0)
    return counts[0], counts[1], counts[2], counts[3]


async def seed_demo(
    db: Database, *, timezone: str, currency: str, reset: bool = False, today: date | None = None
) -> DemoSummary:
    """Seed the demo clinic in one transaction; without `reset`, a seeded database is kept."""
    zone = ZoneInfo(timezone)
    day = today or today_in(zone)
    async with db.transaction() as session:
        if reset:
            await delete_everything(session)
        elif await session.scalar(select(Location.id).limit(1)) is not None:
            return DemoSummary(False, *await count_rows(session), logins=DEMO_LOGINS)
        builder = DemoBuilder(session, zone, day, currency, reference_moment(day, zone))
        await builder.build()
        await set_option(session, VERSION_OPTION, DEMO_VERSION)
        counts = await count_rows(session)
    return DemoSummary(True, *counts, logins=DEMO_LOGINS)


async def demo_version(db: Database) -> int | None:
    async with db.reading() as session:
        value = await get_option(session, VERSION_OPTION)
    return None if value is None else int(value)
