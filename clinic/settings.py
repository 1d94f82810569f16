"""Settings read once from CLINIC_* environment variables into a frozen object.

A bad value stops start-up with a message that names the variable. Secrets are
kept out of repr() so they never reach a log line or a traceback.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from email.utils import parseaddr
from enum import StrEnum
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clinic.access.window import DEFAULT_DAYS_AHEAD, DEFAULT_DAYS_BACK, MAX_DAYS, CareWindow

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR_DIR = PROJECT_ROOT / "var"
DEFAULT_MAIL_FROM = "Willow & Oak Massage Therapy <bookings@willowoak.test>"


class SettingsError(Exception):
    """A configuration value is missing or wrong; the message names the variable."""


class PaymentsMode(StrEnum):
    OFFLINE = "offline"
    STRIPE = "stripe"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class SmtpSecurity(StrEnum):
    # STARTTLS when the server offers it (smtp://).
    OPPORTUNISTIC = "opportunistic"
    # STARTTLS or fail (smtp+starttls://).
    STARTTLS = "starttls"
    # TLS from the first byte (smtps://).
    TLS = "tls"


SMTP_SCHEMES = {
    "smtp": (SmtpSecurity.OPPORTUNISTIC, 25),
    "smtp+starttls": (SmtpSecurity.STARTTLS, 587),
    "smtps": (SmtpSecurity.TLS, 465),
}


@dataclass(frozen=True)
class SmtpServer:
    """Where e-mail goes when CLINIC_SMTP_URL is set (clinic/notifications/smtp.py)."""

    host: str
    port: int
    security: SmtpSecurity
    username: str = ""
    password: str = field(default="", repr=False)
    timeout_seconds: float = 30.0
    # Off only for a relay with a self-signed certificate: ?verify=0.
    verify_certificate: bool = True


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str = field(repr=False)
    environment: Environment
    timezone: str
    currency: str
    base_url: str
    var_dir: Path
    # The From of every e-mail; its domain also ends each Message-ID.
    mail_from: str = DEFAULT_MAIL_FROM
    # How online payments are taken: "offline" (the demo checkout page and the desk
    # ledger, no money moves through the app) or "stripe".
    payments: PaymentsMode = PaymentsMode.OFFLINE
    stripe_secret_key: str = field(default="", repr=False)
    stripe_webhook_secret: str = field(default="", repr=False)
    # Tests point the Stripe SDK at a stand-in server; empty means Stripe itself.
    stripe_api_base: str = ""
    # CLINIC_SMTP_URL: real SMTP in every environment when set; else the console mailer.
    smtp: SmtpServer | None = None
    # CLINIC_STAFF_DIGEST_AT: the local time (the clinic location's zone) of the front
    # desk's daily digest (clinic/notifications/staff_digest.py).
    staff_digest_at: time = time(7, 0)
    # CLINIC_CARE_WINDOW_DAYS_BACK / _AHEAD: when a visit's own therapist reads the
    # client's health details (clinic/access/window.py).
    care_window: CareWindow = field(default_factory=CareWindow)
    # CLINIC_BREAK_GLASS_MINUTES: how long a break-glass grant lasts (clinic/access/).
    break_glass_minutes: int = 60

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def uses_https(self) -> bool:
        return self.is_production or self.base_url.startswith("https://")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        var_dir = Path(env.get("CLINIC_VAR_DIR", str(DEFAULT_VAR_DIR)))
        environment = _environment(env.get("CLINIC_ENV", "development"))
        payments, stripe_secret_key, stripe_webhook_secret, stripe_api_base = _payments(env)
        return cls(
            database_url=normalise_database_url(
                env.get("CLINIC_DATABASE_URL") or f"sqlite:///{var_dir / 'clinic.db'}",
                variable="CLINIC_DATABASE_URL",
            ),
            secret_key=_secret_key(env.get("CLINIC_SECRET_KEY"), environment, var_dir),
            environment=environment,
            timezone=_timezone(env.get("CLINIC_TIMEZONE", "America/New_York")),
            currency=_currency(env.get("CLINIC_CURRENCY", "usd")),
            base_url=_base_url(env.get("CLINIC_BASE_URL", "http://127.0.0.1:8000")),
            var_dir=var_dir,
            mail_from=_mail_from(env.get("CLINIC_MAIL_FROM", DEFAULT_MAIL_FROM)),
            payments=payments,
            stripe_secret_key=stripe_secret_key,
            stripe_webhook_secret=stripe_webhook_secret,
            stripe_api_base=stripe_api_base,
            smtp=smtp_server(env.get("CLINIC_SMTP_URL", "")),
            staff_digest_at=_time_of_day(
                env.get("CLINIC_STAFF_DIGEST_AT", "07:00"), variable="CLINIC_STAFF_DIGEST_AT"
            ),
            care_window=CareWindow(
                days_back=_whole_number(
                    env.get("CLINIC_CARE_WINDOW_DAYS_BACK", str(DEFAULT_DAYS_BACK)),
                    variable="CLINIC_CARE_WINDOW_DAYS_BACK",
                    low=0,
                    high=MAX_DAYS,
                ),
                days_ahead=_whole_number(
                    env.get("CLINIC_CARE_WINDOW_DAYS_AHEAD", str(DEFAULT_DAYS_AHEAD)),
                    variable="CLINIC_CARE_WINDOW_DAYS_AHEAD",
                    low=0,
                    high=MAX_DAYS,
                ),
            ),
            break_glass_minutes=_whole_number(
                env.get("CLINIC_BREAK_GLASS_MINUTES", "60"),
                variable="CLINIC_BREAK_GLASS_MINUTES",
                low=5,
                high=24 * 60,
            ),
        )


def normalise_database_url(url: str, *, variable: str) -> str:
    """Map plain sqlite:/// and postgresql:// URLs to the async drivers we ship."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise SettingsError(f"{variable} must be a database URL such as sqlite:///var/clinic.db")
    scheme = scheme.lower()
    if scheme in {"sqlite", "sqlite+aiosqlite"}:
        if rest in {"/", "/:memory:", ""}:
            raise SettingsError(
                f"{variable}: an in-memory SQLite database is not supported; name a file"
            )
        return f"sqlite+aiosqlite://{rest}"
    if scheme in {"postgres", "postgresql", "postgresql+asyncpg"}:
        return f"postgresql+asyncpg://{rest}"
    raise SettingsError(f"{variable} must start with sqlite:/// or postgresql:// (got {scheme}://)")


