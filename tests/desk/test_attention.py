"""The desk's "Needs attention" list (/desk/attention): each reason a booked visit can no
longer go ahead (time off, a licence or insurance not current on its date, a deactivated
therapist, a raised training level) appears in words and goes once fixed; cancelled, past
and far-off visits never show; nothing clinical reaches the page; the list reads in a fixed
number of statements; and it agrees with online booking about who may treat on a date."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx2
import pytest
from sqlalchemy import delete, event, insert, select, update
from sqlalchemy.engine import Connection

from clinic.admin.therapists import set_active
from clinic.admin.time_off import remove_time_off
from clinic.auth.models import Role
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.db import Database
from clinic.desk.attention import (
    AttentionItem,
    Reason,
    VisitFacts,
    needs_attention,
    problems_of,
)
from clinic.intake.models import AppointmentIntake, IntakeState
from clinic.scheduling.availability import (
    BookingRules,
    Need,
    TherapistCalendar,
    WorkingHours,
    available_slots,
)
from clinic.scheduling.models import Location, Service, TimeOff, service_therapist
from clinic.scheduling.service import free_times
from clinic.staff.credentials import CredentialFacts, LevelRules
from clinic.staff.models import Credential, CredentialKind, Therapist, therapist_location
from tests import factories
from tests.booking.conftest import NOW, TODAY
from tests.desk.support import CLINICAL_WORDS, sign_in_desk, text_of

ZONE = ZoneInfo("America/New_York")
# Thursday 3 December 2026, 10am in New York: a week after the frozen Friday.
VISIT_DAY = date(2026, 12, 3)
VISIT_AT = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
LICENCE = CredentialKind.MASSAGE_LICENCE
INSURANCE = CredentialKind.LIABILITY_INSURANCE


@dataclass(frozen=True)
class Booked:
    appointment_id: int
    therapist_id: int
    service_id: int


async def _booked(
    db: Database,
    *,
    starts_at: datetime = VISIT_AT,
    status: AppointmentStatus = AppointmentStatus.CONFIRMED,
    therapist_name: str = "Dana Payton",
    client_name: str = "Sam Lee",
    insurance_expires: date | None = None,
    trained: bool = False,
    service_level: int | None = None,
) -> Booked:
    """A visit with a therapist of its own who may treat it: licence and insurance
    verified, hours on Thursdays, offering the service at the clinic's location.
    `trained`: with a foundational course (level 1)."""
    async with db.transaction() as session:
        location = await session.scalar(select(Location).order_by(Location.id).limit(1))
        if location is None:
            location = await factories.create_location(session)
        service = await factories.create_service(session, min_oncology_level=service_level)
        therapist = await factories.create_therapist(session, display_name=therapist_name)
        await factories.create_credential(session, therapist=therapist, kind=LICENCE)
        await factories.create_credential(
            session, therapist=therapist, kind=INSURANCE, expires_on=insurance_expires
        )
        if trained:
            await factories.create_credential(
                session,
                therapist=therapist,
                kind=CredentialKind.ONCOLOGY_FOUNDATIONAL,
                hours=24,
                supervised_hands_on=True,
            )
        await factories.create_weekly_hours(
            session, therapist=therapist, location=location, weekday=VISIT_DAY.weekday()
        )
        await session.execute(
            insert(therapist_location).values(therapist_id=therapist.id, location_id=location.id)
        )
        await session.execute(
            insert(service_therapist).values(service_id=service.id, therapist_id=therapist.id)
        )
        client = await factories.create_client(session, name=client_name)
        appointment = await factories.create_appointment(
            session,
            location=location,
            therapist=therapist,
            client=client,
            service=service,
            starts_at=starts_at,
            status=status,
        )
        return Booked(appointment.id, therapist.id, service.id)


async def _listed(db: Database) -> dict[int, AttentionItem]:
    async with db.reading() as session:
        return {item.appointment_id: item for item in await needs_attention(session, now=NOW)}


async def _reasons(db: Database, visit: Booked) -> list[Reason]:
    item = (await _listed(db)).get(visit.appointment_id)
    return [problem.reason for problem in item.problems] if item else []


async def _words(db: Database, visit: Booked) -> list[str]:
    item = (await _listed(db))[visit.appointment_id]
    return [problem.words for problem in item.problems]


async def _admin(db: Database) -> int:
    async with db.transaction() as session:
        return (await factories.create_user(session, roles=(Role.ADMIN,))).id


async def _offered(db: Database, visit: Booked) -> bool:
    """Whether online booking would offer this visit's therapist at its time now (the
    visit's own time not counted as busy)."""
    found = await free_times(
        db,
        service_id=visit.service_id,
        first_day=VISIT_DAY,
        last_day=VISIT_DAY,
        therapist_id=visit.therapist_id,
        ignoring_appointment=visit.appointment_id,
    )
    assert found is not None
    return any(
        slot.start == VISIT_AT and slot.therapist_id == visit.therapist_id for slot in found.slots
    )


