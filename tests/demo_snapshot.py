"""The demo clinic for tests, built once per database and moment and then copied.

Building the demo runs the whole builder through the ORM (about a second); most booking
tests need the same clinic at the same frozen moment. The first build's rows are kept and
later tests insert them again with one multi-row INSERT per table, in dependency order,
with their ids. On PostgreSQL each id sequence is then moved past the copied ids, so rows
a test adds get fresh ids (sequences are not rolled back with the test: they only grow).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Table, func, insert, select, text

from clinic import demo
from clinic.clock import now_utc
from clinic.db import Base, Database

Rows = list[tuple[Table, list[dict[str, Any]]]]
_BUILT: dict[tuple[str, date, str, str, object], Rows] = {}


async def seed_demo(db: Database, *, today: date, timezone: str, currency: str) -> None:
    # The moment is part of the key: the demo is built around "now" when today is today.
    key = (db.dialect, today, timezone, currency, now_utc())
    rows = _BUILT.get(key)
    if rows is None:
        await demo.seed_demo(db, timezone=timezone, currency=currency, today=today)
        _BUILT[key] = await _read_all(db)
        return
    async with db.transaction() as session:
        for table, table_rows in rows:
            if table_rows:
                await session.execute(insert(table), table_rows)
        if db.dialect == "postgresql":
            for table, table_rows in rows:
                if table_rows and "id" in table.c:
                    await session.execute(
                        text(
                            "SELECT setval(pg_get_serial_sequence(:t, 'id'), "
                            "GREATEST((SELECT max(id) FROM " + table.name + "), 1))"
                        ),
                        {"t": table.name},
                    )


async def _read_all(db: Database) -> Rows:
    rows: Rows = []
    async with db.reading() as session:
        for table in Base.metadata.sorted_tables:
            count = await session.scalar(select(func.count()).select_from(table))
            if not count:
                rows.append((table, []))
                continue
            result = await session.execute(select(table))
            rows.append((table, [dict(row._mapping) for row in result]))
    return rows
