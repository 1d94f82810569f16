"""Services for admins: the list, adding one and changing one, with its own rule for what
clients pay online (judged by the same check as `clinic payments service-rule`). A service
is deactivated, never deleted; visits already booked keep the length, buffers and price
they were booked with (the appointment row froze them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from clinic import audit
from clinic.admin.common import (
    LastChange,
    apply_changes,
    flush_or_refuse,
    last_change,
    refused,
)
from clinic.admin.forms import Checker
from clinic.booking.policies import RANGES, PolicyError
from clinic.db import Database
from clinic.errors import NotFound
from clinic.payments.pricing import check_service_rule
from clinic.payments.settings_store import FOLLOW_CLINIC
from clinic.scheduling.models import RoomAttribute, Service
from clinic.web.formatting import money
from clinic.web.money_input import MoneyError, major_units, parse_money

ROOM_ATTRIBUTE_LABELS: dict[RoomAttribute, str] = {
    RoomAttribute.MASSAGE_TABLE: "Massage table",
    RoomAttribute.WHEELCHAIR_ACCESSIBLE: "Wheelchair accessible",
    RoomAttribute.SEMI_RECLINED_TABLE: "Table that semi-reclines",
    RoomAttribute.SIDE_LYING_BOLSTERS: "Bolsters for side-lying",
    RoomAttribute.HYDRAULIC_TABLE: "Hydraulic (height-adjustable) table",
    RoomAttribute.MASSAGE_CHAIR: "Massage chair",
    RoomAttribute.NEAR_RESTROOM: "Near a restroom",
}
LEVEL_CHOICES = (
    ("", "None: any bookable therapist"),
    ("1", "Level 1: foundational oncology massage training"),
    ("2", "Level 2: level 1 with further oncology hours and sessions"),
    ("3", "Level 3: oncology specialty certificate"),
    ("4", "Level 4: hospital credentialing or oncology educator"),
)
FIELDS = (
    "name",
    "public_name",
    "description",
    "duration",
    "price",
    "buffer_before",
    "buffer_after",
    "min_level",
    "active",
    "deposit_rule",
    "deposit_percent",
    "deposit_amount",
)
# A service's own online payment rule, or FOLLOW_CLINIC: the clinic's booking policy.
DEPOSIT_RULES = (FOLLOW_CLINIC, "none", "percent", "fixed", "full")


@dataclass(frozen=True)
class ServiceInput:
    name: str
    public_name: str
    description: str
    duration_minutes: int
    price_minor: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    min_oncology_level: int | None
    needs_lymphedema: bool
    room_attributes: tuple[str, ...]
    bookable_online: bool
    active: bool
    # None: the clinic's rule applies (then the value is None too).
    deposit_kind: str | None = None
    deposit_value: int | None = None

    def columns(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "public_name": self.public_name,
            "description": self.description,
            "duration_minutes": self.duration_minutes,
            "price_minor": self.price_minor,
            "buffer_before_minutes": self.buffer_before_minutes,
            "buffer_after_minutes": self.buffer_after_minutes,
            "min_oncology_level": self.min_oncology_level,
            "needs_lymphedema": self.needs_lymphedema,
            "room_attributes": list(self.room_attributes),
            "bookable_online": self.bookable_online,
            "active": self.active,
            "deposit_kind": self.deposit_kind,
            "deposit_value": self.deposit_value,
        }


def read_room_attributes(check: Checker, raw: Sequence[str], field: str) -> tuple[str, ...]:
    known = {a.value for a in RoomAttribute}
    if any(value not in known for value in raw):
        check.fail(field, "Choose room features from the list")
    return tuple(a.value for a in RoomAttribute if a.value in raw)


def read_service(
    values: Mapping[str, str],
    *,
    attributes: Sequence[str],
    lymphedema: bool,
    online: bool,
    currency: str,
) -> ServiceInput:
    """The service form as typed values; InvalidInput names each bad field."""
    check = Checker()
    name = check.text(
        values, "name", missing="Enter the service's name, like Swedish massage, 60 min"
    )
    public_name = check.text(
        values,
        "public_name",
        missing="Enter a neutral public name, like Massage, 60 min",
        label="The public name",
    )
    description = check.text(values, "description", max_length=2000, label="The description")
    duration = check.whole_number(
        values,
        "duration",
        label="The length",
        low=5,
        high=480,
        missing="Enter the length in minutes, like 60",
    )
    price = 0
    raw_price = values.get("price", "").strip()
    if not raw_price:
        check.fail("price", "Enter the price, like 95.00")
    else:
        try:
            price = parse_money(raw_price, currency, what="the price")
        except MoneyError as wrong:
            check.fail("price", str(wrong))
        else:
            if price > 100_000 * 100:
                check.fail("price", "Enter a price of 100,000 or less")
    before = check.whole_number(values, "buffer_before", label="The time before", low=0, high=120)
    after = check.whole_number(values, "buffer_after", label="The time after", low=0, high=120)
    raw_level = values.get("min_level", "").strip()
    level: int | None = None
    if raw_level:
        if raw_level not in {"0", "1", "2", "3", "4"}:
            check.fail("min_level", "Choose a training level from the list")
        else:
            level = int(raw_level)
    room_attributes = read_room_attributes(check, attributes, "room_attributes")
    active = values.get("active", "yes")
    if active not in {"yes", "no"}:
        check.fail("active", "Choose whether the service is offered")
    deposit_kind, deposit_value = read_deposit_rule(check, values, currency)
    check.done()
    assert duration is not None
    return ServiceInput(
        name=name,
        public_name=public_name,
        description=description,
        duration_minutes=duration,
        price_minor=price,
        buffer_before_minutes=before or 0,
        buffer_after_minutes=after or 0,
        min_oncology_level=level,
        needs_lymphedema=lymphedema,
        room_attributes=room_attributes,
        bookable_online=online,
        active=active == "yes",
        deposit_kind=deposit_kind,
        deposit_value=deposit_value,
    )


def read_deposit_rule(
    check: Checker, values: Mapping[str, str], currency: str
) -> tuple[str | None, int | None]:
    """The service's own online payment rule: (None, None) to follow the clinic. A form
    that does not send the choice (an older page) follows the clinic."""
    rule = values.get("deposit_rule", "") or FOLLOW_CLINIC
    if rule not in DEPOSIT_RULES:
        check.fail("deposit_rule", "Choose what clients pay online for this service")
        return None, None
    kind = None if rule == FOLLOW_CLINIC else rule
    value: int | None = None
    field = "deposit_rule"
    if kind == "percent":
        field = "deposit_percent"
        raw = values.get(field, "").strip().removesuffix("%").strip()
        if not raw:
            check.fail(field, "Enter the deposit as a percent of the price, like 25")
            return None, None
        if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
            check.fail(field, "Enter the deposit as a whole number percent, like 25")
            return None, None
        value = int(raw)
    elif kind == "fixed":
        field = "deposit_amount"
        raw = values.get(field, "").strip()
        if not raw:
            check.fail(field, "Enter the deposit amount, like 25.00")
            return None, None
        try:
            value = parse_money(raw, currency, what="the deposit")
        except MoneyError as wrong:
            check.fail(field, str(wrong))
            return None, None
    try:
        check_service_rule(kind, value)
    except PolicyError:
        # The rule's limits, in the units the form asks for.
        if kind == "fixed":
            top = money(RANGES["deposit_value"][1], currency)
            check.fail(field, f"Enter a deposit of {top} or less")
        else:
            check.fail(field, "Enter a percent between 0 and 100")
        return None, None
    return kind, value


def service_values(service: Service, currency: str) -> dict[str, str]:
    """The form filled in from a stored service."""
    return {
        "name": service.name,
        "public_name": service.public_name,
        "description": service.description,
        "duration": str(service.duration_minutes),
        "price": major_units(service.price_minor, currency),
        "buffer_before": str(service.buffer_before_minutes),
        "buffer_after": str(service.buffer_after_minutes),
        "min_level": "" if service.min_oncology_level is None else str(service.min_oncology_level),
        "active": "yes" if service.active else "no",
        "deposit_rule": service.deposit_kind or FOLLOW_CLINIC,
        "deposit_percent": (
            str(service.deposit_value)
            if service.deposit_kind == "percent" and service.deposit_value is not None
            else ""
        ),
        "deposit_amount": (
            major_units(service.deposit_value, currency)
            if service.deposit_kind == "fixed" and service.deposit_value is not None
            else ""
        ),
    }


async def list_services(db: Database) -> list[Service]:
    async with db.reading() as session:
        return list(
            await session.scalars(
                select(Service).order_by(
                    Service.active.desc(), Service.display_order, Service.name, Service.id
                )
            )
        )


@dataclass(frozen=True)
class ServicePage:
    service: Service
    last_change: LastChange | None


async def get_service(db: Database, service_id: int) -> ServicePage:
    async with db.reading() as session:
        service = await session.get(Service, service_id)
        if service is None:
            raise NotFound("There is no service with that number.")
        return ServicePage(service, await last_change(session, "service", service_id))


def _taken_message(name: str) -> str:
    return f"There is already a service called {name}: choose another name"


async def create_service(db: Database, new: ServiceInput, *, actor_user_id: int) -> Service:
    async with db.transaction() as session:
        if await session.scalar(select(func.count()).where(Service.name == new.name)):
            raise refused("name", _taken_message(new.name))
        last = await session.scalar(select(func.max(Service.display_order)))
        service = Service(**new.columns(), display_order=(last or 0) + 10)
        session.add(service)
        await flush_or_refuse(session, "name", _taken_message(new.name))
        audit.record(
            session,
            "service.created",
            actor_user_id=actor_user_id,
            subject_type="service",
            subject_id=service.id,
        )
    return service


async def update_service(
    db: Database, service_id: int, new: ServiceInput, *, actor_user_id: int
) -> Service:
    async with db.transaction() as session:
        service = await session.get(Service, service_id, with_for_update=True)
        if service is None:
            raise NotFound("There is no service with that number.")
        taken = await session.scalar(
            select(func.count()).where(Service.name == new.name, Service.id != service_id)
        )
        if taken:
            raise refused("name", _taken_message(new.name))
        changed = apply_changes(service, new.columns())
        await flush_or_refuse(session, "name", _taken_message(new.name))
        if changed:
            audit.record(
                session,
                "service.changed",
                actor_user_id=actor_user_id,
                subject_type="service",
                subject_id=service_id,
                details={"fields": changed},
            )
    return service