async def _agree(db: Database, visit: Booked) -> None:
    """Booking offers the visit's time exactly when the list has nothing to say about it."""
    listed = visit.appointment_id in await _listed(db)
    assert await _offered(db, visit) is not listed


pytestmark = pytest.mark.usefixtures("frozen")


# The four reasons, each appearing and going once fixed


async def test_time_off_over_a_visit_lists_it_until_the_time_off_is_removed(db: Database) -> None:
    visit = await _booked(db)
    fine = await _booked(db, therapist_name="Jo Ames")
    assert await _listed(db) == {}
    async with db.transaction() as session:
        off = TimeOff(
            therapist_id=visit.therapist_id,
            starts_at=datetime(2026, 12, 3, 5, 0, tzinfo=UTC),
            ends_at=datetime(2026, 12, 4, 5, 0, tzinfo=UTC),
            reason="Holiday",
        )
        session.add(off)
        await session.flush()
        off_id = off.id

    assert await _reasons(db, visit) == [Reason.TIME_OFF]
    item = (await _listed(db))[visit.appointment_id]
    assert item.problems[0].words == "Dana Payton has time off on Thu 3 Dec."
    assert "move" in item.problems[0].todo.lower()
    assert fine.appointment_id not in await _listed(db)
    await _agree(db, visit)

    await remove_time_off(db, visit.therapist_id, off_id, actor_user_id=await _admin(db))
    assert await _reasons(db, visit) == []
    await _agree(db, visit)


async def test_time_off_that_ends_as_the_visit_starts_leaves_it_alone(db: Database) -> None:
    visit = await _booked(db)
    async with db.transaction() as session:
        session.add(
            TimeOff(
                therapist_id=visit.therapist_id,
                starts_at=VISIT_AT - timedelta(hours=3),
                ends_at=VISIT_AT,
            )
        )
    assert await _reasons(db, visit) == []


async def test_insurance_expiring_before_the_visit_lists_it_until_the_renewal_is_verified(
    db: Database,
) -> None:
    visit = await _booked(db, insurance_expires=date(2026, 11, 30))
    on_the_day = await _booked(db, therapist_name="Jo Ames", insurance_expires=VISIT_DAY)

    assert await _words(db, visit) == [
        "Dana Payton's liability insurance expires Mon 30 Nov, before this visit."
    ]
    # Valid through its expiry day, as for booking.
    assert on_the_day.appointment_id not in await _listed(db)
    await _agree(db, visit)
    await _agree(db, on_the_day)

    async with db.transaction() as session:
        therapist = await session.get(Therapist, visit.therapist_id)
        assert therapist is not None
        # Recorded but not yet verified: still not current.
        unverified = await factories.create_credential(
            session,
            therapist=therapist,
            kind=INSURANCE,
            issued_on=date(2026, 12, 1),
            expires_on=date(2027, 12, 1),
            verified_at=None,
        )
    assert await _reasons(db, visit) == [Reason.CREDENTIAL]
    async with db.transaction() as session:
        await session.execute(
            update(Credential).where(Credential.id == unverified.id).values(verified_at=NOW)
        )
    assert await _reasons(db, visit) == []
    await _agree(db, visit)


