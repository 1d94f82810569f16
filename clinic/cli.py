"""The `clinic` command: serve, migrate, seed-demo, create-user, check, backup, restore, audit,
worker."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from clinic.settings import Settings, SettingsError

if TYPE_CHECKING:
    from clinic.db import Database

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as error:
        raise click.ClickException(f"Configuration error: {error}") from None


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def _on_database(use: Callable[[Database], Awaitable[T]]) -> T:
    """Run `use(db)` against CLINIC_DATABASE_URL in its own event loop (one connection)."""
    from clinic.db import Database

    settings = _settings()

    async def go() -> T:
        db = Database.connect(settings.database_url, pool_size=1)
        try:
            return await use(db)
        finally:
            await db.dispose()

    return _run(go())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Run and look after the clinic booking app."""


@main.command()
@click.option("--host", envvar="HOST", default="127.0.0.1", show_default=True)
@click.option(
    "--port", envvar="PORT", default=8000, type=click.IntRange(1, 65535), show_default=True
)
@click.option(
    "--workers",
    default=1,
    type=click.IntRange(1, 64),
    show_default=True,
    help="Number of app processes; they share state through the database.",
)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the web app with uvicorn."""
    from clinic import serving

    settings = _settings()
    click.echo(f"Serving the clinic on http://{host}:{port} ({settings.environment.value})")
    serving.serve(host, port, workers)


@main.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def migrate(revision: str) -> None:
    """Bring the database schema up to date (alembic upgrade)."""
    from clinic import migrations

    settings = _settings()
    if settings.database_url.startswith("sqlite"):
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    migrations.upgrade(settings.database_url, revision)
    click.echo(f"Database schema is at {revision}.")


@main.command("seed-demo")
@click.option(
    "--reset", is_flag=True, help="Rebuild the schema from nothing (deleting ALL data), then seed."
)
def seed_demo(reset: bool) -> None:
    """Fill an empty database with the demo clinic (does nothing when data exists)."""
    from clinic import demo, migrations
    from clinic.db import Database

    settings = _settings()
    if reset:
        if settings.is_production:
            raise click.ClickException("seed-demo --reset is refused when CLINIC_ENV=production")
        migrations.downgrade(settings.database_url, "base")
        migrations.upgrade(settings.database_url)

    async def go() -> tuple[demo.DemoSummary, int | None]:
        db = Database.connect(settings.database_url)
        try:
            summary = await demo.seed_demo(
                db, timezone=settings.timezone, currency=settings.currency
            )
            return summary, await demo.demo_version(db)
        finally:
            await db.dispose()

    summary, version = _run(go())
    if summary.seeded:
        click.echo(
            f"Seeded the demo clinic: {summary.therapists} therapists, {summary.services} "
            f"services, {summary.clients} clients, {summary.appointments} appointments."
        )
    else:
        click.echo("The database already has data; left it as it is.")
        if version is not None and version < demo.DEMO_VERSION:
            click.echo(
                "This demo data is from an older version of the app. To start afresh run:\n"
                "    .venv/bin/clinic seed-demo --reset"
            )
    click.echo("\nDemo sign-ins:")
    for login in summary.logins:
        click.echo(f"  {login.role:<28} {login.email:<32} password: {login.password}")


@main.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True, help="The person's full name.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(["admin", "frontdesk", "therapist", "clinical_lead"]),
    help="Repeat for several roles.",
)
def create_user(email: str, name: str, roles: tuple[str, ...]) -> None:
    """Create a staff account. The password is read from a prompt or standard input."""
    from clinic.auth.models import Role
    from clinic.auth.service import create_user as create
    from clinic.db import Database
    from clinic.errors import ClinicError, InvalidInput

    settings = _settings()
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")

    async def go() -> int:
        db = Database.connect(settings.database_url)
        try:
            user = await create(
                db,
                email=email,
                name=name,
                password=password,
                roles=[Role(r) for r in roles],
                actor_label="cli",
            )
            return user.id
        finally:
            await db.dispose()

    try:
        user_id = _run(go())
    except InvalidInput as error:
        lines = [f"{field}: {message}" for field, message in error.field_errors.items()]
        raise click.ClickException("\n".join(lines) or error.message) from None
    except ClinicError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Created user {user_id} <{email.strip().lower()}> with roles {', '.join(roles)}.")


@main.command("reset-second-factor")
@click.option("--email", required=True, help="The staff member's sign-in email address.")
def reset_second_factor(email: str) -> None:
    """Clear a staff member's two-step sign-in (lost phone and recovery codes)."""
    from clinic.auth.account import reset_second_factor as reset
    from clinic.errors import ClinicError

    try:
        had_one = _on_database(lambda db: reset(db, email, actor_label="cli"))
    except ClinicError as error:
        raise click.ClickException(error.message) from None
    if had_one:
        click.echo(f"Cleared two-step sign-in for {email.strip().lower()}: they sign in with")
        click.echo("their password and, if their role requires it, set it up again.")
    else:
        click.echo(f"{email.strip().lower()} had no two-step sign-in; nothing else changed.")


