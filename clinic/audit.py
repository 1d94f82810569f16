"""The append-only audit trail: who did what to which record, and when.

Details must never hold health information: record ids and field names, not values.

The trail is hash-chained (HIPAA §164.312(b); reliability.md section 4). The transaction
that does the work only inserts its `audit_entry` rows; a sealer (`seal_pending`, run
periodically by the app and by `clinic audit seal`) later chains the committed entries
into `audit_seal`, one row per entry, in the order it finds them. Bookings therefore never
queue on one chain-head lock: only sealers serialise, on each other. `verify_chain` walks
the seals and recomputes every hash. Both tables refuse UPDATE and DELETE by trigger
(migration 0002); the chain is what shows tampering by someone who got past the triggers.

A chain kept in the same database cannot show that its newest links were cut off, or
that someone past the triggers deleted seals and re-sealed altered entries: only a head
recorded elsewhere can. The sealer logs the head (seq and hash) after every batch for that.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Select,
    String,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from clinic.clock import now_utc
from clinic.db import Base, Database, UTCDateTime, is_transient

logger = logging.getLogger("clinic.audit")

GENESIS_HASH = "0" * 64
# The key of the PostgreSQL advisory lock that sealers take, one at a time. Any fixed
# bigint works as long as nothing else in the database uses it ("audit.seal" in ASCII).
AUDIT_SEAL_LOCK = 0x61756469742E7365


class AuditEntry(Base):
    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_subject", "subject_type", "subject_id"),
        # The admin review's filters (clinic/admin/audit_review.py): a time range, and one
        # member of staff's entries newest first.
        Index("ix_audit_entry_occurred_at", "occurred_at"),
        Index("ix_audit_entry_actor", "actor_user_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), nullable=True)
    # Who acted when no staff member did: "system", "client", "worker", "cli".
    actor_label: Mapped[str] = mapped_column(String(100), default="")
    # Dotted, past tense: "appointment.cancelled", "user.signed_in".
    action: Mapped[str] = mapped_column(String(100), index=True)
    subject_type: Mapped[str] = mapped_column(String(50), default="")
    subject_id: Mapped[str] = mapped_column(String(64), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AuditSeal(Base):
    """The hash chain over audit entries, in the order a sealer saw them committed.

    Kept apart from audit_entry so that neither table is ever updated: entries are
    inserted by the transaction that did the work, seals by the sealer afterwards.
    """

    __tablename__ = "audit_seal"

    entry_id: Mapped[int] = mapped_column(ForeignKey("audit_entry.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime)


def record(
    session: AsyncSession,
    action: str,
    *,
    actor_user_id: int | None = None,
    actor_label: str = "",
    subject_type: str = "",
    subject_id: object = "",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to the caller's transaction; it commits or rolls back with it."""
    entry = AuditEntry(
        occurred_at=now_utc(),
        actor_user_id=actor_user_id,
        actor_label=actor_label,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        details=details or {},
    )
    session.add(entry)
    return entry


