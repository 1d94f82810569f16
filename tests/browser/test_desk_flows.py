"""The front desk in headless Chromium (issue 10): signs in, sees today's day grid, opens
a visit's panel, checks a client in and undoes it, marks a past visit as a no-show;
axe-core on every page.

The demo is built around the real now, so which visits can be checked in (booked, from
30 minutes before the start) or marked as no-shows (started already) depends on the time
of day. The test takes such visits from the demo when it has them; otherwise it moves
booked visits of later days in its own copy of the database to fit (the public API
cannot: online booking asks for two hours' notice).
"""

from __future__ import annotations

import contextlib
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
CHECK_IN_OPENS = timedelta(minutes=30)


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * MICROS)


MOVE = (
    "UPDATE appointment SET starts_at = starts_at + ?, ends_at = ends_at + ?,"
    " blocked_from = blocked_from + ?, blocked_until = blocked_until + ?,"
    " room_id = NULL WHERE id = ?"
)


def _move_one(
    connection: sqlite3.Connection, candidates: list[int], start: datetime, keep: set[int]
) -> int:
    """Move the first of `candidates` that fits at `start` without overlapping another
    visit of its therapist (the database refuses overlaps), keeping its length and
    buffers; its id. The room is let go: in the busy afternoon every room may be taken.
    When every therapist is busy then, the first candidate's therapist is freed by
    cancelling what overlaps (in this copy only), never a visit in `keep`."""
    for appointment_id in candidates:
        (starts_at,) = connection.execute(
            "SELECT starts_at FROM appointment WHERE id = ?", (appointment_id,)
        ).fetchone()
        shift = _micros(start) - starts_at
        try:
            connection.execute(MOVE, (shift, shift, shift, shift, appointment_id))
        except sqlite3.IntegrityError:
            continue
        candidates.remove(appointment_id)
        return appointment_id
    appointment_id = candidates.pop(0)
    therapist_id, starts_at, blocked_from, blocked_until = connection.execute(
        "SELECT therapist_id, starts_at, blocked_from, blocked_until FROM appointment WHERE id = ?",
        (appointment_id,),
    ).fetchone()
    shift = _micros(start) - starts_at
    kept = ",".join(str(i) for i in keep) or "0"
    connection.execute(
        "UPDATE appointment SET status = 'cancelled' WHERE therapist_id = ? AND id != ?"
        f" AND id NOT IN ({kept}) AND blocked_from < ? AND blocked_until > ?"
        " AND status IN ('held', 'pending_clearance', 'confirmed', 'checked_in', 'completed')",
        (therapist_id, appointment_id, blocked_until + shift, blocked_from + shift),
    )
    connection.execute(MOVE, (shift, shift, shift, shift, appointment_id))
    return appointment_id


def pick_visits(path: Path) -> tuple[int, int]:
    """A booked visit of today the desk may check in now, and another of today that has
    started (booked or arrived) to mark as a no-show; their ids."""
    now = datetime.now(UTC)
    midnight = datetime.combine(now.astimezone(ZONE).date(), datetime.min.time(), ZONE)
    day_start, day_end = _micros(midnight), _micros(midnight + timedelta(days=1))
    with contextlib.closing(sqlite3.connect(path)) as connection, connection:

        def today(where: str, *args: object) -> list[int]:
            rows = connection.execute(
                "SELECT id FROM appointment WHERE starts_at >= ? AND starts_at < ? AND "
                + where
                + " ORDER BY abs(starts_at - ?)",
                (day_start, day_end, *args, _micros(now)),
            ).fetchall()
            return [r[0] for r in rows]

        check_in = today("status = 'confirmed' AND starts_at <= ?", _micros(now + CHECK_IN_OPENS))
        started = today("status IN ('confirmed', 'checked_in') AND starts_at <= ?", _micros(now))
        no_show = [i for i in started if i not in check_in[:1]]
        if not (check_in and no_show):
            # Not at this time of day: move booked visits of later days (this copy only).
            spare = [
                r[0]
                for r in connection.execute(
                    "SELECT id FROM appointment WHERE status = 'confirmed' AND starts_at >= ?"
                    " ORDER BY starts_at DESC",
                    (day_end,),
                )
            ]
            if not check_in:
                soon = min(now + timedelta(minutes=10), midnight + timedelta(days=1, minutes=-1))
                check_in = [
                    _move_one(connection, spare, soon.replace(second=0, microsecond=0), set())
                ]
            if not no_show:
                begun = max(now - timedelta(minutes=1), midnight)
                no_show = [
                    _move_one(
                        connection, spare, begun.replace(second=0, microsecond=0), {check_in[0]}
                    )
                ]
    return check_in[0], no_show[0]


async def open_panel(page: Page, site: ServedSite, appointment_id: int) -> str:
    """From today's grid, the visit's card link to its panel; the client's name."""
    await page.goto(f"{site.base_url}/desk/")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Today, ")
    card = page.locator(f'a.desk-card-open[href$="/desk/appointments/{appointment_id}"]')
    await card.click()
    await page.wait_for_url(f"{site.base_url}/desk/appointments/{appointment_id}")
    heading = page.locator("#visit-heading")
    await expect(heading).to_be_visible()
    await assert_accessible(page)
    return (await heading.inner_text()).rsplit(",", 1)[0].strip()


async def test_the_desk_checks_a_client_in_undoes_it_and_marks_a_no_show(
    page: Page, demo_site: ServedSite, page_log: PageLog
) -> None:
    arriving, missed = pick_visits(demo_site.database_path)

    await sign_in(page, demo_site, DESK)
    await page.goto(f"{demo_site.base_url}/desk/")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Today, ")
    await expect(page.locator("a.desk-card-open").first).to_be_visible()
    await assert_accessible(page)

    # Check in, then Undo.
    name = await open_panel(page, demo_site, arriving)
    status = page.locator(".desk-facts .status")
    await expect(status).to_contain_text("Booked")
    await page.get_by_role("button", name=f"Check in {name}", exact=True).click()
    await expect(page.locator(".flash")).to_contain_text(f"{name} checked in.")
    await expect(status).to_contain_text("Arrived")
    await assert_accessible(page)
    await page.get_by_role("button", name="Undo check-in", exact=True).click()
    await expect(page.locator(".flash")).to_contain_text(
        f"Check-in undone: {name} is booked again."
    )
    await expect(status).to_contain_text("Booked")
    await assert_accessible(page)

    # A visit that has started without the client: a no-show. The desk lands on the
    # visit's payments, with the fee; the panel then says No-show and offers Undo.
    await open_panel(page, demo_site, missed)
    await page.get_by_role("button", name="Mark as a no-show", exact=True).click()
    await page.wait_for_url(f"{demo_site.base_url}/desk/appointments/{missed}/payments")
    await expect(page.locator(".flash").first).to_contain_text("Marked as a no-show.")
    await assert_accessible(page)
    await page.goto(f"{demo_site.base_url}/desk/appointments/{missed}")
    await expect(page.locator(".desk-facts .status")).to_contain_text("No-show")
    await expect(page.get_by_role("button", name="Undo no-show", exact=True)).to_be_visible()
    await assert_accessible(page)
    assert page_log.unexpected() == []
