"""Idempotency-Key on the API's POSTs: a replay gets the stored answer (kept 24 hours,
with a hash of the body), the same key with another body is 422, and a key whose first
request is still being answered is 409."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from clinic.booking.models import IdempotencyRecord
from clinic.clock import now_utc
from clinic.db import Database
from clinic.errors import ClinicError, Conflict, InvalidInput
from clinic.web.errors import problem_body

KEEP_FOR = timedelta(hours=24)
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")

Answer = tuple[int, dict[str, Any]]


class KeyInFlight(Conflict):
    title = "Still working on it"

    def __init__(self) -> None:
        super().__init__(
            "A request with this Idempotency-Key is still being answered. Try again in a moment."
        )


def request_hash(body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def answer_once(
    db: Database, *, scope: str, key: str | None, body: Any, work: Callable[[], Awaitable[Answer]]
) -> tuple[Answer, bool]:
    """Run `work` once per (scope, key); return its answer and whether it is a replay."""
    if key is None:
        return await _answer(work), False
    if not _KEY.match(key):
        raise InvalidInput(
            "The Idempotency-Key header is not right.",
            field_errors={"Idempotency-Key": "Use 1 to 255 visible characters, such as a UUID."},
        )
    digest = request_hash(body)
    now = now_utc()
    try:
        async with db.transaction() as session:
            record = await session.get(IdempotencyRecord, (scope, key), with_for_update=True)
            if record is not None and record.expires_at <= now:
                await session.delete(record)
                await session.flush()
                record = None
            if record is not None:
                if record.request_hash != digest:
                    raise InvalidInput(
                        "This Idempotency-Key was already used with a different request.",
                        field_errors={"Idempotency-Key": "Use a new key for a new request."},
                    )
                if record.response_status is None:
                    raise KeyInFlight()
                return (record.response_status, record.response_body), True
            session.add(
                IdempotencyRecord(
                    scope=scope,
                    key=key,
                    request_hash=digest,
                    created_at=now,
                    expires_at=now + KEEP_FOR,
                )
            )
    except IntegrityError:
        # Another request with the same key got in first and is still running.
        raise KeyInFlight() from None
    try:
        status, answer = await _answer(work)
    except BaseException:
        await _forget(db, scope, key)
        raise
    if status >= 500:
        await _forget(db, scope, key)
    else:
        async with db.transaction() as session:
            await session.execute(
                update(IdempotencyRecord)
                .where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
                .values(response_status=status, response_body=answer)
            )
    return (status, answer), False


async def _answer(work: Callable[[], Awaitable[Answer]]) -> Answer:
    try:
        return await work()
    except ClinicError as refused:
        return refused.status_code, problem_body(refused)


async def _forget(db: Database, scope: str, key: str) -> None:
    async with db.transaction() as session:
        await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
            )
        )


async def forget_expired(db: Database) -> int:
    async with db.transaction() as session:
        result = await session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now_utc())
        )
    return int(result.rowcount)  # type: ignore[attr-defined]
