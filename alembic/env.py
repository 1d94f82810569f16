"""Alembic environment: the URL comes from clinic settings (or a caller's connection)."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import clinic.models
from clinic.db import UTCDateTime
from clinic.settings import Settings, normalise_database_url

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = clinic.models.Base.metadata


def _include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    # Alembic cannot reflect EXCLUDE constraints (they are hand-written in the
    # migration and checked by tests/test_schema_guards.py).
    return not (type_ == "constraint" and name is not None and name.startswith("ex_"))


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    # Render our instant type by its own name so new migrations import it plainly.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        autogen_context.imports.add("from clinic.db import UTCDateTime")
        return "UTCDateTime()"
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=_include_object,
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_configure)
    await engine.dispose()


def _url() -> str:
    url = config.attributes.get("database_url")
    if url:
        return normalise_database_url(url, variable="database_url")
    return Settings.from_env().database_url


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    shared = config.attributes.get("connection")
    if shared is not None:
        _configure(shared)
    else:
        asyncio.run(_run_async(_url()))
