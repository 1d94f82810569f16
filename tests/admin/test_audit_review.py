"""The admin's audit trail (/admin/audit): each filter narrows to exactly its entries (the
time filter by local days, across both clock changes), pages of 50 walk the trail with no
gap or repeat, bad filters come back as 400 with their messages and values, only admins
get in, the CSV and JSON Lines exports match the page and are themselves audited, and no
health information reaches the page or a download."""

from __future__ import annotations

import ast
import csv
import html
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx2
import pytest
from sqlalchemy import Connection, event, select

from clinic import audit
from clinic.admin import audit_review as review
from clinic.audit import AuditEntry, ChainReport
from clinic.auth.models import Role, User
from clinic.booking.models import Appointment
from clinic.clearance.models import Clearance
from clinic.clearance.service import Actor, request_clearance
from clinic.db import Database
from clinic.intake.models import Intake
from clinic.settings import PROJECT_ROOT
from tests import factories
from tests.admin.support import field_error, input_value, sign_in_demo, summary_links, title_of

NEW_YORK = ZoneInfo("America/New_York")
ENTRY = re.compile(r'<span class="visually-hidden">Entry (\d+), </span>')
OLDER = re.compile(r'<a href="([^"]+)" rel="next">Older entries</a>')


async def add_entry(
    db: Database,
    action: str,
    *,
    at: datetime | None = None,
    actor: int | None = None,
    label: str = "",
    subject: tuple[str, object] = ("", ""),
    details: dict[str, Any] | None = None,
) -> int:
    async with db.transaction() as session:
        entry = audit.record(
            session,
            action,
            actor_user_id=actor,
            actor_label=label,
            subject_type=subject[0],
            subject_id=subject[1],
            details=details,
        )
        if at is not None:
            entry.occurred_at = at
        await session.flush()
        return entry.id


async def shown_ids(http: httpx2.AsyncClient, **params: str) -> list[int]:
    response = await http.get("/admin/audit", params=params)
    assert response.status_code == 200, response.text
    return [int(found) for found in ENTRY.findall(response.text)]


async def export(
    http: httpx2.AsyncClient, file_format: str = "csv", **filters: str
) -> httpx2.Response:
    token = await factories.form_token(http, "/admin/audit")
    return await http.post(
        "/admin/audit/export", data={"csrf_token": token, "format": file_format, **filters}
    )


