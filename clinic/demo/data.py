"""The demo clinic's declarative data: sign-ins and their passwords, therapists and their
credentials, rooms, services and clients, and the constants the builder works to."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from clinic.auth.models import Role
from clinic.scheduling.models import RoomAttribute
from clinic.staff.models import CredentialKind

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


# Therapists and their credentials.
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


# Rooms and services.
A = RoomAttribute
ROOMS: tuple[tuple[str, tuple[RoomAttribute, ...]], ...] = (
    (
        "Birch",
        (
            A.MASSAGE_TABLE,
            A.WHEELCHAIR_ACCESSIBLE,
            A.SEMI_RECLINED_TABLE,
            A.SIDE_LYING_BOLSTERS,
            A.HYDRAULIC_TABLE,
        ),
    ),
    ("Cedar", (A.MASSAGE_TABLE, A.SIDE_LYING_BOLSTERS)),
    ("Maple", (A.MASSAGE_TABLE, A.SEMI_RECLINED_TABLE, A.SIDE_LYING_BOLSTERS)),
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
    # Every table service needs a table; the chair massage needs the chair instead.
    room_attributes: tuple[RoomAttribute, ...] = (RoomAttribute.MASSAGE_TABLE,)
    online: bool = True
    # What is paid online when booking (clinic/payments/pricing.py): "percent" or "fixed"
    # (minor units) deposit, or "full"; None pays at the visit.
    deposit_kind: str | None = None
    deposit_value: int | None = None


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
        deposit_kind="percent",
        deposit_value=25,
    ),
    ServiceSpec(
        "Deep tissue massage, 60 min",
        "Massage, 60 min",
        "Slower, firmer work on chronically tight areas.",
        60,
        110,
        after=15,
        popularity=6,
        deposit_kind="full",
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
        room_attributes=(A.MASSAGE_TABLE, A.SIDE_LYING_BOLSTERS),
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
        # A visit waiting for a clearance saves the card only.
        deposit_kind="fixed",
        deposit_value=2500,
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
        room_attributes=(A.MASSAGE_TABLE, A.SEMI_RECLINED_TABLE),
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
