"""The clinic's policy sections as admins see them: booking, payments and screening, each
setting with its label, unit and hint, the store that keeps it (the option key, the
validator and the audit entry the CLI's stores write). Pure data: no database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from clinic.booking.policies import OPTION_KEY, policies_from
from clinic.errors import NotFound
from clinic.intake.rules import SCREENING_OPTION, screening_rules_from
from clinic.payments.pricing import RECEIPT_OPTION, receipt_settings_from

Kind = Literal["number", "yes_no", "text", "deposit", "tax_rate"]


@dataclass(frozen=True)
class Setting:
    """One stored value as a form field: its id is the stored name."""

    name: str
    label: str
    kind: Kind = "number"
    # After a number: "minutes" ("1 minute" is made from it), or "%".
    unit: str = ""
    hint: str = ""
    # The words for true and false of a yes/no setting, in the summary and the form.
    yes: str = "Yes"
    no: str = "No"
    # What the summary says for a number setting at 0, when 0 means "off" or "at once".
    zero: str = ""


@dataclass(frozen=True)
class Group:
    title: str
    settings: tuple[Setting, ...]


@dataclass(frozen=True)
class Store:
    """Where a setting lives and who judges it: the option key, the store's validator
    (it raises a ValueError naming the setting), and the audit entry the store's own
    functions write, so that a change from the CLI and one from this page read alike."""

    option: str
    check: Callable[[Mapping[str, Any]], object]
    action: str
    subject_type: str


BOOKING = Store(OPTION_KEY, policies_from, "policy.changed", "policy")
RECEIPT = Store(RECEIPT_OPTION, receipt_settings_from, "receipt_setting.changed", "receipt_setting")
SCREENING = Store(SCREENING_OPTION, screening_rules_from, "screening.changed", "screening_setting")


@dataclass(frozen=True)
class Section:
    slug: str
    title: str
    # What the flash message calls them: "the booking policies".
    noun: str
    lead: str
    groups: tuple[Group, ...]
    # Which store each setting of the section is kept in.
    stores: tuple[tuple[Store, tuple[str, ...]], ...]

    @property
    def settings(self) -> tuple[Setting, ...]:
        return tuple(s for g in self.groups for s in g.settings)

    @property
    def fields(self) -> tuple[str, ...]:
        """The form's field names (a deposit setting has two inputs beside its choice)."""
        names: list[str] = []
        for setting in self.settings:
            names.append(setting.name)
            if setting.kind == "deposit":
                names += [DEPOSIT_PERCENT, DEPOSIT_AMOUNT]
        return tuple(names)

    def store_of(self, name: str) -> Store:
        return next(store for store, names in self.stores if name in names)


DEPOSIT_PERCENT = "deposit_percent"
DEPOSIT_AMOUNT = "deposit_amount"
DEPOSIT_WORDS = {
    "none": "Nothing: clients pay at the visit",
    "percent": "A deposit: a percent of the price",
    "fixed": "A deposit: a fixed amount",
    "full": "The full price",
}

_BOOKING_GROUPS = (
    Group(
        "When clients can book",
        (
            Setting(
                "minimum_notice_minutes",
                "Minimum notice",
                unit="minutes",
                hint="How soon an online booking may start, in minutes from now: 120 is 2 hours.",
            ),
            Setting(
                "booking_window_days",
                "Booking window",
                unit="days",
                hint="How far ahead clients can book online.",
            ),
            Setting(
                "slot_interval_minutes",
                "Time between start times",
                unit="minutes",
                hint="Online booking offers a start every this many minutes, like 15.",
            ),
            Setting(
                "hold_minutes",
                "Hold a chosen time for",
                unit="minutes",
                hint="While the client fills in their details; then the time is free again.",
            ),
        ),
    ),
    Group(
        "Cancellations and missed visits",
        (
            Setting(
                "cancellation_window_hours",
                "Free cancellation until",
                unit="hours",
                hint="Hours before the visit: cancelling earlier than this is free.",
            ),
            Setting(
                "late_cancellation_fee_percent",
                "Late cancellation fee",
                unit="%",
                hint="A percent of the price, for cancelling later than that.",
            ),
            Setting(
                "no_show_fee_percent",
                "No-show fee",
                unit="%",
                hint="A percent of the price, for a visit the client missed.",
            ),
        ),
    ),
    Group(
        "Emails to clients",
        (
            Setting(
                "confirmation_grace_minutes",
                "Wait before confirming a booking",
                unit="minutes",
                hint="So a quick change or cancellation sends one email with the final "
                "details. 0 sends the confirmation at once.",
                zero="No wait: sent at once",
            ),
            Setting(
                "reminder_hours_before",
                "Reminder before the visit",
                unit="hours",
                hint="24 is the same time the day before, 48 two days before. 0 sends no "
                "reminders. Clients can turn reminders off from their appointment's link.",
                zero="No reminders",
            ),
        ),
    ),
)

_PAYMENT_GROUPS = (
    Group(
        "Paying online when booking",
        (
            Setting(
                "deposit_kind",
                "What clients pay online when they book",
                kind="deposit",
                hint="A service can have its own rule, set on the service's page.",
            ),
        ),
    ),
    Group(
        "What receipts say",
        (
            Setting(
                "legal_name",
                "Legal business name",
                kind="text",
                hint="As registered, for insurers and health savings accounts.",
            ),
            Setting(
                "tax_id",
                "Tax number",
                kind="text",
                hint="Like EIN 12-3456789. Leave blank to leave it off receipts.",
            ),
            Setting("tax_name", "Name of the tax", kind="text", hint="Like Sales tax or HST."),
            Setting(
                "tax_rate_basis_points",
                "Tax rate",
                kind="tax_rate",
                unit="%",
                hint="A percent, like 8.25. Enter 0 when massage is not taxed.",
            ),
            Setting(
                "prices_include_tax",
                "Do prices include the tax?",
                kind="yes_no",
                yes="Yes: the tax is inside the price",
                no="No: the tax is added to the price",
            ),
        ),
    ),
)

