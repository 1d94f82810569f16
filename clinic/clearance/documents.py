"""The physician's letters behind a clearance: PDF, JPEG or PNG, kept in the database with
a SHA-256 checksum so that every app machine and every backup sees the same bytes.

The type is decided from the bytes' signature, never from the name or the type the
browser claimed (ASVS 5.2.2). The checksum is verified before a document leaves the
database (HIPAA §164.312(c)). Only a clinical lead, or a therapist who treats the client
near a visit (the care-sheet window: clinic/intake/care_sheet.py), may download one;
every download is audited. Audit details carry ids, types and sizes, never file names,
which often name the client or the condition.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, undefer

from clinic import audit
from clinic.access.window import CareWindow
from clinic.auth.models import Role
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.clearance.models import Clearance
from clinic.clearance.service import Actor
from clinic.clock import now_utc
from clinic.db import Base, Database, UTCDateTime, with_retries
from clinic.errors import ClinicError, InvalidInput, NotFound, PermissionDenied
from clinic.staff.models import Therapist

log = logging.getLogger("clinic.clearance")
security_log = logging.getLogger("clinic.security")

#: The largest document accepted, in bytes (the web route refuses larger bodies with 413).
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
FILENAME_MAX = 200

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
MEDIA_TYPES = (PDF, JPEG, PNG)
EXTENSIONS = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png"}
_KNOWN_EXTENSIONS = (".pdf", ".jpg", ".jpeg", ".jpe", ".png")

NOT_A_DOCUMENT = (
    "This file is not a PDF, JPEG or PNG image. Upload the physician's letter as one of those."
)
EMPTY = "The file is empty. Choose the physician's letter again."
DAMAGED = "The stored file is damaged; ask an administrator to restore it from backup."
READERS_ONLY = (
    "Health documents are only for the clinical lead and the client's treating therapist."
)
UPLOADERS_ONLY = "Only the front desk or a clinical lead can add a clearance document."


class ClearanceDocument(Base):
    """One file that came with a clearance (the physician's letter, a scanned form)."""

    __tablename__ = "clearance_document"
    __table_args__ = (
        CheckConstraint(
            "media_type IN ('application/pdf', 'image/jpeg', 'image/png')", name="media_type"
        ),
        CheckConstraint("size > 0", name="size"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clearance_id: Mapped[int] = mapped_column(
        ForeignKey("clearance.id", ondelete="CASCADE"), index=True
    )
    # Sanitised: a plain name with the extension of the type the bytes showed.
    filename: Mapped[str] = mapped_column(String(FILENAME_MAX))
    media_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    # Deferred: listing a clearance's documents never loads their bytes.
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    uploaded_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id"), nullable=True
    )


class UnsupportedDocument(InvalidInput):
    """The bytes are not a PDF, JPEG or PNG, whatever the name or the browser said.

    415 as reliability.md T14 asks ("wrong magic bytes give 415"); still an InvalidInput,
    so callers that handle bad input handle this too."""

    status_code = 415
    title = "Not a PDF, JPEG or PNG"

    def __init__(self) -> None:
        super().__init__(NOT_A_DOCUMENT, field_errors={"document": NOT_A_DOCUMENT})


class DocumentTooLarge(ClinicError):
    status_code = 413
    title = "File too large"

    def __init__(self) -> None:
        super().__init__(
            f"The file is larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB. "
            "Scan the letter at a lower resolution, or as a PDF, and upload it again."
        )


class DamagedDocument(ClinicError):
    """The stored bytes no longer match their checksum: nothing is sent out."""

    status_code = 409
    title = "Stored file damaged"

    def __init__(self) -> None:
        super().__init__(DAMAGED)


def sniff(data: bytes) -> str | None:
    """The media type the bytes' signature shows (PDF, JPEG or PNG), or None."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    # The PNG signature, then the first chunk, which must be IHDR.
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        return PNG
    return None


_UNSAFE = re.compile(r"[^A-Za-z0-9._\- ()]+")


def safe_filename(name: str, media_type: str) -> str:
    """A plain name to store and offer on download: no path, no control or odd
    characters, at most FILENAME_MAX characters, ending in the extension of the type the
    bytes showed ("letter.pdf" holding a PNG becomes "letter.png")."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    base = _UNSAFE.sub("_", base)
    stem = base
    lowered = base.lower()
    for extension in _KNOWN_EXTENSIONS:
        if lowered.endswith(extension):
            stem = base[: -len(extension)]
            break
    # No leading dot (a hidden file) and no trailing dots or spaces (Windows drops them).
    stem = stem.strip(" ._-")
    extension = EXTENSIONS[media_type]
    stem = (stem or "clearance-document")[: FILENAME_MAX - len(extension)].rstrip(" .")
    return (stem or "clearance-document") + extension


@dataclass(frozen=True)
class StoredDocument:
    """What an upload left in the database (without its bytes)."""

    id: int
    clearance_id: int
    filename: str
    media_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Download:
    """A verified document, ready to send as an attachment."""

    id: int
    clearance_id: int
    filename: str
    media_type: str
    sha256: str
    content: bytes


async def store_document(
    db: Database, clearance_id: int, filename: str, data: bytes, actor: Actor
) -> StoredDocument:
    """Keep a file that came with a clearance; audited as `clearance.document_added`."""
    if not actor.roles & {Role.FRONTDESK, Role.CLINICAL_LEAD}:
        raise PermissionDenied(UPLOADERS_ONLY)
    if not data:
        raise InvalidInput(EMPTY, field_errors={"document": EMPTY})
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentTooLarge()
    media_type = sniff(data)
    if media_type is None:
        raise UnsupportedDocument()
    name = safe_filename(filename, media_type)
    digest = hashlib.sha256(data).hexdigest()

    async def attempt() -> StoredDocument:
        async with db.transaction() as session:
            clearance = await session.get(Clearance, clearance_id)
            if clearance is None:
                raise NotFound("There is no such clearance.")
            document = ClearanceDocument(
                clearance_id=clearance.id,
                filename=name,
                media_type=media_type,
                size=len(data),
                sha256=digest,
                content=data,
                uploaded_at=now_utc(),
                uploaded_by_user_id=actor.user_id,
            )
            session.add(document)
            await session.flush()
            audit.record(
                session,
                "clearance.document_added",
                actor_user_id=actor.user_id,
                subject_type="clearance",
                subject_id=clearance.id,
                details={"document_id": document.id, "media_type": media_type, "size": len(data)},
            )
            return StoredDocument(
                id=document.id,
                clearance_id=clearance.id,
                filename=name,
                media_type=media_type,
                size=len(data),
                sha256=digest,
            )

    return await with_retries(attempt)


# Visits that make a therapist the client's treating therapist (not cancelled, expired,
# a no-show or a hold still being filled in).
TREATING_STATUSES = (
    AppointmentStatus.PENDING_CLEARANCE,
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.CHECKED_IN,
    AppointmentStatus.COMPLETED,
)


async def treats_client(
    session: AsyncSession, user_id: int, client_id: int, now: datetime, window: CareWindow
) -> bool:
    """True when `user_id`'s therapist profile has a visit with the client whose care
    window (clinic/access/window.py) holds `now`."""
    therapist_id = await session.scalar(select(Therapist.id).where(Therapist.user_id == user_id))
    if therapist_id is None:
        return False
    found = await session.scalar(
        select(Appointment.id)
        .where(
            Appointment.client_id == client_id,
            Appointment.therapist_id == therapist_id,
            Appointment.status.in_(TREATING_STATUSES),
            Appointment.starts_at <= now + timedelta(days=window.days_ahead),
            Appointment.ends_at >= now - timedelta(days=window.days_back),
        )
        .limit(1)
    )
    return found is not None


async def read_document(
    db: Database, document_id: int, actor: Actor, *, window: CareWindow
) -> Download:
    """The document's bytes after their checksum is verified; audited as
    `clearance.document_read`. The front desk and admins never read health documents."""
    if not actor.roles & {Role.CLINICAL_LEAD, Role.THERAPIST}:
        raise PermissionDenied(READERS_ONLY)

    async def attempt() -> Download:
        now = now_utc()
        async with db.transaction() as session:
            row = (
                await session.execute(
                    select(ClearanceDocument, Clearance.client_id)
                    .join(Clearance, Clearance.id == ClearanceDocument.clearance_id)
                    .where(ClearanceDocument.id == document_id)
                    .options(undefer(ClearanceDocument.content))
                )
            ).one_or_none()
            if row is None:
                raise NotFound("There is no such document.")
            document, client_id = row
            if Role.CLINICAL_LEAD in actor.roles:
                by = "clinical_lead"
            elif await treats_client(session, actor.user_id, client_id, now, window):
                by = "treating_therapist"
            else:
                security_log.warning(
                    "clearance document refused",
                    extra={"fields": {"user_id": actor.user_id, "document_id": document.id}},
                )
                raise PermissionDenied(READERS_ONLY)
            content = bytes(document.content)
            if (
                len(content) != document.size
                or hashlib.sha256(content).hexdigest() != document.sha256
            ):
                log.error(
                    "clearance document failed its checksum",
                    extra={
                        "fields": {
                            "document_id": document.id,
                            "clearance_id": document.clearance_id,
                        }
                    },
                )
                raise DamagedDocument()
            audit.record(
                session,
                "clearance.document_read",
                actor_user_id=actor.user_id,
                subject_type="clearance",
                subject_id=document.clearance_id,
                details={"document_id": document.id, "by": by},
            )
            return Download(
                id=document.id,
                clearance_id=document.clearance_id,
                filename=document.filename,
                media_type=document.media_type,
                sha256=document.sha256,
                content=content,
            )

    return await with_retries(attempt)
