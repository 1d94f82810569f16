"""`make bench`: the app under `clinic serve --workers 2` loaded by wrk, against baselines
measured in the same run, on a SQLite file and on a fresh PostgreSQL database; prints a
table and the targets, and writes bench/results/<UTC time>-<database>.json. `--quick`
runs only the desk's day page beside availability for one therapist.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import asyncpg
import httpx2

from bench import counting, cpu, dataset, dtxn, report, servers, storm, wrk
from bench.dataset import Clinic
from bench.report import Report, Row
from bench.requests import (
    JSON_HEADERS,
    booking_body,
    booking_requests,
    clinic_wide_queries,
    gets,
    last_booking_day,
    mixed_requests,
    one_therapist_queries,
    storm_starts,
)
from bench.wrk import Req, WrkResult
from clinic import migrations
from clinic.clock import today_in
from clinic.db import Database
from clinic.settings import PROJECT_ROOT, normalise_database_url

T = TypeVar("T")

SEED = 2026
SMALL_CLINIC = 10
LARGE_CLINIC = 40
# The desk's day: this many therapists, every grid cell booked (8 each, so 160 visits).
DESK_THERAPISTS = 20
# Served over http in development, so the cookie has no __Host- prefix.
SESSION_COOKIE = "clinic_session"
SHORT_HISTORY = 1_000
LONG_HISTORY = 100_000
PROBE_CONNECTIONS = 16
FLOOD_CONNECTIONS = 50
WARM_UP_SECONDS = 1
STORM_BUDGET_SECONDS = 30
# The issue asks for 3 x 60 s on PostgreSQL and 3 x 20 s on SQLite; that does not fit in
# ten minutes on two cores beside everything else, so the parts are shorter by default.
MIXED_SECONDS = {"postgresql": 20, "sqlite": 12}
MIXED_PARTS = 3


@dataclass
class Bench:
    """What one database's run shares: where things are, the clinic, the figures so far."""

    kind: str
    url: str  # plain sqlite:/// or postgresql:// URL
    work: Path
    seconds: int
    mixed_seconds: int
    report: Report
    quick: bool = False
    clinic: Clinic | None = None
    app: servers.Server | None = None
    baselines: servers.Server | None = None
    rates: dict[str, float] = field(default_factory=dict)
    statements: dict[str, int] = field(default_factory=dict)

    @property
    def c(self) -> Clinic:
        assert self.clinic is not None
        return self.clinic

    def data(
        self, name: str, requests: Sequence[Req], headers: dict[str, str] | None = None
    ) -> Path:
        return wrk.write_data(self.work / f"{name}.lua", requests, headers)

    def running(self) -> tuple[servers.Server, servers.Server]:
        assert self.app is not None
        assert self.baselines is not None
        return self.app, self.baselines


# Measuring.
async def with_cpu(
    bench: Bench, seconds: float, work: Awaitable[T], server: servers.Server | None = None
) -> tuple[T, dict[str, float]]:
    """Run `work` and say which processes used the CPU meanwhile."""
    watch = cpu.Watch(servers.pids([bench.app, bench.baselines, server]))
    async with watch.running(seconds):
        result = await work
    return result, watch.cores


def row_from(name: str, result: WrkResult, expected: Sequence[int], **extra: Any) -> Row:
    return Row(
        name=name,
        rps=result.rps,
        p50_ms=result.p50_ms,
        p99_ms=result.p99_ms,
        errors=result.unexpected(expected),
        statuses={str(k): v for k, v in sorted(result.statuses.items())},
        detail={"wrk": result.as_dict(), **extra},
    )


async def load(
    bench: Bench,
    server: servers.Server,
    name: str,
    data: Path,
    *,
    expected: Sequence[int] = (200,),
    connections: int = wrk.CONNECTIONS,
    seconds: int | None = None,
    statements: str | None = None,
    ratios: dict[str, str] | None = None,
    rate_key: str | None = None,
) -> tuple[Row, WrkResult]:
    """One wrk run; the row goes into the report with its ratios to the named rates."""
    seconds = seconds or bench.seconds
    run = wrk.run(server.base_url, data, connections=connections, seconds=seconds)
    both = asyncio.gather(run, connections_during(server, seconds))
    (result, spread), cores = await with_cpu(bench, seconds, both, server)
    row = row_from(name, result, expected, connections=connections)
    row.cpu, row.spread = cores, spread
    if statements is not None:
        row.statements = bench.statements.get(statements)
    for label, key in (ratios or {}).items():
        if bench.rates.get(key):
            row.ratios[label] = row.rps / bench.rates[key]
    if rate_key is not None:
        bench.rates[rate_key] = row.rps
    bench.report.add(row)
    return row, result


