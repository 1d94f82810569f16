"""Reading and changing the clinic's screening settings (one JSON object in clinic options,
validated as a whole before it is stored, every change audited)."""

from __future__ import annotations

from clinic import audit
from clinic.db import Database
from clinic.intake.rules import SCREENING_OPTION, ScreeningRules, screening_rules_from
from clinic.options import get_option, set_option_field


async def load_screening_rules(db: Database) -> ScreeningRules:
    async with db.reading() as session:
        return screening_rules_from(await get_option(session, SCREENING_OPTION))


async def set_screening_rule(
    db: Database,
    name: str,
    value: int | bool,
    *,
    actor_user_id: int | None = None,
    actor_label: str = "",
) -> ScreeningRules:
    async with db.transaction() as session:
        before = await set_option_field(
            session, SCREENING_OPTION, name, value, check=screening_rules_from
        )
        audit.record(
            session,
            "screening.changed",
            actor_user_id=actor_user_id,
            actor_label=actor_label,
            subject_type="screening_setting",
            subject_id=name,
            details={"before": before, "after": value},
        )
        return screening_rules_from(await get_option(session, SCREENING_OPTION))
