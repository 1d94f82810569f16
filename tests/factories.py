"""Plain builders with valid defaults: create_therapist(session, display_name="Dana")."""

from __future__ import annotations

import functools
import itertools
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx2
from sqlalchemy.ext.asyncio import AsyncSession

from clinic.auth.models import Role, User, UserRole
from clinic.auth.passwords import hash_password
from clinic.auth.sessions import start_session
from clinic.auth.web import session_cookie_for
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentSource, AppointmentStatus
from clinic.clients.models import Client
from clinic.db import Database
from clinic.scheduling.models import Location, Room, Service, WeeklyHours
from clinic.staff.models import Credential, CredentialKind, Therapist

_sequence = itertools.count(1)


def _n() -> int:
    return next(_sequence)


async def _add(session: AsyncSession, obj: Any) -> Any:
    session.add(obj)
    await session.flush()
    return obj


async def create_user(
    session: AsyncSession, *, roles: tuple[Role, ...] = (Role.FRONTDESK,), **overrides: Any
) -> User:
    n = _n()
    values: dict[str, Any] = {
        "email": f"staff{n}@example.com",
        "name": f"Staff Member {n}",
        "password_hash": "$argon2id$not-a-real-hash",
        "active": True,
    }
    values.update(overrides)
    user = User(**values)
    user.role_rows = [UserRole(role=r) for r in roles]
    return await _add(session, user)


async def create_location(session: AsyncSession, **overrides: Any) -> Location:
    values: dict[str, Any] = {
        "name": f"Test Clinic {_n()}",
        "address": "1 Test Street, Philadelphia, PA 19107",
        "timezone": "America/New_York",
    }
    values.update(overrides)
    return await _add(session, Location(**values))


async def create_room(session: AsyncSession, *, location: Location, **overrides: Any) -> Room:
    values: dict[str, Any] = {"location_id": location.id, "name": f"Room {_n()}", "attributes": []}
    values.update(overrides)
    return await _add(session, Room(**values))


async def create_service(session: AsyncSession, **overrides: Any) -> Service:
    n = _n()
    values: dict[str, Any] = {
        "name": f"Swedish massage {n}",
        "public_name": "Massage, 60 min",
        "duration_minutes": 60,
        "price_minor": 9000,
        "buffer_before_minutes": 0,
        "buffer_after_minutes": 15,
    }
    values.update(overrides)
    return await _add(session, Service(**values))


async def create_therapist(session: AsyncSession, **overrides: Any) -> Therapist:
    values: dict[str, Any] = {"display_name": f"Therapist {_n()}"}
    values.update(overrides)
    return await _add(session, Therapist(**values))


async def create_credential(
    session: AsyncSession, *, therapist: Therapist, kind: CredentialKind, **overrides: Any
) -> Credential:
    values: dict[str, Any] = {
        "therapist_id": therapist.id,
        "kind": kind,
        "issued_on": date(2020, 1, 1),
        "verified_at": datetime(2020, 1, 2, tzinfo=UTC),
    }
    values.update(overrides)
    return await _add(session, Credential(**values))


async def create_weekly_hours(
    session: AsyncSession, *, therapist: Therapist, location: Location, **overrides: Any
) -> WeeklyHours:
    values: dict[str, Any] = {
        "therapist_id": therapist.id,
        "location_id": location.id,
        "weekday": 0,
        "start_time": time(9, 0),
        "end_time": time(17, 0),
    }
    values.update(overrides)
    return await _add(session, WeeklyHours(**values))


async def create_client(session: AsyncSession, **overrides: Any) -> Client:
    n = _n()
    values: dict[str, Any] = {
        "name": f"Client {n}",
        "email": f"client{n}@example.com",
        "phone": "(215) 555-0100",
    }
    values.update(overrides)
    return await _add(session, Client(**values))


def appointment_values(
    *,
    location: Location,
    therapist: Therapist,
    client: Client,
    service: Service,
    starts_at: datetime,
    room: Room | None = None,
    status: AppointmentStatus = AppointmentStatus.CONFIRMED,
    **overrides: Any,
) -> dict[str, Any]:
    """Column values for an appointment; blocked range from the service's buffers."""
    ends_at = starts_at + timedelta(minutes=service.duration_minutes)
    values: dict[str, Any] = {
        "location_id": location.id,
        "therapist_id": therapist.id,
        "client_id": client.id,
        "service_id": service.id,
        "room_id": room.id if room else None,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "blocked_from": starts_at - timedelta(minutes=service.buffer_before_minutes),
        "blocked_until": ends_at + timedelta(minutes=service.buffer_after_minutes),
        "status": status,
        "price_minor": service.price_minor,
        "currency": "usd",
        "source": AppointmentSource.DESK,
    }
    values.update(overrides)
    return values


async def create_appointment(session: AsyncSession, **kwargs: Any) -> Appointment:
    return await _add(session, Appointment(**appointment_values(**kwargs)))


CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


async def form_token(http: httpx2.AsyncClient, path: str = "/login") -> str:
    """The CSRF token a form on `path` carries (and the cookie that goes with it)."""
    response = await http.get(path)
    match = CSRF_FIELD.search(response.text)
    assert match, f"no CSRF field on {path} ({response.status_code})"
    return match.group(1)


STAFF_PASSWORD = "a long staff passphrase"


@functools.cache
def _staff_hash() -> str:
    return hash_password(STAFF_PASSWORD)


async def sign_in_as(
    http: httpx2.AsyncClient, db: Database, *roles: Role, **overrides: Any
) -> User:
    """Create a staff member with `roles` and sign this client in as them."""
    async with db.transaction() as session:
        user = await create_user(session, roles=roles, password_hash=_staff_hash(), **overrides)
    token = await form_token(http)
    response = await http.post(
        "/login", data={"email": user.email, "password": STAFF_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303, response.text
    return user


async def session_for(http: httpx2.AsyncClient, db: Database, *roles: Role) -> User:
    """Create a staff member with `roles` and give this client their session cookie
    directly, as signing in would, without the password check (tens of milliseconds of
    argon2 each): for tests about what a signed-in member may do, not about signing in."""
    async with db.transaction() as session:
        user = await create_user(session, roles=roles)
        token = await start_session(session, user, ip_address="127.0.0.1", user_agent="tests")
    name = session_cookie_for(https=http.base_url.scheme == "https")
    http.cookies.set(name, token, path="/")
    return user


async def sign_in_existing(http: httpx2.AsyncClient, db: Database, user_id: int) -> User:
    """Sign this client in as an existing account (a seeded therapist, say): its password
    becomes the test password first."""
    async with db.transaction() as session:
        user = await session.get(User, user_id)
        assert user is not None
        user.password_hash = _staff_hash()
    token = await form_token(http)
    response = await http.post(
        "/login", data={"email": user.email, "password": STAFF_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303, response.text
    return user
