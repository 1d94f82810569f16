"""Booking online with the keyboard alone, payments offline (CLINIC_PAYMENTS unset, as
`make run` serves the demo): "Swedish massage, 90 min" takes a 25% deposit on the demo
checkout page ("Demo checkout: no money moves"), paid with card 4242, to "Appointment
booked" (issue 10). No mouse: Tab, Shift+Tab, arrow keys, Space and Enter; axe-core on
every page the client sees.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest

from tests.booking.test_health_pages import answers
from tests.browser.conftest import (
    MISSING_BROWSER,
    SERVICE_NAME,
    PageLog,
    ServedSite,
    assert_accessible,
)

if MISSING_BROWSER is not None:
    pytest.skip(MISSING_BROWSER, allow_module_level=True)

from playwright.async_api import Page, expect

PAID_CARD = "4242"
# Generous: the health form is the longest page (about 30 questions, each a group).
MAX_TABS = 400

# What document.activeElement is, in a few words.
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  return {
    tag: el.tagName.toLowerCase(),
    type: (el.getAttribute("type") || "").toLowerCase(),
    name: el.getAttribute("name") || "",
    value: "value" in el ? String(el.value) : "",
    checked: !!el.checked,
    id: el.id || "",
    text: (el.innerText || el.value || "").trim(),
  };
}"""


async def focused(page: Page) -> dict[str, Any] | None:
    info: dict[str, Any] | None = await page.evaluate(FOCUSED)
    return info


def is_control(info: dict[str, Any] | None, text: str) -> bool:
    """A button or link whose visible text is `text`."""
    if info is None:
        return False
    clickable = info["tag"] in ("a", "button") or info["type"] == "submit"
    return bool(clickable and info["text"] == text)


async def tab_to(page: Page, text: str) -> None:
    """Tab forwards until the button or link reading `text` has the focus."""
    for _ in range(MAX_TABS):
        await page.keyboard.press("Tab")
        if is_control(await focused(page), text):
            return
    raise AssertionError(f"{MAX_TABS} Tabs never reached {text!r} on {page.url}")


async def choose_radio(page: Page, wanted: str) -> None:
    """The focus is on a radio of a group: arrow keys to the one valued `wanted` (an
    arrow checks what it lands on), or Space when the focus is on it already."""
    info = await focused(page)
    assert info is not None
    assert info["type"] == "radio", info
    for _ in range(30):
        if info is not None and info["value"] == wanted:
            if not info["checked"]:
                await page.keyboard.press("Space")
            return
        await page.keyboard.press("ArrowDown")
        info = await focused(page)
    raise AssertionError(f"no radio valued {wanted!r} in the group {info}")


async def fill_by_keyboard(page: Page, values: Mapping[str, str | list[str]], submit: str) -> None:
    """Tab through the page's fields in order, answering those named in `values` with the
    keyboard (radios by arrows, checkboxes and the first radio by Space, text by typing,
    selects by arrows), until the `submit` button; press Enter on it."""
    done: set[str] = set()
    for _ in range(MAX_TABS):
        await page.keyboard.press("Tab")
        info = await focused(page)
        if info is None:
            continue
        if is_control(info, submit):
            missing = set(values) - done
            assert not missing, f"never reached the fields {sorted(missing)} on {page.url}"
            await page.keyboard.press("Enter")
            return
        name = info["name"]
        if name not in values:
            continue
        wanted = values[name]
        if info["type"] == "radio":
            assert isinstance(wanted, str)
            await choose_radio(page, wanted)
        elif info["type"] == "checkbox":
            wanted_all = [wanted] if isinstance(wanted, str) else wanted
            if info["value"] in wanted_all and not info["checked"]:
                await page.keyboard.press("Space")
        elif info["tag"] == "select":
            for _ in range(50):
                if (await focused(page) or {}).get("value") == wanted:
                    break
                await page.keyboard.press("ArrowDown")
            else:
                raise AssertionError(f"no option {wanted!r} in the select {name!r}")
        else:
            assert isinstance(wanted, str)
            if info["value"] != wanted:
                await page.keyboard.press("ControlOrMeta+A")
                await page.keyboard.type(wanted)
        done.add(name)
    raise AssertionError(f"{MAX_TABS} Tabs never reached the {submit!r} button on {page.url}")


async def on_page(page: Page, url: str | re.Pattern[str], heading: str) -> None:
    """Wait for the page and its h1, then let axe-core check it."""
    await page.wait_for_url(url)
    await expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
    await assert_accessible(page)


async def test_a_client_books_and_pays_the_deposit_with_the_keyboard_alone(
    page: Page, demo_site: ServedSite, page_log: PageLog
) -> None:
    app = demo_site.base_url
    client = {"name": "Kay Keyboard", "email": "kay.keyboard@example.com", "phone": "2155550199"}

    await page.goto(f"{app}/book")
    await on_page(page, f"{app}/book", "Choose a service")
    # The first Tab reaches the skip link or the brand; walk to the service radios.
    service_value = await page.get_by_label(SERVICE_NAME, exact=True).get_attribute("value")
    assert service_value
    await fill_by_keyboard(page, {"service": service_value}, "Continue")

    await on_page(page, re.compile(re.escape(f"{app}/book/health")), "")
    await fill_by_keyboard(page, {"cancer_history": "no"}, "Continue")

    await on_page(page, re.compile(re.escape(f"{app}/book/health/form")), "Health questions")
    await fill_by_keyboard(page, answers(False, {"signed_name": client["name"]}), "Sign and send")

    await on_page(page, re.compile(re.escape(f"{app}/book/health")), "What we will adapt for you")
    await tab_to(page, "Continue")
    await page.keyboard.press("Enter")

    await on_page(page, re.compile(re.escape(f"{app}/book/therapist")), "Choose a therapist")
    await fill_by_keyboard(page, {"therapist": "any"}, "Continue")

    await on_page(page, re.compile(re.escape(f"{app}/book/time")), "Choose a date and time")
    if not await page.locator('input[name="start"]').count():
        # No free time on the day shown: the "Next available" link, by keyboard.
        link = await page.get_by_role("link", name=re.compile(r"^Next available")).inner_text()
        await tab_to(page, link.strip())
        await page.keyboard.press("Enter")
        await expect(page.locator('input[name="start"]').first).to_be_visible()
        await assert_accessible(page)
    first_time = await page.locator('input[name="start"]').first.get_attribute("value")
    assert first_time
    await fill_by_keyboard(page, {"start": first_time}, "Continue")

    await on_page(page, f"{app}/book/details", "Your details")
    await fill_by_keyboard(page, client, "Continue")

    await on_page(page, f"{app}/book/check", "Check your answers before booking")
    await expect(page.get_by_text(re.compile(r"A deposit of \$[\d.,]+, by card"))).to_be_visible()
    await fill_by_keyboard(page, {"card_consent": "yes"}, "Continue to payment")

    await page.wait_for_url(re.compile(re.escape(f"{app}/")))
    await expect(page.get_by_text("Demo checkout: no money moves.")).to_be_visible()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Pay $")
    await assert_accessible(page)
    pay_button = (await page.locator('form button[type="submit"]').last.inner_text()).strip()
    assert pay_button.startswith("Pay $"), pay_button
    await fill_by_keyboard(page, {"card": PAID_CARD}, pay_button)

    await on_page(page, re.compile(re.escape(f"{app}/book/done/")), "Appointment booked")
    assert re.search(r"Your reference\s+\d+", await page.locator("main").inner_text())
    assert page_log.unexpected() == []
