"""The desk day page's enhancements, server side: the poll's partial answer (the grid and the
to-do list alone, in the same statements as the page, taking no flash message), the
comfortable/compact rows kept per member of staff, htmx loaded from this site under the
unchanged strict CSP, and the vendored file matching its README."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Connection

from clinic.auth.models import DeskDensity, Role, User
from clinic.db import Database
from clinic.settings import PROJECT_ROOT
from clinic.web.security import CONTENT_SECURITY_POLICY
from tests import factories
from tests.booking.conftest import NOW
from tests.desk.support import card_ids, make_visit, post_form, sign_in_desk

pytestmark = pytest.mark.usefixtures("frozen")

POLL = {"HX-Request": "true", "HX-Target": "desk-live", "X-Clinic-Background": "1"}
VENDOR = PROJECT_ROOT / "static" / "vendor"


@contextmanager
def _statements(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    engine = db.read_engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def _density(db: Database, user_id: int) -> DeskDensity | None:
    async with db.reading() as session:
        return await session.scalar(select(User.desk_density).where(User.id == user_id))


# The poll's partial answer


async def test_the_poll_gets_only_the_grid_and_to_do_list(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    visit = await make_visit(seeded, starts_at=NOW + timedelta(hours=2))
    await sign_in_desk(http, seeded)
    page = await http.get("/desk/")
    live = await http.get("/desk/", headers=POLL)
    assert live.status_code == 200
    assert live.text.lstrip().startswith('<div class="desk-layout" id="desk-live"')
    for whole_page_only in ("<html", "<title", "<h1", 'id="messages"', 'class="desk-toolbar"'):
        assert whole_page_only not in live.text
    # The same cards as the whole page, the to-do list, and the poll's own attributes.
    assert card_ids(live.text) == card_ids(page.text)
    assert visit.appointment_id in card_ids(live.text)
    assert 'id="todo-heading"' in live.text
    assert 'hx-trigger="every 60s, desk-refresh"' in live.text
    assert """hx-headers='{"X-Clinic-Background": "1"}'""" in live.text
    for answer in (page, live):
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["vary"] == "HX-Request, HX-Target"


async def test_a_boosted_date_change_gets_the_whole_page(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    await sign_in_desk(http, seeded)
    boosted = await http.get(
        "/desk/2026-11-30",
        headers={"HX-Request": "true", "HX-Boosted": "true", "HX-Target": "main"},
    )
    assert boosted.status_code == 200
    assert "<title>Front desk: Monday 30 November 2026</title>" in boosted.text
    assert '<main id="main"' in boosted.text
    assert 'id="desk-live"' in boosted.text


async def test_the_poll_costs_the_statements_of_the_page(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    await make_visit(seeded, starts_at=NOW + timedelta(hours=2))
    await sign_in_desk(http, seeded)
    with _statements(seeded) as page:
        assert (await http.get("/desk/")).status_code == 200
    with _statements(seeded) as live:
        assert (await http.get("/desk/", headers=POLL)).status_code == 200
    assert len(live) == len(page), (live, page)
    assert all(s.lstrip().upper().startswith(("SELECT", "WITH")) for s in live)


async def test_the_poll_leaves_flash_messages_for_the_next_page(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    await sign_in_desk(http, seeded)
    switched = await post_form(http, "/desk/", "/desk/density", {"density": "compact"})
    assert switched.status_code == 303
    live = await http.get("/desk/", headers=POLL)
    assert "rows are now compact" not in live.text
    assert "set-cookie" not in live.headers
    page = await http.get("/desk/")
    assert "The day&#39;s rows are now compact." in page.text


async def test_a_bad_date_still_answers_its_own_page_to_htmx(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    await sign_in_desk(http, seeded)
    refused = await http.get("/desk/?day=", headers={"HX-Request": "true", "HX-Target": "main"})
    assert refused.status_code == 400
    assert "<title>Error: Front desk</title>" in refused.text
    assert 'class="error-summary"' in refused.text


# Comfortable or compact, per member of staff


async def test_compact_rows_are_kept_on_the_account_and_switch_the_grid(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    desk = await sign_in_desk(http, seeded)
    page = await http.get("/desk/2026-11-30?all=1")
    assert '<div class="desk-day">' in page.text
    assert "Switch to compact rows" in page.text
    assert await _density(seeded, desk.id) is None

    switched = await post_form(
        http,
        "/desk/",
        "/desk/density",
        {"density": "compact", "next": "/desk/2026-11-30?all=1"},
    )
    assert switched.status_code == 303
    assert switched.headers["location"] == "/desk/2026-11-30?all=1"
    assert await _density(seeded, desk.id) is DeskDensity.COMPACT
    page = await http.get("/desk/2026-11-30?all=1")
    assert '<div class="desk-day desk-compact">' in page.text
    assert "Switch to comfortable rows" in page.text
    assert 'name="density" value="comfortable"' in page.text

    # Another member of the desk keeps their own rows.
    http.cookies.clear()
    other = await factories.sign_in_as(http, seeded, Role.FRONTDESK)
    assert '<div class="desk-day">' in (await http.get("/desk/")).text
    assert await _density(seeded, other.id) is None

    http.cookies.clear()
    await sign_in_desk(http, seeded)
    back = await post_form(http, "/desk/", "/desk/density", {"density": "comfortable"})
    assert back.status_code == 303
    assert await _density(seeded, desk.id) is DeskDensity.COMFORTABLE
    assert '<div class="desk-day">' in (await http.get("/desk/")).text


async def test_the_density_switch_refuses_an_unknown_choice(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    desk = await sign_in_desk(http, seeded)
    refused = await post_form(http, "/desk/", "/desk/density", {"density": "tiny"})
    assert refused.status_code == 422
    assert "Choose comfortable or compact rows." in refused.text
    assert await _density(seeded, desk.id) is None


@pytest.mark.parametrize(
    "asked", ["https://elsewhere.example/desk/", "//elsewhere.example/", "/admin/", "/desk/../x"]
)
async def test_the_density_switch_only_returns_to_a_desk_day(
    seeded: Database, http: httpx2.AsyncClient, asked: str
) -> None:
    await sign_in_desk(http, seeded)
    switched = await post_form(
        http, "/desk/", "/desk/density", {"density": "compact", "next": asked}
    )
    assert switched.status_code == 303
    assert switched.headers["location"] == "/desk/"


async def test_the_density_switch_needs_the_form_token(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    desk = await sign_in_desk(http, seeded)
    refused = await http.post("/desk/density", data={"density": "compact"})
    assert refused.status_code == 403
    assert await _density(seeded, desk.id) is None


# htmx under the strict CSP


async def test_staff_pages_load_htmx_from_this_site_under_the_strict_csp(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    await sign_in_desk(http, seeded)
    page = await http.get("/desk/")
    csp = page.headers["content-security-policy"]
    assert csp == CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in csp
    assert "style-src 'self';" in csp
    assert "unsafe" not in csp
    text = page.text
    # From this site only (url_for gives a path from the site's root).
    htmx = re.search(r'<script src="(/static/vendor/htmx-[0-9.]+\.min\.js)" defer></script>', text)
    assert htmx, re.findall(r"<script[^>]*>", text)
    assert re.search(r'<script src="/static/desk\.js" defer></script>', text)
    assert len(re.findall(r"<script", text)) == 2
    config = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", text)
    assert config
    assert '"allowEval":false' in config.group(1)
    assert '"includeIndicatorStyles":false' in config.group(1)
    assert '"historyCacheSize":0' in config.group(1)
    # No inline script, style or event handler anywhere, and no hx-on.
    assert not re.search(r"<script(?![^>]*\bsrc=)", text)
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=|hx-on", text)
    served = await http.get(htmx.group(1))
    assert served.status_code == 200
    assert "javascript" in served.headers["content-type"]
    assert (await http.get("/static/desk.js")).status_code == 200


async def test_visitors_get_no_scripts(http: httpx2.AsyncClient) -> None:
    page = await http.get("/login")
    assert "<script" not in page.text
    assert "htmx-config" not in page.text


def test_the_vendored_htmx_is_the_file_its_readme_names() -> None:
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    row = re.search(
        r"\| `(htmx-([0-9.]+)\.min\.js)` \|[^|]*\| ([0-9.]+) \| `([0-9a-f]{64})` \|", readme
    )
    assert row, "static/vendor/README.md has no row for htmx"
    name, version_in_name, version, digest = row.groups()
    assert version_in_name == version
    assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest
    assert (VENDOR / "htmx-LICENSE").read_text(encoding="utf-8").startswith("Zero-Clause BSD")
    base = (PROJECT_ROOT / "templates" / "base.html").read_text(encoding="utf-8")
    assert f"path='vendor/{name}'" in base
    assert sorted(p.name for p in VENDOR.glob("htmx-*.min.js")) == [name]


def test_desk_js_never_reads_the_browsers_zone_nor_sets_inline_styles() -> None:
    script = Path(PROJECT_ROOT / "static" / "desk.js").read_text(encoding="utf-8")
    for forbidden in (
        "getTimezoneOffset",
        "Intl.",
        "toLocale",
        "getHours",
        ".style",
        'setAttribute("style"',
        "innerHTML",
        "eval(",
    ):
        assert forbidden not in script, forbidden
