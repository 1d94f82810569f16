"""Reading and changing the stored booking policies (one JSON object in clinic options)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from clinic import audit
from clinic.booking.policies import OPTION_KEY, Policies, policies_from
from clinic.db import Database
from clinic.options import get_option, set_option_field


async def stored_policies(session: AsyncSession) -> Policies:
    """The clinic's booking policies as stored (the defaults where none are)."""
    return policies_from(await get_option(session, OPTION_KEY))


async def load_policies(db: Database) -> Policies:
    async with db.reading() as session:
        return await stored_policies(session)


async def set_policy(
    db: Database, name: str, value: Any, *, actor_user_id: int | None = None, actor_label: str = ""
) -> Policies:
    """Change one policy; the whole set is validated before it is stored, and audited."""
    async with db.transaction() as session:
        before = await set_option_field(session, OPTION_KEY, name, value, check=policies_from)
        policies = await stored_policies(session)
        audit.record(
            session,
            "policy.changed",
            actor_user_id=actor_user_id,
            actor_label=actor_label,
            subject_type="policy",
            subject_id=name,
            details={"before": before, "after": value},
        )
    return policies