def entry_digest(entry: AuditEntry, prev_hash: str) -> str:
    """The seal hash of `entry` chained after `prev_hash`: sha256 hex.

    Hashes `prev_hash` followed by a canonical JSON of every column of the entry, so a
    change to any of them, or to the order of the chain, changes the hash.
    """
    occurred_at = entry.occurred_at
    if occurred_at.tzinfo is None or occurred_at.utcoffset() is None:
        raise ValueError(f"audit entry {entry.id} has a naive occurred_at")
    canonical = json.dumps(
        {
            "id": entry.id,
            "occurred_at": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor_user_id": entry.actor_user_id,
            "actor_label": entry.actor_label,
            "action": entry.action,
            "subject_type": entry.subject_type,
            "subject_id": entry.subject_id,
            "details": entry.details,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def _unsealed() -> Select[AuditEntry]:
    """Entries without a seal (an anti-join through an outer join)."""
    return (
        select(AuditEntry)
        .outerjoin(AuditSeal, AuditSeal.entry_id == AuditEntry.id)
        .where(AuditSeal.entry_id.is_(None))
    )


async def seal_pending(db: Database, *, batch: int = 500) -> int:
    """Chain up to `batch` committed, unsealed entries after the last seal; return how many.

    One transaction. Sealers run one at a time: on PostgreSQL behind a transaction-level
    advisory lock, on SQLite because a write transaction begins with BEGIN IMMEDIATE and
    so holds the database's single write lock from its first statement. Under READ
    COMMITTED every statement after the lock sees what the previous sealer committed.
    Writers of entries never take this lock. The unique `seq` and the primary key on
    `entry_id` refuse a forked chain or a double seal should the lock ever be missing.

    The seal order (`seq`) is the chain order, and it is commit order as the sealer saw
    it, not id order: ids are handed out when a transaction inserts, so an entry whose
    transaction commits late (a low id committed after higher ids were sealed) is simply
    sealed later, at a higher seq. Ordering each batch by id only makes the chain
    deterministic among entries that were already committed together.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    async with db.transaction() as session:
        if db.dialect == "postgresql":
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_SEAL_LOCK}
            )
        last = (
            await session.execute(
                select(AuditSeal.seq, AuditSeal.entry_hash).order_by(AuditSeal.seq.desc()).limit(1)
            )
        ).first()
        seq, prev_hash = (last.seq, last.entry_hash) if last is not None else (0, GENESIS_HASH)
        entries = (await session.scalars(_unsealed().order_by(AuditEntry.id).limit(batch))).all()
        if not entries:
            return 0
        sealed_at = now_utc()
        seals: list[dict[str, Any]] = []
        for entry in entries:
            seq += 1
            entry_hash = entry_digest(entry, prev_hash)
            seals.append(
                {
                    "entry_id": entry.id,
                    "seq": seq,
                    "prev_hash": prev_hash,
                    "entry_hash": entry_hash,
                    "sealed_at": sealed_at,
                }
            )
            prev_hash = entry_hash
        await session.execute(insert(AuditSeal), seals)
    # The head in the application log is an anchor kept outside the database: a chain cut
    # short or rewritten from some seal onwards no longer reaches a head logged earlier.
    logger.info("Sealed %d audit entries; chain head seq %d, hash %s", len(seals), seq, prev_hash)
    return len(seals)


async def seal_all(db: Database, *, batch: int = 500) -> int:
    """Seal until nothing is waiting; return how many entries were sealed in all."""
    total = 0
    while sealed := await seal_pending(db, batch=batch):
        total += sealed
    return total


@dataclass(frozen=True)
class ChainReport:
    """What `verify_chain` found.

    `sealed` counts the seals checked: all of them when `ok`, else those before the
    first break. `unsealed` counts entries not sealed yet (waiting; not a break).
    `problem` names the first break in a plain sentence, or is None.
    """

    ok: bool
    sealed: int
    unsealed: int
    problem: str | None


async def verify_chain(db: Database, *, batch: int = 1000) -> ChainReport:
    """Walk the seals in seq order and recompute every hash; read-only.

    A break is a gap in seq, a prev_hash that is not the previous seal's hash, an entry
    whose recomputed hash differs from its seal, or a seal whose entry is gone. Seals
    are only ever appended, so a walk by seq (keyset pages, not OFFSET) stays correct
    while a sealer runs.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    checked = 0
    expected_seq = 1
    last_seq: int | None = None  # keyset: the last seq read; None before the first page
    prev_hash = GENESIS_HASH
    problem: str | None = None
    async with db.reading() as session:
        while problem is None:
            page = (
                select(AuditSeal, AuditEntry)
                .outerjoin(AuditEntry, AuditEntry.id == AuditSeal.entry_id)
                .order_by(AuditSeal.seq)
                .limit(batch)
            )
            if last_seq is not None:
                page = page.where(AuditSeal.seq > last_seq)
            rows = (await session.execute(page)).all()
            for seal, entry in rows:
                problem = _break(seal, entry, expected_seq, prev_hash)
                if problem is not None:
                    break
                checked += 1
                expected_seq += 1
                last_seq = seal.seq
                prev_hash = seal.entry_hash
            # Keep memory flat on a long trail: nothing here is written back.
            session.expunge_all()
            if len(rows) < batch:
                break
        unsealed = await session.scalar(select(func.count()).select_from(_unsealed().subquery()))
    return ChainReport(ok=problem is None, sealed=checked, unsealed=unsealed or 0, problem=problem)


def _break(
    seal: AuditSeal, entry: AuditEntry | None, expected_seq: int, prev_hash: str
) -> str | None:
    """The first thing wrong with `seal` as the next link of the chain, or None."""
    if seal.seq != expected_seq:
        if expected_seq == 1:
            return (
                f"The chain starts at seq {seal.seq} (entry {seal.entry_id}), not seq 1:"
                " the first seals were deleted."
            )
        return (
            f"Seal seq {expected_seq} is missing: the chain jumps from seq"
            f" {expected_seq - 1} to seq {seal.seq} (entry {seal.entry_id})."
            " A sealed entry or its seal was deleted."
        )
    if entry is None:
        return f"Entry {seal.entry_id} (seq {seal.seq}) is missing: it was deleted after sealing."
    if seal.prev_hash != prev_hash:
        return (
            f"Seal seq {seal.seq} (entry {seal.entry_id}) does not follow seq {seal.seq - 1}:"
            " its previous hash differs, so a seal was changed or replaced."
        )
    if entry_digest(entry, prev_hash) != seal.entry_hash:
        return (
            f"Entry {entry.id} (seq {seal.seq}) does not match its seal:"
            " it was changed after sealing."
        )
    return None


async def seal_periodically(db: Database, interval_seconds: float, stop: asyncio.Event) -> None:
    """Seal, then wait `interval_seconds` or until `stop` is set; repeat until stopped.

    Meant to run as a task from the app's lifespan. A failure (the database away or
    locked, say) is logged and tried again next time: it must never take the app down,
    and an entry left unsealed is only late, not lost.
    """
    while not stop.is_set():
        try:
            sealed = await seal_all(db)
        except Exception as error:
            # A locked database under load is expected: one line; anything else in full.
            logger.log(
                logging.WARNING if is_transient(error) else logging.ERROR,
                "Sealing the audit trail failed; trying again in %s seconds",
                interval_seconds,
                exc_info=None if is_transient(error) else error,
            )
        else:
            if sealed:
                logger.debug("Sealed %d audit entries in this pass", sealed)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_seconds)
