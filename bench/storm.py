"""The same-slot storm (reliability.md T1) repeated: 200 booking POSTs for one therapist
and one start, released together by a barrier, round after round; then the database must
hold exactly one booking for each slot."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx2
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from clinic.booking.models import Appointment
from clinic.booking.statuses import BLOCKING_STATUSES
from clinic.settings import normalise_database_url

REQUESTS_PER_ROUND = 200


@dataclass
class Round:
    start: datetime
    seconds: float
    statuses: Counter[int | None]
    latencies_ms: list[float]
    rows: int = 0

    @property
    def clean(self) -> bool:
        """One winner, every other answer a 409, and one row in the database."""
        others = sum(n for status, n in self.statuses.items() if status not in (201, 409))
        return self.statuses[201] == 1 and others == 0 and self.rows == 1


@dataclass
class StormResult:
    rounds: list[Round] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(r.statuses.total() for r in self.rounds)

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.rounds)

    @property
    def latencies_ms(self) -> list[float]:
        return sorted(ms for r in self.rounds for ms in r.latencies_ms)

    def statuses(self) -> Counter[int | None]:
        total: Counter[int | None] = Counter()
        for r in self.rounds:
            total.update(r.statuses)
        return total

    def as_dict(self) -> dict[str, Any]:
        return {
            "rounds": [
                {
                    "start": r.start.isoformat(),
                    "seconds": round(r.seconds, 3),
                    "statuses": {str(k): v for k, v in r.statuses.items()},
                    "rows": r.rows,
                    "clean": r.clean,
                }
                for r in self.rounds
            ]
        }


async def run_storms(
    base_url: str,
    database_url: str,
    *,
    service_id: int,
    therapist_id: int,
    starts: Sequence[datetime],
    budget_seconds: float,
) -> StormResult:
    """One round per start, while the next round, as long as the last one, still fits in
    the time budget."""
    result = StormResult()
    limits = httpx2.Limits(
        max_connections=REQUESTS_PER_ROUND, max_keepalive_connections=REQUESTS_PER_ROUND
    )
    deadline = time.perf_counter() + budget_seconds
    async with httpx2.AsyncClient(base_url=base_url, limits=limits, timeout=60.0) as http:
        for number, start in enumerate(starts):
            last = result.rounds[-1].seconds if result.rounds else 0.0
            if result.rounds and time.perf_counter() + last > deadline:
                break
            result.rounds.append(await _round(http, number, service_id, therapist_id, start))
    await _count_rows(database_url, therapist_id, result.rounds)
    return result


async def _round(
    http: httpx2.AsyncClient, number: int, service_id: int, therapist_id: int, start: datetime
) -> Round:
    barrier = asyncio.Barrier(REQUESTS_PER_ROUND + 1)

    async def one(i: int) -> tuple[int | None, float]:
        body = {
            "service_id": service_id,
            "therapist_id": therapist_id,
            "start": start.isoformat(),
            "client": {
                "name": f"Storm Client {i}",
                "email": f"storm-{number}-{i}@bench.test",
                "phone": "(215) 555-0142",
            },
        }
        await barrier.wait()
        began = time.perf_counter()
        try:
            status: int | None = (await http.post("/api/v1/bookings", json=body)).status_code
        except httpx2.TransportError:
            status = None
        return status, (time.perf_counter() - began) * 1000

    tasks = [asyncio.create_task(one(i)) for i in range(REQUESTS_PER_ROUND)]
    began = time.perf_counter()
    await barrier.wait()
    answers = await asyncio.gather(*tasks)
    seconds = time.perf_counter() - began
    return Round(start, seconds, Counter(s for s, _ in answers), [ms for _, ms in answers])


async def _count_rows(database_url: str, therapist_id: int, rounds: list[Round]) -> None:
    engine = create_async_engine(
        normalise_database_url(database_url, variable="url"), poolclass=NullPool
    )
    try:
        async with engine.connect() as conn:
            for r in rounds:
                r.rows = (
                    await conn.execute(
                        select(func.count()).where(
                            Appointment.therapist_id == therapist_id,
                            Appointment.starts_at == r.start,
                            Appointment.status.in_(BLOCKING_STATUSES),
                        )
                    )
                ).scalar_one()
    finally:
        await engine.dispose()
