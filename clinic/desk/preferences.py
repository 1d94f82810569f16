"""A member of staff's own desk preferences (the day grid's row height). A preference
changes no clinic record, so it is not audited; it never touches anyone else's account."""

from __future__ import annotations

from sqlalchemy import update

from clinic.auth.models import DeskDensity, User
from clinic.db import Database


async def set_desk_density(db: Database, user_id: int, density: DeskDensity) -> None:
    """Remember how tall this user's desk grid draws a quarter hour, on every device."""
    async with db.transaction() as session:
        await session.execute(update(User).where(User.id == user_id).values(desk_density=density))