async def test_a_deactivated_therapist_lists_their_visits_until_reactivated(db: Database) -> None:
    visit = await _booked(db)
    waiting = await _booked(
        db,
        status=AppointmentStatus.PENDING_CLEARANCE,
        starts_at=VISIT_AT + timedelta(hours=2),
        client_name="Ana Ruiz",
    )
    async with db.transaction() as session:
        await session.execute(
            update(Appointment)
            .where(Appointment.id == waiting.appointment_id)
            .values(therapist_id=visit.therapist_id)
        )
    admin = await _admin(db)
    await set_active(db, visit.therapist_id, active=False, actor_user_id=admin, now=NOW)

    listed = await _listed(db)
    assert [p.words for p in listed[visit.appointment_id].problems] == [
        "Dana Payton is deactivated."
    ]
    assert listed[waiting.appointment_id].client_name == "Ana Ruiz"
    assert listed[waiting.appointment_id].status is AppointmentStatus.PENDING_CLEARANCE
    await _agree(db, visit)

    await set_active(db, visit.therapist_id, active=True, actor_user_id=admin, now=NOW)
    assert await _listed(db) == {}
    await _agree(db, visit)


async def test_a_raised_service_level_lists_visits_until_it_is_lowered(db: Database) -> None:
    visit = await _booked(db, trained=True, service_level=1)
    assert await _reasons(db, visit) == []
    await _agree(db, visit)

    async with db.transaction() as session:
        await session.execute(
            update(Service).where(Service.id == visit.service_id).values(min_oncology_level=2)
        )
    assert await _words(db, visit) == [
        "Massage, 60 min needs training level 2; Dana Payton has level 1."
    ]
    await _agree(db, visit)

    async with db.transaction() as session:
        await session.execute(
            update(Service).where(Service.id == visit.service_id).values(min_oncology_level=1)
        )
    assert await _reasons(db, visit) == []
    await _agree(db, visit)


async def test_the_level_a_visits_plan_asks_for_counts_without_saying_why(db: Database) -> None:
    visit = await _booked(db, trained=True)
    async with db.transaction() as session:
        session.add(
            AppointmentIntake(
                appointment_id=visit.appointment_id,
                state=IntakeState.REVIEW,
                required_level=3,
                review_reason="the plan needs oncology level 3",
            )
        )
    item = (await _listed(db))[visit.appointment_id]
    assert [p.words for p in item.problems] == [
        "This visit needs training level 3; Dana Payton has level 1."
    ]
    assert "clinical lead" in item.problems[0].todo


# What is never listed


async def test_cancelled_past_finished_and_far_off_visits_are_not_listed(db: Database) -> None:
    kept = await _booked(db)
    others = [
        await _booked(db, status=AppointmentStatus.CANCELLED, therapist_name="A"),
        await _booked(db, status=AppointmentStatus.NO_SHOW, therapist_name="B"),
        await _booked(db, status=AppointmentStatus.CHECKED_IN, therapist_name="C"),
        await _booked(db, starts_at=NOW - timedelta(hours=2), therapist_name="D"),
        await _booked(
            db, starts_at=VISIT_AT + timedelta(days=120), therapist_name="E", client_name="Far"
        ),
    ]
    admin = await _admin(db)
    for visit in (kept, *others):
        await set_active(db, visit.therapist_id, active=False, actor_user_id=admin, now=NOW)
    assert list(await _listed(db)) == [kept.appointment_id]


# The page