def csv_rows(response: httpx2.Response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


@pytest.fixture
async def admin(db: Database, http: httpx2.AsyncClient) -> User:
    return await factories.sign_in_as(http, db, Role.ADMIN, name="Avery Admin")


@pytest.fixture
async def two_staff(db: Database) -> tuple[User, User]:
    async with db.transaction() as session:
        first = await factories.create_user(session, name="Dana Desk", roles=(Role.FRONTDESK,))
        second = await factories.create_user(session, name="Theo Therapist")
    return first, second


# Filters


async def test_each_filter_narrows_to_its_entries(
    db: Database, http: httpx2.AsyncClient, admin: User, two_staff: tuple[User, User]
) -> None:
    desk, therapist = two_staff
    room_change = await add_entry(db, "room.changed", actor=desk.id, subject=("room", 4))
    service_change = await add_entry(db, "service.changed", actor=desk.id, subject=("service", 4))
    hold = await add_entry(db, "appointment.held", label="client", subject=("appointment", 7))
    booked = await add_entry(
        db, "appointment.booked", actor=therapist.id, subject=("appointment", 7)
    )
    other_visit = await add_entry(
        db, "appointment.booked", actor=therapist.id, subject=("appointment", 70)
    )
    policy = await add_entry(db, "policy.changed", label="cli", subject=("policy", "late_fee"))

    assert await shown_ids(http, actor=str(desk.id)) == [service_change, room_change]
    assert await shown_ids(http, actor="client") == [hold]
    assert await shown_ids(http, actor="cli") == [policy]
    assert await shown_ids(http, action="appointment.booked") == [other_visit, booked]
    # A group: rooms and services together, nothing from the visits.
    assert await shown_ids(http, action="all:offering") == [service_change, room_change]
    assert await shown_ids(http, subject_type="appointment", subject_id="7") == [booked, hold]
    assert await shown_ids(http, subject_type="appointment") == [other_visit, booked, hold]
    assert await shown_ids(http, subject_type="policy", subject_id="late_fee") == [policy]
    # Filters combine.
    assert await shown_ids(
        http,
        actor=str(therapist.id),
        action="appointment.booked",
        subject_type="appointment",
        subject_id="70",
    ) == [other_visit]
    assert await shown_ids(http, actor=str(desk.id), action="appointment.booked") == []


@pytest.mark.parametrize(
    ("day", "inside", "outside"),
    [
        # 14 March 2027 in New York is 23 hours long: 05:00 to 04:00 UTC the next day.
        (
            "2027-03-14",
            (datetime(2027, 3, 14, 5, tzinfo=UTC), datetime(2027, 3, 15, 3, 59, 59, tzinfo=UTC)),
            (datetime(2027, 3, 14, 4, 59, 59, tzinfo=UTC), datetime(2027, 3, 15, 4, tzinfo=UTC)),
        ),
        # 1 November 2026 is 25 hours long: 04:00 to 05:00 UTC the next day.
        (
            "2026-11-01",
            (datetime(2026, 11, 1, 4, tzinfo=UTC), datetime(2026, 11, 2, 4, 59, 59, tzinfo=UTC)),
            (datetime(2026, 11, 1, 3, 59, 59, tzinfo=UTC), datetime(2026, 11, 2, 5, tzinfo=UTC)),
        ),
    ],
)
async def test_the_time_filter_takes_whole_local_days_across_a_clock_change(
    db: Database,
    http: httpx2.AsyncClient,
    admin: User,
    day: str,
    inside: tuple[datetime, datetime],
    outside: tuple[datetime, datetime],
) -> None:
    ids = {
        at: await add_entry(db, "closure.added", at=at, subject=("closure", 1))
        for at in (*inside, *outside)
    }
    shown = await shown_ids(http, action="closure.added", **{"from": day, "to": day})
    assert sorted(shown) == sorted(ids[at] for at in inside)
    # The day before and the day after pick up the entries just outside.
    before = (date.fromisoformat(day) - timedelta(days=1)).isoformat()
    after = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    assert await shown_ids(http, action="closure.added", to=before) == [ids[outside[0]]]
    assert await shown_ids(http, action="closure.added", **{"from": after}) == [ids[outside[1]]]
    # Each time is shown in the zone's name at that instant.
    page = (await http.get("/admin/audit", params={"action": "closure.added"})).text
    for at in (*inside, *outside):
        assert review.local_time(at, NEW_YORK) in page
    assert "EST" in page
    assert "EDT" in page


def test_local_days_become_utc_instants() -> None:
    assert review.local_midnight(date(2027, 3, 14), NEW_YORK) == datetime(
        2027, 3, 14, 5, tzinfo=UTC
    )
    assert review.local_midnight(date(2027, 3, 15), NEW_YORK) == datetime(
        2027, 3, 15, 4, tzinfo=UTC
    )
    # Where a clock change skips midnight (Santiago, 6 September 2026), the day starts
    # at its first real instant, 01:00 local.
    santiago = ZoneInfo("America/Santiago")
    start = review.local_midnight(date(2026, 9, 6), santiago)
    assert start.astimezone(santiago).date() == date(2026, 9, 6)
    assert start.astimezone(santiago).hour == 1
    assert (start - timedelta(seconds=1)).astimezone(santiago).date() == date(2026, 9, 5)


# Pages


async def test_pages_walk_every_entry_once_newest_first(
    db: Database, http: httpx2.AsyncClient, admin: User
) -> None:
    async with db.transaction() as session:
        entries = [
            audit.record(
                session, "therapist.time_off_added", subject_type="therapist", subject_id=3
            )
            for _ in range(123)
        ]
        await session.flush()
        ids = [entry.id for entry in entries]
    seen: list[int] = []
    url = "/admin/audit?action=therapist.time_off_added"
    pages = 0
    while url:
        response = await http.get(url)
        assert response.status_code == 200
        page = [int(found) for found in ENTRY.findall(response.text)]
        assert 0 < len(page) <= review.PAGE_SIZE
        seen.extend(page)
        pages += 1
        if pages == 1:
            # An entry arriving meanwhile neither repeats nor hides an older one.
            await add_entry(db, "therapist.time_off_added", subject=("therapist", 3))
        older = OLDER.search(response.text)
        url = html.unescape(older.group(1)) if older else ""
        if older:
            # The filter travels with the page.
            assert "action=therapist.time_off_added" in url
    assert pages == 3
    assert seen == sorted(ids, reverse=True)


async def test_a_broken_page_link_offers_the_newest_entries(
    db: Database, http: httpx2.AsyncClient, admin: User
) -> None:
    response = await http.get("/admin/audit", params={"before": "abc", "action": "room.changed"})
    assert response.status_code == 400
    assert "newest" in summary_links(response.text)
    assert 'id="newest" href="/admin/audit?action=room.changed"' in response.text


async def test_a_page_reads_the_trail_in_two_statements(
    db: Database, http: httpx2.AsyncClient, admin: User
) -> None:
    async with db.transaction() as session:
        for n in range(60):
            audit.record(session, "room.changed", subject_type="room", subject_id=n % 3)
    statements: list[str] = []

    def seen(conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = db.read_engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        response = await http.get(
            "/admin/audit", params={"action": "all:offering", "from": "2020-01-01"}
        )
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert response.status_code == 200
    assert len(ENTRY.findall(response.text)) == review.PAGE_SIZE
    # The page of entries and the newest chain check; the staff list reads app_user only.
    assert len([s for s in statements if "FROM audit_entry" in s]) == 2


# Bad filters


async def test_bad_filters_come_back_with_their_messages_and_values(
    db: Database, http: httpx2.AsyncClient, admin: User
) -> None:
    params = {
        "actor": "999999",
        "action": "DROP TABLE",
        "subject_id": "42",
        "from": "2026-02-30",
        "to": "yesterday",
    }
    response = await http.get("/admin/audit", params=params)
    assert response.status_code == 400
    page = response.text
    assert title_of(page).startswith("Error: ")
    assert field_error(page, "actor") == "Choose who acted from the list"
    assert field_error(page, "action") == "Choose an action from the list"
    assert field_error(page, "subject_type") == "Choose the kind of record the number belongs to"
    assert field_error(page, "from") == "Enter the start date as a real date, like 2026-11-27"
    assert field_error(page, "to") == "Enter the end date as a real date, like 2026-11-27"
    assert set(summary_links(page)) == {"actor", "action", "subject_type", "from", "to"}
    assert input_value(page, "subject_id") == "42"
    assert input_value(page, "from") == "2026-02-30"
    assert input_value(page, "to") == "yesterday"
    assert "Correct the filter to see entries." in page
    # No download of a filter that does not stand.
    assert "/admin/audit/export" not in page


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"from": "2026-11-27", "to": "2026-11-26"}, "to", "must be the same as or after"),
        ({"from": "1066-10-14"}, "from", "between 1950 and 2100"),
        ({"subject_type": "diagnosis"}, "subject_type", "Choose the kind of record"),
        ({"subject_type": "client", "subject_id": "4\x002"}, "subject_id", "can only have"),
        ({"subject_type": "client", "subject_id": "9" * 65}, "subject_id", "64 characters"),
        ({"actor": "ｓｙｓｔｅｍ"}, "actor", "Choose who acted"),
        ({"actor": "1" * 40}, "actor", "Choose who acted"),
        ({"action": "all:nothing"}, "action", "Choose an action"),
        ({"action": "a." + "b" * 200}, "action", "Choose an action"),
    ],
)
async def test_hostile_filter_values_are_refused_not_500(
    db: Database,
    http: httpx2.AsyncClient,
    admin: User,
    params: dict[str, str],
    field: str,
    message: str,
) -> None:
    response = await http.get("/admin/audit", params=params)
    assert response.status_code == 400
    error = field_error(response.text, field)
    assert error is not None
    assert message in error
    token = await factories.form_token(http, "/admin/audit")
    posted = await http.post("/admin/audit/export", data={"csrf_token": token, **params})
    assert posted.status_code == 400
    assert posted.headers["content-type"].startswith("text/html")