def _environment(value: str) -> Environment:
    try:
        return Environment(value.strip().lower())
    except ValueError:
        choices = ", ".join(e.value for e in Environment)
        raise SettingsError(f"CLINIC_ENV must be one of {choices} (got {value!r})") from None


def _secret_key(value: str | None, environment: Environment, var_dir: Path) -> str:
    if value:
        if len(value) < 32:
            raise SettingsError("CLINIC_SECRET_KEY must be at least 32 characters long")
        return value
    if environment is Environment.PRODUCTION:
        raise SettingsError("CLINIC_SECRET_KEY is required when CLINIC_ENV=production")
    # Development and tests keep a generated key beside the database so that
    # signed cookies survive a restart.
    key_file = var_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    return key


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"CLINIC_TIMEZONE must be an IANA time zone such as America/New_York (got {value!r})"
        ) from None
    return value


def _time_of_day(value: str, *, variable: str) -> time:
    """ "07:00" or "7:30": hours 0 to 23 and minutes, 24-hour clock."""
    hours, colon, minutes = value.strip().partition(":")
    if colon and 1 <= len(hours) <= 2 and len(minutes) == 2 and (hours + minutes).isascii():
        try:
            # int() refuses what is not a number; time() refuses 24:00 and 7:60.
            return time(int(hours), int(minutes))
        except ValueError:
            pass
    raise SettingsError(f"{variable} must be a 24-hour time such as 07:00 (got {value!r})")


def _whole_number(value: str, *, variable: str, low: int, high: int) -> int:
    text = value.strip()
    if text.isascii() and text.isdigit() and low <= int(text) <= high:
        return int(text)
    raise SettingsError(f"{variable} must be a whole number from {low} to {high} (got {value!r})")


def _currency(value: str) -> str:
    code = value.strip().lower()
    if len(code) != 3 or not code.isalpha():
        raise SettingsError(
            f"CLINIC_CURRENCY must be a three-letter ISO 4217 code such as usd (got {value!r})"
        )
    return code


