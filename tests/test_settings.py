"""Settings come from CLINIC_* variables; a bad value names the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinic.settings import Environment, Settings, SettingsError


def _env(tmp_path: Path, **values: str) -> dict[str, str]:
    return {"CLINIC_VAR_DIR": str(tmp_path), **values}


def test_defaults_use_a_sqlite_file_under_var(tmp_path: Path) -> None:
    settings = Settings.from_env(_env(tmp_path))
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'clinic.db'}"
    assert settings.environment is Environment.DEVELOPMENT
    assert settings.timezone == "America/New_York"
    assert settings.currency == "usd"


def test_development_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = Settings.from_env(_env(tmp_path)).secret_key
    second = Settings.from_env(_env(tmp_path)).secret_key
    assert first == second
    assert len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_secret_key_never_appears_in_repr(tmp_path: Path) -> None:
    key = "k" * 40
    assert key not in repr(Settings.from_env(_env(tmp_path, CLINIC_SECRET_KEY=key)))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///var/x.db", "sqlite+aiosqlite:///var/x.db"),
        ("postgresql://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgres://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgresql+asyncpg://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
    ],
)
def test_plain_database_urls_map_to_the_async_drivers(
    tmp_path: Path, url: str, expected: str
) -> None:
    assert Settings.from_env(_env(tmp_path, CLINIC_DATABASE_URL=url)).database_url == expected


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CLINIC_DATABASE_URL", "mysql://u@h/db"),
        ("CLINIC_DATABASE_URL", "not a url"),
        ("CLINIC_DATABASE_URL", "sqlite:///:memory:"),
        ("CLINIC_ENV", "staging"),
        ("CLINIC_TIMEZONE", "Mars/Olympus_Mons"),
        ("CLINIC_TIMEZONE", "../../etc/passwd"),
        ("CLINIC_CURRENCY", "dollars"),
        ("CLINIC_BASE_URL", "ftp://clinic.example"),
        ("CLINIC_BASE_URL", "clinic.example"),
        ("CLINIC_SECRET_KEY", "short"),
    ],
)
def test_a_bad_value_names_its_variable(tmp_path: Path, variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env(_env(tmp_path, **{variable: value}))


def test_production_requires_a_secret_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="CLINIC_SECRET_KEY"):
        Settings.from_env(_env(tmp_path, CLINIC_ENV="production"))


def test_https_base_url_or_production_means_secure_cookies(tmp_path: Path) -> None:
    assert Settings.from_env(_env(tmp_path, CLINIC_BASE_URL="https://clinic.example")).uses_https
    assert not Settings.from_env(_env(tmp_path)).uses_https
    production = Settings.from_env(
        _env(tmp_path, CLINIC_ENV="production", CLINIC_SECRET_KEY="s" * 40)
    )
    assert production.uses_https
