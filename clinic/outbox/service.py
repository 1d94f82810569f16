"""Adding messages to the outbox inside the caller's transaction.

A helper, not a use case: it takes a session and never commits, so the message exists
exactly when its cause does. Payloads carry ids and flags only (an appointment id, a
client id), never names, addresses or health information: the handler loads what it
needs when it runs, which also means it sends what is true then, not at enqueue time.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from clinic.clock import now_utc
from clinic.outbox.models import OutboxMessage, OutboxStatus


def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any],
    *,
    due_at: datetime | None = None,
) -> OutboxMessage:
    """Add a pending message of `kind` to the session's transaction; due now unless
    `due_at` says later. It commits or rolls back with the caller's work."""
    if not kind or len(kind) > 100:
        raise ValueError(f"an outbox kind has 1 to 100 characters (got {kind!r})")
    if due_at is not None and (due_at.tzinfo is None or due_at.utcoffset() is None):
        raise ValueError("due_at must be an aware instant")
    # Fail here, at the caller, rather than at flush time with a driver error.
    json.dumps(payload, allow_nan=False)
    now = now_utc()
    message = OutboxMessage(
        kind=kind,
        payload=dict(payload),
        status=OutboxStatus.PENDING,
        due_at=due_at or now,
        attempts=0,
        last_error="",
        created_at=now,
    )
    session.add(message)
    return message
