"""The front desk's client directory: find a client by name, email or phone, and add one
who is new (by phone or in person). Contact facts only: nothing clinical is read here."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from clinic import audit
from clinic.auth.service import normalise_email
from clinic.clients.contact import email_problem, phone_problem
from clinic.clients.models import Client
from clinic.db import Database
from clinic.errors import InvalidInput

MATCH_LIMIT = 25
# A phone number is searched by its digits however it was typed.
PHONE_PUNCTUATION = (" ", "-", "(", ")", "+", ".")


@dataclass(frozen=True)
class ClientMatch:
    client_id: int
    name: str
    email: str
    phone: str


def _digits_of(column: ColumnElement[str] | InstrumentedAttribute[str]) -> ColumnElement[str]:
    digits: ColumnElement[str] = func.replace(column, PHONE_PUNCTUATION[0], "")
    for mark in PHONE_PUNCTUATION[1:]:
        digits = func.replace(digits, mark, "")
    return digits


def _matches(word: str) -> ColumnElement[bool]:
    """One word of the search: part of the name or email, or of the phone's digits."""
    lowered = word.lower()
    conditions = [
        func.lower(Client.name).contains(lowered, autoescape=True),
        func.lower(Client.email).contains(lowered, autoescape=True),
    ]
    digits = "".join(character for character in word if character.isdigit())
    if len(digits) >= 3 and len(digits) == len(word.strip("+-().")):
        conditions.append(_digits_of(Client.phone).contains(digits, autoescape=True))
    return or_(*conditions)


async def find_clients(session: AsyncSession, query: str) -> tuple[list[ClientMatch], bool]:
    """Clients matching every word of `query`, by name; and whether there were more than
    the page shows (the desk then types more)."""
    words = query.split()[:5]
    if not words:
        return [], False
    rows = (
        await session.execute(
            select(Client.id, Client.name, Client.email, Client.phone)
            .where(*(_matches(word) for word in words))
            .order_by(func.lower(Client.name), Client.id)
            .limit(MATCH_LIMIT + 1)
        )
    ).all()
    matches = [
        ClientMatch(client_id=row.id, name=row.name, email=row.email or "", phone=row.phone)
        for row in rows[:MATCH_LIMIT]
    ]
    return matches, len(rows) > MATCH_LIMIT


class ClientExists(InvalidInput):
    """A new client was typed with the email of one already on file."""

    def __init__(self, client_id: int) -> None:
        super().__init__(
            "A client with this email is already on file.",
            field_errors={"email": "A client with this email is already on file"},
        )
        self.client_id = client_id


def new_client_problems(name: str, email: str, phone: str) -> dict[str, str]:
    """A client added at the desk needs a name and one way to reach them; an email is
    optional (a walk-in may have none), and then no email is ever sent."""
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = "Enter the client's full name"
    elif len(name.strip()) > 200:
        errors["name"] = "The name must be 200 characters or fewer"
    if email.strip() and (problem := email_problem(email)):
        errors["email"] = problem
    if phone.strip() and (problem := phone_problem(phone)):
        errors["phone"] = problem
    if not email.strip() and not phone.strip() and "name" not in errors:
        errors["phone"] = "Enter a phone number or an email address, so the clinic can reach them"
    return errors


async def add_client(db: Database, *, name: str, email: str, phone: str, actor_user_id: int) -> int:
    """A new client from the desk; ClientExists when the email is already someone's."""
    if errors := new_client_problems(name, email, phone):
        raise InvalidInput("Check the client's details.", field_errors=errors)
    address = normalise_email(email) or None
    async with db.transaction() as session:
        if address is not None:
            existing = await session.scalar(select(Client.id).where(Client.email == address))
            if existing is not None:
                raise ClientExists(existing)
        client = Client(name=name.strip(), email=address, phone=phone.strip())
        session.add(client)
        try:
            await session.flush()
        except IntegrityError:
            # Someone added the same email a moment ago.
            raise InvalidInput(
                "A client with this email is already on file.",
                field_errors={"email": "A client with this email is already on file"},
            ) from None
        audit.record(
            session,
            "client.added",
            actor_user_id=actor_user_id,
            subject_type="client",
            subject_id=client.id,
            details={"by": "front desk"},
        )
        return client.id