@main.command()
def check() -> None:
    """Report configuration problems; exits non-zero when there are any."""
    from clinic.checks import run_checks

    try:
        settings = Settings.from_env()
    except SettingsError as error:
        click.echo(f"FAIL configuration: {error}")
        sys.exit(1)
    results = _run(run_checks(settings))
    for result in results:
        click.echo(f"{'ok  ' if result.ok else 'FAIL'} {result.name}: {result.message}")
    if not all(r.ok for r in results):
        sys.exit(1)


@main.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace PATH if it already exists.")
def backup_command(path: Path, force: bool) -> None:
    """Copy the whole database to the file PATH while the app keeps running.

    Everything the clinic keeps is in its database, the clearance documents (physicians'
    letters) included, so this one file is a complete backup. SQLite: a SQLite file made
    with the online backup API. PostgreSQL: a pg_dump archive (custom format); pg_dump and
    pg_restore must be on PATH, no older than the server. The file holds health
    information: encrypt it and keep it off the app's machine (SECURITY.md). Audited.
    """
    from sqlalchemy.exc import DBAPIError

    from clinic import backup as backups

    settings = _settings()
    try:
        made = _run(backups.back_up(settings.database_url, path, force=force))
    except backups.BackupError as error:
        raise click.ClickException(error.message) from None
    except DBAPIError as error:
        raise click.ClickException(f"Could not read the database: {error.orig}") from None
    except OSError as error:
        raise click.ClickException(f"Could not write the backup: {error}") from None
    click.echo(
        f"Backed up {backups.describe(settings.database_url)} to {made.path}\n"
        f"  {made.size} bytes, SHA-256 {made.sha256}, schema revision {made.revision}."
    )


@main.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Restore without asking for confirmation.")
def restore_command(path: Path, yes: bool) -> None:
    """Replace the whole database with the backup in PATH (made by `clinic backup`).

    Every change made since the backup is lost, the audit trail's too; the restore itself
    is added to the restored trail. PATH must be a backup of the configured kind of
    database (SQLite or PostgreSQL) at a schema revision this version knows; an older one
    needs `clinic migrate` afterwards. The app may keep running (the database changes in
    one step), but restart it afterwards so that nothing it remembered survives.
    """
    from sqlalchemy.exc import DBAPIError

    from clinic import backup as backups

    settings = _settings()
    target = backups.describe(settings.database_url)
    try:
        checked = backups.inspect_file(settings.database_url, path)
        if not yes:
            click.confirm(
                f"Replace everything in {target} with the backup {checked.path}"
                f" (schema revision {checked.revision})? Every change since it was made"
                " will be lost",
                abort=True,
            )
        report = _run(backups.restore(settings.database_url, checked))
    except backups.BackupError as error:
        raise click.ClickException(error.message) from None
    except DBAPIError as error:
        raise click.ClickException(f"Could not reach the database: {error.orig}") from None
    click.echo(f"Restored {target} from {checked.path} (SHA-256 {checked.sha256}).")
    if checked.schema is backups.SchemaStatus.OLDER:
        click.echo(
            f"The backup's schema (revision {checked.revision}) is older than this version"
            " of the app: run `clinic migrate` before starting the app."
        )
    if report.chain is None:
        click.echo("The restore could not be added to this old schema's audit trail.")
    elif not report.chain.ok:
        click.echo(f"Audit trail BROKEN after the restore: {report.chain.problem}")
        sys.exit(1)
    else:
        click.echo(f"Audit trail verified: {report.chain.sealed} entries sealed.")


