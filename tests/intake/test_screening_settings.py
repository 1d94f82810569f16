"""The clinic's screening settings: the PRODUCT values of the domain table, stored and
validated as a whole, changed by `clinic screening set` (audited), and used by every plan."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from clinic.audit import AuditEntry
from clinic.cli import main
from clinic.db import Database
from clinic.intake.rules import (
    ScreeningRules,
    ScreeningSettingError,
    parse_screening_value,
    screening_rules_from,
)
from clinic.intake.rules_store import load_screening_rules, set_screening_rule


def test_nothing_stored_means_the_product_defaults() -> None:
    assert screening_rules_from(None) == ScreeningRules()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"no_such_setting": 1}, "is not a screening setting"),
        ({"gentle_pressure": 7}, "between 1 and 5"),
        ({"gentle_pressure": True}, "whole number"),
        ({"surgery_hold_weeks": "six"}, "whole number"),
        ({"hospital_model_requires_clearance": 1}, "true or false"),
    ],
)
def test_bad_values_are_refused_with_the_settings_name(
    values: dict[str, object], message: str
) -> None:
    with pytest.raises(ScreeningSettingError, match=message):
        screening_rules_from(values)


def test_values_typed_at_the_command_line_take_their_settings_type() -> None:
    assert parse_screening_value("platelets_required_below", "30,000") == 30_000
    assert parse_screening_value("hospital_model_requires_clearance", "yes") is True
    with pytest.raises(ScreeningSettingError, match="is not a screening setting"):
        parse_screening_value("nonsense", "5")


async def test_a_change_is_stored_and_audited(db: Database) -> None:
    rules = await set_screening_rule(db, "surgery_hold_weeks", 8, actor_label="test")
    assert rules.surgery_hold_weeks == 8
    assert (await load_screening_rules(db)).surgery_hold_weeks == 8
    with pytest.raises(ScreeningSettingError):
        await set_screening_rule(db, "surgery_hold_weeks", 99)
    assert (await load_screening_rules(db)).surgery_hold_weeks == 8
    async with db.reading() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "screening.changed")
        )
    assert entry is not None
    assert entry.details == {"before": None, "after": 8}


def test_the_command_shows_and_sets_settings(tmp_path: Path) -> None:
    env = {
        "CLINIC_VAR_DIR": str(tmp_path),
        "CLINIC_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "CLINIC_ENV": "test",
    }
    runner = CliRunner()
    assert runner.invoke(main, ["migrate"], env=env).exit_code == 0
    shown = runner.invoke(main, ["screening", "show"], env=env)
    assert "hospital_model_requires_clearance" in shown.output
    assert "day_of_visit_window_hours" in shown.output
    changed = runner.invoke(main, ["screening", "set", "day_of_visit_window_hours", "72"], env=env)
    assert changed.exit_code == 0, changed.output
    assert "72" in runner.invoke(main, ["screening", "show"], env=env).output
    refused = runner.invoke(main, ["screening", "set", "gentle_pressure", "9"], env=env)
    assert refused.exit_code != 0
    assert "between 1 and 5" in refused.output