async def connections_during(server: servers.Server, seconds: float) -> list[int]:
    """Connections per worker process, looked at once the load generator is connected."""
    await asyncio.sleep(min(2.0, seconds / 2))
    return servers.connections(server)


async def warm_up(server: servers.Server, data: Path) -> None:
    """A short unrecorded run: pools filled, code paths warm."""
    await wrk.run(server.base_url, data, seconds=WARM_UP_SECONDS)


async def count_statements(
    bench: Bench,
    key: str,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> None:
    settings = counting.settings_for(bench.url, servers.SECRET_KEY, str(bench.work / "var"))
    counted = await counting.count_app_request(
        settings, method, path, body, warm_up=method == "GET", headers=headers
    )
    if counted.status >= 400:
        raise RuntimeError(f"{method} {path} answered {counted.status} in-process")
    bench.statements[key] = counted.count
    bench.report.extra.setdefault("statements", {})[key] = counted.statements


async def count_baseline(bench: Bench, key: str, query: str) -> None:
    counted = await counting.count_baseline_request(bench.url, f"/sql?{query}")
    bench.statements[key] = counted.count


def phase(title: str) -> None:
    print(f"  -- {title} ({time.strftime('%H:%M:%S')})", flush=True)


# The phases.
async def prepare(bench: Bench, db: Database) -> None:
    """10 therapists, 1,000 appointments of history, and the request lists."""
    began = time.perf_counter()
    today = today_in(ZoneInfo(dataset.TIMEZONE))
    bench.clinic = await dataset.create_clinic(db, seed=SEED, therapists=SMALL_CLINIC, today=today)
    await dataset.add_history(db, bench.c, SHORT_HISTORY)
    await dataset.analyse(db)
    bench.report.extra["dataset"] = {
        "seed": SEED,
        "first_phase_seconds": round(time.perf_counter() - began, 2),
    }
    one, wide = one_therapist_queries(bench.c, SMALL_CLINIC), clinic_wide_queries(bench.c)
    bench.data("json", [Req("GET", "/json")])
    bench.data("one", gets("/api/v1/availability", one))
    bench.data("one_sql", gets("/sql", one))
    bench.data("wide", gets("/api/v1/availability", wide))
    bench.data("wide_sql", gets("/sql", wide))
    await count_statements(bench, "one", "GET", f"/api/v1/availability?{one[0]}")
    await count_statements(bench, "wide10", "GET", f"/api/v1/availability?{wide[0]}")
    await count_baseline(bench, "sql_one", one[0])
    await count_baseline(bench, "sql_wide10", wide[0])


async def small_clinic(bench: Bench) -> None:
    phase("10 therapists, 1,000 appointments of history")
    app, base = bench.running()
    w = bench.work
    await warm_up(app, w / "one.lua")
    await warm_up(base, w / "one_sql.lua")
    await load(bench, base, "B_json constant JSON", w / "json.lua", rate_key="B_json")
    await load(
        bench,
        base,
        "B_sql one therapist, 7 days",
        w / "one_sql.lua",
        statements="sql_one",
        ratios={"B_json": "B_json"},
        rate_key="B_sql_one",
    )
    await load(
        bench,
        app,
        "availability one therapist, 7 days",
        w / "one.lua",
        statements="one",
        ratios={"B_json": "B_json", "B_sql": "B_sql_one"},
        rate_key="one_1k",
    )
    await load(
        bench,
        base,
        "B_sql clinic-wide, 10 therapists",
        w / "wide_sql.lua",
        statements="sql_wide10",
        ratios={"B_json": "B_json"},
        rate_key="B_sql_wide10",
    )
    await load(
        bench,
        app,
        "clinic-wide, 10 therapists",
        w / "wide.lua",
        statements="wide10",
        ratios={"B_json": "B_json", "B_sql": "B_sql_wide10"},
        rate_key="wide10_1k",
    )


async def long_history(bench: Bench, db: Database) -> None:
    """The same clinic after 99,000 more appointments in the past."""
    began = time.perf_counter()
    await dataset.add_history(db, bench.c, LONG_HISTORY - SHORT_HISTORY)
    await dataset.analyse(db)
    seconds = round(time.perf_counter() - began, 2)
    bench.report.extra["dataset"]["history_99k_seconds"] = seconds
    phase(f"100,000 appointments of history (the 99,000 more took {seconds} s to write)")
    app, base = bench.running()
    w = bench.work
    await load(
        bench,
        base,
        "B_sql one therapist, 100k history",
        w / "one_sql.lua",
        statements="sql_one",
        ratios={"B_json": "B_json"},
        rate_key="B_sql_one_100k",
    )
    await load(
        bench,
        app,
        "availability one therapist, 100k history",
        w / "one.lua",
        statements="one",
        ratios={"B_json": "B_json", "B_sql": "B_sql_one_100k"},
        rate_key="one_100k",
    )
    await load(
        bench,
        app,
        "clinic-wide, 10 therapists, 100k history",
        w / "wide.lua",
        statements="wide10",
        ratios={"B_json": "B_json", "B_sql": "B_sql_wide10"},
        rate_key="wide10_100k",
    )


async def desk_day(bench: Bench, db: Database) -> None:
    """The front desk's day page (GET /desk/YYYY-MM-DD, signed in as the desk) for a day
    with DESK_THERAPISTS therapists and every grid cell booked, against availability for
    one therapist measured just before on the same clinic: target p50 within 3x."""
    c = bench.c
    await dataset.add_therapists(db, c, DESK_THERAPISTS - len(c.therapist_ids))
    day = dataset.desk_day(c)
    visits = await dataset.fill_desk_day(db, c, day, DESK_THERAPISTS)
    await dataset.add_front_desk(db)
    await dataset.analyse(db)
    phase(f"desk day page: {DESK_THERAPISTS} therapists, {visits} visits on {day}")
    app = bench.app
    assert app is not None
    session = await sign_in(app.base_url, dataset.DESK_EMAIL, dataset.DESK_PASSWORD)
    headers = {"Cookie": f"{SESSION_COOKIE}={session}"}
    path = f"/desk/{day.isoformat()}"
    await check_day_page(app.base_url, path, headers, visits)
    await count_statements(bench, "desk", "GET", path, headers=headers)
    data = bench.data("desk", [Req("GET", path)], headers)
    w = bench.work
    await warm_up(app, w / "one.lua")
    available, _ = await load(
        bench,
        app,
        f"availability one therapist, {DESK_THERAPISTS} therapists",
        w / "one.lua",
        statements="one",
        rate_key="one_desk",
    )
    await warm_up(app, data)
    page, _ = await load(
        bench,
        app,
        f"desk day page, {DESK_THERAPISTS} therapists, {visits} visits",
        data,
        statements="desk",
        ratios={"availability": "one_desk"},
    )
    assert available.p50_ms
    assert page.p50_ms is not None
    ratio = page.p50_ms / available.p50_ms
    page.detail["p50_to_availability"] = ratio
    page.detail["day"] = day.isoformat()
    bench.report.target(
        "desk day page p50 <= 3x availability one therapist p50",
        f"{page.p50_ms:.1f} ms vs {available.p50_ms:.1f} ms ({ratio:.2f}x);"
        f" {page.rps:.0f} vs {available.rps:.0f} req/s",
        ratio <= 3,
    )


async def sign_in(base_url: str, email: str, password: str) -> str:
    """A staff session, signed in through /login as a browser does: the cookie's value."""
    cookie, token = await sign_in_form(base_url)
    body = {"email": email, "password": password, "csrf_token": token}
    async with httpx2.AsyncClient(base_url=base_url) as http:
        response = await http.post("/login", data=body, headers={"Cookie": f"clinic_csrf={cookie}"})
    session = response.cookies.get(SESSION_COOKIE)
    if response.status_code != 303 or not session:
        raise RuntimeError(f"signing in as {email} answered {response.status_code}, no session")
    return str(session)


async def check_day_page(base_url: str, path: str, headers: dict[str, str], visits: int) -> None:
    """The page the load asks for is the whole day, not a sign-in redirect or an error."""
    async with httpx2.AsyncClient(base_url=base_url) as http:
        response = await http.get(path, headers=headers)
    columns = response.text.count('<section class="desk-col ')
    cards = response.text.count('class="desk-item desk-card ')
    if response.status_code != 200 or columns != DESK_THERAPISTS or cards != visits:
        raise RuntimeError(
            f"GET {path} answered {response.status_code} with {columns} columns and"
            f" {cards} cards; expected 200, {DESK_THERAPISTS} and {visits}"
        )


async def large_clinic(bench: Bench, db: Database) -> None:
    """More therapists (40 in all), each with a room and a booked future; no new history."""
    await dataset.add_therapists(db, bench.c, LARGE_CLINIC - len(bench.c.therapist_ids))
    await dataset.analyse(db)
    phase("40 therapists, 100,000 appointments of history")
    wide = clinic_wide_queries(bench.c)
    await count_statements(bench, "wide40", "GET", f"/api/v1/availability?{wide[0]}")
    await count_baseline(bench, "sql_wide40", wide[0])
    # One booking in-process, on the therapist kept for the storms, at a time no storm uses.
    c = bench.c
    last = dataset.SLOTS_PER_DAY - 1
    body = booking_body(c, c.therapist_ids[-1], last_booking_day(c), last, "count@bench.test")
    await count_statements(bench, "booking", "POST", "/api/v1/bookings", json.loads(body))
    recorded = bench.report.extra["statements"]["booking"]
    releases = sum(s.startswith("UPDATE appointment SET status") for s in recorded)
    bench.report.notes.append(
        f"one booking ran {len(recorded)} statements with {len(c.room_ids)} rooms, {releases}"
        " of them the release of expired holds (one per candidate room)"
    )
    app, base = bench.running()
    w = bench.work
    await load(
        bench,
        base,
        "B_sql clinic-wide, 40 therapists",
        w / "wide_sql.lua",
        statements="sql_wide40",
        ratios={"B_json": "B_json"},
        rate_key="B_sql_wide40",
    )
    await load(
        bench,
        app,
        "clinic-wide, 40 therapists, 100k history",
        w / "wide.lua",
        statements="wide40",
        ratios={"B_json": "B_json", "B_sql": "B_sql_wide40"},
        rate_key="wide40_100k",
    )


# Statements of bench/sql/booking_txn.sql, transaction control left out as in counting.py.
TXN_STATEMENTS = 8


async def database_transaction(bench: Bench) -> None:
    """D_txn, while no server holds connections."""
    phase("D_txn")
    c = bench.c
    first, room = c.therapist_ids[0], c.room_ids[0]
    consecutive = c.therapist_ids == list(range(first, first + len(c.therapist_ids)))
    if not consecutive or c.room_ids != list(range(room, room + len(c.room_ids))):
        raise RuntimeError("D_txn needs consecutive therapist and room ids")
    facts = {
        "location": c.location_id,
        "service": c.general_service_id,
        "therapist0": first,
        "room0": room,
        "therapists": len(c.therapist_ids),
        "offset": await dtxn.next_cell(bench.url),
    }
    if bench.kind == "postgresql":
        name = f"D_txn pgbench, {wrk.CONNECTIONS} clients"
        prefix = bench.work / "pgbench"
        run = dtxn.pgbench(
            bench.url, facts, clients=wrk.CONNECTIONS, seconds=bench.seconds, log_prefix=prefix
        )
    else:
        name = f"D_txn BEGIN IMMEDIATE loop, {servers.WORKERS} processes"
        path = Path(bench.url.removeprefix("sqlite:///"))
        run = dtxn.sqlite_loop(path, facts, processes=servers.WORKERS, seconds=bench.seconds)
    result, cores = await with_cpu(bench, bench.seconds, run)
    bench.rates["D_txn"] = result.tps
    row = Row(name, result.tps, result.p50_ms, result.p99_ms, result.errors)
    row.statements, row.cpu, row.detail = TXN_STATEMENTS, cores, result.as_dict()
    bench.report.add(row)


async def bookings(bench: Bench) -> None:
    phase("booking commits")
    app = bench.app
    assert app is not None
    data = bench.data("booking", booking_requests(bench.c), JSON_HEADERS)
    await warm_up(app, bench.work / "one.lua")
    row, result = await load(
        bench,
        app,
        f"booking commits, {wrk.CONNECTIONS} connections",
        data,
        expected=(201, 409),
        statements="booking",
    )
    commits = result.count(201) / result.seconds
    row.detail["commits_per_second"] = commits
    row.ratios["D_txn (commits)"] = commits / bench.rates["D_txn"]
    bench.rates["commits"] = commits


async def storms(bench: Bench) -> None:
    phase(f"storms (at most {STORM_BUDGET_SECONDS} s)")
    app = bench.app
    assert app is not None
    c = bench.c
    starts = storm_starts(c)
    run = storm.run_storms(
        app.base_url,
        bench.url,
        service_id=c.general_service_id,
        therapist_id=c.therapist_ids[-1],
        starts=starts,
        budget_seconds=STORM_BUDGET_SECONDS,
    )
    result, cores = await with_cpu(bench, STORM_BUDGET_SECONDS, run)
    statuses = result.statuses()
    rounds = len(result.rounds)
    row = Row(
        f"storm {storm.REQUESTS_PER_ROUND} x {rounds} rounds (of {len(starts)})",
        result.requests / result.seconds,
        dtxn.percentile(result.latencies_ms, 0.5),
        dtxn.percentile(result.latencies_ms, 0.99),
        sum(n for status, n in statuses.items() if status not in (201, 409)),
        statuses={str(k): v for k, v in statuses.items()},
        cpu=cores,
        detail=result.as_dict(),
    )
    bench.report.add(row)
    clean = sum(r.clean for r in result.rounds)
    bench.report.target(
        "storm: one 201 and 199 x 409 per round, one row per slot, no 5xx",
        f"{clean} of {rounds} rounds clean; statuses {dict(statuses)} (None: no answer)",
        clean == rounds,
    )
    if rounds < len(starts):
        bench.report.notes.append(
            f"only {rounds} of the {len(starts)} storm rounds fitted in the"
            f" {STORM_BUDGET_SECONDS} s budget ({result.seconds / rounds:.1f} s a round)"
        )


async def mixed(bench: Bench) -> None:
    phase(f"mixed run, {MIXED_PARTS} x {bench.mixed_seconds} s")
    app = bench.app
    assert app is not None
    data = bench.data("mixed", mixed_requests(bench.c), JSON_HEADERS)
    memory = [servers.memory(app)["total_kib"]]
    parts = []
    for part in range(1, MIXED_PARTS + 1):
        run = wrk.run(app.base_url, data, seconds=bench.mixed_seconds)
        both = asyncio.gather(run, connections_during(app, bench.mixed_seconds))
        (result, spread), cores = await with_cpu(bench, bench.mixed_seconds, both)
        memory.append(servers.memory(app)["total_kib"])
        row = row_from(
            f"mixed 90/10, part {part} of {MIXED_PARTS} ({bench.mixed_seconds} s)",
            result,
            (200, 201, 409),
            rss_kib_after=memory[-1],
        )
        row.cpu, row.spread = cores, spread
        bench.report.add(row)
        parts.append(result)
    asked = {"postgresql": 60, "sqlite": 20}[bench.kind]
    if bench.mixed_seconds < asked:
        bench.report.notes.append(
            f"the mixed run was {MIXED_PARTS} x {bench.mixed_seconds} s, not {MIXED_PARTS} x"
            f" {asked} s as the issue asks, so that the whole bench fits in ten minutes"
        )
    growth = (memory[3] - memory[2]) / memory[2]
    server_errors = sum(r.server_errors for r in parts)
    socket_errors = sum(r.socket_error_count for r in parts)
    bench.report.extra["mixed_memory_kib"] = memory
    bench.report.target(
        "mixed: no 5xx, no socket errors",
        f"5xx {server_errors}, socket errors {socket_errors}",
        server_errors == 0 and socket_errors == 0,
    )
    bench.report.target(
        "mixed: RSS growth from part 2 to part 3 <= 10%",
        f"{memory[2] / 1024:.0f} MiB -> {memory[3] / 1024:.0f} MiB ({growth:+.1%});"
        f" {memory[0] / 1024:.0f} MiB before part 1",
        growth <= 0.10,
    )


async def sign_in_form(base_url: str) -> tuple[str, str]:
    """The pre-session cookie and its CSRF token, as a browser gets them."""
    async with httpx2.AsyncClient(base_url=base_url) as http:
        response = await http.get("/login")
        cookie = response.cookies["clinic_csrf"]
        token = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
        assert token is not None
        return cookie, token.group(1)


async def sign_in_flood(bench: Bench) -> None:
    """Availability from 16 connections, quiet and then beside 50 connections posting wrong
    passwords for the staff account from one address."""
    phase("sign-in flood")
    app = bench.app
    assert app is not None
    cookie, token = await sign_in_form(app.base_url)
    body = urlencode(
        {"email": dataset.STAFF_EMAIL, "password": "not-the-password-123", "csrf_token": token}
    )
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"clinic_csrf={cookie}",
    }
    flood_data = bench.data("flood", [Req("POST", "/login", body)], headers)
    probe = bench.work / "one.lua"
    quiet, _ = await load(
        bench,
        app,
        f"availability, {PROBE_CONNECTIONS} conn, quiet",
        probe,
        connections=PROBE_CONNECTIONS,
        statements="one",
    )
    both = asyncio.gather(
        wrk.run(app.base_url, flood_data, connections=FLOOD_CONNECTIONS, seconds=bench.seconds),
        wrk.run(app.base_url, probe, connections=PROBE_CONNECTIONS, seconds=bench.seconds),
        connections_during(app, bench.seconds),
    )
    (flooded, probed, spread), cores = await with_cpu(bench, bench.seconds, both)
    flood_row = row_from(
        f"sign-in flood, {FLOOD_CONNECTIONS} conn, wrong password", flooded, (200, 429)
    )
    loud = row_from(f"availability, {PROBE_CONNECTIONS} conn, under the flood", probed, (200,))
    flood_row.cpu = loud.cpu = cores
    flood_row.spread = loud.spread = spread
    bench.report.add(flood_row)
    bench.report.add(loud)
    if flooded.server_errors:
        bench.report.notes.append(
            f"the sign-in flood got {flooded.server_errors} 5xx answers"
            f" ({flood_row.statuses}); see the server log"
        )
    assert quiet.p99_ms is not None
    assert loud.p99_ms is not None
    bench.report.target(
        "availability p99 under the sign-in flood <= 2x quiet",
        f"{loud.p99_ms:.1f} ms vs {quiet.p99_ms:.1f} ms quiet ({loud.p99_ms / quiet.p99_ms:.2f}x);"
        f" {loud.rps:.0f} vs {quiet.rps:.0f} req/s",
        loud.p99_ms <= 2 * quiet.p99_ms,
    )