async def test_an_action_the_list_does_not_know_can_still_be_found(
    db: Database, http: httpx2.AsyncClient, admin: User
) -> None:
    entry = await add_entry(
        db, "break_glass.extended", subject=("intake", 5), details={"reason": "Fell in the lobby"}
    )
    assert await shown_ids(http, action="break_glass.extended") == [entry]
    page = (await http.get("/admin/audit", params={"action": "break_glass.extended"})).text
    assert '<option value="break_glass.extended" selected>' in page
    assert "Break glass: extended" in page
    assert "Fell in the lobby" in page


# Who may


@pytest.mark.parametrize("role", [Role.FRONTDESK, Role.THERAPIST, Role.CLINICAL_LEAD])
async def test_only_admins_see_or_export_the_trail(
    db: Database, http: httpx2.AsyncClient, role: Role
) -> None:
    await factories.sign_in_as(http, db, role)
    assert (await http.get("/admin/audit")).status_code == 403
    # The refusal page carries the staff nav, whose sign-out form holds the token.
    token = await factories.form_token(http, "/admin/audit")
    for path in ("/admin/audit/export", "/admin/audit/verify"):
        refused = await http.post(path, data={"csrf_token": token})
        assert refused.status_code == 403
    async with db.reading() as session:
        written = await session.scalars(
            select(AuditEntry.action).where(AuditEntry.action.like("audit.%"))
        )
        assert list(written) == []