async def test_the_page_lists_each_visit_with_its_problem_and_a_link_to_it(
    db: Database, http: httpx2.AsyncClient
) -> None:
    later = await _booked(db, starts_at=VISIT_AT + timedelta(days=1), client_name="Ana Ruiz")
    sooner = await _booked(db, therapist_name="Jo Ames", insurance_expires=date(2026, 12, 1))
    await set_active(db, later.therapist_id, active=False, actor_user_id=await _admin(db), now=NOW)
    await factories.sign_in_as(http, db, Role.FRONTDESK)

    page = await http.get("/desk/attention")

    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "<title>Front desk: needs attention</title>" in page.text
    assert page.text.count("<h1") == 1
    text = text_of(page.text)
    assert "Times are New York time (EST)" in text
    # Soonest first.
    assert text.index("Sam Lee") < text.index("Ana Ruiz")
    assert "Thursday 3 December 2026, 10am" in text
    assert "Jo Ames's liability insurance expires Tue 1 Dec, before this visit." in text
    assert "Dana Payton is deactivated." in text
    assert "Massage, 60 min" in text
    for visit in (sooner, later):
        assert f'/desk/appointments/{visit.appointment_id}">Open visit' in page.text


async def test_the_page_says_when_nothing_needs_attention(
    db: Database, http: httpx2.AsyncClient
) -> None:
    await _booked(db)
    await factories.sign_in_as(http, db, Role.FRONTDESK)
    page = await http.get("/desk/attention")
    assert page.status_code == 200
    assert "Nothing needs attention" in page.text
    assert "<table" not in page.text


async def test_the_desk_sees_no_health_details_on_the_list(
    db: Database, http: httpx2.AsyncClient
) -> None:
    visit = await _booked(db)
    precaution = "Avoid the left arm: port site, no lotion"
    async with db.transaction() as session:
        await session.execute(
            update(Service)
            .where(Service.id == visit.service_id)
            .values(name="Oncology massage after chemo", min_oncology_level=2)
        )
        session.add(
            AppointmentIntake(
                appointment_id=visit.appointment_id,
                state=IntakeState.REVIEW,
                plan={"precautions": [precaution]},
                required_level=2,
                modifications=True,
                review_reason="the plan needs a lymphedema-trained therapist",
            )
        )
    await factories.sign_in_as(http, db, Role.FRONTDESK)
    page = await http.get("/desk/attention")
    assert "Massage, 60 min needs training level 2; Dana Payton has level 0." in text_of(page.text)
    lowered = page.text.lower()
    for word in CLINICAL_WORDS:
        assert word not in lowered, word
    assert precaution.lower() not in lowered
    assert "port site" not in lowered