def _base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise SettingsError(
            f"CLINIC_BASE_URL must be an http:// or https:// address (got {value!r})"
        )
    return value.rstrip("/")


def _payments(env: Mapping[str, str]) -> tuple[PaymentsMode, str, str, str]:
    """CLINIC_PAYMENTS and Stripe's own variable names (STRIPE_*, as Stripe documents
    them). Stripe without its keys stops start-up; an unreachable STRIPE_API_BASE does
    not, since Stripe is called only when money moves."""
    value = env.get("CLINIC_PAYMENTS", "offline").strip().lower()
    try:
        mode = PaymentsMode(value)
    except ValueError:
        raise SettingsError(f"CLINIC_PAYMENTS must be offline or stripe (got {value!r})") from None
    secret_key = env.get("STRIPE_SECRET_KEY", "").strip()
    webhook_secret = env.get("STRIPE_WEBHOOK_SECRET", "").strip()
    api_base = env.get("STRIPE_API_BASE", "").strip().rstrip("/")
    if mode is PaymentsMode.STRIPE:
        if not secret_key.startswith(("sk_", "rk_")):
            raise SettingsError(
                "CLINIC_PAYMENTS=stripe needs STRIPE_SECRET_KEY, the secret key (sk_live_... "
                "or sk_test_...) from the Stripe Dashboard's API keys page"
            )
        if not webhook_secret.startswith("whsec_"):
            raise SettingsError(
                "CLINIC_PAYMENTS=stripe needs STRIPE_WEBHOOK_SECRET, the signing secret "
                "(whsec_...) of the webhook endpoint you added in the Stripe Dashboard"
            )
    if api_base:
        parts = urlsplit(api_base)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise SettingsError(
                f"STRIPE_API_BASE must be an http:// or https:// address (got {api_base!r})"
            )
    return mode, secret_key, webhook_secret, api_base


def smtp_server(url: str) -> SmtpServer | None:
    """CLINIC_SMTP_URL: smtp://[user:password@]host[:port] (STARTTLS when offered),
    smtp+starttls:// (STARTTLS required) or smtps:// (TLS from the start), with
    ?timeout=SECONDS and ?verify=0; user and password percent-encoded. Empty: no SMTP."""
    url = url.strip()
    if not url:
        return None
    problem = "CLINIC_SMTP_URL must look like smtps://user:password@mail.example.com:465"
    try:
        parts = urlsplit(url)
        port_given = parts.port
    except ValueError:
        raise SettingsError(f"{problem} (its port is not a number)") from None
    if parts.scheme not in SMTP_SCHEMES:
        schemes = ", ".join(f"{scheme}://" for scheme in SMTP_SCHEMES)
        raise SettingsError(f"{problem}: it must start with one of {schemes}")
    if not parts.hostname:
        raise SettingsError(f"{problem} (it names no server)")
    security, default_port = SMTP_SCHEMES[parts.scheme]
    options = dict(parse_qsl(parts.query))
    unknown = set(options) - {"timeout", "verify"}
    if unknown:
        raise SettingsError(f"CLINIC_SMTP_URL: unknown option {', '.join(sorted(unknown))}")
    try:
        timeout = float(options.get("timeout", "30"))
    except ValueError:
        timeout = 0.0
    if not 1 <= timeout <= 300:
        raise SettingsError("CLINIC_SMTP_URL: timeout must be a number of seconds, 1 to 300")
    if options.get("verify", "1") not in {"0", "1"}:
        raise SettingsError("CLINIC_SMTP_URL: verify must be 1 or 0")
    return SmtpServer(
        host=parts.hostname,
        port=port_given or default_port,
        security=security,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        timeout_seconds=timeout,
        verify_certificate=options.get("verify", "1") == "1",
    )


def _mail_from(value: str) -> str:
    value = value.strip()
    _name, address = parseaddr(value)
    local, at, domain = address.rpartition("@")
    if (
        not at
        or not local
        or not domain
        or any(c.isspace() for c in address)
        or "\r" in value
        or "\n" in value
    ):
        raise SettingsError(
            "CLINIC_MAIL_FROM must be an e-mail address such as"
            f" 'Clinic Name <bookings@example.com>' (got {value!r})"
        )
    return value
