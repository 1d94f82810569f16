"""Read models for the public pages: the clinic's location and its bookable services."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.scheduling.models import Location, Service


async def primary_location(session: AsyncSession) -> Location | None:
    return await session.scalar(
        select(Location).where(Location.active.is_(True)).order_by(Location.id).limit(1)
    )


async def public_services(session: AsyncSession) -> list[Service]:
    """Active services offered online, in the clinic's chosen order."""
    rows = await session.scalars(
        select(Service)
        .where(Service.active.is_(True), Service.bookable_online.is_(True))
        .order_by(Service.display_order, Service.name)
    )
    return list(rows)