@main.group()
def audit() -> None:
    """Seal and verify the hash-chained audit trail."""


@audit.command("verify")
@click.option("--no-seal", is_flag=True, help="Only verify; do not seal waiting entries first.")
def audit_verify(no_seal: bool) -> None:
    """Check the audit hash chain; exits 1 and names the first break when there is one."""
    from sqlalchemy.exc import DBAPIError

    from clinic import audit as trail
    from clinic.db import Database

    settings = _settings()

    async def go() -> trail.ChainReport:
        db = Database.connect(settings.database_url)
        try:
            if not no_seal:
                await trail.seal_all(db)
            return await trail.verify_chain(db)
        finally:
            await db.dispose()

    try:
        report = _run(go())
    except DBAPIError as error:
        raise click.ClickException(f"Could not read the audit trail: {error.orig}") from None
    if not report.ok:
        click.echo(f"Audit trail BROKEN: {report.problem}")
        click.echo(f"{report.sealed} seals checked before the break.")
        sys.exit(1)
    click.echo(f"Audit trail verified: {report.sealed} entries sealed, {report.unsealed} waiting.")


@audit.command("seal")
def audit_seal() -> None:
    """Seal every audit entry that is waiting (the app also does this periodically)."""
    from sqlalchemy.exc import DBAPIError

    from clinic import audit as trail
    from clinic.db import Database

    settings = _settings()

    async def go() -> int:
        db = Database.connect(settings.database_url)
        try:
            return await trail.seal_all(db)
        finally:
            await db.dispose()

    try:
        sealed = _run(go())
    except DBAPIError as error:
        raise click.ClickException(f"Could not seal the audit trail: {error.orig}") from None
    click.echo(f"Sealed {sealed} audit {'entry' if sealed == 1 else 'entries'}.")


@main.command()
@click.option("--once", is_flag=True, help="Run one pass, print how many messages it handled.")
@click.option(
    "--name", default=None, help="This worker's name in leases (default: host, pid, random)."
)
def worker(once: bool, name: str | None) -> None:
    """Deliver outbox messages and run periodic jobs (`clinic serve` also does this)."""
    import signal

    from sqlalchemy.exc import DBAPIError

    from clinic.db import Database
    from clinic.logging import configure_logging
    from clinic.worker import build_worker

    settings = _settings()
    configure_logging(settings)

    async def go() -> int:
        db = Database.connect(settings.database_url)
        try:
            outbox = build_worker(db, settings, name=name)
            if once:
                await outbox.ensure_periodic()
                return await outbox.run_once()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            click.echo(f"Outbox worker {outbox.name} running; Ctrl-C stops it.")
            await outbox.run_forever(stop)
            return 0
        finally:
            await db.dispose()

    try:
        handled = _run(go())
    except DBAPIError as error:
        raise click.ClickException(f"Could not run the outbox worker: {error.orig}") from None
    if once:
        click.echo(f"Handled {handled} outbox {'message' if handled == 1 else 'messages'}.")


@main.group()
def policy() -> None:
    """Show or change the clinic's booking policies (admins also can at /admin/policies)."""


