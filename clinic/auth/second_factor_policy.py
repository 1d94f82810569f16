"""Which staff roles must use a second factor: an admin's choice, kept as a clinic option
(`security.second_factor_roles`). The session loader reads it with every session (one
join), so a change applies at the next request: members of a chosen role without a
second factor can then only set one up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, func, select

from clinic import audit
from clinic.admin.common import LastChange, last_change_where
from clinic.audit import AuditEntry
from clinic.auth.models import Role, User, UserRole
from clinic.auth.second_factor import REQUIRED_ROLES_OPTION, required_roles_from
from clinic.db import Database
from clinic.errors import InvalidInput
from clinic.options import ClinicOption, get_option, set_option

SUBJECT_TYPE = "security_setting"
ACTION = "security.second_factor_roles_changed"


@dataclass(frozen=True)
class Requirement:
    roles: frozenset[Role]
    # Active staff holding a chosen role who have no second factor yet.
    not_set_up: int
    last_change: LastChange | None


async def requirement(db: Database) -> Requirement:
    async with db.reading() as session:
        roles = required_roles_from(await get_option(session, REQUIRED_ROLES_OPTION))
        waiting = 0
        if roles:
            waiting = int(
                await session.scalar(
                    select(func.count(func.distinct(User.id)))
                    .join(UserRole, UserRole.user_id == User.id)
                    .where(
                        User.active.is_(True),
                        User.totp_confirmed_at.is_(None),
                        UserRole.role.in_(sorted(roles)),
                    )
                )
                or 0
            )
        changed = await last_change_where(
            session,
            and_(
                AuditEntry.subject_type == SUBJECT_TYPE,
                AuditEntry.subject_id == REQUIRED_ROLES_OPTION,
            ),
        )
    return Requirement(roles, waiting, changed)


def roles_from_form(values: Iterable[str]) -> frozenset[Role]:
    known = {r.value: r for r in Role}
    chosen = list(values)
    unknown = [v for v in chosen if v not in known]
    if unknown:
        raise InvalidInput(
            "Check the highlighted answers.",
            field_errors={"roles": "Choose from the roles listed"},
        )
    return frozenset(known[v] for v in chosen)


async def save_requirement(db: Database, roles: frozenset[Role], *, actor_user_id: int) -> bool:
    """Store the roles; one audit entry (before and after) if they changed. Returns
    whether anything changed."""
    async with db.transaction() as session:
        await session.get(ClinicOption, REQUIRED_ROLES_OPTION, with_for_update=True)
        before = required_roles_from(await get_option(session, REQUIRED_ROLES_OPTION))
        if before == roles:
            return False
        await set_option(session, REQUIRED_ROLES_OPTION, {"roles": sorted(r.value for r in roles)})
        audit.record(
            session,
            ACTION,
            actor_user_id=actor_user_id,
            subject_type=SUBJECT_TYPE,
            subject_id=REQUIRED_ROLES_OPTION,
            details={
                "before": sorted(r.value for r in before),
                "after": sorted(r.value for r in roles),
            },
        )
    return True
