"""The `clinic` command, run as an operator would (each call in its own event loop)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from clinic.cli import main

SUBCOMMANDS = ["serve", "migrate", "seed-demo", "create-user", "check"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "CLINIC_VAR_DIR": str(tmp_path),
        "CLINIC_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "CLINIC_ENV": "test",
    }


def _run(env: dict[str, str], *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)
    return result.exit_code, result.output


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(env: dict[str, str], command: str) -> None:
    code, output = _run(env, command, "--help")
    assert code == 0
    assert "Usage:" in output


def test_check_names_a_bad_variable(env: dict[str, str]) -> None:
    code, output = _run({**env, "CLINIC_TIMEZONE": "Nowhere/Special"}, "check")
    assert code != 0
    assert "CLINIC_TIMEZONE" in output


def test_check_reports_a_database_that_needs_migrating(env: dict[str, str]) -> None:
    code, output = _run(env, "check")
    assert code == 1
    assert "clinic migrate" in output


def test_migrate_then_create_user_reads_the_password_from_stdin(env: dict[str, str]) -> None:
    assert _run(env, "migrate")[0] == 0
    code, output = _run(env, "check")
    assert code == 0, output

    code, output = _run(
        env,
        "create-user",
        "--email",
        "Owner@Example.com",
        "--name",
        "Sam Owner",
        "--role",
        "admin",
        "--role",
        "therapist",
        stdin="a long enough passphrase\n",
    )
    assert code == 0, output
    assert "owner@example.com" in output
    assert "a long enough passphrase" not in output

    code, output = _run(
        env,
        "create-user",
        "--email",
        "owner@example.com",
        "--name",
        "Again",
        "--role",
        "admin",
        stdin="another long passphrase\n",
    )
    assert code != 0
    assert "already an account" in output


def test_create_user_refuses_a_short_password(env: dict[str, str]) -> None:
    _run(env, "migrate")
    code, output = _run(
        env,
        "create-user",
        "--email",
        "a@example.com",
        "--name",
        "A",
        "--role",
        "frontdesk",
        stdin="short\n",
    )
    assert code != 0
    assert "at least 12 characters" in output


def test_create_user_has_no_password_option(env: dict[str, str]) -> None:
    _, output = _run(env, "create-user", "--help")
    assert "--password" not in output


def test_seed_demo_seeds_once_and_reset_starts_afresh(env: dict[str, str]) -> None:
    _run(env, "migrate")
    code, output = _run(env, "seed-demo")
    assert code == 0, output
    assert "Seeded the demo clinic: 8 therapists" in output
    assert "admin@willowoak.test" in output

    code, output = _run(env, "seed-demo")
    assert code == 0
    assert "already has data" in output

    code, output = _run(env, "seed-demo", "--reset")
    assert code == 0, output
    assert "Seeded the demo clinic: 8 therapists" in output


def test_seed_demo_reset_is_refused_in_production(env: dict[str, str]) -> None:
    production = {**env, "CLINIC_ENV": "production", "CLINIC_SECRET_KEY": "p" * 40}
    code, output = _run(production, "seed-demo", "--reset")
    assert code != 0
    assert "refused" in output


def test_payment_settings_are_shown_changed_and_checked(env: dict[str, str]) -> None:
    assert _run(env, "migrate")[0] == 0
    code, output = _run(env, "payments", "receipt-set", "legal_name", "Willow & Oak LLC")
    assert (code, output.strip()) == (0, "legal_name is now Willow & Oak LLC.")
    assert _run(env, "payments", "receipt-set", "tax_rate_basis_points", "825")[0] == 0
    code, output = _run(env, "payments", "receipt-show")
    assert code == 0
    assert "Willow & Oak LLC" in output
    assert "825" in output
    code, output = _run(env, "payments", "receipt-set", "tax_rate_basis_points", "lots")
    assert code == 1
    assert "whole number" in output
    code, output = _run(env, "payments", "receipt-set", "colour", "green")
    assert code == 1
    assert "not a receipt setting" in output
    # A service that does not exist, and a percent over 100, are refused by name.
    code, output = _run(env, "payments", "service-rule", "Reiki, 60 min", "full")
    assert code == 1
    assert "no service named" in output
    code, output = _run(env, "payments", "service-rule", "Reiki, 60 min", "percent", "150")
    assert code == 1
    assert "between 0 and 100" in output
