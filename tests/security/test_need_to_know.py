"""Minimum necessary (reliability.md section 4, ASVS 8.2.2 and 8.2.3): recognisable
clinical text planted in every health form, care-plan review and clearance of the demo
clinic never reaches the front desk's or an admin's responses, however far they click;
and one client's link never reaches another client's booking, health form or payment.

The crawls follow every same-site link from each role's start pages (pages and the
desk's htmx partials), so a new page is covered without being listed here."""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, date, datetime
from html import unescape
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx2
import pytest
from sqlalchemy import select, update

from clinic import clock
from clinic.auth.models import Role, User
from clinic.booking.models import Appointment, ManageLink
from clinic.clearance.models import Clearance
from clinic.clients.models import Client
from clinic.db import Database
from clinic.intake.models import AppointmentIntake, Intake
from clinic.staff.models import Therapist
from clinic.tokens import token_hash
from tests import factories
from tests.demo_snapshot import seed_demo

TODAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # 10am in the demo clinic

# Invented words, so that a hit can only come from the planted health information.
DIAGNOSIS = "Zephyrine carcinoma"
MEDICINE = "Quillotamab"
OPERATION = "Vextrel resection"
CHEMOTHERAPY = "Brontaxel"
GOALS = "ease my Murrowgate neuropathy"
REVIEW_REASON = "Plinthic metastasis near the spine"
RESTRICTIONS = "No pressure over the Tarnwell port"
PLANTED = (DIAGNOSIS, MEDICINE, OPERATION, CHEMOTHERAPY, GOALS, REVIEW_REASON, RESTRICTIONS)

# Each crawl visits a few pages of each kind (addresses alike but for their numbers), up
# to a limit: every kind of desk and admin page, without every visit of the demo.
PER_KIND = 4
MAX_PAGES = 150
# Links that end the session or are not pages.
SKIP = re.compile(r"^/(logout|static/|calendar/)|\.ics$")
HREF = re.compile(r'(?:href|hx-get)="([^"#]+)')


@pytest.fixture
async def planted(db: Database) -> AsyncIterator[Database]:
    """The demo clinic with the invented clinical text in every place it can be written."""
    with clock.frozen_at(NOW):
        await seed_demo(db, timezone="America/New_York", currency="usd", today=TODAY)
        async with db.transaction() as session:
            for intake in await session.scalars(select(Intake)):
                answers = dict(intake.answers)
                answers.update(
                    # Whose form it is, for the test of one client's link against another's.
                    diagnosis=f"{DIAGNOSIS} {_tag(intake.client_id)}",
                    medicines=MEDICINE,
                    operation=OPERATION,
                    chemotherapy_drugs=CHEMOTHERAPY,
                    goals=GOALS,
                )
                intake.answers = answers
            await session.execute(update(AppointmentIntake).values(review_reason=REVIEW_REASON))
            await session.execute(update(Clearance).values(restrictions=RESTRICTIONS))
        yield db


def _tag(client_id: int | None) -> str:
    return f"ref-{client_id}-x"


def _links(page: str, base: str) -> Iterable[str]:
    for raw in HREF.findall(page):
        target = urlsplit(urljoin(base, unescape(raw)))
        if target.netloc in ("", "testserver") and not SKIP.search(target.path):
            yield target.path + (f"?{target.query}" if target.query else "")


def _leaks(text: str) -> list[str]:
    lowered = text.lower()
    return [word for word in PLANTED if word.lower() in lowered]


async def _crawl(
    http: httpx2.AsyncClient, starts: Iterable[str], *, within: tuple[str, ...]
) -> dict[str, list[str]]:
    """Visit every link under `within` reachable from `starts` (up to MAX_PAGES), as a
    page and as the desk's poll asks for it; what each response leaked, by address."""
    seen: set[str] = set()
    kinds: Counter[str] = Counter()
    queue = list(starts)
    leaked: dict[str, list[str]] = {}
    while queue and len(seen) < MAX_PAGES:
        path = queue.pop(0)
        kind = re.sub(r"\d+", "N", path)
        if path in seen or kinds[kind] >= PER_KIND:
            continue
        seen.add(path)
        kinds[kind] += 1
        response = await http.get(path)
        assert response.status_code < 500, f"GET {path}: {response.status_code}"
        texts = [response.text, str(response.headers)]
        if path.startswith("/desk/"):
            partial = await http.get(path, headers={"HX-Request": "true", "HX-Target": "desk-live"})
            texts.append(partial.text)
        if found := _leaks(" ".join(texts)):
            leaked[path] = found
        if response.headers.get("content-type", "").startswith("text/html"):
            queue.extend(
                link
                for link in _links(response.text, path)
                if link.startswith(within) and link not in seen
            )
    assert len(kinds) > 10, f"the crawl reached only {sorted(seen)}"
    return leaked


async def _sign_in_demo(http: httpx2.AsyncClient, db: Database, email: str) -> None:
    async with db.reading() as session:
        user_id = await session.scalar(select(User.id).where(User.email == email))
    assert user_id is not None
    await factories.sign_in_existing(http, db, user_id)


