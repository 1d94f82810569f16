"""The printed table, the targets and the JSON file under bench/results/, with a
description of the machine the figures come from."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.cpu import SHARED, brief

RESULTS = Path(__file__).parent / "results"


@dataclass
class Row:
    """One line of the table."""

    name: str
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    errors: int
    statuses: dict[str, int] = field(default_factory=dict)
    statements: int | None = None
    ratios: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    # Client connections held by each worker process during the run, busiest first.
    spread: list[int] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Target:
    name: str
    figure: str
    met: bool


@dataclass
class Report:
    database: str
    rows: list[Row] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        print(f"  {format_row(row)}", flush=True)
        return row

    def target(self, name: str, figure: str, met: bool) -> None:
        self.targets.append(Target(name, figure, met))


HEADER = (
    f"{'scenario':<46} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'stmts':>5} "
    f"{'conns':>7} {'cpu s/l/p/o':>15}  ratios"
)
LEGEND = (
    "conns: client connections held by each server worker process during the run.\n"
    "cpu s/l/p/o: cores used by the servers under test / the load generator / PostgreSQL /"
    f" everything else; * marks a row where everything else used over {SHARED} cores (the"
    " machine was shared: trust that row less)."
)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def format_row(row: Row) -> str:
    statements = "-" if row.statements is None else str(row.statements)
    cores = brief(row.cpu) if row.cpu else "-"
    if row.cpu.get("other", 0.0) > SHARED:
        cores += "*"
    spread = "/".join(str(n) for n in row.spread) or "-"
    ratios = "  ".join(f"{value:.2f}x {name}" for name, value in row.ratios.items())
    return (
        f"{row.name:<46} {row.rps:>7.1f} {_ms(row.p50_ms):>7} {_ms(row.p99_ms):>7} "
        f"{row.errors:>6} {statements:>5} {spread:>7} {cores:>15}  {ratios}"
    )


def print_report(report: Report) -> None:
    print(f"\n=== {report.database} ===")
    print(HEADER)
    print("-" * len(HEADER))
    for row in report.rows:
        print(format_row(row))
    print(LEGEND)
    print("\nTargets:")
    for target in report.targets:
        print(f"  [{'met' if target.met else 'NOT MET'}] {target.name}: {target.figure}")
    shared = [row.name for row in report.rows if row.cpu.get("other", 0.0) > SHARED]
    if shared:
        print(f"  note: {len(shared)} rows were measured while the machine was shared (*).")
    for note in report.notes:
        print(f"  note: {note}")


def _first_line_with(path: str, prefix: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def machine(postgres_version: str | None, wrk_version: str) -> dict[str, Any]:
    import uvicorn

    return {
        "cpu_model": _first_line_with("/proc/cpuinfo", "model name"),
        "cores": os.cpu_count(),
        "memory": _first_line_with("/proc/meminfo", "MemTotal"),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": postgres_version,
        "sqlite": sqlite3.sqlite_version,
        "wrk": wrk_version,
        "uvicorn": uvicorn.__version__,
        # Without uvloop and httptools uvicorn runs on asyncio's loop with the h11 parser.
        "uvloop": _installed("uvloop"),
        "httptools": _installed("httptools"),
        "load_average_at_start": Path("/proc/loadavg").read_text().split()[:3],
    }


def write_json(report: Report, machine_info: dict[str, Any], settings: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{stamp}-{report.database}.json"
    document = {
        "database": report.database,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info,
        "settings": settings,
        "rows": [row.__dict__ for row in report.rows],
        "targets": [target.__dict__ for target in report.targets],
        "notes": report.notes,
        **report.extra,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path
