"""The clinic's policies for admins: the summary of each section, its form read into typed
values, and saving. Values live where the CLI keeps them (clinic options) and are judged by
the same validators (policies_from, receipt_settings_from, screening_rules_from): this
module only turns form text into typed values, and the validators' sentences into messages
beside the fields. The sections themselves are in policy_sections.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit
from clinic.admin.common import LastChange, last_change_where, refused
from clinic.admin.forms import Checker
from clinic.admin.policy_sections import (
    BOOKING,
    DEPOSIT_AMOUNT,
    DEPOSIT_PERCENT,
    DEPOSIT_WORDS,
    RECEIPT,
    SCREENING,
    SECTIONS,
    Section,
    Setting,
    Store,
    section_named,
)
from clinic.audit import AuditEntry
from clinic.booking.policies import (
    DEPOSIT_KINDS,
    RANGES,
    Policies,
)
from clinic.booking.policy_store import stored_policies
from clinic.db import Database
from clinic.intake.rules import SCREENING_OPTION, ScreeningRules, screening_rules_from
from clinic.options import ClinicOption, get_option, set_option
from clinic.payments.pricing import (
    RECEIPT_OPTION,
    TAX_RATE_LIMIT,
    ReceiptSettings,
    receipt_settings_from,
)
from clinic.scheduling.models import Location
from clinic.web.formatting import money
from clinic.web.money_input import MoneyError, major_units, parse_money

_WHOLE = re.compile(r"[-\u2212]?(?:\d{1,3}(?:,\d{3})+|\d{1,30})", re.ASCII)
_RATE = re.compile(r"\d{1,3}(?:\.\d{1,6})?|\.\d{1,6}", re.ASCII)

__all__ = ["DEPOSIT_WORDS", "SECTIONS", "Section", "section_named"]


# Reading the forms


def store_message(error: ValueError, label: str, unit: str = "") -> str:
    """The store's sentence ("minimum_notice_minutes must be between 0 and 20160.") with
    the setting's own words ("Minimum notice must be between 0 and 20160 minutes")."""
    _, _, rest = str(error).partition(" ")
    words = {"%": "percent"}.get(unit, unit)
    message = f"{label} {rest.rstrip('.')}"
    if words and re.search(r"\d$", message):
        message += f" {words}"
    return message


def _whole(check: Checker, setting: Setting, raw: str, example: int) -> int | None:
    text = raw.strip()
    if not text:
        check.fail(setting.name, f"Enter {setting.label.lower()}, like {example:,}")
        return None
    if not _WHOLE.fullmatch(text):
        check.fail(setting.name, f"{setting.label} must be a whole number, like {example:,}")
        return None
    return int(text.replace(",", "").replace("\u2212", "-"))


def _yes_no(check: Checker, setting: Setting, raw: str) -> bool | None:
    if raw not in ("yes", "no"):
        yes, no = (words.split(":")[0].lower() for words in (setting.yes, setting.no))
        check.fail(setting.name, f"Choose {yes} or {no}")
        return None
    return raw == "yes"


def _tax_rate(check: Checker, setting: Setting, raw: str) -> int | None:
    """ "8.25" (percent) as basis points, 825."""
    text = raw.strip().removesuffix("%").strip()
    if not text:
        check.fail(setting.name, "Enter the tax rate, like 8.25, or 0")
        return None
    if not _RATE.fullmatch(text):
        check.fail(setting.name, "Enter the tax rate as a percent, like 8.25")
        return None
    try:
        hundredths = Decimal(text) * 100
    except InvalidOperation:
        check.fail(setting.name, "Enter the tax rate as a percent, like 8.25")
        return None
    if hundredths != hundredths.to_integral_value():
        check.fail(setting.name, "Enter the tax rate with no more than 2 decimal places")
        return None
    return int(hundredths)


def _deposit(check: Checker, values: Mapping[str, str], currency: str) -> dict[str, Any] | None:
    kind = values.get("deposit_kind", "")
    if kind not in DEPOSIT_KINDS:
        check.fail("deposit_kind", "Choose what clients pay online when they book")
        return None
    if kind == "percent":
        raw = values.get(DEPOSIT_PERCENT, "").strip().removesuffix("%").strip()
        if not raw:
            check.fail(DEPOSIT_PERCENT, "Enter the deposit as a percent of the price, like 25")
            return None
        if not _WHOLE.fullmatch(raw):
            check.fail(DEPOSIT_PERCENT, "The deposit must be a whole number percent, like 25")
            return None
        return {"deposit_kind": kind, "deposit_value": int(raw.replace(",", ""))}
    if kind == "fixed":
        raw = values.get(DEPOSIT_AMOUNT, "").strip()
        if not raw:
            check.fail(DEPOSIT_AMOUNT, "Enter the deposit amount, like 25.00")
            return None
        try:
            amount = parse_money(raw, currency, what="the deposit")
        except MoneyError as wrong:
            check.fail(DEPOSIT_AMOUNT, str(wrong))
            return None
        return {"deposit_kind": kind, "deposit_value": amount}
    return {"deposit_kind": kind}


