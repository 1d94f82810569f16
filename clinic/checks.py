"""`clinic check`: configuration and database problems an operator can act on."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from clinic import migrations
from clinic.db import Database
from clinic.settings import Settings


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    message: str


async def run_checks(settings: Settings) -> list[CheckResult]:
    results = [
        CheckResult("environment", True, settings.environment.value),
        CheckResult("time zone", True, settings.timezone),
    ]
    if settings.is_production and not settings.base_url.startswith("https://"):
        results.append(
            CheckResult("base url", False, "CLINIC_BASE_URL must be https:// in production")
        )
    else:
        results.append(CheckResult("base url", True, settings.base_url))
    if settings.is_production and settings.database_url.startswith("sqlite"):
        results.append(
            CheckResult("database", False, "production needs PostgreSQL (CLINIC_DATABASE_URL)")
        )
    results.append(await _schema(settings))
    return results


async def _schema(settings: Settings) -> CheckResult:
    db = Database.connect(settings.database_url, pool_size=1)
    try:
        current = await migrations.current_revision(db.write_engine)
    except (SQLAlchemyError, OSError) as error:
        return CheckResult("schema", False, f"cannot reach the database ({type(error).__name__})")
    finally:
        await db.dispose()
    head = migrations.head_revision(settings.database_url)
    if current != head:
        return CheckResult(
            "schema",
            False,
            f"database is at {current or 'no revision'}, code expects {head}: run `clinic migrate`",
        )
    return CheckResult("schema", True, f"at {head}")
