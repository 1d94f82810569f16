"""The structured intake answers that screening reads (shared/domain/oncology.md, section (b)).

Plain frozen values only: no database, no clock, no rules. ``Answers.oncology`` is None when the
client has never been diagnosed with cancer (row 1); every other oncology row lives inside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum, StrEnum

__all__ = [
    "Allergy",
    "Answers",
    "BoneMets",
    "Bones",
    "Chemotherapy",
    "Clot",
    "ClotStatus",
    "DayOfVisit",
    "Device",
    "DeviceKind",
    "Fatigue",
    "General",
    "Lymphedema",
    "Neutropenia",
    "NodeRegion",
    "Oncology",
    "OncologyContact",
    "Organ",
    "OrganSpread",
    "Pain",
    "Phase",
    "Platelets",
    "Preferences",
    "Pregnancy",
    "Radiation",
    "Region",
    "SkinKind",
    "SkinProblem",
    "Surgery",
    "Transplant",
    "Tumors",
]


class Region(StrEnum):
    """Body regions a site rule can name; the order is the order plans list them in."""

    HEAD = "head"
    NECK = "neck"
    CHEST = "chest"
    ABDOMEN = "abdomen"
    UPPER_BACK = "upper_back"
    LOWER_BACK = "lower_back"
    SACRUM = "sacrum"
    LEFT_UPPER_TRUNK = "left_upper_trunk"
    RIGHT_UPPER_TRUNK = "right_upper_trunk"
    LEFT_LOWER_TRUNK = "left_lower_trunk"
    RIGHT_LOWER_TRUNK = "right_lower_trunk"
    LEFT_ARM = "left_arm"
    RIGHT_ARM = "right_arm"
    LEFT_HAND = "left_hand"
    RIGHT_HAND = "right_hand"
    LEFT_LEG = "left_leg"
    RIGHT_LEG = "right_leg"
    LEFT_FOOT = "left_foot"
    RIGHT_FOOT = "right_foot"


class Phase(StrEnum):
    NEWLY_DIAGNOSED = "newly_diagnosed"
    IN_TREATMENT = "in_treatment"
    RECOVERY = "recovery"
    SURVIVORSHIP = "survivorship"
    PALLIATIVE = "palliative"
    END_OF_LIFE = "end_of_life"


class Organ(StrEnum):
    LUNG = "lung"
    LIVER = "liver"
    BRAIN = "brain"
    OTHER = "other"


class NodeRegion(StrEnum):
    LEFT_AXILLA = "left_axilla"
    RIGHT_AXILLA = "right_axilla"
    LEFT_GROIN = "left_groin"
    RIGHT_GROIN = "right_groin"
    NECK = "neck"
    PELVIS = "pelvis"


class DeviceKind(StrEnum):
    PORT = "port"
    PICC = "picc"
    CENTRAL_LINE = "central_line"
    DRAIN = "drain"
    OSTOMY = "ostomy"
    FEEDING_TUBE = "feeding_tube"
    PACEMAKER = "pacemaker"
    OTHER_IMPLANT = "other_implant"


class ClotStatus(StrEnum):
    SUSPECTED = "suspected"  # symptoms now (one-sided swelling, calf pain, warmth, redness)
    UNTREATED = "untreated"  # diagnosed, treatment not started
    ON_TREATMENT = "on_treatment"
    HISTORY = "history"  # treatment finished


class SkinKind(StrEnum):
    RADIATION_BURN = "radiation_burn"
    RASH = "rash"
    HAND_FOOT_SYNDROME = "hand_foot_syndrome"
    OPEN_WOUND = "open_wound"
    INFECTION = "infection"


class Fatigue(IntEnum):
    NONE = 0
    MILD = 1
    MODERATE = 2
    SEVERE = 3


class Allergy(StrEnum):
    OILS = "oils"
    NUTS = "nuts"
    LATEX = "latex"
    SCENT = "scent"


@dataclass(frozen=True)
class Tumors:  # row 2
    sites: tuple[Region, ...] = ()  # known tumors or enlarged nodes
    location_known: bool = True


@dataclass(frozen=True)
class BoneMets:  # row 4
    sites: tuple[Region, ...] = ()
    sites_known: bool = True


@dataclass(frozen=True)
class OrganSpread:  # row 5
    organs: tuple[Organ, ...] = ()
    breathless: bool = False


@dataclass(frozen=True)
class Surgery:  # row 6
    site: Region
    on: date
    incision_healed: bool = True
    drains: bool = False
    complications: bool = False


@dataclass(frozen=True)
class Lymphedema:  # row 8
    areas: tuple[Region, ...]
    sees_lymphedema_therapist: bool = False
    sudden_change: bool = False  # sudden new or worse swelling


@dataclass(frozen=True)
class Chemotherapy:  # row 9
    last_infusion: date | None = None
    next_infusion: date | None = None


@dataclass(frozen=True)
class Radiation:  # row 10
    field: tuple[Region, ...]
    started_on: date
    ended_on: date | None = None  # None: still in progress
    skin_reaction: bool = False
    internal_seeds: bool = False


@dataclass(frozen=True)
class Transplant:  # row 13
    on: date | None = None
    allogeneic: bool = False
    gvhd_skin: tuple[Region, ...] = ()
    immunosuppressed: bool = False


@dataclass(frozen=True)
class Device:  # row 14
    kind: DeviceKind
    location: Region


@dataclass(frozen=True)
class Platelets:  # row 15
    count: int | None = None  # per mm³, the latest the client reports
    measured_on: date | None = None
    low_reported: bool = False
    bruising_or_bleeding: bool = False
    anticoagulant: bool = False  # anticoagulant or antiplatelet drug


@dataclass(frozen=True)
class Neutropenia:  # row 16
    anc: int | None = None  # per µL
    reported_low: bool = False
    infection_precautions: bool = False


@dataclass(frozen=True)
class Clot:  # row 18
    status: ClotStatus
    treatment_ended_on: date | None = None


@dataclass(frozen=True)
class Bones:  # row 20
    fragile_or_osteoporosis: bool = False
    long_term_steroids: bool = False
    severe: bool = False


@dataclass(frozen=True)
class SkinProblem:  # row 21
    kind: SkinKind
    regions: tuple[Region, ...]


@dataclass(frozen=True)
class Pain:  # row 25
    region: Region
    new_or_unexplained: bool = False
    bone_or_night: bool = False


@dataclass(frozen=True)
class OncologyContact:  # row 27
    name: str = ""
    consent_to_contact: bool = False


@dataclass(frozen=True)
class Oncology:
    """Rows 2-21, 25 and 27 for a client with a cancer history (row 1)."""

    phase: Phase | None = None  # row 3
    tumors: Tumors | None = None
    bone_mets: BoneMets | None = None
    organ_spread: OrganSpread | None = None
    surgeries: tuple[Surgery, ...] = ()
    nodes: tuple[NodeRegion, ...] = ()  # removed or radiated
    lymphedema: Lymphedema | None = None
    chemotherapy: Chemotherapy | None = None  # None: not currently on chemotherapy
    radiation: tuple[Radiation, ...] = ()
    immuno_or_targeted: bool = False
    hormone_therapy: bool = False
    transplant: Transplant | None = None
    devices: tuple[Device, ...] = ()
    platelets: Platelets | None = None
    neutropenia: Neutropenia | None = None
    anemia_symptoms: bool = False
    clot: Clot | None = None
    neuropathy: tuple[Region, ...] = ()
    bones: Bones | None = None
    skin: tuple[SkinProblem, ...] = ()
    pain: tuple[Pain, ...] = ()
    contact: OncologyContact | None = None


@dataclass(frozen=True)
class DayOfVisit:
    """Rows 22-24, G4 (contagious skin) and G5: they count only near the visit."""

    fever_or_chills: bool = False
    active_infection: bool = False
    contagious_illness: bool = False
    contagious_skin: bool = False
    nausea_or_vomiting: bool = False
    mouth_sores: bool = False
    cough: bool = False
    fatigue: Fatigue = Fatigue.NONE


@dataclass(frozen=True)
class Preferences:  # row 26
    areas_excluded: tuple[Region, ...] = ()
    trauma_history: bool = False


@dataclass(frozen=True)
class Pregnancy:  # G1
    trimester: int
    high_risk: bool = False

    def __post_init__(self) -> None:
        if self.trimester not in (1, 2, 3):
            raise ValueError("The trimester must be 1, 2 or 3.")


@dataclass(frozen=True)
class General:
    """Rows G1-G11 asked of every client (G4's contagion and G5 are in ``DayOfVisit``)."""

    pregnancy: Pregnancy | None = None
    recent_injury: tuple[Region, ...] = ()
    unstable_fracture: bool = False
    blood_thinners_or_bleeding_disorder: bool = False
    skin_local: tuple[Region, ...] = ()  # irritated skin, wounds, burns, varicose veins, bruises
    failure_with_edema: bool = False  # heart or kidney failure with edema
    uncontrolled_blood_pressure: bool = False
    severe_unstable_hypertension: bool = False
    diabetes: bool = False
    reduced_sensation: tuple[Region, ...] = ()
    inflamed_joints: tuple[Region, ...] = ()
    osteoporosis_or_bone_drugs: bool = False
    allergies: tuple[Allergy, ...] = ()
    seizures: bool = False
    implants: tuple[Region, ...] = ()
    able_to_consent: bool = True  # not intoxicated or sedated
    minor: bool = False
    guardian_consent: bool = False


@dataclass(frozen=True)
class Answers:
    oncology: Oncology | None = None  # None: never diagnosed with cancer
    general: General = field(default_factory=General)
    day_of_visit: DayOfVisit = field(default_factory=DayOfVisit)
    preferences: Preferences = field(default_factory=Preferences)
