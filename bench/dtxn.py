"""D_txn, the booking transaction's statements without the app: pgbench with
bench/sql/booking_txn.sql on PostgreSQL; on SQLite a bare BEGIN IMMEDIATE loop of the same
statements with the app's PRAGMAs, in as many processes as the app has workers.

`python -m bench.dtxn <sqlite file> <seconds> <index> <processes> <json facts>` is one
SQLite loop process; it prints its latencies (microseconds) as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).parent / "sql" / "booking_txn.sql"
BASE_MICROS = 4_102_444_800_000_000  # 2100-01-01 00:00 UTC: far from every real booking
CELL_MICROS = 90 * 60 * 1_000_000


@dataclass
class TxnResult:
    transactions: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    detail: str

    @property
    def tps(self) -> float:
        return self.transactions / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "transactions": self.transactions,
            "seconds": round(self.seconds, 3),
            "tps": round(self.tps, 1),
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "errors": self.errors,
            "detail": self.detail,
        }


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def pgbench(
    url: str, facts: dict[str, int], *, clients: int, seconds: int, log_prefix: Path
) -> TxnResult:
    """pgbench with the booking script; latencies from its per-transaction log."""
    defines = {**facts, "clients": clients, "k": 0}
    command = [
        "pgbench",
        "-n",
        "-M",
        "prepared",
        "-c",
        str(clients),
        "-j",
        "2",
        "-T",
        str(seconds),
        "-f",
        str(SCRIPT),
        "-l",
        f"--log-prefix={log_prefix}",
    ]
    for name, value in defines.items():
        command += ["-D", f"{name}={value}"]
    process = await asyncio.create_subprocess_exec(
        *command, url, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out = (await process.communicate())[0].decode(errors="replace")
    latencies_ms = _logged_latencies(log_prefix)
    failed = _pgbench_number(out, "number of failed transactions:")
    tps = _pgbench_number(out, "tps =")
    if process.returncode != 0 or not latencies_ms:
        raise RuntimeError(f"pgbench failed ({process.returncode}):\n{out}")
    processed = len(latencies_ms)
    return TxnResult(
        transactions=processed,
        # pgbench's own tps leaves out the connection time, as wrk's rate does.
        seconds=processed / tps if tps else float(seconds),
        p50_ms=percentile(latencies_ms, 0.50),
        p99_ms=percentile(latencies_ms, 0.99),
        errors=int(failed),
        detail=f"pgbench -M prepared -c {clients} -j 2 -T {seconds}",
    )


def _logged_latencies(prefix: Path) -> list[float]:
    """Milliseconds from pgbench's per-transaction logs (the third field is microseconds)."""
    latencies = []
    for log in prefix.parent.glob(f"{prefix.name}.*"):
        for line in log.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[2].isdigit():
                latencies.append(int(fields[2]) / 1000)
    return latencies


def _pgbench_number(output: str, label: str) -> float:
    for line in output.splitlines():
        if line.startswith(label):
            return float(line[len(label) :].split()[0])
    return 0.0


async def sqlite_loop(
    path: Path, facts: dict[str, int], *, processes: int, seconds: int
) -> TxnResult:
    """`processes` loop processes at once, like the app's worker processes."""
    command = [sys.executable, "-m", "bench.dtxn", str(path), str(seconds)]
    project = str(SCRIPT.parent.parent.parent)
    runs = [
        await asyncio.create_subprocess_exec(
            *command,
            str(i),
            str(processes),
            json.dumps(facts),
            cwd=project,
            stdout=asyncio.subprocess.PIPE,
        )
        for i in range(processes)
    ]
    outputs = [json.loads((await run.communicate())[0]) for run in runs]
    latencies_ms = [us / 1000 for out in outputs for us in out["latencies_us"]]
    elapsed = max(out["seconds"] for out in outputs)
    return TxnResult(
        transactions=len(latencies_ms),
        seconds=elapsed,
        p50_ms=percentile(latencies_ms, 0.50),
        p99_ms=percentile(latencies_ms, 0.99),
        errors=sum(out["errors"] for out in outputs),
        detail=f"{processes} processes x 1 connection, BEGIN IMMEDIATE, WAL, synchronous=NORMAL",
    )


async def next_cell(url: str) -> int:
    """The first free 90-minute cell after BASE: each run starts above the last one."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from clinic.settings import normalise_database_url

    engine = create_async_engine(normalise_database_url(url, variable="url"))
    if engine.dialect.name == "postgresql":
        query = (
            "SELECT floor(extract(epoch FROM max(blocked_from) - timestamptz"
            " '2100-01-01 00:00+00') / 5400) FROM appointment"
            " WHERE blocked_from >= timestamptz '2100-01-01 00:00+00'"
        )
    else:
        query = (
            f"SELECT (max(blocked_from) - {BASE_MICROS}) / {CELL_MICROS} FROM appointment"
            f" WHERE blocked_from >= {BASE_MICROS}"
        )
    try:
        async with engine.connect() as conn:
            last = (await conn.execute(text(query))).scalar()
    finally:
        await engine.dispose()
    return 0 if last is None else int(last) + 1


def _connect(path: str) -> sqlite3.Connection:
    """The app's connection settings (clinic/db.py)."""
    connection = sqlite3.connect(path, isolation_level=None)
    for pragma in (
        "journal_mode=WAL",
        "busy_timeout=5000",
        "foreign_keys=ON",
        "synchronous=NORMAL",
    ):
        connection.execute(f"PRAGMA {pragma}")
    return connection


