"""Running wrk with bench/lua/bench.lua: the request list goes to a Lua data file, the
result comes back as one JSON line that the script's done() prints."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).parent / "lua" / "bench.lua"
PROCESSES = 4  # wrk processes of one thread each
CONNECTIONS = 64
SECONDS = 10
# Long enough that a slow answer is measured as latency rather than dropped as an error.
TIMEOUT = "10s"
STAGGER = 0.3  # seconds between the load generator's processes
MARKER = "BENCH_RESULT "


class WrkMissing(RuntimeError):
    pass


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing("wrk is not installed: run `make bench-deps`")
    return path


def wrk_version() -> str:
    import subprocess

    run = subprocess.run([wrk_path(), "--version"], capture_output=True, text=True, check=False)
    return (run.stdout or run.stderr).splitlines()[0].strip()


@dataclass(frozen=True)
class Req:
    method: str
    path: str
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[int, int]
    socket_errors: dict[str, int]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def count(self, *statuses: int) -> int:
        return sum(self.statuses.get(s, 0) for s in statuses)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def socket_error_count(self) -> int:
        return sum(self.socket_errors.values())

    def unexpected(self, expected: Sequence[int]) -> int:
        """Answers with a status outside `expected`, plus socket errors."""
        other = sum(n for status, n in self.statuses.items() if status not in expected)
        return other + self.socket_error_count

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "rps": round(self.rps, 1),
            "p50_ms": self.p50_ms,
            "p90_ms": self.p90_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "socket_errors": self.socket_errors,
        }


def _lua_string(value: str) -> str:
    # JSON's escapes for ASCII (\" \\ \n \t) are also Lua's; \u escapes are not.
    if not value.isascii():
        raise ValueError(f"wrk data must be ASCII: {value[:40]!r}")
    return json.dumps(value)


def _lua_table(mapping: dict[str, str]) -> str:
    return (
        "{" + ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in mapping.items()) + "}"
    )


def write_data(path: Path, requests: Sequence[Req], headers: dict[str, str] | None = None) -> Path:
    lines = ["return {", f"headers = {_lua_table(headers or {})},", "requests = {"]
    for r in requests:
        body = "nil" if r.body is None else _lua_string(r.body)
        lines.append(
            f"{{{_lua_string(r.method)}, {_lua_string(r.path)}, {body}, {_lua_table(r.headers)}}},"
        )
    lines += ["}", "}"]
    path.write_text("\n".join(lines) + "\n")
    return path


async def run(
    base_url: str,
    data_file: Path,
    *,
    connections: int = CONNECTIONS,
    seconds: float = SECONDS,
    processes: int = PROCESSES,
) -> WrkResult:
    """`processes` wrk processes of one thread, each with its share of the connections,
    started STAGGER apart.

    The server's workers share one listening socket, and a worker that wakes up accepts
    every connection waiting: connections opened in one burst tend to land on one worker
    and stay there (keep-alive). Several smaller bursts spread them better; every row
    still shows the spread it got (report.Row.spread)."""
    share = max(1, connections // processes)
    runs = []
    for index in range(processes):
        if index:
            await asyncio.sleep(STAGGER)
        runs.append(
            asyncio.create_task(_one(base_url, data_file, share, seconds, processes, index))
        )
    return merge(await asyncio.gather(*runs))


async def _one(
    base_url: str, data_file: Path, connections: int, seconds: float, step: int, index: int
) -> dict[str, Any]:
    command = [
        wrk_path(),
        "-t1",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        TIMEOUT,
        "-s",
        str(SCRIPT),
        base_url,
        "--",
        str(data_file),
        str(step),
        str(index + 1),
    ]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    text = out.decode(errors="replace")
    for line in text.splitlines():
        if line.startswith(MARKER):
            raw: dict[str, Any] = json.loads(line[len(MARKER) :])
            return raw
    raise RuntimeError(f"wrk gave no result (exit {process.returncode}): {text}{err.decode()}")


# The share of the requests each percentile in bench.lua's summary stands for.
GRID = [0.01] * 99 + [0.001] * 10


def _quantile(samples: list[tuple[float, float]], share: float) -> float:
    """The smallest value below which at least `share` of the weight lies."""
    ordered = sorted(samples)
    total = sum(weight for _, weight in ordered)
    running = 0.0
    for value, weight in ordered:
        running += weight
        if running >= share * total - 1e-9:
            return value
    return ordered[-1][0] if ordered else 0.0


def merge(raws: Sequence[dict[str, Any]]) -> WrkResult:
    """One result from several wrk processes: rates add up, distributions combine."""
    samples = [
        (value / 1000, weight * raw["requests"])
        for raw in raws
        for value, weight in zip(raw["percentiles_us"], GRID, strict=True)
    ]
    statuses: dict[int, int] = {}
    for raw in raws:
        for status, n in raw["statuses"].items():
            statuses[int(status)] = statuses.get(int(status), 0) + n
    requests = sum(raw["requests"] for raw in raws)
    rate = sum(raw["requests"] / (raw["duration_us"] / 1e6) for raw in raws)
    return WrkResult(
        requests=requests,
        seconds=requests / rate if rate else 0.0,
        p50_ms=_quantile(samples, 0.50),
        p90_ms=_quantile(samples, 0.90),
        p99_ms=_quantile(samples, 0.99),
        max_ms=max(raw["max_us"] for raw in raws) / 1000,
        statuses=statuses,
        socket_errors={
            k: sum(raw[k] for raw in raws) for k in ("connect", "read", "write", "timeout")
        },
    )
