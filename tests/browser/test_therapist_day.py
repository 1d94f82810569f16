"""A therapist's day sheet in headless Chromium (issue 10): Jordan Kim signs in, sees
today's sheet with the care-plan box of their oncology client (the demo guarantees one
today: see README) and opens the printable sheet; axe-core on every page.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import (
    MISSING_BROWSER,
    PageLog,
    ServedSite,
    assert_accessible,
    sign_in,
)

if MISSING_BROWSER is not None:
    pytest.skip(MISSING_BROWSER, allow_module_level=True)

from playwright.async_api import Page, expect

JORDAN = "jordan.kim@willowoak.test"
MAX_PRESSURE = re.compile(r"^Max [0-5] of 5$")


async def test_jordan_sees_a_care_plan_on_today_s_sheet_and_prints_it(
    page: Page, demo_site: ServedSite, page_log: PageLog
) -> None:
    await sign_in(page, demo_site, JORDAN)
    await page.goto(f"{demo_site.base_url}/therapist/")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("My day, ")
    care_box = page.locator("section.care-box:has(.pressure-max)").first
    await expect(care_box).to_be_visible()
    await expect(care_box.get_by_role("heading", level=3)).to_contain_text("Care plan")
    await expect(care_box.locator(".pressure-max")).to_have_text(MAX_PRESSURE)
    await assert_accessible(page)

    await page.get_by_role("link", name="Printable day sheet", exact=True).click()
    await page.wait_for_url(re.compile(re.escape(f"{demo_site.base_url}/therapist/") + r".+/print"))
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Day sheet: ")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Jordan Kim")
    await expect(page.locator(".pressure-max").first).to_have_text(MAX_PRESSURE)
    await assert_accessible(page)
    assert page_log.unexpected() == []