def _one_booking(db: sqlite3.Connection, n: int, facts: dict[str, int]) -> None:
    """The statements of bench/sql/booking_txn.sql, in SQLite's dialect."""
    now = int(time.time() * 1_000_000)
    start = BASE_MICROS + n * CELL_MICROS
    end, until = start + 60 * 60_000_000, start + 75 * 60_000_000
    t = facts["therapist0"] + n % facts["therapists"]
    r = facts["room0"] + n % facts["therapists"]
    email = f"txn-{n}@bench.test"
    db.execute("BEGIN IMMEDIATE")
    db.execute("SELECT id FROM client WHERE email = ?", (email,)).fetchall()
    client = db.execute(
        "INSERT INTO client (name, email, phone, date_of_birth, emergency_contact_name,"
        " emergency_contact_phone, preferred_name, pronouns, notes, created_at)"
        " VALUES ('Txn Client', ?, '(215) 555-0199', NULL, '', '', '', '', '', ?) RETURNING id",
        (email, now),
    ).fetchone()[0]
    db.execute(
        "UPDATE appointment SET status = 'expired', updated_at = ? WHERE status = 'held'"
        " AND hold_expires_at <= ? AND blocked_from < ? AND blocked_until > ?"
        " AND (therapist_id = ? OR room_id = ?) RETURNING id",
        (now, now, until, start, t, r),
    ).fetchall()
    db.execute("SAVEPOINT take")
    appointment = db.execute(
        "INSERT INTO appointment (location_id, therapist_id, client_id, booked_by_client_id,"
        " service_id, room_id, starts_at, ends_at, blocked_from, blocked_until, status,"
        " price_minor, currency, source, created_by_user_id, created_at, updated_at,"
        " therapist_chosen, hold_expires_at, hold_token_hash, hold_owner, hold_address,"
        " cancelled_at, cancelled_by, cancellation_reason, needs_rebooking, fee_minor)"
        " VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, 'confirmed', 9000, 'usd', 'api', NULL, ?, ?,"
        " 1, NULL, NULL, NULL, NULL, NULL, NULL, '', 0, 0) RETURNING id",
        (facts["location"], t, client, facts["service"], r, start, end, start, until, now, now),
    ).fetchone()[0]
    db.execute("RELEASE SAVEPOINT take")
    db.execute(
        "INSERT INTO audit_entry (occurred_at, actor_user_id, actor_label, action, subject_type,"
        " subject_id, details) VALUES (?, NULL, 'client', 'appointment.booked', 'appointment',"
        " ?, ?)",
        (
            now,
            str(appointment),
            '{"source": "api", "status": "confirmed", "therapist_chosen": true}',
        ),
    )
    db.execute(
        "INSERT INTO manage_link (appointment_id, token_hash, created_at, revoked_at)"
        " VALUES (?, ?, ?, NULL)",
        (appointment, f"{n:064x}", now),
    )
    db.execute(
        "INSERT INTO consent (client_id, kind, terms_version, given_at, withdrawn_at,"
        " counterparty, recorded_by_user_id)"
        " VALUES (?, 'cancellation_terms', 'booking-policies-1', ?, NULL, '', NULL)",
        (client, now),
    )
    db.execute(
        "INSERT INTO outbox_message (kind, payload, status, due_at, attempts, leased_until,"
        " lease_owner, last_error, created_at, done_at)"
        " VALUES ('email.booking_confirmed', ?, 'pending', ?, 0, NULL, NULL, '', ?, NULL)",
        (json.dumps({"appointment_id": appointment}), now, now),
    )
    db.execute("COMMIT")


def _loop(
    path: str, seconds: float, index: int, processes: int, facts: dict[str, int]
) -> dict[str, Any]:
    db = _connect(path)
    latencies: list[int] = []
    errors = 0
    k = 0
    began = time.perf_counter()
    deadline = began + seconds
    while (now := time.perf_counter()) < deadline:
        k += 1
        try:
            _one_booking(db, facts["offset"] + k * processes + index, facts)
        except sqlite3.Error:
            errors += 1
            if db.in_transaction:
                db.execute("ROLLBACK")
            continue
        latencies.append(int((time.perf_counter() - now) * 1_000_000))
    return {"latencies_us": latencies, "errors": errors, "seconds": time.perf_counter() - began}


if __name__ == "__main__":
    path, seconds, index, processes, facts = sys.argv[1:6]
    result = _loop(path, float(seconds), int(index), int(processes), json.loads(facts))
    print(json.dumps(result))
