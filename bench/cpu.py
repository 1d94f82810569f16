"""Where the CPU went during a run, in cores: the servers under test, the load generator
(this process and its children: wrk, pgbench, the SQLite loops), PostgreSQL, and everything
else on the machine. A busy "other" means someone else shared the machine."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
SHARED = 0.3  # cores of "other" above which a row is marked as measured on a shared machine
SAMPLE_SECONDS = 0.5


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies over all cores since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
    busy = user + nice + system + irq + softirq + steal
    return busy, busy + idle + iowait


def _process_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def _postgres_pids() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _generator_seconds() -> float:
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


@dataclass
class Snapshot:
    busy: int
    total: int
    servers: dict[int, int]
    postgres: dict[int, int]
    generator: float


def snapshot(server_pids: Iterable[int]) -> Snapshot:
    busy, total = _machine_ticks()
    return Snapshot(
        busy,
        total,
        {pid: _process_ticks(pid) for pid in server_pids},
        {pid: _process_ticks(pid) for pid in _postgres_pids()},
        _generator_seconds(),
    )


def usage(before: Snapshot, after: Snapshot, seconds: float) -> dict[str, float]:
    """Cores used on average between the snapshots, by group."""

    def grew(first: dict[int, int], last: dict[int, int]) -> int:
        return sum(ticks - first.get(pid, 0) for pid, ticks in last.items())

    cores = os.cpu_count() or 1
    busy = (after.busy - before.busy) / max(1, after.total - before.total) * cores
    servers = grew(before.servers, after.servers) / TICKS / seconds
    postgres = grew(before.postgres, after.postgres) / TICKS / seconds
    generator = (after.generator - before.generator) / seconds
    other = max(0.0, busy - servers - postgres - generator)
    return {
        "busy": round(busy, 2),
        "servers": round(servers, 2),
        "load_generator": round(generator, 2),
        "postgres": round(postgres, 2),
        "other": round(other, 2),
    }


def brief(cores: dict[str, float]) -> str:
    return (
        f"{cores['servers']:.1f}/{cores['load_generator']:.1f}/{cores['postgres']:.1f}"
        f"/{cores['other']:.1f}"
    )


@dataclass
class Watch:
    """CPU use while the block runs. PostgreSQL backends are sampled meanwhile, so that a
    backend that ends before the block does (pgbench's, a pool's overflow) still counts."""

    server_pids: list[int]
    cores: dict[str, float] = field(default_factory=dict)
    _seen: dict[int, int] = field(default_factory=dict)

    async def _sample(self) -> None:
        while True:
            await asyncio.sleep(SAMPLE_SECONDS)
            for pid in _postgres_pids():
                self._seen[pid] = _process_ticks(pid) or self._seen.get(pid, 0)

    @contextlib.asynccontextmanager
    async def running(self, seconds: float) -> AsyncIterator[Watch]:
        before = snapshot(self.server_pids)
        began = asyncio.get_running_loop().time()
        sampler = asyncio.create_task(self._sample())
        try:
            yield self
        finally:
            sampler.cancel()
            after = snapshot(self.server_pids)
            after.postgres = {**self._seen, **{k: v for k, v in after.postgres.items() if v}}
            elapsed = max(seconds, asyncio.get_running_loop().time() - began)
            self.cores = usage(before, after, elapsed)