def _logged_leaks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Planted text in any log record: its message or its structured fields."""
    return _leaks(" ".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records))


async def test_the_planting_reaches_the_clinical_pages_and_never_the_logs(
    planted: Database, http: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The control: the text is where clinical staff read it, so its absence elsewhere
    means something."""
    async with planted.reading() as session:
        visit = (
            await session.execute(
                select(Appointment.id, Therapist.user_id)
                .join(Therapist, Therapist.id == Appointment.therapist_id)
                .join(AppointmentIntake, AppointmentIntake.appointment_id == Appointment.id)
                .where(AppointmentIntake.intake_id.is_not(None), Appointment.starts_at > NOW)
                .order_by(Appointment.starts_at)
                .limit(1)
            )
        ).one()
    with clock.frozen_at(NOW), caplog.at_level(logging.DEBUG):
        await factories.sign_in_existing(http, planted, visit.user_id)
        page = await http.get(f"/therapist/appointments/{visit.id}")
    assert page.status_code == 200
    assert caplog.records, "the control: the request was logged"
    assert _logged_leaks(caplog) == []
    assert _leaks(page.text)


async def test_no_desk_response_carries_clinical_text(
    planted: Database, http: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with clock.frozen_at(NOW), caplog.at_level(logging.DEBUG):
        await _sign_in_demo(http, planted, "frontdesk@willowoak.test")
        leaked = await _crawl(
            http,
            ["/desk/", "/desk/attention", "/desk/book", f"/desk/{TODAY.isoformat()}"],
            within=("/desk/",),
        )
    assert leaked == {}
    assert _logged_leaks(caplog) == []


async def test_no_admin_response_carries_clinical_text(
    planted: Database, http: httpx2.AsyncClient
) -> None:
    with clock.frozen_at(NOW):
        await factories.sign_in_as(http, planted, Role.ADMIN)
        leaked = await _crawl(http, ["/admin/"], within=("/admin/",))
    assert leaked == {}


# One client's link, another client's records


async def _link(db: Database, appointment_id: int, token: str) -> None:
    async with db.transaction() as session:
        session.add(ManageLink(appointment_id=appointment_id, token_hash=token_hash(token)))


async def _two_clients(db: Database) -> tuple[tuple[int, int, str], tuple[int, int, str]]:
    """Two upcoming visits with health forms, of two different clients: (appointment id,
    client id, name) each."""
    async with db.reading() as session:
        rows = (
            await session.execute(
                select(Appointment.id, Appointment.client_id, Client.name)
                .join(Client, Client.id == Appointment.client_id)
                .join(AppointmentIntake, AppointmentIntake.appointment_id == Appointment.id)
                .where(Appointment.starts_at > NOW, AppointmentIntake.intake_id.is_not(None))
                .order_by(Appointment.starts_at)
            )
        ).all()
    first = rows[0]
    second = next(row for row in rows if row.client_id != first.client_id)
    return (first.id, first.client_id, first.name), (second.id, second.client_id, second.name)


CLIENT_PAGES: tuple[Callable[[str], str], ...] = (
    lambda token: f"/manage/{token}",
    lambda token: f"/manage/{token}/time",
    lambda token: f"/manage/{token}/cancel",
    lambda token: f"/manage/{token}/check",
    lambda token: f"/manage/{token}/intake",
    lambda token: f"/api/v1/bookings/{token}",
)


async def test_a_clients_link_shows_only_their_own_records(
    planted: Database, new_client: Callable[[], httpx2.AsyncClient]
) -> None:
    (mine, _, _), (theirs, their_client, their_name) = await _two_clients(planted)
    await _link(planted, mine, "a" * 43)
    await _link(planted, theirs, "b" * 43)

    with clock.frozen_at(NOW):
        async with new_client() as browser:
            for page in CLIENT_PAGES:
                response = await browser.get(page("a" * 43))
                assert response.status_code < 500, page("a" * 43)
                for theirs_only in (their_name, _tag(their_client), "b" * 43):
                    assert theirs_only not in response.text, (page("a" * 43), theirs_only)
            own = await browser.get(f"/manage/{'a' * 43}")
    assert own.status_code == 200, "the control: the link itself works"


async def test_another_clients_ids_in_a_form_do_not_redirect_the_change(
    planted: Database, new_client: Callable[[], httpx2.AsyncClient]
) -> None:
    """The link decides the appointment: ids smuggled into the body change nothing."""
    (mine, _, _), (theirs, _, _) = await _two_clients(planted)
    await _link(planted, mine, "c" * 43)
    with clock.frozen_at(NOW):
        async with new_client() as browser:
            token = await factories.form_token(browser, f"/manage/{'c' * 43}/cancel")
            response = await browser.post(
                f"/manage/{'c' * 43}/cancel",
                data={
                    "csrf_token": token,
                    "appointment_id": str(theirs),
                    "id": str(theirs),
                    "confirm": "yes",
                },
            )
    assert response.status_code < 500
    async with planted.reading() as session:
        statuses: dict[int, Any] = dict(
            (
                await session.execute(
                    select(Appointment.id, Appointment.status).where(
                        Appointment.id.in_([mine, theirs])
                    )
                )
            ).all()
        )
    assert statuses[theirs].value in ("confirmed", "pending_clearance")


async def test_an_unknown_or_revoked_link_reads_nothing(
    planted: Database, new_client: Callable[[], httpx2.AsyncClient]
) -> None:
    (mine, _, my_name), _ = await _two_clients(planted)
    await _link(planted, mine, "d" * 43)
    async with planted.transaction() as session:
        await session.execute(
            update(ManageLink)
            .where(ManageLink.token_hash == token_hash("d" * 43))
            .values(revoked_at=NOW)
        )
    with clock.frozen_at(NOW):
        async with new_client() as browser:
            for token in ("d" * 43, "e" * 43):
                for page in CLIENT_PAGES:
                    response = await browser.get(page(token))
                    assert response.status_code in (404, 410), (page(token), response.status_code)
                    assert my_name not in response.text
                    assert not _leaks(response.text)