def read_section(section: Section, values: Mapping[str, str], *, currency: str) -> dict[str, Any]:
    """The section's form as typed values by stored name. Each value is first put to its
    store's validator alone, so every bad field gets its message at once; InvalidInput
    names them."""
    check = Checker()
    typed: dict[str, Any] = {}
    for setting in section.settings:
        raw = values.get(setting.name, "")
        found: Any
        if setting.kind == "number":
            found = _whole(check, setting, raw, example=_default(setting.name))
        elif setting.kind == "yes_no":
            found = _yes_no(check, setting, raw)
        elif setting.kind == "tax_rate":
            found = _tax_rate(check, setting, raw)
        elif setting.kind == "deposit":
            deposit = _deposit(check, values, currency)
            if deposit is not None:
                _judge(check, section, deposit, currency)
                typed.update(deposit)
            continue
        else:
            found = raw.strip()
        if found is None:
            continue
        _judge(check, section, {setting.name: found}, currency)
        typed[setting.name] = found
    check.done()
    return typed


def _judge(check: Checker, section: Section, values: dict[str, Any], currency: str) -> None:
    """Put values to their store's validator; its refusal goes beside the field."""
    store = section.store_of(next(iter(values)))
    try:
        store.check(values)
    except ValueError as error:
        field_name, message = _message_for(section, values, error, currency)
        check.fail(field_name, message)


def _message_for(
    section: Section, values: Mapping[str, Any], error: ValueError, currency: str
) -> tuple[str, str]:
    """Which field a store's refusal belongs to, and the message to show there. Amounts
    are stored in minor units and rates in basis points: their messages are worded here
    in the units the form asks for, from the stores' own limits."""
    name = str(error).partition(" ")[0]
    if name == "deposit_value":
        if values.get("deposit_kind") == "fixed":
            top = money(RANGES["deposit_value"][1], currency)
            return DEPOSIT_AMOUNT, f"Enter a deposit of {top} or less"
        return DEPOSIT_PERCENT, "Enter a percent between 0 and 100"
    if name == "tax_rate_basis_points":
        return name, f"Enter a tax rate between 0 and {_rate_text(TAX_RATE_LIMIT)} percent"
    setting = next((s for s in section.settings if s.name == name), section.settings[0])
    return setting.name, store_message(error, setting.label, setting.unit)


def _default(name: str) -> int:
    """The product's default for a whole-number setting: the example in its message."""
    defaults = {**asdict(Policies()), **asdict(ReceiptSettings()), **asdict(ScreeningRules())}
    return int(defaults.get(name, 1))


# Reading what is stored


@dataclass(frozen=True)
class Stored:
    policies: Policies
    receipt: ReceiptSettings
    screening: ScreeningRules

    def value(self, name: str, store: Store) -> Any:
        source = {
            BOOKING.option: self.policies,
            RECEIPT.option: self.receipt,
            SCREENING.option: self.screening,
        }
        return getattr(source[store.option], name)


async def _stored(session: AsyncSession) -> Stored:
    return Stored(
        policies=await stored_policies(session),
        receipt=receipt_settings_from(await get_option(session, RECEIPT_OPTION)),
        screening=screening_rules_from(await get_option(session, SCREENING_OPTION)),
    )


def _number_words(value: int, unit: str) -> str:
    if unit == "%":
        return f"{value}%"
    if not unit:
        return f"{value:,}"
    return f"{value:,} {unit[:-1] if value == 1 else unit}"


def _rate_text(basis_points: int) -> str:
    text = f"{Decimal(basis_points) / 100:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def deposit_words(kind: str, value: int, currency: str) -> str:
    """What clients pay online, as the summary says it: "A 25% deposit"."""
    if kind == "percent":
        return f"A {value}% deposit"
    if kind == "fixed":
        return f"A deposit of {money(value, currency)}"
    if kind == "full":
        return "The full price"
    return "Nothing, paid at the visit"


def _shown(setting: Setting, stored: Stored, store: Store, currency: str) -> str:
    value = stored.value(setting.name, store)
    if setting.kind == "deposit":
        return deposit_words(stored.policies.deposit_kind, stored.policies.deposit_value, currency)
    if setting.kind == "yes_no":
        return setting.yes if value else setting.no
    if setting.kind == "tax_rate":
        return f"{_rate_text(int(value))}%"
    if setting.kind == "text":
        return str(value) or "Not set"
    if setting.zero and int(value) == 0:
        return setting.zero
    return _number_words(int(value), setting.unit)