_REQUIRED = "Required"
_ADVISED = "Advised only"
_SCREENING_GROUPS = (
    Group(
        "Who needs a clearance from their care team",
        (
            Setting(
                "hospital_model_requires_clearance",
                "Every client with a cancer history",
                kind="yes_no",
                yes=_REQUIRED,
                no="Only when the answers call for one",
            ),
            Setting(
                "bone_mets_clearance_required",
                "Bone metastases",
                kind="yes_no",
                yes=_REQUIRED,
                no=_ADVISED,
            ),
            Setting(
                "transplant_clearance_required",
                "Stem cell or bone marrow transplant",
                kind="yes_no",
                yes=_REQUIRED,
                no=_ADVISED,
            ),
            Setting(
                "unknown_platelets_in_chemo_required",
                "In chemotherapy with no recent platelet count",
                kind="yes_no",
                yes=_REQUIRED,
                no=_ADVISED,
            ),
            Setting(
                "neutropenia_clearance_required",
                "Severe neutropenia or on neutropenic precautions",
                kind="yes_no",
                yes=_REQUIRED,
                no=_ADVISED,
            ),
            Setting(
                "clot_clearance_required",
                "A recent blood clot",
                kind="yes_no",
                yes=_REQUIRED,
                no=_ADVISED,
            ),
        ),
    ),
    Group(
        "Pressure, on the Walton scale from 1 to 5",
        (
            Setting("gentle_pressure", "Gentle pressure is at most", hint="Usually 2."),
            Setting("lighter_pressure", "Lighter pressure is at most", hint="Usually 3."),
            Setting(
                "unknown_disease_site_max_pressure",
                "Most pressure when tumour sites are unknown",
            ),
            Setting(
                "unknown_bone_sites_max_pressure",
                "Most pressure when bone metastasis sites are unknown",
            ),
            Setting(
                "shorter_session_minutes",
                "A shorter session is at most",
                unit="minutes",
            ),
        ),
    ),
    Group(
        "Blood counts (per microlitre)",
        (
            Setting(
                "platelets_required_below",
                "Clearance needed when platelets are below",
                hint="Like 50,000.",
            ),
            Setting("platelets_normal_from", "Platelets are normal from"),
            Setting(
                "platelet_count_valid_days",
                "A platelet count counts for",
                unit="days",
                hint="Older counts count as unknown.",
            ),
            Setting("neutropenia_below", "Neutropenia is an ANC below"),
            Setting("severe_neutropenia_below", "Severe neutropenia is an ANC below"),
        ),
    ),
    Group(
        "Timing",
        (
            Setting("surgery_hold_weeks", "Hold visits after surgery for", unit="weeks"),
            Setting(
                "radiation_no_products_weeks",
                "No lotion or heat after radiation for",
                unit="weeks",
            ),
            Setting("clot_recent_months", "A clot counts as recent for", unit="months"),
            Setting(
                "day_of_visit_window_hours",
                "Day-of-visit answers count for visits within",
                unit="hours",
            ),
            Setting(
                "clearance_valid_days_in_treatment",
                "A clearance lasts, in active treatment",
                unit="days",
            ),
            Setting(
                "clearance_valid_days_after_treatment",
                "A clearance lasts, after treatment",
                unit="days",
            ),
            Setting(
                "clearance_deadline_hours",
                "Release a visit still waiting for its clearance",
                unit="hours",
                hint="Hours before it starts; the client is told and the time is free again.",
            ),
            Setting(
                "previsit_check_hours",
                "Ask clients in treatment whether anything changed",
                unit="hours",
                hint="Hours before each visit.",
            ),
        ),
    ),
)


def _names(groups: tuple[Group, ...]) -> tuple[str, ...]:
    return tuple(s.name for g in groups for s in g.settings)


SECTIONS: dict[str, Section] = {
    "booking": Section(
        "booking",
        "Booking",
        "booking policies",
        "When clients can book online, what cancelling late or missing a visit costs, and "
        "when booking emails go out.",
        _BOOKING_GROUPS,
        ((BOOKING, _names(_BOOKING_GROUPS)),),
    ),
    "payments": Section(
        "payments",
        "Payments",
        "payment settings",
        "What clients pay online when they book, and the business details receipts show.",
        _PAYMENT_GROUPS,
        (
            (BOOKING, ("deposit_kind", "deposit_value")),
            (RECEIPT, _names(_PAYMENT_GROUPS[1:])),
        ),
    ),
    "screening": Section(
        "screening",
        "Health screening",
        "screening settings",
        "The values the screening of health forms leaves to the clinic: when a clearance is "
        "required, pressure caps, blood counts and timings. Changes apply to plans made "
        "from now on.",
        _SCREENING_GROUPS,
        ((SCREENING, _names(_SCREENING_GROUPS)),),
    ),
}


def section_named(slug: str) -> Section:
    section = SECTIONS.get(slug)
    if section is None:
        raise NotFound("There is no policy section with that name.")
    return section
