"""The desk day page with htmx and static/desk.js in headless Chromium: a date change swaps
<main> and pushes its URL (Back and reload work); the background poll shows a card changed
elsewhere (straight in the database) without moving focus, and waits while a form has focus
or the tab is hidden; the now line follows the clinic's clock whatever the device's zone;
the single-key shortcuts work and can be switched off; Esc goes from a panel back to its
card; the comfortable/compact rows follow the account. axe-core on the pages, and nothing
on the console (a CSP refusal would be logged there).

Playwright's fake clock (page.clock) stands in for the minutes the poll and the line wait."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from clinic.web.formatting import clock_time, long_date
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

from playwright.async_api import Browser, Page, Request, expect

DESK = "frontdesk@willowoak.test"
ZONE = ZoneInfo(TIMEZONE)
POLL_WAIT = "01:01"
# A card's status words (clinic/desk/cards.py).
WORDS = {"confirmed": "Booked", "checked_in": "Arrived", "completed": "Done"}
# What a browser reports for a tab in the background, and back in front.
HIDE = """Object.defineProperty(document, "hidden", {value: true, configurable: true});
document.dispatchEvent(new Event("visibilitychange"));"""
SHOW = """Object.defineProperty(document, "hidden", {value: false, configurable: true});
document.dispatchEvent(new Event("visibilitychange"));"""


def _today() -> date:
    return datetime.now(ZONE).date()


def _visit_today(path: Path) -> tuple[int, str]:
    """A visit of today in this copy of the demo (booked ones first: late in the day they
    are all done); its id and status."""
    midnight = datetime.combine(_today(), time(0), ZONE)
    with contextlib.closing(sqlite3.connect(path)) as connection:
        row = connection.execute(
            "SELECT id, status FROM appointment"
            " WHERE status IN ('confirmed', 'checked_in', 'completed')"
            " AND starts_at >= ? AND starts_at < ?"
            " ORDER BY status = 'confirmed' DESC, starts_at",
            (_micros(midnight), _micros(midnight + timedelta(days=1))),
        ).fetchone()
    assert row, "the demo has no visit today"
    return int(row[0]), str(row[1])


def _set_status(path: Path, appointment_id: int, status: str) -> None:
    """Another session's change: the visit's status, written straight to the database."""
    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        connection.execute(
            "UPDATE appointment SET status = ? WHERE id = ?", (status, appointment_id)
        )


def _someone_works_now(path: Path) -> bool:
    """Give the therapist with the fewest hours today an hour either side of this moment,
    so that today's grid covers it whatever time of day the tests run (the demo's own
    hours end in the evening). False in the last minute before midnight."""
    now = datetime.now(ZONE)
    midnight = datetime.combine(now.date(), time(0), ZONE)
    start = max(now - timedelta(hours=1), midnight).time()
    end = min(now + timedelta(hours=1), datetime.combine(now.date(), time(23, 59), ZONE)).time()
    if start >= end:
        return False
    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        connection.execute(
            "INSERT INTO weekly_hours (therapist_id, location_id, weekday, start_time, end_time)"
            " SELECT t.id, (SELECT min(id) FROM location), ?, ?, ? FROM therapist t"
            " WHERE t.active ORDER BY (SELECT count(*) FROM weekly_hours w"
            " WHERE w.therapist_id = t.id AND w.weekday = ?), t.id LIMIT 1",
            (now.weekday(), f"{start:%H:%M:%S}.000000", f"{end:%H:%M:%S}.000000", now.weekday()),
        )
    return True


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


async def _open_day(page: Page, site: ServedSite, path: str = "/desk/") -> None:
    await page.goto(f"{site.base_url}{path}")
    await expect(page.locator("#desk-live")).to_be_attached()
    # desk.js shows the shortcuts once it runs.
    await expect(page.locator("#desk-shortcuts")).to_be_visible()


async def _eventually(check: Callable[[], bool], what: str) -> None:
    for _ in range(100):
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {what} within 10 s")


async def _blur(page: Page) -> None:
    await page.evaluate("document.activeElement && document.activeElement.blur()")


async def test_a_date_change_swaps_main_pushes_its_url_and_back_returns(
    page: Page, demo_site: ServedSite, page_log: PageLog
) -> None:
    today = _today()
    following = today + timedelta(days=1)
    await sign_in(page, demo_site, DESK)
    await _open_day(page, demo_site)
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Today, {long_date(today)}")
    await page.evaluate("window.deskMarker = 'same document'")

    await page.get_by_role("link", name="Next day", exact=False).click()
    await expect(page).to_have_url(f"{demo_site.base_url}/desk/{following.isoformat()}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(long_date(following))
    await expect(page).to_have_title(f"Front desk: {long_date(following)}")
    # No page load: htmx swapped <main>, announced the day, and kept the link's focus.
    assert await page.evaluate("window.deskMarker") == "same document"
    await expect(page.locator("#messages")).to_contain_text(long_date(following))
    await expect(page.locator("#desk-next")).to_be_focused()
    await assert_accessible(page)

    # The date field's Go, through the redirect to the day's own address.
    chosen = today + timedelta(days=5)
    await page.locator("#day").fill(chosen.isoformat())
    await page.get_by_role("button", name="Go", exact=True).click()
    await expect(page).to_have_url(f"{demo_site.base_url}/desk/{chosen.isoformat()}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(long_date(chosen))
    assert await page.evaluate("window.deskMarker") == "same document"

    # Back, twice, and a reload: each shows the day its address names.
    await page.go_back()
    await expect(page).to_have_url(f"{demo_site.base_url}/desk/{following.isoformat()}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(long_date(following))
    await page.go_back()
    await expect(page).to_have_url(f"{demo_site.base_url}/desk/")
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Today, {long_date(today)}")
    await page.reload()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Today, {long_date(today)}")
    # No copy of a page is kept in the browser's storage.
    assert await page.evaluate("sessionStorage.getItem('htmx-history-cache')") is None

    # A date the desk cannot show: its own page with the problem, focused.
    await page.locator("#day").fill("")
    await page.get_by_role("button", name="Go", exact=True).click()
    await expect(page).to_have_title("Error: Front desk")
    await expect(page.locator(".error-summary")).to_be_focused()
    await expect(page.locator(".error-summary")).to_contain_text("Enter the date like")
    page_log.allow("400 (Bad Request)")
    assert page_log.unexpected() == []


async def test_the_poll_shows_a_card_changed_elsewhere_without_moving_focus(
    page: Page, demo_site: ServedSite, page_log: PageLog
) -> None:
    visit_id, status = _visit_today(demo_site.database_path)
    changed = "confirmed" if status == "checked_in" else "checked_in"
    polls: list[Request] = []

    def seen(request: Request) -> None:
        if request.headers.get("hx-target") == "desk-live":
            polls.append(request)

    page.on("request", seen)
    await page.clock.install()
    await sign_in(page, demo_site, DESK)
    await _open_day(page, demo_site)
    card = page.locator(
        f'li.desk-card:has(a.desk-card-open[href$="/desk/appointments/{visit_id}"])'
    )
    await expect(card).to_contain_text(WORDS[status])
    # Focus on another card's link when there is one, else on this one's.
    others = page.locator(f'a.desk-card-open:not([href$="/desk/appointments/{visit_id}"])')
    focused = others.first if await others.count() else card.locator("a.desk-card-open")
    await focused.focus()
    focused_href = await focused.get_attribute("href")

    # Someone else at the desk checks the client in (or undoes it).
    _set_status(demo_site.database_path, visit_id, changed)
    await page.clock.fast_forward(POLL_WAIT)
    await expect(card).to_contain_text(WORDS[changed])
    assert len(polls) == 1
    assert polls[0].headers.get("x-clinic-background") == "1"
    assert await page.evaluate("document.activeElement.getAttribute('href')") == focused_href
    await expect(page.locator("#messages")).to_contain_text("The day's appointments have changed.")
    await expect(page).to_have_url(f"{demo_site.base_url}/desk/")

    # While a form has focus (the date field), the poll waits.
    await page.locator("#day").focus()
    _set_status(demo_site.database_path, visit_id, status)
    await page.clock.fast_forward(POLL_WAIT)
    await page.wait_for_timeout(500)
    assert len(polls) == 1
    await expect(card).to_contain_text(WORDS[changed])
    await expect(page.locator("#day")).to_be_focused()
    # Once focus leaves the form, the next minute brings the change.
    await focused.focus()
    await page.clock.fast_forward(POLL_WAIT)
    await expect(card).to_contain_text(WORDS[status])
    assert len(polls) == 2
    assert await page.evaluate("document.activeElement.getAttribute('href')") == focused_href

    # A screen nobody looks at (a hidden tab) is not refreshed; shown again after more than
    # a minute, it is refreshed at once.
    await page.evaluate(HIDE)
    await page.clock.fast_forward(POLL_WAIT)
    await page.wait_for_timeout(500)
    assert len(polls) == 2
    await page.evaluate(SHOW)
    await _eventually(lambda: len(polls) == 3, "a refresh when the page is shown again")
    await assert_accessible(page)
    assert page_log.unexpected() == []


async def test_the_now_line_moves_each_minute_in_clinic_time_whatever_the_device_zone(
    browser: Browser, demo_site: ServedSite, page_log: PageLog
) -> None:
    # A device in Tokyo: the line and its label must still follow the clinic's clock.
    context = await browser.new_context(timezone_id="Asia/Tokyo", locale="en-US")
    try:
        page = await context.new_page()
        page.on("console", page_log.console)
        page.on("pageerror", page_log.page_error)
        if not _someone_works_now(demo_site.database_path):
            pytest.skip("a minute before midnight: no hour of today is left to show")
        await page.clock.install()
        await sign_in(page, demo_site, DESK)
        await _open_day(page, demo_site)
        line = page.locator("#now")
        await expect(line).to_have_count(1)
        label = line.locator(".desk-now-label")
        facts = await label.evaluate(
            "e => [e.dataset.now, e.dataset.gridStart, e.dataset.zoneOffset].map(Number)"
        )
        rendered, grid_start, offset = (int(value) for value in facts)
        assert offset * 60 == datetime.fromtimestamp(rendered, ZONE).utcoffset().total_seconds()
        # The poll would bring a fresh line; focus in the date field holds it back.
        await page.locator("#day").focus()
        await page.clock.fast_forward("02:00")
        moved = rendered + 120
        # The few real seconds the test itself takes may cross one more minute.
        expected = {
            "Now, " + clock_time(datetime.fromtimestamp(moved + extra, ZONE), ZONE)
            for extra in (0, 60)
        }
        await expect(label).to_have_text(re.compile("|".join(map(re.escape, expected))))
        minutes = (moved - grid_start) // 60
        classes = (await line.get_attribute("class") or "").split()
        assert any(c in classes for c in (f"desk-at-{m // 15 + 1}" for m in (minutes, minutes + 1)))
        assert any(c in classes for c in (f"desk-nudge-{m % 15}" for m in (minutes, minutes + 1)))
        shown = (await label.inner_text()).removeprefix("Now, ")
        await expect(page.locator(".zone-note")).to_contain_text(f"It is now {shown}.")
    finally:
        await context.close()
    assert page_log.unexpected() == []


async def test_single_key_shortcuts_work_and_can_be_switched_off(
    page: Page, demo_site: ServedSite, page_log: PageLog
) -> None:
    today = _today()
    await sign_in(page, demo_site, DESK)
    await _open_day(page, demo_site)
    heading = page.get_by_role("heading", level=1)

    await _blur(page)
    await page.keyboard.press("n")
    await expect(page).to_have_url(f"{demo_site.base_url}/desk/{(today + timedelta(days=1))}")
    await _blur(page)
    await page.keyboard.press("n")
    await expect(page).to_have_url(f"{demo_site.base_url}/desk/{(today + timedelta(days=2))}")
    await _blur(page)
    await page.keyboard.press("p")
    await expect(page).to_have_url(f"{demo_site.base_url}/desk/{(today + timedelta(days=1))}")
    await _blur(page)
    await page.keyboard.press("t")
    await expect(page).to_have_url(f"{demo_site.base_url}/desk/")
    await expect(heading).to_have_text(f"Today, {long_date(today)}")

    # "/" goes to the date field, where letters are typed, not obeyed.
    await _blur(page)
    await page.keyboard.press("/")
    await expect(page.locator("#day")).to_be_focused()
    await page.keyboard.press("n")
    await expect(page).to_have_url(f"{demo_site.base_url}/desk/")

    # "?" shows the list, with the switch.
    await _blur(page)
    await page.keyboard.press("?")
    shortcuts = page.locator("#desk-shortcuts")
    await expect(shortcuts).to_have_attribute("open", "")
    await expect(shortcuts.locator("summary")).to_be_focused()
    await assert_accessible(page)
    switch = page.get_by_label("Single-key shortcuts")
    await expect(switch).to_be_checked()
    await switch.uncheck()
    await expect(page.locator("#messages")).to_contain_text("Single-key shortcuts are off.")
    await _blur(page)
    await page.keyboard.press("n")
    await page.wait_for_timeout(300)
    await expect(page).to_have_url(f"{demo_site.base_url}/desk/")

    # Remembered on this device.
    await page.reload()
    await expect(page.locator("#desk-shortcuts")).to_be_visible()
    await expect(page.get_by_label("Single-key shortcuts")).not_to_be_checked()
    await _blur(page)
    await page.keyboard.press("n")
    await page.wait_for_timeout(300)
    await expect(page).to_have_url(f"{demo_site.base_url}/desk/")
    await page.locator("#desk-shortcuts summary").click()
    await page.get_by_label("Single-key shortcuts").check()
    await _blur(page)
    await page.keyboard.press("n")
    await expect(page).to_have_url(f"{demo_site.base_url}/desk/{(today + timedelta(days=1))}")
    assert page_log.unexpected() == []


async def test_escape_on_a_panel_returns_to_its_card(
    page: Page, demo_site: ServedSite, page_log: PageLog
) -> None:
    visit_id, _ = _visit_today(demo_site.database_path)
    await sign_in(page, demo_site, DESK)
    await _open_day(page, demo_site)
    link = page.locator(f'a.desk-card-open[href$="/desk/appointments/{visit_id}"]')
    await link.focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{demo_site.base_url}/desk/appointments/{visit_id}")
    await expect(page.locator("#visit-heading")).to_be_focused()
    await page.keyboard.press("Escape")
    await page.wait_for_url(f"{demo_site.base_url}/desk/{_today().isoformat()}#visit-{visit_id}")
    await expect(link).to_be_focused()
    assert page_log.unexpected() == []


async def test_compact_rows_follow_the_account(
    page: Page, browser: Browser, demo_site: ServedSite, page_log: PageLog
) -> None:
    await sign_in(page, demo_site, DESK)
    await _open_day(page, demo_site)
    hour = page.locator(".desk-times li").first
    comfortable = await hour.bounding_box()
    assert comfortable is not None

    await page.get_by_role("button", name="Switch to compact rows").click()
    await expect(page.locator(".desk-day")).to_have_class("desk-day desk-compact")
    await expect(page.locator("#messages")).to_contain_text("The day's rows are now compact.")
    await expect(page).to_have_url(f"{demo_site.base_url}/desk/{_today().isoformat()}")
    compact = await hour.bounding_box()
    assert compact is not None
    assert compact["height"] == pytest.approx(comfortable["height"] * 2 / 3, abs=1)
    await assert_accessible(page)

    # Another browser, the same account: compact too.
    other_context = await browser.new_context()
    try:
        other = await other_context.new_page()
        await sign_in(other, demo_site, DESK)
        await _open_day(other, demo_site)
        await expect(other.locator(".desk-day")).to_have_class("desk-day desk-compact")
    finally:
        await other_context.close()

    await page.get_by_role("button", name="Switch to comfortable rows").click()
    await expect(page.locator(".desk-day")).to_have_class("desk-day")
    assert page_log.unexpected() == []
