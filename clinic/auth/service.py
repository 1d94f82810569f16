"""Staff account use cases."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select

from clinic import audit
from clinic.auth.models import Role, User, UserRole
from clinic.auth.passwords import hash_password_async, password_problem
from clinic.db import Database
from clinic.errors import Conflict, InvalidInput


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def create_user(
    db: Database,
    *,
    email: str,
    name: str,
    password: str,
    roles: Iterable[Role],
    actor_user_id: int | None = None,
    actor_label: str = "",
) -> User:
    email = normalise_email(email)
    role_set = frozenset(roles)
    errors: dict[str, str] = {}
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        errors["email"] = "Enter an email address in the correct format, like name@example.com"
    if not name.strip():
        errors["name"] = "Enter the person's name"
    if not role_set:
        errors["roles"] = "Choose at least one role"
    if problem := password_problem(password):
        errors["password"] = problem
    if errors:
        raise InvalidInput("Check the highlighted answers.", field_errors=errors)
    password_hash = await hash_password_async(password)
    async with db.transaction() as session:
        taken = await session.scalar(select(func.count()).where(User.email == email))
        if taken:
            raise Conflict(f"There is already an account for {email}.")
        user = User(email=email, name=name.strip(), password_hash=password_hash, active=True)
        user.role_rows = [UserRole(role=r) for r in sorted(role_set)]
        session.add(user)
        await session.flush()
        audit.record(
            session,
            "user.created",
            actor_user_id=actor_user_id,
            actor_label=actor_label,
            subject_type="user",
            subject_id=user.id,
            details={"roles": sorted(r.value for r in role_set)},
        )
    return user
