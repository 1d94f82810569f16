"""Browser tests: Debian's Chromium (/usr/bin/chromium), headless with JavaScript on, driven
by Playwright's async API against the app served by `clinic serve` in a subprocess, with the
stand-in Stripe (tests/fakestripe) on another port.

The app is addressed as http://localhost:<port> and the stand-in as http://127.0.0.1:<port>:
two sites, as a clinic and Stripe's hosted checkout are, so the way out to the checkout
page and the way back cross sites as they do in production.

Without Chromium (or the playwright package) these tests skip, saying why; with
CLINIC_REQUIRE_BROWSER=1 (CI) that stops the run instead. Install Chromium with
`make browser-deps`. Playwright never downloads browsers of its own here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import sys
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from clinic.settings import PROJECT_ROOT
from tests.conftest import TEST_SECRET_KEY
from tests.fakestripe import SECRET_KEY, FakeStripe
from tests.servers import copy_sqlite, free_port, stop, wait_until_healthy

if TYPE_CHECKING:
    from playwright.async_api import Browser, ConsoleMessage, Page

CHROMIUM = Path(os.environ.get("CLINIC_CHROMIUM", "/usr/bin/chromium"))
REQUIRE_BROWSER = os.environ.get("CLINIC_REQUIRE_BROWSER") == "1"
# As this machine's notes say Chromium must be started here (Playwright gives each launch
# a new empty profile, its --user-data-dir, and adds --headless itself).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEZONE = "America/New_York"
CURRENCY = "usd"
# The demo service the tests book, and the online payment rule they give it themselves
# (whatever the demo's own choice): a 25% deposit.
SERVICE_NAME = "Swedish massage, 90 min"
DEPOSIT_PERCENT = 25
# Explicit waits: long enough for a slow CI machine, short enough to fail clearly.
ACTION_TIMEOUT_MS = 10_000
NAVIGATION_TIMEOUT_MS = 15_000
TAIL_LINES = 40


def _missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium is not installed at {CHROMIUM} (run `make browser-deps`)"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (run `make install-dev`)"
    return None


MISSING_BROWSER = _missing_browser()
if REQUIRE_BROWSER and MISSING_BROWSER is not None:
    raise pytest.UsageError(f"CLINIC_REQUIRE_BROWSER=1 but {MISSING_BROWSER}")


# --- The demo clinic's database --------------------------------------------------------


@dataclass(frozen=True)
class DemoDatabase:
    path: Path
    service_id: int
    price_minor: int


def _clinic_command(*args: str) -> list[str]:
    """`clinic ARGS` run by this interpreter (the console script's own entry point)."""
    return [
        sys.executable,
        "-c",
        "import sys; from clinic.cli import main; sys.exit(main())",
        *args,
    ]


def _clinic_env(database_path: Path, var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLINIC_", "STRIPE_"))}
    env.update(
        CLINIC_DATABASE_URL=f"sqlite:///{database_path}",
        CLINIC_ENV="test",
        CLINIC_SECRET_KEY=TEST_SECRET_KEY,
        CLINIC_VAR_DIR=str(var_dir),
        CLINIC_TIMEZONE=TIMEZONE,
        CLINIC_CURRENCY=CURRENCY,
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


async def _run_clinic(env: dict[str, str], *args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *_clinic_command(*args),
        cwd=PROJECT_ROOT,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(
            f"`clinic {' '.join(args)}` exited with {process.returncode}:\n"
            + output.decode(errors="replace")
        )


def _set_deposit_rule(path: Path) -> tuple[int, int]:
    """Give the booked service a 25% deposit; returns its id and price."""
    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        rows = connection.execute(
            "SELECT id, price_minor FROM service WHERE name = ?", (SERVICE_NAME,)
        ).fetchall()
        assert len(rows) == 1, f"the demo has {len(rows)} services named {SERVICE_NAME!r}"
        service_id, price_minor = rows[0]
        connection.execute(
            "UPDATE service SET deposit_kind = 'percent', deposit_value = ? WHERE id = ?",
            (DEPOSIT_PERCENT, service_id),
        )
    return int(service_id), int(price_minor)


@pytest.fixture(scope="session")
async def demo_database(tmp_path_factory: pytest.TempPathFactory) -> DemoDatabase:
    """The demo clinic, built once per run as `make run` builds it (`clinic migrate`,
    `clinic seed-demo`), with the tests' own deposit rule; each test serves a copy."""
    if MISSING_BROWSER is not None:
        pytest.skip(MISSING_BROWSER)
    directory = tmp_path_factory.mktemp("browser-demo")
    path = directory / "clinic.db"
    env = _clinic_env(path, directory / "var")
    await _run_clinic(env, "migrate")
    await _run_clinic(env, "seed-demo")
    service_id, price_minor = _set_deposit_rule(path)
    return DemoDatabase(path, service_id, price_minor)


# --- The stand-in Stripe and the app ----------------------------------------------------


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    """The stand-in Stripe over HTTP on 127.0.0.1 and a port of its own."""
    with FakeStripe().serve() as fake:
        yield fake


@dataclass
class ServedSite:
    """The app under `clinic serve` over its own copy of the demo clinic."""

    base_url: str
    database_path: Path
    log_path: Path

    @property
    def database_url(self) -> str:
        """The async URL, for clinic.db.Database.connect."""
        return f"sqlite+aiosqlite:///{self.database_path}"

    def log_tail(self, lines: int = TAIL_LINES) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(line[:1500] for line in text.splitlines()[-lines:])


@dataclass
class ClinicSite(ServedSite):
    """The app under `clinic serve`, taking payments through the stand-in."""

    fake: FakeStripe
    service_id: int
    price_minor: int
    deposit_minor: int = field(init=False)

    def __post_init__(self) -> None:
        # What clinic/payments/pricing.py asks for a percent rule: rounded up.
        self.deposit_minor = -(-self.price_minor * DEPOSIT_PERCENT // 100)


@contextlib.asynccontextmanager
async def _serving(site: ServedSite, port: int, env: dict[str, str]) -> AsyncIterator[str]:
    """`clinic serve` on 127.0.0.1:`port` with `env`, logging to site.log_path; yields
    the server's direct address once /healthz answers, and stops it afterwards."""
    with site.log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *_clinic_command("serve", "--host", "127.0.0.1", "--port", str(port)),
            cwd=PROJECT_ROOT,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        direct = f"http://127.0.0.1:{port}"
        try:
            await wait_until_healthy(direct, process)
        except RuntimeError as error:
            raise RuntimeError(f"{error}; the server's log ends with:\n{site.log_tail()}") from None
        yield direct
    finally:
        await stop(process)


@pytest.fixture
async def clinic_site(
    demo_database: DemoDatabase, fake_stripe: FakeStripe, tmp_path: Path
) -> AsyncIterator[ClinicSite]:
    """`clinic serve` over a fresh copy of the demo clinic, with CLINIC_PAYMENTS=stripe
    pointed at the stand-in, which POSTs its signed webhooks back to the app."""
    database_path = tmp_path / "clinic.db"
    await asyncio.to_thread(copy_sqlite, demo_database.path, database_path)
    port = free_port()
    site = ClinicSite(
        base_url=f"http://localhost:{port}",
        database_path=database_path,
        log_path=tmp_path / "server.log",
        fake=fake_stripe,
        service_id=demo_database.service_id,
        price_minor=demo_database.price_minor,
    )
    env = _clinic_env(
        database_path,
        tmp_path / "var",
        CLINIC_BASE_URL=site.base_url,
        CLINIC_PAYMENTS="stripe",
        STRIPE_SECRET_KEY=SECRET_KEY,
        STRIPE_WEBHOOK_SECRET=fake_stripe.webhook_secret,
        STRIPE_API_BASE=fake_stripe.base_url,
    )
    async with _serving(site, port, env) as direct:
        fake_stripe.webhook_url = f"{direct}/payments/stripe/webhook"
        yield site


@pytest.fixture
async def demo_site(demo_database: DemoDatabase, tmp_path: Path) -> AsyncIterator[ServedSite]:
    """`clinic serve` over a fresh copy of the demo clinic as `make run` serves it: payments
    offline (CLINIC_PAYMENTS unset), so online payments go through the demo checkout."""
    database_path = tmp_path / "clinic.db"
    await asyncio.to_thread(copy_sqlite, demo_database.path, database_path)
    port = free_port()
    site = ServedSite(
        base_url=f"http://localhost:{port}",
        database_path=database_path,
        log_path=tmp_path / "server.log",
    )
    env = _clinic_env(database_path, tmp_path / "var", CLINIC_BASE_URL=site.base_url)
    async with _serving(site, port, env):
        yield site


# --- Chromium ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for the run; each test gets its own context (`page`)."""
    if MISSING_BROWSER is not None:
        pytest.skip(MISSING_BROWSER)
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=ACTION_TIMEOUT_MS)

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class PageLog:
    """What the page said on the console (CSP refusals appear here) and its errors."""

    lines: list[str] = field(default_factory=list)
    # Substrings of console lines a test expects (a 422 page it asked for).
    allowed: list[str] = field(default_factory=list)

    def allow(self, substring: str) -> None:
        self.allowed.append(substring)

    def unexpected(self) -> list[str]:
        return [line for line in self.lines if not any(a in line for a in self.allowed)]

    def console(self, message: ConsoleMessage) -> None:
        # Chromium asks every site for /favicon.ico; neither the clinic nor the stand-in
        # has one, and that 404 is not what these tests are about.
        if message.location.get("url", "").endswith("/favicon.ico"):
            return
        if message.type in ("error", "warning"):
            self.lines.append(f"console {message.type}: {message.text} ({message.location})")

    def page_error(self, error: Exception) -> None:
        self.lines.append(f"page error: {error}")


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


FAILED = pytest.StashKey[bool]()


@pytest.fixture
async def page(
    browser: Browser, page_log: PageLog, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Page]:
    """A fresh browser context (no cookies) and a page in it, JavaScript on. A failing
    test leaves a screenshot of the page beside its other files (failure.png)."""
    context = await browser.new_context(java_script_enabled=True, locale="en-US")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    try:
        opened = await context.new_page()
        opened.on("console", page_log.console)
        opened.on("pageerror", page_log.page_error)
        yield opened
        if request.node.stash.get(FAILED, False):
            with contextlib.suppress(Exception):
                await opened.screenshot(path=tmp_path / "failure.png", full_page=True)
    finally:
        await context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing browser test shows where the page was, what it logged, the stand-in's
    webhook deliveries and the end of the server's log."""
    report = yield
    if report.failed and report.when == "call":
        item.stash[FAILED] = True
        funcargs: dict[str, Any] = getattr(item, "funcargs", {})
        log = funcargs.get("page_log")
        page = funcargs.get("page")
        if isinstance(log, PageLog):
            where = f"at {page.url}\n" if page is not None else ""
            report.sections.append(
                ("browser console", where + ("\n".join(log.lines) or "(nothing logged)"))
            )
        tmp_path = funcargs.get("tmp_path")
        if page is not None and isinstance(tmp_path, Path):
            report.sections.append(("screenshot", str(tmp_path / "failure.png")))
        site = funcargs.get("clinic_site") or funcargs.get("demo_site")
        if isinstance(site, ClinicSite):
            deliveries = "\n".join(map(repr, site.fake.deliveries)) or "(none)"
            report.sections.append(("stand-in Stripe webhook deliveries", deliveries))
        if isinstance(site, ServedSite):
            report.sections.append((f"server log (last {TAIL_LINES} lines)", site.log_tail()))
    return report


# --- Accessibility and signing in -----------------------------------------------------

# The impacts that fail a page (axe's scale: minor, moderate, serious, critical).
FAILING_IMPACTS = ("serious", "critical")


def axe_findings(page_url: str, response: dict[str, Any]) -> list[str]:
    """One line per serious or critical violation axe reported, per element:
    `rule (impact) at URL: target: message`."""
    lines = []
    for violation in response.get("violations", []):
        if violation.get("impact") not in FAILING_IMPACTS:
            continue
        for node in violation.get("nodes", []):
            checks = node.get("any", []) + node.get("all", []) + node.get("none", [])
            message = "; ".join(c["message"] for c in checks if c.get("message"))
            target = ", ".join(str(t) for t in node.get("target", []))
            lines.append(
                f"{violation['id']} ({violation['impact']}) at {page_url}: {target}: "
                f"{message or violation.get('help', '')}"
            )
    return lines


async def assert_accessible(page: Page) -> None:
    """axe-core (bundled with axe-playwright-python: nothing is fetched) finds no serious
    or critical violation on the page as it is now; else fails listing each one."""
    # No type hints in the package.
    from axe_playwright_python.async_playwright import Axe  # type: ignore[import-untyped]

    results = await Axe().run(page)
    findings = axe_findings(page.url, results.response)
    assert not findings, "axe-core found serious or critical violations:\n" + "\n".join(findings)


STAFF_PASSWORDS = {
    "frontdesk@willowoak.test": "demo-frontdesk-2026",
    "jordan.kim@willowoak.test": "demo-therapist-2026",
    "admin@willowoak.test": "demo-admin-2026",
}


async def sign_in(page: Page, site: ServedSite, email: str) -> None:
    """Sign a demo member of staff in through /login (axe checks the form first)."""
    from playwright.async_api import expect

    await page.goto(f"{site.base_url}/login")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Staff sign in")
    await assert_accessible(page)
    await page.get_by_label("Email address").fill(email)
    await page.get_by_label("Password").fill(STAFF_PASSWORDS[email])
    async with page.expect_navigation():
        await page.get_by_role("button", name="Sign in", exact=True).click()
    assert not page.url.startswith(f"{site.base_url}/login"), f"sign-in failed: {page.url}"