def _form_value(setting: Setting, stored: Stored, store: Store, currency: str) -> dict[str, str]:
    value = stored.value(setting.name, store)
    if setting.kind == "deposit":
        kind, amount = stored.policies.deposit_kind, stored.policies.deposit_value
        return {
            "deposit_kind": kind,
            DEPOSIT_PERCENT: str(amount) if kind == "percent" else "",
            DEPOSIT_AMOUNT: major_units(amount, currency) if kind == "fixed" else "",
        }
    if setting.kind == "yes_no":
        return {setting.name: "yes" if value else "no"}
    if setting.kind == "tax_rate":
        return {setting.name: _rate_text(int(value))}
    return {setting.name: str(value)}


async def _last_change(session: AsyncSession, section: Section) -> LastChange | None:
    """The newest audit entry about any of the section's settings, from this page or the
    CLI: one lookup on the (subject type, subject id) index."""
    return await last_change_where(
        session,
        *(
            and_(AuditEntry.subject_type == store.subject_type, AuditEntry.subject_id.in_(names))
            for store, names in section.stores
        ),
    )


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


@dataclass(frozen=True)
class SectionSummary:
    section: Section
    # (the group's title, its settings as shown) in the form's order.
    groups: list[tuple[str, list[Fact]]]
    last_change: LastChange | None


async def policies_page(db: Database, *, currency: str) -> list[SectionSummary]:
    async with db.reading() as session:
        stored = await _stored(session)
        address = await _receipt_address(session)
        summaries = []
        for section in SECTIONS.values():
            groups = [
                (
                    group.title,
                    [
                        Fact(s.label, _shown(s, stored, section.store_of(s.name), currency))
                        for s in group.settings
                    ],
                )
                for group in section.groups
            ]
            if section.slug == "payments":
                groups[-1][1].append(Fact("Address on receipts", address))
            summaries.append(SectionSummary(section, groups, await _last_change(session, section)))
    return summaries


async def _receipt_address(session: AsyncSession) -> str:
    """Receipts print the location's address, which is not a policy: shown, not changed."""
    address = await session.scalar(
        select(Location.address).where(Location.active.is_(True)).order_by(Location.id).limit(1)
    )
    return address or "No active location"


@dataclass(frozen=True)
class SectionForm:
    section: Section
    values: dict[str, str]
    last_change: LastChange | None


async def section_form(db: Database, section: Section, *, currency: str) -> SectionForm:
    """The section's form filled in from what is stored (defaults where nothing is)."""
    async with db.reading() as session:
        stored = await _stored(session)
        values: dict[str, str] = {}
        for setting in section.settings:
            values.update(_form_value(setting, stored, section.store_of(setting.name), currency))
        return SectionForm(section, values, await _last_change(session, section))


async def last_change_of(db: Database, section: Section) -> LastChange | None:
    async with db.reading() as session:
        return await _last_change(session, section)


# Saving


@dataclass(frozen=True)
class Change:
    name: str
    before: Any
    after: Any


@dataclass
class _Pending:
    store: Store
    values: dict[str, Any] = field(default_factory=dict)


async def save_section(
    db: Database,
    section: Section,
    typed: Mapping[str, Any],
    *,
    actor_user_id: int,
    currency: str,
) -> list[Change]:
    """Store the values that differ from what is in effect, each option as a whole judged
    by its validator first, in one transaction; one audit entry per changed setting (the
    value before, even when it was a default, and after), as the CLI's stores write."""
    async with db.transaction() as session:
        # Lock the section's options (the rows there are) before reading them, so two
        # admins saving at once each see the other's values rather than overwrite them.
        rows = {
            store.option: await session.get(ClinicOption, store.option, with_for_update=True)
            for store, _ in section.stores
        }
        stored = await _stored(session)
        pending: dict[str, _Pending] = {}
        changes: list[Change] = []
        for name, value in typed.items():
            store = section.store_of(name)
            before = stored.value(name, store)
            if before == value:
                continue
            pending.setdefault(store.option, _Pending(store)).values[name] = value
            changes.append(Change(name, before, value))
        for option, wanted in pending.items():
            row = rows[option]
            merged = {**dict((row.value if row is not None else None) or {}), **wanted.values}
            try:
                wanted.store.check(merged)
            except ValueError as error:
                field_name, message = _message_for(section, merged, error, currency)
                raise refused(field_name, message) from None
            await set_option(session, option, merged)
        for change in changes:
            store = section.store_of(change.name)
            audit.record(
                session,
                store.action,
                actor_user_id=actor_user_id,
                subject_type=store.subject_type,
                subject_id=change.name,
                details={"before": change.before, "after": change.after},
            )
    return changes
