"""The order clients see services and therapists in online booking (and the desk its
columns): moving an active one up or down a place. A move numbers the active rows again
(10, 20, 30...), so rows that share a number (added together, or never ordered) never
block it. Inactive rows keep their numbers; nothing else reads them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit
from clinic.db import Database
from clinic.errors import InvalidInput, NotFound
from clinic.scheduling.models import Service
from clinic.staff.models import Therapist

STEP = 10


class Direction(StrEnum):
    UP = "up"
    DOWN = "down"


def read_direction(raw: str) -> Direction:
    try:
        return Direction(raw)
    except ValueError:
        raise InvalidInput(
            "Choose Move up or Move down.", field_errors={"direction": "Choose up or down"}
        ) from None


def moved(ids: list[int], chosen: int, direction: Direction) -> list[int] | None:
    """`ids` with `chosen` swapped with its neighbour, or None when it is already at that
    end (or not in the list). Pure."""
    if chosen not in ids:
        return None
    at = ids.index(chosen)
    to = at - 1 if direction is Direction.UP else at + 1
    if not 0 <= to < len(ids):
        return None
    order = list(ids)
    order[at], order[to] = order[to], order[at]
    return order


@dataclass(frozen=True)
class OrderPage:
    services: list[Service]
    therapists: list[Therapist]


async def order_page(db: Database) -> OrderPage:
    async with db.reading() as session:
        return OrderPage(
            services=list(await session.scalars(_active_services())),
            therapists=list(await session.scalars(_active_therapists())),
        )


def _active_services() -> Any:
    return (
        select(Service)
        .where(Service.active.is_(True))
        .order_by(Service.display_order, Service.name, Service.id)
    )


def _active_therapists() -> Any:
    return (
        select(Therapist)
        .where(Therapist.active.is_(True))
        .order_by(Therapist.display_order, Therapist.display_name, Therapist.id)
    )


async def _move(
    session: AsyncSession,
    rows: list[Any],
    chosen: int,
    direction: Direction,
    *,
    subject_type: str,
    actor_user_id: int,
) -> bool:
    """Number the rows in their new order; False when there was nowhere to move."""
    order = moved([row.id for row in rows], chosen, direction)
    if order is None:
        return False
    by_id = {row.id: row for row in rows}
    for place, row_id in enumerate(order, start=1):
        by_id[row_id].display_order = place * STEP
    audit.record(
        session,
        f"{subject_type}.moved",
        actor_user_id=actor_user_id,
        subject_type=subject_type,
        subject_id=chosen,
        details={"direction": direction.value, "place": order.index(chosen) + 1},
    )
    return True


async def move_service(
    db: Database, service_id: int, direction: Direction, *, actor_user_id: int
) -> tuple[Service, bool]:
    """Move an active service a place; (the service, whether it moved)."""
    async with db.transaction() as session:
        rows = list(await session.scalars(_active_services().with_for_update()))
        service = next((row for row in rows if row.id == service_id), None)
        if service is None:
            raise NotFound("There is no active service with that number.")
        done = await _move(
            session,
            rows,
            service_id,
            direction,
            subject_type="service",
            actor_user_id=actor_user_id,
        )
    return service, done


async def move_therapist(
    db: Database, therapist_id: int, direction: Direction, *, actor_user_id: int
) -> tuple[Therapist, bool]:
    """Move an active therapist a place; (the therapist, whether they moved)."""
    async with db.transaction() as session:
        rows = list(await session.scalars(_active_therapists().with_for_update()))
        therapist = next((row for row in rows if row.id == therapist_id), None)
        if therapist is None:
            raise NotFound("There is no active therapist with that number.")
        done = await _move(
            session,
            rows,
            therapist_id,
            direction,
            subject_type="therapist",
            actor_user_id=actor_user_id,
        )
    return therapist, done
