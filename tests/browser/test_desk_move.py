"""The front desk moves an appointment in headless Chromium: from the visit's panel to the
Move page, a free time chosen with the keyboard, the panel again with what happened, and
the card at its new time on the day page; the Cancel page shows the money first and asks
for a reason. axe-core on every page, the error states included.

The demo is built around the real now; the test takes a booked visit two or more days
ahead, so online booking's notice and the check-in window play no part."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.browser.conftest import (
    MISSING_BROWSER,
    TIMEZONE,
    PageLog,
    ServedSite,
    assert_accessible,
    sign_in,
)

if MISSING_BROWSER is not None:
    pytest.skip(MISSING_BROWSER, allow_module_level=True)

from playwright.async_api import Page, expect

DESK = "frontdesk@willowoak.test"
ZONE = ZoneInfo(TIMEZONE)
MICROS = 1_000_000
# Days the Move page may step forward looking for a free time.
DAYS_TO_TRY = 10


def awaiting_reply(path: Path) -> int:
    """A visit waiting for a clearance whose request has gone out; its id."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        row = connection.execute(
            "SELECT a.id FROM appointment a JOIN clearance c ON c.client_id = a.client_id"
            " WHERE a.status = 'pending_clearance' AND c.status = 'requested'"
            " ORDER BY a.starts_at LIMIT 1"
        ).fetchone()
    assert row is not None, "the demo has no visit waiting for a requested clearance"
    return int(row[0])


def booked_visit(path: Path) -> int:
    """A booked (confirmed) visit two or more days ahead; its id."""
    soon = datetime.now(UTC) + timedelta(days=2)
    with contextlib.closing(sqlite3.connect(path)) as connection:
        row = connection.execute(
            "SELECT id FROM appointment WHERE status = 'confirmed' AND starts_at >= ?"
            " ORDER BY starts_at LIMIT 1",
            (int(soon.timestamp() * MICROS),),
        ).fetchone()
    assert row is not None, "the demo has no booked visit two days ahead"
    return int(row[0])


async def test_the_desk_moves_an_appointment(
    page: Page, demo_site: ServedSite, page_log: PageLog
) -> None:
    visit = booked_visit(demo_site.database_path)
    panel_url = f"{demo_site.base_url}/desk/appointments/{visit}"
    await sign_in(page, demo_site, DESK)

    await page.goto(panel_url)
    heading = page.locator("#visit-heading")
    await expect(heading).to_be_visible()
    await assert_accessible(page)
    name = (await heading.inner_text()).rsplit(",", 1)[0].strip()
    await page.get_by_role("link", name=f"Move to another time for {name}", exact=True).click()
    await page.wait_for_url(re.compile(rf"/desk/appointments/{visit}/move"))
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Move {name}'s visit")
    await assert_accessible(page)

    # Step through the days until one has a free time.
    radios = page.locator('input[type="radio"][name="choice"]')
    for _ in range(DAYS_TO_TRY):
        if await radios.count() >= 2:
            break
        await page.get_by_role("link", name=re.compile(r"^Next day")).click()
        await page.wait_for_load_state()
    assert await radios.count() >= 2, f"no free times in {DAYS_TO_TRY} days"

    # By keyboard: into the times, the first one, then the next with an arrow key.
    await radios.first.focus()
    await page.keyboard.press("Space")
    await expect(radios.first).to_be_checked()
    await page.keyboard.press("ArrowDown")
    chosen = page.locator('input[type="radio"][name="choice"]:checked')
    await expect(chosen).to_have_count(1)
    value = await chosen.get_attribute("value")
    assert value is not None
    assert value != await radios.first.get_attribute("value")
    label = await page.locator(f'label[for="{await chosen.get_attribute("id")}"]').inner_text()
    # "9:15am", without the therapist's name that only screen readers hear.
    time_text = re.split(r"\s+with\s+", label.strip())[0]
    start = datetime.fromisoformat(value.split("@", 1)[1])
    await page.get_by_role("button", name="Move the visit", exact=True).click()

    await page.wait_for_url(panel_url)
    flash = page.locator(".flash")
    await expect(flash).to_contain_text(f"Moved: {name} is now")
    await expect(flash).to_contain_text(f", {time_text} with ")
    await expect(page.locator("#visit-heading")).to_have_text(f"{name}, {time_text}")
    await assert_accessible(page)

    # The day page shows the card at its new time.
    day = start.astimezone(ZONE).date().isoformat()
    await page.goto(f"{demo_site.base_url}/desk/{day}")
    card = page.locator(f'a.desk-card-open[href$="/desk/appointments/{visit}"]')
    await expect(card).to_be_visible()
    await expect(card).to_contain_text(name)
    await expect(card).to_contain_text(time_text)
    await assert_accessible(page)

    # Cancel: the money first, a reason asked for.
    await page.goto(panel_url)
    await page.get_by_role("link", name=f"Cancel the visit for {name}", exact=True).click()
    await page.wait_for_url(f"{panel_url}/cancel")
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Cancel {name}'s visit?")
    await expect(page.get_by_role("heading", name="What happens to the money")).to_be_visible()
    await assert_accessible(page)
    page_log.allow("422")
    await page.get_by_role("button", name="Cancel the visit", exact=True).click()
    await expect(page).to_have_title(re.compile(r"^Error: "))
    await expect(page.locator(".error-summary")).to_contain_text("Enter why the visit is cancelled")
    await assert_accessible(page)
    assert page_log.unexpected() == []


async def test_the_desk_logs_a_clearance_chase_from_the_panel(
    page: Page, demo_site: ServedSite, page_log: PageLog
) -> None:
    visit = awaiting_reply(demo_site.database_path)
    panel_url = f"{demo_site.base_url}/desk/appointments/{visit}"
    await sign_in(page, demo_site, DESK)
    await page.goto(panel_url)
    await expect(page.get_by_role("heading", name="Log clearance chase")).to_be_visible()
    await assert_accessible(page)
    await page.get_by_label("Phone", exact=True).check()
    await page.get_by_label("What came of it").fill("Left a message with the practice")
    await page.get_by_role("button", name="Log chase", exact=True).click()
    await page.wait_for_url(panel_url)
    await expect(page.locator(".flash")).to_contain_text("Chase logged.")
    await page.get_by_role("button", name="Mark received", exact=True).click()
    await page.wait_for_url(panel_url)
    await expect(page.locator(".flash")).to_contain_text("Marked received.")
    await expect(page.get_by_role("button", name="Mark received")).to_have_count(0)
    await assert_accessible(page)
    assert page_log.unexpected() == []
