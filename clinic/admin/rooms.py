"""Rooms for admins: the list, adding one and changing its name, features and whether it
is in use. A room is deactivated, never deleted: visits already booked in it keep it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from clinic import audit
from clinic.admin.common import (
    UPCOMING,
    LastChange,
    apply_changes,
    flush_or_refuse,
    last_change,
    refused,
)
from clinic.admin.forms import Checker
from clinic.admin.services import read_room_attributes
from clinic.booking.models import Appointment
from clinic.db import Database
from clinic.errors import InvalidInput, NotFound
from clinic.scheduling.models import Location, Room


@dataclass(frozen=True)
class RoomInput:
    name: str
    location_id: int | None
    attributes: tuple[str, ...]
    active: bool


def read_room(values: Mapping[str, str], *, attributes: Sequence[str]) -> RoomInput:
    check = Checker()
    name = check.text(
        values,
        "name",
        missing="Enter the room's name, like Room 2",
        max_length=100,
        label="The name",
    )
    raw_location = values.get("location_id", "").strip()
    location_id: int | None = None
    if raw_location:
        if raw_location.isascii() and raw_location.isdigit() and len(raw_location) <= 9:
            location_id = int(raw_location)
        else:
            check.fail("location_id", "Choose a location from the list")
    chosen = read_room_attributes(check, attributes, "attributes")
    active = values.get("active", "yes")
    if active not in {"yes", "no"}:
        check.fail("active", "Choose whether the room is in use")
    check.done()
    return RoomInput(name=name, location_id=location_id, attributes=chosen, active=active == "yes")


@dataclass(frozen=True)
class RoomRow:
    room: Room
    location_name: str


async def list_rooms(db: Database) -> list[RoomRow]:
    async with db.reading() as session:
        rows = (
            await session.execute(
                select(Room, Location.name)
                .join(Location, Location.id == Room.location_id)
                .order_by(Room.active.desc(), Location.id, Room.name, Room.id)
            )
        ).all()
    return [RoomRow(room, location_name) for room, location_name in rows]


async def active_locations(db: Database) -> list[Location]:
    async with db.reading() as session:
        return list(
            await session.scalars(
                select(Location).where(Location.active.is_(True)).order_by(Location.id)
            )
        )


@dataclass(frozen=True)
class RoomPage:
    room: Room
    # Visits still to come booked in this room: they keep it if it is taken out of use.
    upcoming: int
    last_change: LastChange | None


async def get_room(db: Database, room_id: int, *, now: datetime) -> RoomPage:
    async with db.reading() as session:
        room = await session.get(Room, room_id)
        if room is None:
            raise NotFound("There is no room with that number.")
        upcoming = await session.scalar(
            select(func.count()).where(
                Appointment.room_id == room_id,
                Appointment.status.in_(UPCOMING),
                Appointment.ends_at > now,
            )
        )
        return RoomPage(room, upcoming or 0, await last_change(session, "room", room_id))


def _taken_message(name: str) -> str:
    return f"There is already a room called {name} there: choose another name"


async def create_room(db: Database, new: RoomInput, *, actor_user_id: int) -> Room:
    async with db.transaction() as session:
        locations = list(
            await session.scalars(
                select(Location.id).where(Location.active.is_(True)).order_by(Location.id)
            )
        )
        location_id = (
            new.location_id if new.location_id is not None else next(iter(locations), None)
        )
        if location_id is None or location_id not in locations:
            raise InvalidInput(
                "Check the highlighted answers.",
                field_errors={"location_id": "Choose a location from the list"},
            )
        taken = await session.scalar(
            select(func.count()).where(Room.location_id == location_id, Room.name == new.name)
        )
        if taken:
            raise refused("name", _taken_message(new.name))
        room = Room(
            location_id=location_id,
            name=new.name,
            attributes=list(new.attributes),
            active=new.active,
        )
        session.add(room)
        await flush_or_refuse(session, "name", _taken_message(new.name))
        audit.record(
            session,
            "room.created",
            actor_user_id=actor_user_id,
            subject_type="room",
            subject_id=room.id,
        )
    return room


async def update_room(db: Database, room_id: int, new: RoomInput, *, actor_user_id: int) -> Room:
    """Rename it, change its features, or take it out of use (or back). It stays at its
    location: a room does not move."""
    async with db.transaction() as session:
        room = await session.get(Room, room_id, with_for_update=True)
        if room is None:
            raise NotFound("There is no room with that number.")
        taken = await session.scalar(
            select(func.count()).where(
                Room.location_id == room.location_id, Room.name == new.name, Room.id != room_id
            )
        )
        if taken:
            raise refused("name", _taken_message(new.name))
        changed = apply_changes(
            room, {"name": new.name, "attributes": list(new.attributes), "active": new.active}
        )
        await flush_or_refuse(session, "name", _taken_message(new.name))
        if changed:
            audit.record(
                session,
                "room.changed",
                actor_user_id=actor_user_id,
                subject_type="room",
                subject_id=room_id,
                details={"fields": changed},
            )
    return room
