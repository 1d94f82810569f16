"""Settings come from CLINIC_* variables; a bad value names the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinic.app import create_app
from clinic.payments.gateway import checkout_origin
from clinic.settings import Environment, PaymentsMode, Settings, SettingsError
from clinic.web.security import security_headers


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


STRIPE_KEYS = {"STRIPE_SECRET_KEY": "sk_test_abc123", "STRIPE_WEBHOOK_SECRET": "whsec_abc123"}


def test_payments_are_offline_unless_stripe_is_chosen(tmp_path: Path) -> None:
    settings = Settings.from_env(_env(tmp_path))
    assert settings.payments is PaymentsMode.OFFLINE
    stripe = Settings.from_env(_env(tmp_path, CLINIC_PAYMENTS="stripe", **STRIPE_KEYS))
    assert stripe.payments is PaymentsMode.STRIPE
    assert "sk_test_abc123" not in repr(stripe)
    assert "whsec_abc123" not in repr(stripe)


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("STRIPE_SECRET_KEY", "STRIPE_SECRET_KEY"),
        ("STRIPE_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET"),
    ],
)
def test_stripe_without_its_keys_stops_start_up_naming_the_key(
    tmp_path: Path, missing: str, named: str
) -> None:
    keys = {k: v for k, v in STRIPE_KEYS.items() if k != missing}
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(_env(tmp_path, CLINIC_PAYMENTS="stripe", **keys))


def test_an_unknown_payments_mode_or_api_base_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="CLINIC_PAYMENTS"):
        Settings.from_env(_env(tmp_path, CLINIC_PAYMENTS="paypal"))
    with pytest.raises(SettingsError, match="STRIPE_API_BASE"):
        Settings.from_env(_env(tmp_path, STRIPE_API_BASE="localhost:12111"))


def test_an_unreachable_stripe_does_not_stop_start_up(tmp_path: Path) -> None:
    # Stripe is called only when money moves; a closed port is fine at start-up.
    closed = "http://127.0.0.1:9"
    env = _env(tmp_path, CLINIC_PAYMENTS="stripe", STRIPE_API_BASE=closed, **STRIPE_KEYS)
    settings = Settings.from_env(env)
    create_app(settings)
    # The booking form may send the browser on to the checkout page's origin, no other.
    csp = security_headers(https=True, checkout_origin=checkout_origin(settings))
    assert f"form-action 'self' {closed};" in csp["content-security-policy"] + ";"
    offline = Settings.from_env(_env(tmp_path))
    assert checkout_origin(offline) is None
    assert "form-action 'self';" in security_headers(https=True)["content-security-policy"] + ";"