def evaluate(bench: Bench) -> None:
    """The issue's targets from the figures (storm, mixed and flood add their own)."""
    rates, statements, add = bench.rates, bench.statements, bench.report.target
    one = next(r for r in bench.report.rows if r.name == "availability one therapist, 7 days")
    add(
        "availability >= 0.5 x B_sql",
        f"{rates['one_1k'] / rates['B_sql_one']:.2f} x B_sql",
        rates["one_1k"] >= 0.5 * rates["B_sql_one"],
    )
    add(
        "availability p99 <= 100 ms at 64 connections",
        f"p99 {one.p99_ms:.1f} ms",
        (one.p99_ms or 0) <= 100,
    )
    add(
        "availability at most 3 statements",
        f"{statements['one']} statements",
        statements["one"] <= 3,
    )
    add(
        "clinic-wide statement count independent of therapists",
        f"{statements['wide10']} with 10, {statements['wide40']} with 40",
        statements["wide10"] == statements["wide40"],
    )
    cost = rates["wide10_100k"] / rates["wide40_100k"]
    add(
        "clinic-wide: 40 therapists cost at most 4x 10 (same history)",
        f"{cost:.2f}x ({rates['wide10_100k']:.1f} vs {rates['wide40_100k']:.1f} req/s)",
        cost <= 4,
    )
    history = rates["one_1k"] / rates["one_100k"]
    add(
        "100x the history costs at most 1.2x",
        f"{history:.2f}x ({rates['one_1k']:.1f} vs {rates['one_100k']:.1f} req/s)",
        history <= 1.2,
    )
    booking = next(r for r in bench.report.rows if r.name.startswith("booking commits"))
    ratio = rates["commits"] / rates["D_txn"]
    figure = (
        f"{rates['commits']:.1f} commits/s = {ratio:.3f} x D_txn ({rates['D_txn']:.0f}/s);"
        f" {booking.errors} errors beside 409s; statuses {booking.statuses}"
    )
    if bench.kind == "postgresql":
        add(
            "booking commits >= 0.3 x D_txn, no errors but conflicts",
            figure,
            ratio >= 0.3 and booking.errors == 0,
        )
    else:
        add(
            "booking commits: no errors but conflicts (the ratio is for information)",
            figure,
            booking.errors == 0,
        )


