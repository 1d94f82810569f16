"""ScreeningRules: the clinic settings with their PRODUCT defaults; Context: what each row
function reads (the answers, today, whether the visit is in the day-of-visit window, the rules)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from clinic.intake.answers import Answers


@dataclass(frozen=True)
class ScreeningRules:
    """Clinic settings; the defaults are the PRODUCT defaults of the domain file (or, where it
    gives no number, ours: gentle/lighter pressure, the shorter session, the week counts)."""

    hospital_model_requires_clearance: bool = False  # row 1
    gentle_pressure: int = 2  # row 15: "moving only skin and superficial tissue" is Walton 2
    lighter_pressure: int = 3  # rows 3, 5, 17, 24 "lighter": no deep (4-5) work
    unknown_disease_site_max_pressure: int = 2  # row 2: "P<=1-2 overall"
    unknown_bone_sites_max_pressure: int = 1  # row 4
    bone_mets_clearance_required: bool = True  # row 4 (PRODUCT: Req)
    shorter_session_minutes: int = 45  # rows 3, 5, 17, 24 "shorter"
    surgery_hold_weeks: int = 6  # row 6 (PRODUCT: Hold if < 6 weeks)
    radiation_no_products_weeks: int = 4  # row 10 "for weeks after"
    transplant_clearance_required: bool = True  # row 13 (PRODUCT)
    platelets_required_below: int = 50_000  # row 15 (PRODUCT)
    platelets_normal_from: int = 150_000  # row 15 context: normal 150,000-400,000
    platelet_count_valid_days: int = 14  # older counts count as unknown
    unknown_platelets_in_chemo_required: bool = True  # row 15 (PRODUCT)
    neutropenia_below: int = 1_500  # row 16 context: ASCO/IDSA grading (S33)
    severe_neutropenia_below: int = 500  # row 16
    neutropenia_clearance_required: bool = True  # row 16 (PRODUCT)
    clot_clearance_required: bool = True  # row 18 (PRODUCT)
    clot_recent_months: int = 6  # row 18: ">= 6 months after treatment"
    day_of_visit_window_hours: int = 48

    def __post_init__(self) -> None:
        pressures = (
            self.gentle_pressure,
            self.lighter_pressure,
            self.unknown_disease_site_max_pressure,
            self.unknown_bone_sites_max_pressure,
        )
        if not all(1 <= p <= 5 for p in pressures):
            raise ValueError("Pressure settings must be on Walton's scale, 1 to 5.")


@dataclass(frozen=True)
class Context:
    today: date
    in_window: bool
    rules: ScreeningRules
    answers: Answers