# Exports


async def test_the_csv_export_matches_the_filter_and_defuses_formulas(
    db: Database, http: httpx2.AsyncClient, admin: User, frozen: None
) -> None:
    async with db.transaction() as session:
        mallory = await factories.create_user(session, name='=HYPERLINK("http://x","y")')
    at = datetime(2026, 11, 10, 15, 30, tzinfo=UTC)
    overridden = await add_entry(
        db,
        "appointment.rules_overridden",
        at=at,
        actor=mallory.id,
        subject=("appointment", 12),
        details={"overrides": ["notice"], "reason": "-2+3 squeezed in", "secret": "not shown"},
    )
    signed_in = await add_entry(
        db,
        "user.sign_in_failed",
        at=at + timedelta(hours=1),
        label="anonymous",
        subject=("user", mallory.id),
        details={"ip": "@10.0.0.1", "reason": "wrong_password"},
    )
    await add_entry(db, "room.changed", at=datetime(2026, 10, 31, 12, tzinfo=UTC))

    # Up to the 20th: the admin signed in on the 27th.
    response = await export(http, **{"from": "2026-11-01", "to": "2026-11-20"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-disposition"] == (
        'attachment; filename="audit-2026-11-01-to-2026-11-20.csv"'
    )
    assert response.content.startswith("\ufeff".encode())
    rows = csv_rows(response)
    assert [int(r["entry_id"]) for r in rows] == [signed_in, overridden]
    failed, override = rows
    assert override["actor"] == '\'=HYPERLINK("http://x","y")'
    assert override["reason"] == "'-2+3 squeezed in"
    assert override["action_words"] == "Booking rules overridden"
    assert override["occurred_at_utc"] == "2026-11-10T15:30:00.000000+00:00"
    assert override["occurred_at_local"] == "2026-11-10T10:30:00-05:00"
    assert override["zone"] == "America/New_York"
    assert json.loads(override["details"]) == {"overrides": ["notice"]}
    assert failed["actor"] == "Someone not signed in"
    assert failed["ip"] == "'@10.0.0.1"
    assert failed["reason"] == "Wrong password"
    assert failed["details"] == "{}"

    whole = await export(http)
    assert whole.headers["content-disposition"] == (
        'attachment; filename="audit-start-to-2026-11-27.csv"'
    )
    assert len(csv_rows(whole)) >= 3


async def test_the_json_lines_export_has_one_entry_a_line(
    db: Database, http: httpx2.AsyncClient, admin: User
) -> None:
    first = await add_entry(db, "service.created", subject=("service", 3))
    second = await add_entry(
        db, "service.changed", subject=("service", 3), details={"fields": ["name"]}
    )
    response = await export(http, "jsonl", subject_type="service", subject_id="3")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson; charset=utf-8"
    assert response.headers["content-disposition"].endswith('.jsonl"')
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["entry_id"] for line in lines] == [second, first]
    assert lines[0]["details"] == {"fields": ["name"]}
    assert lines[0]["action_words"] == "Service changed"