async def test_the_demo_clinics_list_names_no_health_details(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    await sign_in_desk(http, seeded)
    page = await http.get("/desk/attention")
    assert page.status_code == 200
    async with seeded.reading() as session:
        reasons = [
            reason
            for reason in await session.scalars(select(AppointmentIntake.review_reason))
            if reason
        ]
    lowered = page.text.lower()
    for word in CLINICAL_WORDS:
        assert word not in lowered, word
    for reason in reasons:
        assert reason.lower() not in lowered


async def test_the_day_page_links_to_the_list_with_its_count(
    db: Database, http: httpx2.AsyncClient
) -> None:
    await factories.sign_in_as(http, db, Role.FRONTDESK)
    page = await http.get(f"/desk/{TODAY.isoformat()}")
    assert "Needs attention: 0 in the next 14 days" in text_of(page.text)

    visit = await _booked(db)
    await _booked(db, therapist_name="Jo Ames")
    await set_active(db, visit.therapist_id, active=False, actor_user_id=await _admin(db), now=NOW)
    page = await http.get(f"/desk/{TODAY.isoformat()}")
    assert "Needs attention: 1 in the next 14 days" in text_of(page.text)
    assert '/desk/attention">Needs attention' in page.text

    # Further ahead: on the list, not in the day page's count.
    later = await _booked(db, starts_at=VISIT_AT + timedelta(days=21), therapist_name="Al Roy")
    await set_active(db, later.therapist_id, active=False, actor_user_id=await _admin(db), now=NOW)
    page = await http.get(f"/desk/{TODAY.isoformat()}")
    assert "Needs attention: 1 in the next 14 days" in text_of(page.text)
    listed = await http.get("/desk/attention")
    assert f"/desk/appointments/{later.appointment_id}" in listed.text


# Its cost


@contextmanager
def _statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements run while the block runs (transaction control left out)."""
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


async def _many(db: Database, visits: int) -> None:
    """`visits` visits, each therapist with a different problem or none."""
    admin = await _admin(db)
    for n in range(visits):
        visit = await _booked(
            db,
            starts_at=VISIT_AT + timedelta(days=n % 40, minutes=n),
            therapist_name=f"T{visits} {n:03d}",
            insurance_expires=date(2026, 12, 1) if n % 4 == 1 else None,
            trained=n % 4 != 2,
            service_level=2 if n % 4 == 2 else None,
        )
        if n % 4 == 3:
            await set_active(db, visit.therapist_id, active=False, actor_user_id=admin, now=NOW)
        if n % 5 == 0:
            async with db.transaction() as session:
                session.add(
                    TimeOff(
                        therapist_id=visit.therapist_id,
                        starts_at=VISIT_AT - timedelta(days=1),
                        ends_at=VISIT_AT + timedelta(days=60),
                    )
                )


async def _page_statements(http: httpx2.AsyncClient, db: Database) -> tuple[list[str], str]:
    with _statements(db) as statements:
        page = await http.get("/desk/attention")
    assert page.status_code == 200, page.text
    return statements, page.text


async def test_the_list_reads_in_a_fixed_number_of_selects_and_writes_nothing(
    db: Database, http: httpx2.AsyncClient
) -> None:
    await factories.sign_in_as(http, db, Role.FRONTDESK)
    empty, _ = await _page_statements(http, db)
    await _many(db, 3)
    small, _ = await _page_statements(http, db)
    async with db.transaction() as session:
        await session.execute(delete(TimeOff))
    await _many(db, 60)
    large, page = await _page_statements(http, db)

    assert len(re.findall(r'/desk/appointments/\d+"', page)) > 40
    # The staff session with its roles, then the visits and their therapists' credentials.
    assert len(empty) == len(small) == len(large) == 3, large
    for statement in empty + small + large:
        assert statement.lstrip().upper().startswith(("SELECT", "WITH")), statement


# Agreement with booking, rule by rule


def _facts(**overrides: Any) -> VisitFacts:
    values: dict[str, Any] = {
        "therapist_name": "Dana Payton",
        "therapist_active": True,
        "oncology_sessions": 0,
        "service_name": "Massage, 60 min",
        "service_level": None,
        "plan_level": None,
        "needs_lymphedema": False,
        "on_time_off": False,
        "in_review": False,
        "day": VISIT_DAY,
    }
    values.update(overrides)
    return VisitFacts(**values)


def _credential(
    kind: CredentialKind,
    *,
    expires_on: date | None = None,
    issued_on: date | None = date(2020, 1, 1),
    verified: bool = True,
    hours: int | None = None,
) -> CredentialFacts:
    return CredentialFacts(
        kind=kind,
        verified=verified,
        issued_on=issued_on,
        expires_on=expires_on,
        hours=hours,
        supervised_hands_on=hours is not None,
    )


FOUNDATIONAL = CredentialKind.ONCOLOGY_FOUNDATIONAL
# Credential sets around the visit's date, and the level the service asks for.
CASES: dict[str, tuple[tuple[CredentialFacts, ...], int | None]] = {
    "all current": ((_credential(LICENCE), _credential(INSURANCE)), None),
    "insurance ends the day before": (
        (_credential(LICENCE), _credential(INSURANCE, expires_on=VISIT_DAY - timedelta(1))),
        None,
    ),
    "insurance ends on the day": (
        (_credential(LICENCE), _credential(INSURANCE, expires_on=VISIT_DAY)),
        None,
    ),
    "licence starts the day after": (
        (_credential(LICENCE, issued_on=VISIT_DAY + timedelta(1)), _credential(INSURANCE)),
        None,
    ),
    "licence not verified": ((_credential(LICENCE, verified=False), _credential(INSURANCE)), None),
    "no insurance": ((_credential(LICENCE),), None),
    "course ends before a level 1 service": (
        (
            _credential(LICENCE),
            _credential(INSURANCE),
            _credential(FOUNDATIONAL, hours=24, expires_on=VISIT_DAY - timedelta(1)),
        ),
        1,
    ),
    "course current for a level 1 service": (
        (_credential(LICENCE), _credential(INSURANCE), _credential(FOUNDATIONAL, hours=24)),
        1,
    ),
    "a short course for a level 1 service": (
        (_credential(LICENCE), _credential(INSURANCE), _credential(FOUNDATIONAL, hours=12)),
        1,
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_the_list_and_the_availability_engine_agree_on_who_may_treat(case: str) -> None:
    credentials, level = CASES[case]
    rules = BookingRules(minimum_notice=timedelta(0))
    slots = available_slots(
        zone=ZONE,
        need=Need(duration=timedelta(minutes=60), min_oncology_level=level),
        therapists=(
            TherapistCalendar(
                therapist_id=1,
                hours=(WorkingHours(VISIT_DAY.weekday(), time(9), time(17)),),
                credentials=credentials,
                oncology_sessions=0,
            ),
        ),
        rooms=(),
        closures=frozenset(),
        first_day=VISIT_DAY,
        last_day=VISIT_DAY,
        now=NOW,
        rules=rules,
    )
    offered = any(slot.start == VISIT_AT for slot in slots)
    problems = problems_of(
        _facts(service_level=level), credentials, rules=rules.level_rules, today=TODAY
    )
    assert offered is not bool(problems), problems


def test_credential_problems_say_when_and_what_to_do() -> None:
    def words(*credentials: CredentialFacts) -> list[str]:
        return [
            p.words for p in problems_of(_facts(), credentials, rules=LevelRules(), today=TODAY)
        ]

    licence = _credential(LICENCE)
    assert words(licence, _credential(INSURANCE, expires_on=date(2026, 11, 20))) == [
        "Dana Payton's liability insurance expired on Fri 20 Nov."
    ]
    assert words(licence, _credential(INSURANCE, expires_on=date(2025, 11, 20))) == [
        "Dana Payton's liability insurance expired on Thu 20 Nov 2025."
    ]
    assert words(
        licence,
        _credential(INSURANCE, expires_on=date(2026, 11, 30)),
        _credential(INSURANCE, issued_on=date(2026, 12, 10)),
    ) == [
        "Dana Payton's liability insurance expires Mon 30 Nov and the renewal starts "
        "Thu 10 Dec, after this visit."
    ]
    assert words(_credential(INSURANCE)) == ["Dana Payton has no verified massage licence."]
    lapsed = problems_of(
        _facts(),
        (licence, _credential(INSURANCE, expires_on=date(2026, 12, 1))),
        rules=LevelRules(),
        today=TODAY,
    )
    assert "renewal" in lapsed[0].todo


def test_a_service_needing_lymphedema_training_is_named_in_neutral_words() -> None:
    problems = problems_of(
        _facts(needs_lymphedema=True),
        (_credential(LICENCE), _credential(INSURANCE)),
        rules=LevelRules(),
        today=TODAY,
    )
    assert [p.words for p in problems] == [
        "Massage, 60 min needs specialist training that Dana Payton does not have."
    ]
    assert problems[0].reason is Reason.TRAINING