@policy.command("show")
def policy_show() -> None:
    """Print every booking policy with its current value."""
    from clinic.booking.policies import DESCRIPTIONS
    from clinic.booking.policy_store import load_policies

    async def go(db: Database) -> dict[str, object]:
        return (await load_policies(db)).as_dict()

    for name, value in _on_database(go).items():
        click.echo(f"{name:<32} {value!s:<10} {DESCRIPTIONS[name]}")


@policy.command("set")
@click.argument("name")
@click.argument("value")
def policy_set(name: str, value: str) -> None:
    """Set one booking policy, e.g. `clinic policy set hold_minutes 15`."""
    from clinic.booking.policies import PolicyError, parse_policy_value
    from clinic.booking.policy_store import set_policy

    async def go(db: Database) -> None:
        await set_policy(db, name, parse_policy_value(name, value), actor_label="cli")

    try:
        _on_database(go)
    except PolicyError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{name} is now {value}.")


@main.group()
def screening() -> None:
    """Show or change the clinic's screening settings: the values the oncology domain
    notes leave to the clinic (PRODUCT), with the product's defaults."""


@screening.command("show")
def screening_show() -> None:
    """Print every screening setting with its current value."""
    from dataclasses import asdict

    from clinic.intake.rules import DESCRIPTIONS
    from clinic.intake.rules_store import load_screening_rules

    async def go(db: Database) -> dict[str, object]:
        return asdict(await load_screening_rules(db))

    for name, value in _on_database(go).items():
        click.echo(f"{name:<38} {value!s:<10} {DESCRIPTIONS[name]}")


@screening.command("set")
@click.argument("name")
@click.argument("value")
def screening_set(name: str, value: str) -> None:
    """Set one screening setting, e.g. `clinic screening set hospital_model_requires_clearance
    true` (audited)."""
    from clinic.intake.rules import ScreeningSettingError, parse_screening_value
    from clinic.intake.rules_store import set_screening_rule

    async def go(db: Database) -> None:
        await set_screening_rule(db, name, parse_screening_value(name, value), actor_label="cli")

    try:
        _on_database(go)
    except ScreeningSettingError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{name} is now {value}.")


@main.group()
def payments() -> None:
    """Show or change the payment settings: what receipts say about the business and its
    tax, and each service's own online payment rule (also at /admin/policies and in each
    service's form)."""


@payments.command("receipt-show")
def payments_receipt_show() -> None:
    """Print the receipt settings."""
    from clinic.payments.settings_store import load_receipt_settings

    async def go(db: Database) -> dict[str, object]:
        return (await load_receipt_settings(db)).as_dict()

    for name, value in _on_database(go).items():
        click.echo(f"{name:<24} {value}")


@payments.command("receipt-set")
@click.argument("name")
@click.argument("value")
def payments_receipt_set(name: str, value: str) -> None:
    """Set one receipt setting, e.g. `clinic payments receipt-set tax_id "EIN 12-3456789"`."""
    from clinic.booking.policies import PolicyError
    from clinic.payments.pricing import parse_receipt_value
    from clinic.payments.settings_store import set_receipt_setting

    async def go(db: Database) -> None:
        await set_receipt_setting(db, name, parse_receipt_value(name, value), actor_label="cli")

    try:
        _on_database(go)
    except PolicyError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{name} is now {value}.")


@payments.command("service-rule")
@click.argument("service")
@click.argument("kind", type=click.Choice(["clinic", "none", "percent", "fixed", "full"]))
@click.argument("value", type=int, required=False)
def payments_service_rule(service: str, kind: str, value: int | None) -> None:
    """Set what a service takes online when booked: `clinic payments service-rule
    "Swedish massage, 90 min" percent 25` (fixed: minor units; clinic: follow the policy)."""
    from clinic.booking.policies import PolicyError
    from clinic.payments.settings_store import set_service_rule

    async def go(db: Database) -> None:
        await set_service_rule(db, service, kind, value, actor_label="cli")

    try:
        _on_database(go)
    except PolicyError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{service}: {kind}{'' if value is None else f' {value}'}.")