async def test_a_long_export_streams_in_batches_without_gaps(
    db: Database, http: httpx2.AsyncClient, admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(review, "EXPORT_BATCH", 7)
    async with db.transaction() as session:
        entries = [
            audit.record(session, "closure.removed", subject_type="closure", subject_id=n)
            for n in range(30)
        ]
        await session.flush()
        ids = sorted((entry.id for entry in entries), reverse=True)
    rows = csv_rows(await export(http, action="closure.removed"))
    assert [int(r["entry_id"]) for r in rows] == ids


async def test_an_export_is_itself_audited(
    db: Database, http: httpx2.AsyncClient, admin: User
) -> None:
    await add_entry(db, "room.created", subject=("room", 2))
    response = await export(http, action="room.created", subject_type="room")
    assert response.status_code == 200
    async with db.reading() as session:
        recorded = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == review.EXPORTED))
        ).one()
    assert recorded.actor_user_id == admin.id
    assert recorded.details["filter"] == {"action": "room.created", "subject_type": "room"}
    assert recorded.details["format"] == "csv"
    assert recorded.details["ip"]
    assert recorded.details["request_id"] == response.headers["x-request-id"]
    # The download holds the trail as it stood before the export: not its own entry.
    everything = csv_rows(await export(http))
    assert recorded.id in [int(r["entry_id"]) for r in everything]
    page = (await http.get("/admin/audit", params={"action": review.EXPORTED})).text
    assert "Audit trail exported" in page
    assert "action: room.created; subject_type: room" in page


# Nothing clinical


def _long_texts(value: object) -> Iterator[str]:
    """The free-text leaves of an intake's answers (several words)."""
    if isinstance(value, str) and " " in value.strip() and len(value) >= 10:
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _long_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _long_texts(item)


async def test_no_health_information_reaches_the_page_or_the_exports(
    seeded: Database, http: httpx2.AsyncClient, frozen: None
) -> None:
    admin = await sign_in_demo(http, seeded)
    async with seeded.reading() as session:
        intakes = list(await session.scalars(select(Intake)))
        clearances = list(await session.scalars(select(Clearance)))
        appointment_id = await session.scalar(
            select(Appointment.id).where(Appointment.client_id.is_not(None)).limit(1)
        )
    assert intakes
    assert clearances
    assert appointment_id is not None
    secrets = {text for intake in intakes for text in _long_texts(intake.answers)}
    secrets |= {c.physician_name for c in clearances} | {
        c.restrictions for c in clearances if c.restrictions
    }
    secrets |= {"Dr. Quillon Marchbanks", "Marchbanks Oncology, ward 7"}
    assert len(secrets) > 10
    # A clearance requested through the real use case: its entry names the physician.
    await request_clearance(
        seeded,
        appointment_id,
        physician_name="Dr. Quillon Marchbanks",
        practice="",
        contact="Marchbanks Oncology, ward 7",
        actor=Actor(admin.id, frozenset({Role.FRONTDESK})),
    )
    # Entries shaped as the code writes them about those records, with the health facts
    # some carry, and an action the list does not know with a clinical key.
    for intake in intakes:
        await add_entry(
            seeded,
            "intake.read",
            actor=admin.id,
            subject=("intake", intake.id),
            details={"appointment_id": appointment_id, "by": "treating_therapist"},
        )
    clearance = clearances[0]
    await add_entry(
        seeded,
        "clearance.decided",
        actor=admin.id,
        subject=("clearance", clearance.id),
        details={"status": "restricted", "restricted": "light", "notes": clearance.restrictions},
    )
    await add_entry(
        seeded,
        "appointment.cancelled",
        label="client",
        subject=("appointment", appointment_id),
        details={"by": "client", "late": False, "fee_minor": 0, "medically_excused": True},
    )
    await add_entry(
        seeded,
        "previsit.answered",
        label="client",
        subject=("appointment", appointment_id),
        details={"outcome": "new_symptoms"},
    )
    # A break-glass read: its reason is for the admin to see.
    await add_entry(
        seeded,
        "intake.read",
        actor=admin.id,
        subject=("intake", intakes[0].id),
        details={"by": "break_glass", "grant_id": 1, "reason": "Client unwell in the lobby"},
    )
    await add_entry(
        seeded,
        "care_plan.changed",
        actor=admin.id,
        subject=("intake", intakes[0].id),
        details={"diagnosis": "Dr. Quillon Marchbanks says stage IV"},
    )

    page = (await http.get("/admin/audit")).text
    csv_text = (await export(http)).text
    jsonl_text = (await export(http, "jsonl")).text
    assert "Clearance requested" in page
    assert "Health form read" in page
    assert "Clearance outcome recorded" in page
    assert "Client unwell in the lobby" in page
    assert "Client unwell in the lobby" in csv_text
    for words in (page, csv_text, jsonl_text):
        for secret in secrets:
            assert secret not in words
            assert html.escape(secret) not in words
            assert json.dumps(secret)[1:-1] not in words
        for fact in ("medically", "new_symptoms", "restricted", "stage IV"):
            assert fact not in words
    # Health forms and clearances are named by number, never linked.
    assert "/intake" not in page.split('id="entries"')[1]
    assert "/clearance" not in page.split('id="entries"')[1]


