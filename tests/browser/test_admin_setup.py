"""Admin set-up in headless Chromium (issue 10): an admin adds a therapist with hours and
that therapist becomes bookable. The admin signs in, adds Robin Ash, adds and verifies a
massage licence and liability insurance, sets weekly hours on one weekday and ticks
"Swedish massage, 60 min"; then a client, in a browser context of their own (no staff
cookies), finds Robin among the therapists offering that service and free times with
Robin on that weekday, through the public API. axe-core on every admin page.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.browser.conftest import (
    ACTION_TIMEOUT_MS,
    MISSING_BROWSER,
    TIMEZONE,
    PageLog,
    ServedSite,
    assert_accessible,
    sign_in,
)

if MISSING_BROWSER is not None:
    pytest.skip(MISSING_BROWSER, allow_module_level=True)

from playwright.async_api import Browser, Page, expect

ADMIN = "admin@willowoak.test"
NAME = "Robin Ash"
SERVICE = "Swedish massage, 60 min"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Far enough ahead that the two hours' notice for online booking never matters.
DAYS_AHEAD = 3


def working_day() -> date:
    """The first Monday to Friday at least DAYS_AHEAD days from today, in the clinic's zone."""
    day = datetime.now(ZoneInfo(TIMEZONE)).date() + timedelta(days=DAYS_AHEAD)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


async def on_record(page: Page, site: ServedSite, therapist_id: str, flash: str) -> None:
    """Back on the therapist's page after a save, with its flash; axe checks it."""
    pattern = re.escape(f"{site.base_url}/admin/therapists/{therapist_id}") + r"(#.*)?$"
    await page.wait_for_url(re.compile(pattern))
    await expect(page.get_by_role("heading", level=1)).to_have_text(NAME)
    await expect(page.locator(".flash").first).to_contain_text(flash)
    await assert_accessible(page)


async def add_credential(
    page: Page, site: ServedSite, therapist_id: str, kind: str, title: str, expires: date
) -> None:
    """Add an unverified credential from the therapist's page, then verify it there."""
    await page.get_by_role("link", name=f"Add a credential for {NAME}", exact=True).click()
    await page.wait_for_url(f"{site.base_url}/admin/therapists/{therapist_id}/credentials/new")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Add a credential")
    await assert_accessible(page)
    await page.get_by_label("Kind", exact=True).select_option(label=kind)
    await page.get_by_label("Title, as printed", exact=True).fill(title)
    expiry = page.get_by_role("group", name="Expiry date")
    await expiry.get_by_label("Day", exact=True).fill(str(expires.day))
    await expiry.get_by_label("Month", exact=True).fill(str(expires.month))
    await expiry.get_by_label("Year", exact=True).fill(str(expires.year))
    await page.get_by_role("button", name="Add credential", exact=True).click()
    await on_record(page, site, therapist_id, f"{kind} added.")

    await page.get_by_role("button", name=f"Verify {kind}", exact=True).click()
    await on_record(page, site, therapist_id, f"{kind} verified")


