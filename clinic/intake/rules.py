"""ScreeningRules: the clinic settings with their PRODUCT defaults; Context: what each row
function reads (the answers, today, whether the visit is in the day-of-visit window, the rules)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

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
    # Section (d): no standard lifetime; the product's defaults.
    clearance_valid_days_in_treatment: int = 90
    clearance_valid_days_after_treatment: int = 365
    # A visit still waiting for its clearance this long before it starts is released.
    clearance_deadline_hours: int = 72
    # Clients in active treatment are asked "anything new?" this long before each visit.
    previsit_check_hours: int = 72

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


SCREENING_OPTION = "intake.screening"
DESCRIPTIONS: dict[str, str] = {
    "hospital_model_requires_clearance": "Row 1: every oncology client needs a clearance",
    "gentle_pressure": "Walton level for 'gentle' (row 15)",
    "lighter_pressure": "Walton level for 'lighter' (rows 3, 5, 17, 24)",
    "unknown_disease_site_max_pressure": "Row 2: cap when tumour sites are unknown",
    "unknown_bone_sites_max_pressure": "Row 4: cap when bone metastasis sites are unknown",
    "bone_mets_clearance_required": "Row 4: clearance required (else advised)",
    "shorter_session_minutes": "Session cap for 'shorter' (rows 3, 5, 17, 24)",
    "surgery_hold_weeks": "Row 6: hold visits this many weeks after surgery",
    "radiation_no_products_weeks": "Row 10: no lotion or heat for weeks after radiation",
    "transplant_clearance_required": "Row 13: clearance required (else advised)",
    "platelets_required_below": "Row 15: clearance required below this count",
    "platelets_normal_from": "Row 15: counts from here on are normal",
    "platelet_count_valid_days": "Row 15: older counts count as unknown",
    "unknown_platelets_in_chemo_required": "Row 15: clearance when the count is unknown in chemo",
    "neutropenia_below": "Row 16: ANC below this is neutropenia",
    "severe_neutropenia_below": "Row 16: ANC below this is severe",
    "neutropenia_clearance_required": "Row 16: clearance when severe or on precautions",
    "clot_clearance_required": "Row 18: clearance required (else advised)",
    "clot_recent_months": "Row 18: a clot treated within this many months is recent",
    "day_of_visit_window_hours": "Day-of-visit answers count for visits within these hours",
    "clearance_valid_days_in_treatment": "A clearance lasts this many days in active treatment",
    "clearance_valid_days_after_treatment": "A clearance lasts this many days after treatment",
    "clearance_deadline_hours": "Release a visit still waiting for clearance this long before",
    "previsit_check_hours": "Ask clients in treatment 'anything new?' this long before a visit",
}
# Whole-number settings and their allowed ranges (pressures are checked on Walton's scale).
RANGES: dict[str, tuple[int, int]] = {
    "gentle_pressure": (1, 5),
    "lighter_pressure": (1, 5),
    "unknown_disease_site_max_pressure": (1, 5),
    "unknown_bone_sites_max_pressure": (1, 5),
    "shorter_session_minutes": (15, 240),
    "surgery_hold_weeks": (0, 52),
    "radiation_no_products_weeks": (0, 52),
    "platelets_required_below": (0, 1_000_000),
    "platelets_normal_from": (0, 1_000_000),
    "platelet_count_valid_days": (1, 365),
    "neutropenia_below": (0, 100_000),
    "severe_neutropenia_below": (0, 100_000),
    "clot_recent_months": (0, 60),
    "day_of_visit_window_hours": (1, 14 * 24),
    "clearance_valid_days_in_treatment": (1, 730),
    "clearance_valid_days_after_treatment": (1, 730),
    "clearance_deadline_hours": (0, 14 * 24),
    "previsit_check_hours": (1, 14 * 24),
}


class ScreeningSettingError(ValueError):
    """A screening setting is unknown or out of range; the message names it."""


def screening_rules_from(values: Mapping[str, Any] | None) -> ScreeningRules:
    """The clinic's screening rules from stored values; missing ones take the defaults."""
    values = dict(values or {})
    for name, value in values.items():
        if name not in DESCRIPTIONS:
            known = ", ".join(sorted(DESCRIPTIONS))
            raise ScreeningSettingError(f"{name} is not a screening setting. Known: {known}.")
        if name in RANGES:
            low, high = RANGES[name]
            if isinstance(value, bool) or not isinstance(value, int):
                raise ScreeningSettingError(f"{name} must be a whole number.")
            if not low <= value <= high:
                raise ScreeningSettingError(f"{name} must be between {low:,} and {high:,}.")
        elif not isinstance(value, bool):
            raise ScreeningSettingError(f"{name} must be true or false.")
    return ScreeningRules(**values)


def parse_screening_value(name: str, text: str) -> int | bool:
    """A value typed at the command line, as the type its setting needs."""
    if name not in DESCRIPTIONS:
        screening_rules_from({name: text})  # raises, naming the known settings
    if name in RANGES:
        try:
            return int(text.replace(",", "").replace("_", ""))
        except ValueError:
            raise ScreeningSettingError(f"{name} must be a whole number.") from None
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "on", "1"):
        return True
    if lowered in ("false", "no", "off", "0"):
        return False
    raise ScreeningSettingError(f"{name} must be true or false.")