def test_details_show_only_what_the_action_allows() -> None:
    stored = {
        "by": "client",
        "late": True,
        "fee_minor": 2500,
        "medically_excused": True,
        "ip": "192.0.2.1",
        "request_id": "abc",
    }
    shown, reason, ip, request_id = review.safe_details("appointment.cancelled", stored)
    assert shown == {"by": "client", "late": True, "fee_minor": 2500}
    assert (reason, ip, request_id) == ("", "192.0.2.1", "abc")
    assert review.safe_details("clearance.decided", {"status": "refused"})[0] == {}
    assert review.safe_details("someone.new", {"anything": 1, "reason": "x"})[:2] == ({}, "")
    assert review.safe_details("break_glass.used", {"reason": "Emergency"})[1] == "Emergency"
    assert review.safe_details("user.sign_in_failed", {"reason": "disabled"})[1] == (
        "The account is disabled"
    )
    # Instants in details read in the clinic's zone.
    row = review.EntryRow(
        id=1,
        occurred_at=datetime(2026, 11, 27, tzinfo=UTC),
        actor_user_id=None,
        actor_name="A client",
        actor_email="",
        action="appointment.rescheduled",
        action_words="Visit moved",
        subject_type="appointment",
        subject_id="4",
        reason="",
        ip="",
        request_id="",
        details={"from": "2026-12-01T14:30:00+00:00", "therapist_changed": False},
    )
    assert review.detail_items(row, "usd", NEW_YORK) == [
        ("From", "Tue 1 Dec 2026, 9:30:00am EST"),
        ("Therapist changed", "no"),
    ]
    # Not a mapping at all: nothing, and no error.
    assert review.safe_details("room.changed", ["fields"]) == ({}, "", "", "")


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=1", "a=1"),
        ("", ""),
        (5, 5),
    ],
)
def test_csv_cells_cannot_start_a_formula(value: object, cell: object) -> None:
    assert review.csv_cell(value) == cell


# The chain


