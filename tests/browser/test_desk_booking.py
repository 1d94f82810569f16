"""The front desk books on a client's behalf in headless Chromium: "New appointment" from
the day page, a new client added, the gate question answered, a free time chosen, the
visit's panel; then a walk-in outside the rules is refused without a reason and kept
with its values. axe-core on every page visited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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


async def test_the_desk_adds_a_client_and_books_a_free_time_for_them(
    page: Page, demo_site: ServedSite, page_log: PageLog
) -> None:
    await sign_in(page, demo_site, DESK)
    await page.goto(f"{demo_site.base_url}/desk/")
    await page.get_by_role("link", name="New appointment").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("New appointment")
    await assert_accessible(page)

    # Nobody by that name yet: add them.
    await page.get_by_label("Name, email or phone").fill("Rowan Achebe")
    await page.get_by_role("button", name="Find", exact=True).click()
    await expect(page.get_by_text('No client matches "Rowan Achebe"')).to_be_visible()
    await page.get_by_label("Full name").fill("Rowan Achebe")
    await page.get_by_label("Phone", exact=True).fill("(267) 555-0142")
    await page.get_by_role("button", name="Add the client and continue").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "New appointment for Rowan Achebe"
    )
    await expect(page.locator(".flash").first).to_contain_text("Rowan Achebe added.")
    await assert_accessible(page)

    # The demo is built around the real now: the first of the next days with free times.
    await page.get_by_label("Service").select_option(label="Swedish massage, 60 min (60 min)")
    await page.get_by_label("No", exact=True).check()
    today = datetime.now(UTC).astimezone(ZONE).date()
    times = page.locator('input[name="slot"]')
    for ahead in range(1, 8):
        await page.get_by_label("Day", exact=True).fill((today + timedelta(days=ahead)).isoformat())
        await page.get_by_role("button", name="Show free times").click()
        await expect(page.get_by_role("heading", name="Outside the usual rules")).to_be_visible()
        if await times.count():
            break
    else:
        raise AssertionError("no free times in the coming week of the demo")
    await assert_accessible(page)

    # The keyboard picks the first time and books it.
    await times.first.focus()
    await page.keyboard.press("Space")
    await expect(times.first).to_be_checked()
    await page.get_by_role("button", name="Book this time").click()
    await expect(page.locator("#visit-heading")).to_contain_text("Rowan Achebe")
    await expect(page.locator(".flash").first).to_contain_text("Booked: Rowan Achebe")
    await assert_accessible(page)
    assert page_log.unexpected() == []


async def test_a_walk_in_without_a_reason_comes_back_with_its_values(
    page: Page, demo_site: ServedSite, page_log: PageLog
) -> None:
    await sign_in(page, demo_site, DESK)
    await page.goto(f"{demo_site.base_url}/desk/book")
    await page.get_by_label("Full name").fill("Ines Moreau")
    await page.get_by_label("Email (optional)").fill("ines@example.org")
    await page.get_by_role("button", name="Add the client and continue").click()
    await page.get_by_label("Yes", exact=True).check()
    await page.get_by_role("button", name="Show free times").click()
    walk_in = page.get_by_role("region", name="Walk-in")
    await expect(walk_in).to_be_visible()
    await walk_in.get_by_label("Therapist", exact=True).select_option(index=1)
    await walk_in.get_by_label("Also outside the therapist's working hours").check()
    # The form comes back with its error as a 422, which the browser logs.
    page_log.allow("status of 422")
    await walk_in.get_by_role("button", name="Book the walk-in and check in").click()
    await expect(page).to_have_title("Error: New appointment for Ines Moreau: front desk")
    await expect(page.locator(".error-summary")).to_contain_text("Enter the reason")
    walk_in = page.get_by_role("region", name="Walk-in")
    await expect(walk_in.get_by_label("Also outside the therapist's working hours")).to_be_checked()
    # The gate answer stayed in the form body: the address has none of it.
    assert "cancer" not in page.url
    await assert_accessible(page)
    assert page_log.unexpected() == []
