"""The demo clinic used by `make run` and the tests: one location, eight therapists,
seventy clients and about three hundred appointments around a given day, all deterministic.
Ten of the clients have signed health forms across the situations of the domain table, and
their visits are planned from them; a few general bookings still wait for their form.
This module seeds it and records its version; `data` describes it, `intakes` the health
forms, and `builder` (with `health`, and `payments` for the money side) builds it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.booking.models import Appointment
from clinic.booking.policies import OPTION_KEY as POLICY_OPTION
from clinic.booking.policy_store import stored_policies
from clinic.clients.models import Client
from clinic.clock import today_in
from clinic.db import Database
from clinic.demo.builder import DemoBuilder, reference_moment
from clinic.demo.data import (
    CLIENTS,
    CLINICAL_LEAD,
    DEMO_LOGINS,
    INTENDED_LEVELS,
    LYMPHEDEMA_THERAPIST,
    PLAIN_THERAPIST,
    SERVICES,
    THERAPISTS,
    DemoLogin,
)
from clinic.demo.intakes import INTAKE_CLIENTS, IntakeClient
from clinic.options import get_option, set_option
from clinic.scheduling.models import Location, Service
from clinic.staff.models import Therapist

__all__ = [
    "CLIENTS",
    "CLINICAL_LEAD",
    "DEMO_LOGINS",
    "DEMO_VERSION",
    "INTAKE_CLIENTS",
    "INTENDED_LEVELS",
    "LYMPHEDEMA_THERAPIST",
    "PLAIN_THERAPIST",
    "SERVICES",
    "THERAPISTS",
    "VERSION_OPTION",
    "DemoLogin",
    "DemoSummary",
    "IntakeClient",
    "count_rows",
    "demo_version",
    "seed_demo",
]

# 3: clients with signed intakes, and appointments planned from them.
# 5: payments in every state: deposits, fees, refunds, desk payments and saved cards.
DEMO_VERSION: int = 6
VERSION_OPTION = "demo.version"


@dataclass(frozen=True)
class DemoSummary:
    seeded: bool
    therapists: int
    services: int
    clients: int
    appointments: int
    logins: tuple[DemoLogin, ...]


async def count_rows(session: AsyncSession) -> tuple[int, int, int, int]:
    counts: list[int] = []
    for model in (Therapist, Service, Client, Appointment):
        counts.append(await session.scalar(select(func.count()).select_from(model)) or 0)
    return counts[0], counts[1], counts[2], counts[3]


async def seed_demo(
    db: Database, *, timezone: str, currency: str, today: date | None = None
) -> DemoSummary:
    """Seed the demo clinic in one transaction into a database with no location yet;
    a database that has one is left as it is. (Starting afresh means rebuilding the
    schema, `clinic seed-demo --reset`: the audit trail refuses deletes.)"""
    zone = ZoneInfo(timezone)
    day = today or today_in(zone)
    async with db.transaction() as session:
        if await session.scalar(select(Location.id).limit(1)) is not None:
            return DemoSummary(False, *await count_rows(session), logins=DEMO_LOGINS)
        builder = DemoBuilder(session, zone, day, currency, reference_moment(day, zone))
        await builder.build()
        # Someone trying the demo sees a booking's email at once; a clinic's own default
        # waits two minutes so that a quick correction sends one email, not two.
        policies = await stored_policies(session)
        await set_option(
            session, POLICY_OPTION, replace(policies, confirmation_grace_minutes=0).as_dict()
        )
        await set_option(session, VERSION_OPTION, DEMO_VERSION)
        counts = await count_rows(session)
    return DemoSummary(True, *counts, logins=DEMO_LOGINS)


async def demo_version(db: Database) -> int | None:
    async with db.reading() as session:
        value = await get_option(session, VERSION_OPTION)
    return None if value is None else int(value)