async def test_checking_the_chain_records_and_shows_the_result(
    db: Database, http: httpx2.AsyncClient, admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_entry(db, "room.created", subject=("room", 1))
    await audit.seal_all(db)
    await add_entry(db, "room.changed", subject=("room", 1))
    page = (await http.get("/admin/audit")).text
    assert "Not checked from this page yet." in page

    token = await factories.form_token(http, "/admin/audit")
    response = await http.post(
        "/admin/audit/verify", data={"csrf_token": token, "action": "room.created"}
    )
    assert response.status_code == 200
    page = response.text
    assert "The audit chain verifies: 2 entries sealed, 1 waiting to be sealed." in page
    # The filter the admin was looking at is kept.
    assert '<option value="room.created" selected>' in page
    async with db.reading() as session:
        checked = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == review.CHAIN_CHECKED)
            )
        ).one()
    assert checked.actor_user_id == admin.id
    assert checked.details["ok"] is True
    # The admin's signing in and the room's creation; its change is not sealed yet.
    assert checked.details["sealed"] == 2
    assert checked.details["unsealed"] == 1
    later = (await http.get("/admin/audit")).text
    assert re.search(r"<strong>Intact</strong>\s+when Avery Admin checked it", later)

    broken = ChainReport(
        ok=False,
        sealed=3,
        unsealed=0,
        problem="Entry 4 (seq 4) does not match its seal: it was changed after sealing.",
    )

    async def tampered(db: Database, *, batch: int = 1000) -> ChainReport:
        return broken

    monkeypatch.setattr(audit, "verify_chain", tampered)
    page = (await http.post("/admin/audit/verify", data={"csrf_token": token})).text
    assert "The audit chain is broken. Entry 4 (seq 4) does not match its seal" in page
    assert re.search(r"<strong>Broken</strong>\s+when Avery Admin checked it", page)


# Links and words


async def test_records_link_only_to_pages_without_clinical_detail(
    db: Database, http: httpx2.AsyncClient, admin: User
) -> None:
    await add_entry(db, "user.disabled", subject=("user", admin.id))
    await add_entry(db, "policy.changed", subject=("policy", "late_fee"))
    await add_entry(db, "appointment.checked_in", subject=("appointment", 9))
    await add_entry(db, "intake.read", subject=("intake", 9))
    await add_entry(db, "clearance.read", subject=("clearance", 9))
    page = (await http.get("/admin/audit")).text
    assert f'<a href="/admin/users/{admin.id}">Staff account {admin.id}</a>' in page
    assert '<a href="/admin/policies/booking">Booking policy late_fee</a>' in page
    # An admin who does not work the desk cannot open the desk's visit panel.
    assert "/desk/appointments/9" not in page
    assert "<td>Visit 9</td>" in page
    assert "<td>Health form 9</td>" in page
    assert "<td>Clearance 9</td>" in page


async def test_an_admin_who_also_works_the_desk_gets_the_visit_link(
    db: Database, http: httpx2.AsyncClient
) -> None:
    await factories.sign_in_as(http, db, Role.ADMIN, Role.FRONTDESK)
    await add_entry(db, "appointment.checked_in", subject=("appointment", 9))
    page = (await http.get("/admin/audit")).text
    assert '<a href="/desk/appointments/9">Visit 9</a>' in page


async def test_the_nav_links_the_trail(db: Database, http: httpx2.AsyncClient, admin: User) -> None:
    page = (await http.get("/admin/")).text
    assert '<a href="/admin/audit">Audit trail</a>' in page
    own = (await http.get("/admin/audit")).text
    assert '<a href="/admin/audit" aria-current="page">Audit trail</a>' in own


def _recorded_actions() -> set[str]:
    """Every action clinic/ passes to audit.record (or a module's own `_record` helper of the
    same shape) as a literal string, or as a module constant holding one."""
    found: set[str] = set()
    for path in (PROJECT_ROOT / "clinic").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or len(node.args) < 2:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name not in ("record", "_record"):
                continue
            action = node.args[1]
            options = [action.body, action.orelse] if isinstance(action, ast.IfExp) else [action]
            for option in options:
                if isinstance(option, ast.Constant) and isinstance(option.value, str):
                    found.add(option.value)
                elif isinstance(option, ast.Name) and option.id in constants:
                    found.add(constants[option.id])
    return {action for action in found if "." in action}


def test_every_action_the_code_records_has_words_and_an_allow_list() -> None:
    recorded = _recorded_actions()
    assert {"appointment.booked", "user.enabled", "audit.exported"} <= recorded
    missing = sorted(recorded - set(review.ACTIONS))
    assert missing == [], (
        f"add {missing} to ACTIONS in clinic/admin/audit_review.py, with the details keys "
        "an admin may see"
    )
    grouped = {name for slug in review.GROUPS for name in review.group_actions(slug)}
    assert grouped == set(review.ACTIONS)
    for name, action in review.ACTIONS.items():
        for key in action.shown:
            assert key in review.DETAIL_WORDS, f"{name}: no words for {key!r}"
