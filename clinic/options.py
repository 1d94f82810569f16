"""Clinic-wide options stored in the database (policies, the demo data version), each a
JSON value under a dotted key."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from clinic.clock import now_utc
from clinic.db import Base, UTCDateTime


class ClinicOption(Base):
    __tablename__ = "clinic_option"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)


async def get_option(session: AsyncSession, key: str, default: Any = None) -> Any:
    value = await session.scalar(select(ClinicOption.value).where(ClinicOption.key == key))
    return default if value is None else value


async def set_option(session: AsyncSession, key: str, value: Any) -> None:
    row = await session.get(ClinicOption, key)
    if row is None:
        session.add(ClinicOption(key=key, value=value))
    else:
        row.value = value


async def set_option_field(
    session: AsyncSession,
    key: str,
    name: str,
    value: Any,
    *,
    check: Callable[[Mapping[str, Any]], object],
) -> Any:
    """Change one field of an option that holds a JSON object of settings. `check` sees the
    whole new object and raises if it is not valid, so nothing invalid is ever stored.
    Returns the field's value before the change (for the caller's audit entry)."""
    stored = dict(await get_option(session, key) or {})
    before = stored.get(name)
    stored[name] = value
    check(stored)
    await set_option(session, key, stored)
    return before
