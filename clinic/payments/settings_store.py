"""Reading and changing the payment settings kept in the database: the receipt's business
details and tax (one JSON option), and each service's own online payment rule. Every
change is validated whole before it is stored, and audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from clinic import audit
from clinic.booking.policies import PolicyError
from clinic.db import Database
from clinic.options import get_option, set_option_field
from clinic.payments.pricing import (
    RECEIPT_OPTION,
    ReceiptSettings,
    check_service_rule,
    receipt_settings_from,
)
from clinic.scheduling.models import Service

# "clinic": the service follows the clinic's booking policy (deposit_kind, deposit_value).
FOLLOW_CLINIC = "clinic"


async def load_receipt_settings(db: Database) -> ReceiptSettings:
    async with db.reading() as session:
        return receipt_settings_from(await get_option(session, RECEIPT_OPTION))


async def set_receipt_setting(
    db: Database, name: str, value: Any, *, actor_user_id: int | None = None, actor_label: str = ""
) -> ReceiptSettings:
    async with db.transaction() as session:
        before = await set_option_field(
            session, RECEIPT_OPTION, name, value, check=receipt_settings_from
        )
        audit.record(
            session,
            "receipt_setting.changed",
            actor_user_id=actor_user_id,
            actor_label=actor_label,
            subject_type="receipt_setting",
            subject_id=name,
            details={"before": before, "after": value},
        )
        return receipt_settings_from(await get_option(session, RECEIPT_OPTION))


async def set_service_rule(
    db: Database,
    service_name: str,
    kind: str,
    value: int | None = None,
    *,
    actor_user_id: int | None = None,
    actor_label: str = "",
) -> None:
    """A service's own online payment rule, or FOLLOW_CLINIC to drop it."""
    rule_kind = None if kind == FOLLOW_CLINIC else kind
    check_service_rule(rule_kind, value)
    async with db.transaction() as session:
        service = await session.scalar(select(Service).where(Service.name == service_name))
        if service is None:
            raise PolicyError(f"There is no service named {service_name!r}.")
        before = {"kind": service.deposit_kind, "value": service.deposit_value}
        service.deposit_kind = rule_kind
        service.deposit_value = value if rule_kind in ("percent", "fixed") else None
        audit.record(
            session,
            "service.payment_rule_changed",
            actor_user_id=actor_user_id,
            actor_label=actor_label,
            subject_type="service",
            subject_id=service.id,
            details={"before": before, "after": {"kind": rule_kind, "value": value}},
        )