async def bench_database(bench: Bench) -> None:
    print(f"\n=== {bench.kind} ===\n  {report.HEADER}", flush=True)
    await asyncio.to_thread(migrations.upgrade, bench.url)
    db = Database.connect(normalise_database_url(bench.url, variable="url"), pool_size=2)
    try:
        await prepare(bench, db)
        # At most one pair of servers at a time: 2 x 2 processes x 15 connections.
        bench.app = await servers.start_app(bench.url, bench.work)
        bench.baselines = await servers.start_baselines(bench.url, bench.work)
        await small_clinic(bench)
        await long_history(bench, db)
        await desk_day(bench, db)
        await large_clinic(bench, db)
        for server in bench.running():
            await servers.stop(server)
        bench.app = bench.baselines = None
        await database_transaction(bench)
        bench.app = await servers.start_app(bench.url, bench.work)
        await bookings(bench)
        await storms(bench)
        await mixed(bench)
        await sign_in_flood(bench)
        evaluate(bench)
    finally:
        for server in (bench.app, bench.baselines):
            if server is not None:
                await servers.stop(server)
        await db.dispose()


async def quick_database(bench: Bench) -> None:
    """--quick: the first phase's clinic (1,000 appointments of history), then the desk's
    day beside availability; the app alone, no baselines."""
    print(f"\n=== {bench.kind} (quick) ===\n  {report.HEADER}", flush=True)
    await asyncio.to_thread(migrations.upgrade, bench.url)
    db = Database.connect(normalise_database_url(bench.url, variable="url"), pool_size=2)
    try:
        await prepare(bench, db)
        bench.app = await servers.start_app(bench.url, bench.work)
        await desk_day(bench, db)
    finally:
        if bench.app is not None:
            await servers.stop(bench.app)
        await db.dispose()


