"""Screenshots of the running demo for the README: the front desk's day, Jordan Kim's day
sheet and the start of online booking on a phone.

Start the demo first (`make run`), then:

    .venv/bin/python scripts/screenshots.py [--url http://127.0.0.1:8000] [--out docs/screenshots]

It drives Debian's Chromium (/usr/bin/chromium, or CLINIC_CHROMIUM) headless through the
playwright package, as the browser tests do (tests/browser/conftest.py), signing in with the
demo's staff logins (README, "The demo"). It writes desk-day.png, therapist-day.png and
booking.png into the output folder.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_OUT = PROJECT_ROOT / "docs" / "screenshots"
CHROMIUM = Path(os.environ.get("CLINIC_CHROMIUM", "/usr/bin/chromium"))
# The launch flags of tests/browser/conftest.py (CHROMIUM_ARGS), copied rather than
# imported: that module needs pytest and the test helpers.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000
# The demo's own staff logins (README, "The demo"): demo data only.
DESK = ("frontdesk@willowoak.test", "demo-frontdesk-2026")
JORDAN = ("jordan.kim@willowoak.test", "demo-therapist-2026")


@dataclass(frozen=True)
class Shot:
    file: str
    path: str
    heading: str  # what the page's h1 says once it is the intended page (not sign-in)
    width: int
    height: int
    login: tuple[str, str] | None = None
    mobile: bool = False


SHOTS = (
    Shot("desk-day.png", "/desk/", "Today, ", 1440, 900, login=DESK),
    Shot("therapist-day.png", "/therapist/", "My day, ", 1280, 900, login=JORDAN),
    Shot("booking.png", "/book", "Choose a service", 390, 844, mobile=True),
)


class ScreenshotError(Exception):
    """Something the person running the script can fix; the message says what."""


def check_site(url: str) -> None:
    """The demo answers /healthz with 200, or ScreenshotError saying how to start it."""
    import httpx

    try:
        status = httpx.get(f"{url}/healthz", timeout=5.0, trust_env=False).status_code
    except (httpx.HTTPError, ValueError) as error:
        problem = f"did not answer ({error or type(error).__name__})"
    else:
        if status == 200:
            return
        problem = f"answered {status}"
    raise ScreenshotError(
        f"The demo at {url} {problem} on /healthz. Start it with `make run` in another "
        "terminal (or pass --url), then run this again."
    )


def check_chromium() -> None:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        raise ScreenshotError(
            f"Chromium is not installed at {CHROMIUM}: run `make browser-deps` "
            "(or set CLINIC_CHROMIUM to its path)."
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        raise ScreenshotError(
            "The playwright package is not installed: run `make install-dev`."
        ) from None


def sign_in(page: Page, url: str, login: tuple[str, str]) -> None:
    email, password = login
    page.goto(f"{url}/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in", exact=True).click()
    if page.url.startswith(f"{url}/login"):
        raise ScreenshotError(f"Signing in as {email} failed: is this the demo clinic?")


def take(browser: Browser, url: str, shot: Shot, out: Path) -> Path:
    """One screenshot in a fresh browser context (its own cookies), full page."""
    context = browser.new_context(
        viewport={"width": shot.width, "height": shot.height},
        device_scale_factor=1,
        is_mobile=shot.mobile,
        has_touch=shot.mobile,
        locale="en-US",
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        if shot.login is not None:
            sign_in(page, url, shot.login)
        response = page.goto(f"{url}{shot.path}", wait_until="networkidle")
        if response is None or response.status != 200:
            status = "no response" if response is None else response.status
            raise ScreenshotError(f"{url}{shot.path} answered {status}")
        heading = page.get_by_role("heading", level=1).first.inner_text().strip()
        if shot.heading not in heading:
            raise ScreenshotError(
                f"{url}{shot.path} shows {heading!r}, not the page expected ({shot.heading!r})"
            )
        target = out / shot.file
        page.screenshot(path=target, full_page=True, type="png", animations="disabled")
        return target
    finally:
        context.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the running demo ({DEFAULT_URL})")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="the folder to write the images into"
    )
    args = parser.parse_args(argv)
    url = args.url.rstrip("/")
    try:
        check_chromium()
        check_site(url)
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright

        args.out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                for shot in SHOTS:
                    try:
                        target = take(browser, url, shot, args.out)
                    except PlaywrightError as error:
                        raise ScreenshotError(f"{url}{shot.path}: {error}") from None
                    size = target.stat().st_size
                    print(f"{target} ({shot.width}x{shot.height} viewport, {size // 1024} KB)")
            finally:
                browser.close()
    except ScreenshotError as error:
        print(f"screenshots: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
