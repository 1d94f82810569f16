"""Schemathesis against /api/openapi.json (T16): every operation with generated input,
valid and invalid, then the stateful phase along the document's links (intake -> free
times -> hold -> booking -> read, move, cancel). Checks: no 5xx, every answer's status
code, content type and body are ones the document declares.

The app runs in-process (Schemathesis's ASGI transport, on its own event loop thread) on
a database of its own that it commits to, seeded with the demo clinic at a frozen moment;
the seed is fixed, so a run is repeatable. `make test` runs it on SQLite with about 25
examples per operation; `make fuzz` runs many more, on PostgreSQL too. Knobs (environment):

- CLINIC_FUZZ_EXAMPLES: examples per operation (default 25)
- CLINIC_FUZZ_SCENARIOS: stateful scenarios (default 20), each up to CLINIC_FUZZ_STEPS
  calls (default 6)
- CLINIC_FUZZ_BACKENDS: comma-separated, `sqlite` and/or `postgresql` (default sqlite)
- CLINIC_FUZZ_SEED: the seed (default 20261127)

The API has no sign-in and no CSRF (it is cookieless); the one header that needs care is
Idempotency-Key, which Schemathesis generates from its schema like any other input.
Generated input rarely names a real service or a free time, so hooks on this schema
replace part of the examples with realistic ones (a free slot, complete intake answers)
to reach the code behind the validation.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.hooks import HookContext
from schemathesis.python import asgi
from schemathesis.specs.openapi.schemas import OpenApiSchema
from starlette.applications import Starlette

from clinic import clock, migrations
from clinic.api.openapi import openapi_document
from clinic.app import create_app
from clinic.db import Database
from clinic.demo.intakes import INTAKE_CLIENTS, complete_answers
from clinic.intake import forms
from clinic.settings import Environment, Settings, normalise_database_url
from tests.conftest import POSTGRES_URL, TEST_SECRET_KEY, create_postgres_database
from tests.conftest import drop_postgres_database as drop_postgres
from tests.demo_snapshot import seed_demo

EXAMPLES = int(os.environ.get("CLINIC_FUZZ_EXAMPLES", "25"))
SCENARIOS = int(os.environ.get("CLINIC_FUZZ_SCENARIOS", "20"))
STEPS = int(os.environ.get("CLINIC_FUZZ_STEPS", "6"))
BACKENDS = [b.strip() for b in os.environ.get("CLINIC_FUZZ_BACKENDS", "sqlite").split(",")]
SEED = int(os.environ.get("CLINIC_FUZZ_SEED", "20261127"))

# A Friday morning in Philadelphia, the demo's zone.
NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
TODAY = date(2026, 11, 27)
ZONE = "America/New_York"
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


@dataclass(frozen=True)
class Clinic:
    """The seeded clinic the app serves, with what realistic requests can name."""

    settings: Settings
    service_ids: tuple[int, ...]
    therapist_ids: tuple[int, ...]
    # (service_id, start, therapist_id) of free times in the first days ahead.
    slots: tuple[tuple[int, str, int], ...]
    intakes: tuple[dict[str, Any], ...]


@pytest.fixture(scope="module", params=BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name not in ("sqlite", "postgresql"):
        raise pytest.UsageError(f"CLINIC_FUZZ_BACKENDS: unknown backend {name!r}")
    if name == "postgresql" and POSTGRES_URL is None:
        pytest.skip("PostgreSQL is not available")
    return name


@asynccontextmanager
async def _seeded_clinic(name: str, directory: Path, pg_name: str) -> AsyncIterator[Clinic]:
    """A database of its own (the app commits), migrated and seeded with the demo at NOW,
    the clock frozen there while it is in use."""
    if name == "postgresql":
        assert POSTGRES_URL is not None
        url = await create_postgres_database(POSTGRES_URL, pg_name)
    else:
        url = f"sqlite:///{directory / 'fuzz.db'}"
    await asyncio.to_thread(migrations.upgrade, url)
    settings = Settings(
        database_url=normalise_database_url(url, variable="url"),
        secret_key=TEST_SECRET_KEY,
        environment=Environment.TEST,
        timezone=ZONE,
        currency="usd",
        base_url="http://testserver",
        var_dir=directory,
    )
    try:
        with clock.frozen_at(NOW):
            db = Database.connect(settings.database_url, pool_size=2)
            try:
                await seed_demo(db, timezone=ZONE, currency="usd", today=TODAY)
                clinic = await _survey(settings, db)
            finally:
                await db.dispose()
            yield clinic
    finally:
        if name == "postgresql":
            assert POSTGRES_URL is not None
            await drop_postgres(POSTGRES_URL, pg_name)


@pytest.fixture(scope="module")
async def fuzz_clinic(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory, run_id: str
) -> AsyncIterator[Clinic]:
    """The clinic the operations are fuzzed against, one at a time."""
    directory = tmp_path_factory.mktemp("fuzz")
    async with _seeded_clinic(backend_name, directory, f"clinic_fuzz_{run_id}") as clinic:
        yield clinic


@pytest.fixture(scope="module")
async def stateful_clinic(
    backend_name: str, tmp_path_factory: pytest.TempPathFactory, run_id: str
) -> AsyncIterator[Clinic]:
    """A clinic of its own for the stateful phase, so that what it reaches does not depend
    on what ran before it (or on which pytest-xdist worker ran what)."""
    directory = tmp_path_factory.mktemp("stateful")
    async with _seeded_clinic(backend_name, directory, f"clinic_stateful_{run_id}") as clinic:
        yield clinic


async def _survey(settings: Settings, db: Database) -> Clinic:
    """Ask the API itself what exists, as a client would."""
    app = create_app(settings, db=db)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as http:
        services = (await http.get("/api/v1/services")).json()["services"]
        therapists = (await http.get("/api/v1/therapists")).json()["therapists"]
        slots: list[tuple[int, str, int]] = []
        for service in services:
            first = (TODAY + timedelta(days=1)).isoformat()
            last = (TODAY + timedelta(days=7)).isoformat()
            response = await http.get(
                "/api/v1/availability",
                params={"service_id": service["id"], "from": first, "to": last},
            )
            if response.status_code == 200:
                found = response.json()["slots"]
                slots += [(service["id"], s["start"], s["therapist_id"]) for s in found[::7]]
    definition = forms.current()
    intakes = tuple(
        {
            "answers": complete_answers(definition, client.answers(TODAY)),
            "signature": {"name": client.name, "agreed": True},
        }
        for client in INTAKE_CLIENTS
    )
    assert slots, "the demo clinic should have free times next week"
    return Clinic(
        settings=settings,
        service_ids=tuple(s["id"] for s in services),
        therapist_ids=tuple(t["id"] for t in therapists),
        slots=tuple(slots),
        intakes=intakes,
    )


def _config() -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "suppress-health-check": ["all"],
            "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
            # Invalid input is the per-operation tests' part; call sequences go deep with
            # valid input.
            "phases": {"stateful": {"max-steps": STEPS, "generation": {"mode": "positive"}}},
        }
    )


class Steering:
    """Realistic requests mixed into the generated ones, so that validation is not the only
    code reached: about half the examples of these operations keep what Schemathesis
    generated, the others name a real service, a free time or complete intake answers."""

    def __init__(self) -> None:
        self.realistic: dict[tuple[str, str], st.SearchStrategy[Any]] = {}

    def use(self, clinic: Clinic) -> None:
        days = st.integers(0, 9).map(lambda n: (TODAY + timedelta(days=n)).isoformat())
        slot = st.sampled_from(clinic.slots)
        gate = st.sampled_from([None, "yes", "no"])
        client = st.fixed_dictionaries(
            {
                "name": st.sampled_from(["Ruth Example", "Ana María Núñez", "Seán O'Brien"]),
                "email": st.sampled_from(["ruth@example.com", "a.nunez@example.org"]),
                "phone": st.sampled_from(["(215) 555-0142", "+1 267 555 0100"]),
            }
        )
        query = st.builds(
            _availability_query,
            st.sampled_from(clinic.service_ids),
            days,
            st.integers(0, 6),
            st.none() | st.sampled_from(clinic.therapist_ids),
            gate,
        )
        hold = st.builds(_slot_body, slot, gate)
        self.realistic = {
            ("GET", "/api/v1/availability"): query,
            ("POST", "/api/v1/holds"): hold,
            ("POST", "/api/v1/bookings"): st.builds(lambda b, c: {**b, "client": c}, hold, client),
            ("POST", "/api/v1/bookings/{token}/reschedule"): slot.map(lambda s: {"start": s[1]}),
            ("POST", "/api/v1/intakes"): st.sampled_from(clinic.intakes),
        }

    def mixed(self, context: HookContext, generated: Any, *, query: bool) -> st.SearchStrategy[Any]:
        operation = context.operation
        if operation is None or (operation.method.upper() == "GET") != query:
            return st.just(generated)
        real = self.realistic.get((operation.method.upper(), operation.path))
        return st.just(generated) if real is None else st.just(generated) | real


def _availability_query(
    service: int, first: str, span: int, therapist: int | None, cancer: str | None
) -> dict[str, Any]:
    query: dict[str, Any] = {
        "service_id": service,
        "from": first,
        "to": (date.fromisoformat(first) + timedelta(days=span)).isoformat(),
    }
    if therapist is not None:
        query["therapist_id"] = therapist
    if cancer is not None:
        query["cancer_history"] = cancer
    return query


def _slot_body(chosen: tuple[int, str, int], cancer: str | None) -> dict[str, Any]:
    service, start, therapist = chosen
    body: dict[str, Any] = {"service_id": service, "start": start, "therapist_id": therapist}
    if cancer is not None:
        body["cancer_history"] = cancer
    return body


STEERING = Steering()


def _schema() -> OpenApiSchema:
    """The document as Schemathesis reads it, with the steering hooks. Each use gets its
    own: Schemathesis learns about an API as it runs, and the stateful phase should not
    depend on what the per-operation tests taught it."""
    schema = schemathesis.openapi.from_dict(openapi_document(), config=_config())

    @schema.hook
    def flatmap_query(context: HookContext, query: dict[str, Any]) -> st.SearchStrategy[Any]:
        return STEERING.mixed(context, query, query=True)

    @schema.hook
    def flatmap_body(context: HookContext, body: Any) -> st.SearchStrategy[Any]:
        return STEERING.mixed(context, body, query=False)

    return schema


# Loaded at import for pytest's collection (one test per operation); the app fixture
# checks that the app serves exactly this document at /api/openapi.json.
SCHEMA = _schema()


class ServedApp:
    """The app as Schemathesis calls it: with a Database lent to it (disposed of when the
    app's lifespan ends), each request from another address, and a count of the answers.

    The app gets its Database rather than opening one in its lifespan, so that the outbox
    worker (whose deliveries are no part of the API's answers) does not run; the engines
    connect on first use, on Schemathesis's event loop thread, and are disposed of there.
    Addresses change because a client may keep three live holds per address and holds
    never expire on a frozen clock (2001:db8::/32 is the documentation range).
    """

    def __init__(self, app: Starlette, db: Database) -> None:
        self.app = app
        self.db = db
        # (method, path with {token}, status) -> how many times it was answered.
        self.answers: Counter[tuple[str, str, int]] = Counter()
        self.requests = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._disposing(send))
            return
        self.requests += 1
        scope = {**scope, "client": (f"2001:db8::{self.requests:x}", 50000)}
        key = (scope["method"], _path_template(scope["path"]))

        async def send_counting(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.answers[(*key, message["status"])] += 1
            await send(message)

        await self.app(scope, receive, send_counting)

    def _disposing(self, send: Any) -> Any:
        async def send_then_dispose(message: Any) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await self.db.dispose()
            await send(message)

        return send_then_dispose


def _path_template(path: str) -> str:
    """/api/v1/bookings/abc/cancel -> /api/v1/bookings/{token}/cancel."""
    for prefix in ("/api/v1/bookings/", "/api/v1/intakes/"):
        if path.startswith(prefix):
            _token, slash, rest = path[len(prefix) :].partition("/")
            return f"{prefix}{{token}}{slash}{rest}"
    return path


@contextmanager
def _served(clinic: Clinic) -> Iterator[ServedApp]:
    """The app, served on Schemathesis's event loop thread until the block ends."""
    settings = clinic.settings
    db = Database.connect(settings.database_url, pool_size=5)
    app = ServedApp(create_app(settings, db=db), db)
    with asgi.get_client(app) as client:
        served = client.get("/api/openapi.json")
    assert served.json() == openapi_document()
    STEERING.use(clinic)
    try:
        yield app
    finally:
        asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def api_app(fuzz_clinic: Clinic) -> Iterator[ServedApp]:
    with _served(fuzz_clinic) as app:
        yield app


@pytest.fixture(scope="module")
def stateful_app(stateful_clinic: Clinic) -> Iterator[ServedApp]:
    with _served(stateful_clinic) as app:
        yield app


@SCHEMA.parametrize()
def test_every_operation_answers_as_documented(
    case: schemathesis.Case[Any], api_app: ServedApp
) -> None:
    response = case.call(app=api_app)
    case.validate_response(response, checks=CHECKS)


# What the stateful phase must reach through valid sequences, or it has stopped testing
# what lies behind validation. (Reading, moving and cancelling a booking through its
# links is reached in some runs, not every one, at this number of scenarios.)
REACHED_BY_LINKS = {
    ("POST", "/api/v1/intakes", 201),
    ("POST", "/api/v1/holds", 201),
    ("POST", "/api/v1/bookings", 201),
}


def test_call_sequences_along_the_links_answer_as_documented(stateful_app: ServedApp) -> None:
    """Scenarios of up to STEPS calls that follow the document's links. The server keeps
    what each scenario did, so a later one may take another path than Hypothesis planned
    from the same choices; Hypothesis then stops with Flaky and the run goes on with the
    scenarios left, as Schemathesis's own runner does. A failed check is never lost to that:
    it is kept when it happens and reported."""
    failures: list[FailureGroup] = []
    finished = 0

    class Workflow(_schema().as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:
            return {**super().get_call_kwargs(case), "app": stateful_app}

        def validate_response(
            self, response: Any, case: schemathesis.Case[Any], **kwargs: Any
        ) -> None:
            try:
                case.validate_response(response, checks=CHECKS)
            except FailureGroup as failed:
                failures.append(failed)
                raise

        def teardown(self) -> None:
            nonlocal finished
            finished += 1

    before = stateful_app.answers.copy()
    for _attempt in range(10):
        try:
            Workflow.run(
                settings=hypothesis.settings(
                    max_examples=SCENARIOS - finished,
                    stateful_step_count=STEPS,
                    phases=[hypothesis.Phase.generate],
                    derandomize=True,
                    database=None,
                    deadline=None,
                    suppress_health_check=list(hypothesis.HealthCheck),
                )
            )
        except hypothesis.errors.Flaky:
            if failures:
                raise failures[0] from None
        if finished >= SCENARIOS:
            break
    assert not failures, failures[0]
    reached = {answer for answer, count in (stateful_app.answers - before).items() if count}
    assert reached >= REACHED_BY_LINKS, sorted(REACHED_BY_LINKS - reached)