# Databases.
async def create_postgres(admin_url: str) -> str:
    name = f"clinic_bench_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return admin_url.rsplit("/", 1)[0] + "/" + name


async def drop_postgres(admin_url: str, url: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await connection.close()


def postgres_admin_url() -> str | None:
    """CLINIC_TEST_DATABASE_URL, or what .ci/pg-setup prints (it starts the server)."""
    if url := os.environ.get("CLINIC_TEST_DATABASE_URL"):
        return url
    run = subprocess.run(
        [str(PROJECT_ROOT / ".ci" / "pg-setup")], capture_output=True, text=True, check=False
    )
    lines = run.stdout.strip().splitlines()
    return lines[-1] if run.returncode == 0 and lines else None


async def postgres_version(admin_url: str) -> str:
    connection = await asyncpg.connect(admin_url)
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


def settings_of(bench: Bench) -> dict[str, Any]:
    return {
        "wrk": f"{wrk.PROCESSES} wrk processes of 1 thread started {wrk.STAGGER} s apart,"
        f" {wrk.CONNECTIONS} connections in all, {bench.seconds} s, --timeout {wrk.TIMEOUT}",
        "server": f"clinic serve --workers {servers.WORKERS} (uvicorn), CLINIC_ENV=development",
        "pools": "Database.connect defaults: PostgreSQL 10 + 5 overflow per process, so at most"
        " 60 connections for the two servers that run at once (pgbench runs alone with 64);"
        " SQLite 10 + 10 per engine",
        "mode": "quick: the desk day page and availability only" if bench.quick else "full",
        "mixed_seconds_per_part": bench.mixed_seconds,
        "storm_budget_seconds": STORM_BUDGET_SECONDS,
        "dataset": {
            "therapists": [SMALL_CLINIC, DESK_THERAPISTS, LARGE_CLINIC],
            "desk_day": {
                "therapists": DESK_THERAPISTS,
                "visits": DESK_THERAPISTS * dataset.SLOTS_PER_DAY,
                "days_ahead": f">= {dataset.DESK_DAY_AFTER}, a workday",
            },
            "history": [SHORT_HISTORY, LONG_HISTORY],
            "future_fill": dataset.FUTURE_FILL,
            "future_days": dataset.FUTURE_DAYS,
            "seed": SEED,
        },
        "cores": "wrk, the servers and PostgreSQL share every core (no pinning)",
    }


async def run_one(kind: str, args: argparse.Namespace, admin_url: str | None) -> Report:
    work = Path(tempfile.mkdtemp(prefix=f"clinic-bench-{kind}-"))
    url = (
        f"sqlite:///{work / 'bench.db'}"
        if kind == "sqlite"
        else await create_postgres(admin_url or "")
    )
    mixed_seconds = args.mixed_seconds or MIXED_SECONDS[kind]
    bench = Bench(kind, url, work, args.seconds, mixed_seconds, Report(kind), quick=args.quick)
    try:
        await (quick_database(bench) if args.quick else bench_database(bench))
    finally:
        if kind == "postgresql" and admin_url:
            await drop_postgres(admin_url, url)
    bench.report.extra["settings"] = settings_of(bench)
    bench.report.extra["server_logs"] = str(work)
    return bench.report


async def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=int, default=wrk.SECONDS, help="per scenario")
    parser.add_argument("--mixed-seconds", type=int, default=None, help="per mixed part")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is not met")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="only the desk day page beside availability for one therapist (a minute or two)",
    )
    args = parser.parse_args(argv)
    kinds = args.databases.split(",")
    try:
        wrk_version = wrk.wrk_version()
    except wrk.WrkMissing as missing:
        print(missing, file=sys.stderr)
        return 2
    if "postgresql" in kinds and not args.quick and not shutil.which("pgbench"):
        print("pgbench is not installed (Debian: postgresql-client)", file=sys.stderr)
        return 2
    began = time.perf_counter()
    admin_url = postgres_admin_url() if "postgresql" in kinds else None
    machine = report.machine(await postgres_version(admin_url) if admin_url else None, wrk_version)
    print(
        f"Machine: {machine['cpu_model']}, {machine['cores']} cores, {machine['memory']};"
        f" load average {' '.join(machine['load_average_at_start'])}"
    )
    print(report.LEGEND)
    reports, missing = [], False
    for kind in kinds:
        if kind == "postgresql" and admin_url is None:
            print("\n!!!!!!!! PostgreSQL does not answer: its scenarios were NOT run !!!!!!!!")
            missing = True
            continue
        reports.append(await run_one(kind, args, admin_url))
    unmet = 0
    for done in reports:
        report.print_report(done)
        path = report.write_json(done, machine, done.extra.pop("settings"))
        logs = done.extra["server_logs"]
        print(f"\nWritten to {path.relative_to(PROJECT_ROOT)}; server logs in {logs}")
        unmet += sum(not t.met for t in done.targets)
    print(f"\n{unmet} targets not met; make bench took {time.perf_counter() - began:.0f} s.")
    return 1 if missing or (args.strict and unmet) else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