async def test_an_admin_adds_a_therapist_with_hours_and_that_therapist_becomes_bookable(
    page: Page, browser: Browser, demo_site: ServedSite, page_log: PageLog
) -> None:
    app = demo_site.base_url
    day = working_day()
    weekday = day.weekday()
    expires = date(day.year + 3, 12, 31)

    await sign_in(page, demo_site, ADMIN)
    await page.goto(f"{app}/admin/therapists")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Therapists")
    await assert_accessible(page)

    # Details: the name and the clinic's one location.
    await page.get_by_role("link", name="Add a therapist", exact=True).click()
    await page.wait_for_url(f"{app}/admin/therapists/new")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Add a therapist")
    await assert_accessible(page)
    await page.get_by_label("Name clients see", exact=True).fill(NAME)
    await page.get_by_label("Introduction (optional)", exact=True).fill(
        "Swedish and deep-tissue massage, ten years in practice."
    )
    await page.get_by_role("group", name="Where they work").get_by_role("checkbox").first.check()
    await page.get_by_role("button", name="Add therapist", exact=True).click()
    await page.wait_for_url(re.compile(re.escape(f"{app}/admin/therapists/") + r"\d+$"))
    therapist_id = page.url.rsplit("/", 1)[1]
    await on_record(page, demo_site, therapist_id, f"{NAME} added.")
    await expect(page.locator(".admin-status")).to_contain_text("Not bookable online")

    # Credentials: a licence and insurance, each added, then verified.
    await add_credential(
        page, demo_site, therapist_id, "Massage licence", "Licensed Massage Therapist", expires
    )
    await add_credential(
        page, demo_site, therapist_id, "Liability insurance", "Professional liability", expires
    )

    # Weekly hours: one weekday, 9:00 to 17:00.
    name = WEEKDAYS[weekday]
    await page.get_by_role("link", name="Change weekly hours", exact=True).click()
    await page.wait_for_url(f"{app}/admin/therapists/{therapist_id}/hours")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Weekly hours")
    await assert_accessible(page)
    await page.get_by_label(f"Start {name}, pair 1", exact=True).fill("9:00")
    await page.get_by_label(f"End {name}, pair 1", exact=True).fill("17:00")
    await page.get_by_role("button", name="Save weekly hours", exact=True).click()
    await on_record(page, demo_site, therapist_id, "Saved the weekly hours.")

    # Services: the one-hour Swedish massage.
    await page.get_by_role("link", name="Change services offered", exact=True).click()
    await page.wait_for_url(f"{app}/admin/therapists/{therapist_id}/services")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Services offered")
    await assert_accessible(page)
    await page.get_by_label(SERVICE, exact=True).check()
    await page.get_by_role("button", name="Save services", exact=True).click()
    await on_record(page, demo_site, therapist_id, f"Saved the services {NAME} offers.")

    await expect(page.locator(".admin-status")).to_contain_text("Bookable online")
    await expect(page.get_by_role("heading", name=re.compile("^Why clients cannot"))).to_have_count(
        0
    )
    await page.goto(f"{app}/admin/therapists")
    row = page.get_by_role("row").filter(has_text=NAME)
    await expect(row).to_contain_text("Active")
    await assert_accessible(page)
    assert page_log.unexpected() == []

    # A client, with no staff cookies: Robin is offered for the service, with free times.
    client = await browser.new_context(java_script_enabled=True, locale="en-US")
    client.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        api = client.request
        services = await api.get(f"{app}/api/v1/services")
        assert services.ok, await services.text()
        service_ids = [s["id"] for s in (await services.json())["services"] if s["name"] == SERVICE]
        assert len(service_ids) == 1, service_ids
        service_id = service_ids[0]

        therapists = await api.get(f"{app}/api/v1/therapists")
        assert therapists.ok, await therapists.text()
        listed = [t for t in (await therapists.json())["therapists"] if t["display_name"] == NAME]
        assert len(listed) == 1, listed
        assert listed[0]["id"] == int(therapist_id)
        assert service_id in listed[0]["service_ids"]

        availability = await api.get(
            f"{app}/api/v1/availability",
            params={
                "service_id": service_id,
                "from": day.isoformat(),
                "to": (day + timedelta(days=6)).isoformat(),
                "therapist_id": therapist_id,
            },
        )
        assert availability.ok, await availability.text()
        slots = (await availability.json())["slots"]
        assert slots, f"no free times with {NAME} in the week from {day}"
        assert {s["therapist_id"] for s in slots} == {int(therapist_id)}
        starts = [datetime.fromisoformat(s["start"]) for s in slots]
        assert {s.date() for s in starts} == {day}, "times only on the day Robin works"
        assert min(s.hour for s in starts) >= 9
        assert max(datetime.fromisoformat(s["end"]) for s in slots).hour <= 17
    finally:
        await client.close()
