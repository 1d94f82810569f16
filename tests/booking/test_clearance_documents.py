"""T14 and part of T15 (reliability.md section 7): the physician's letter behind a clearance.

A document's type is decided by its bytes (a file that claims to be a PDF but is not is
refused with a clear message), an oversize upload gets 413, the checksum is verified on
download (a damaged file is refused, no bytes sent), the desk cannot download health
documents, and every download by staff is audited.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import pytest
from sqlalchemy import func, select, update
from starlette.applications import Starlette
from starlette.types import Message

from clinic.access.window import CareWindow
from clinic.audit import AuditEntry
from clinic.auth.models import Role
from clinic.booking.models import Appointment
from clinic.clearance.documents import (
    DAMAGED,
    EMPTY,
    MAX_DOCUMENT_BYTES,
    NOT_A_DOCUMENT,
    ClearanceDocument,
    UnsupportedDocument,
    read_document,
    safe_filename,
    sniff,
    store_document,
)
from clinic.clearance.documents_web import (
    MAX_REQUEST_BYTES,
    MAX_UPLOAD_BYTES,
    content_disposition,
    safe_next,
)
from clinic.clearance.models import Clearance
from clinic.db import Database
from clinic.errors import InvalidInput, PermissionDenied
from clinic.staff.models import Therapist
from clinic.web.csrf import MAX_MULTIPART_BYTES
from tests import factories
from tests.booking.test_clearance import actor, book_pending, requested

pytestmark = pytest.mark.usefixtures("frozen")

UPLOAD_NAME = "desk:clearance_document_add"
DOWNLOAD_NAME = "clearance:document"

PDF_BYTES = (
    b"%PDF-1.4\n"
    b"1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
    b"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\n"
    b"trailer <</Root 1 0 R>>\n"
    b"%%EOF\n"
)
JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
NOT_A_PDF = b"Dear colleague, Ruth may have massage at light pressure. Dr Lee"


def png_bytes() -> bytes:
    """A real 1x1 grey PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x80"))
        + chunk(b"IEND", b"")
    )


# Helpers


async def pending_clearance(seeded: Database, http: httpx2.AsyncClient) -> tuple[Clearance, int]:
    """A requested clearance for a bone-metastases visit; (clearance, appointment id)."""
    [visit] = await book_pending(seeded, http, "2026-12-02")
    desk = await actor(seeded, Role.FRONTDESK)
    return await requested(seeded, visit["id"], desk), visit["id"]


async def staff_token(browser: httpx2.AsyncClient) -> str:
    """The CSRF token on the signed-in staff member's landing page."""
    landing = await browser.get("/login")
    assert landing.status_code == 303, landing.text
    return await factories.form_token(browser, landing.headers["location"])


async def upload(
    browser: httpx2.AsyncClient,
    clearance_id: int,
    name: str,
    data: bytes,
    claimed: str = "application/pdf",
    next_path: str = "/desk/",
) -> httpx2.Response:
    return await browser.post(
        f"/desk/clearances/{clearance_id}/documents",
        data={"csrf_token": await staff_token(browser), "next": next_path},
        files={"document": (name, data, claimed)},
    )


async def documents_of(db: Database, clearance_id: int) -> list[ClearanceDocument]:
    async with db.reading() as session:
        return list(
            await session.scalars(
                select(ClearanceDocument)
                .where(ClearanceDocument.clearance_id == clearance_id)
                .order_by(ClearanceDocument.id)
            )
        )


async def audit_count(db: Database, action: str) -> int:
    async with db.reading() as session:
        count = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
        )
    return int(count or 0)


Browser = Callable[[], httpx2.AsyncClient]


# The bytes decide


def test_the_signature_decides_the_type() -> None:
    assert sniff(PDF_BYTES) == "application/pdf"
    assert sniff(JPEG_BYTES) == "image/jpeg"
    assert sniff(png_bytes()) == "image/png"
    assert sniff(NOT_A_PDF) is None
    assert sniff(b"") is None
    assert sniff(b"\x89PNG\r\n\x1a\n") is None  # a signature with no image after it
    assert sniff(b"<html><body>%PDF-1.4</body></html>") is None


def test_stored_names_are_plain_and_end_as_the_bytes_say() -> None:
    assert safe_filename("letter.pdf", "application/pdf") == "letter.pdf"
    assert safe_filename("letter.pdf", "image/png") == "letter.png"
    assert safe_filename("C:\\scans\\..\\Dr Lee's letter.JPEG", "image/jpeg") == (
        "Dr Lee_s letter.jpg"
    )
    assert safe_filename("../../etc/passwd", "application/pdf") == "passwd.pdf"
    assert safe_filename('a"; filename=x.html\r\n.pdf', "application/pdf") == (
        "a_ filename_x.html.pdf"
    )
    assert safe_filename("", "image/png") == "clearance-document.png"
    assert safe_filename("....pdf", "application/pdf") == "clearance-document.pdf"
    long = safe_filename("x" * 500 + ".pdf", "application/pdf")
    assert len(long) == 200
    assert long.endswith(".pdf")


def test_a_download_name_is_quoted_safely() -> None:
    assert content_disposition("letter.pdf") == (
        "attachment; filename=\"letter.pdf\"; filename*=UTF-8''letter.pdf"
    )
    header = content_disposition('a"b\\c;d é.pdf')
    assert header.startswith('attachment; filename="a_b_c_d _.pdf"; ')
    assert header.endswith("filename*=UTF-8''a%22b%5Cc%3Bd%20%C3%A9.pdf")


def test_next_stays_on_this_site() -> None:
    assert safe_next("/desk/appointments/4/clearance") == "/desk/appointments/4/clearance"
    for bad in (None, "", "https://evil.example/", "//evil.example", "/\\evil.example", "desk"):
        assert safe_next(bad) is None
    assert safe_next("/desk/\r\nSet-Cookie: x=1") is None


def test_the_route_limit_fits_inside_the_csrf_middlewares() -> None:
    """The CSRF middleware reads a multipart body whole up to its own limit before the
    route runs: a larger route limit would never be reached."""
    assert MAX_UPLOAD_BYTES == MAX_DOCUMENT_BYTES
    assert MAX_UPLOAD_BYTES < MAX_REQUEST_BYTES <= MAX_MULTIPART_BYTES


async def test_a_text_file_claiming_to_be_a_pdf_is_refused_by_the_service(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    clearance, _ = await pending_clearance(seeded, http)
    desk = await actor(seeded, Role.FRONTDESK)
    with pytest.raises(InvalidInput) as refused:
        await store_document(seeded, clearance.id, "letter.pdf", NOT_A_PDF, desk)
    assert isinstance(refused.value, UnsupportedDocument)
    assert refused.value.message == NOT_A_DOCUMENT
    assert refused.value.field_errors == {"document": NOT_A_DOCUMENT}
    with pytest.raises(InvalidInput, match="empty"):
        await store_document(seeded, clearance.id, "letter.pdf", b"", desk)
    assert await documents_of(seeded, clearance.id) == []


async def test_only_the_desk_and_a_clinical_lead_store_and_neither_admin_nor_desk_reads(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    clearance, _ = await pending_clearance(seeded, http)
    admin = await actor(seeded, Role.ADMIN)
    with pytest.raises(PermissionDenied):
        await store_document(seeded, clearance.id, "letter.pdf", PDF_BYTES, admin)
    stored = await store_document(
        seeded, clearance.id, "letter.pdf", PDF_BYTES, await actor(seeded, Role.FRONTDESK)
    )
    for role in (Role.FRONTDESK, Role.ADMIN):
        with pytest.raises(PermissionDenied):
            await read_document(seeded, stored.id, await actor(seeded, role), window=CareWindow())
    assert await audit_count(seeded, "clearance.document_read") == 0


# Upload and download over HTTP


async def test_a_pdf_is_stored_with_its_checksum_and_downloads_identically(
    seeded: Database, http: httpx2.AsyncClient, new_client: Browser
) -> None:
    clearance, appointment_id = await pending_clearance(seeded, http)
    back = f"/desk/appointments/{appointment_id}/clearance"
    async with new_client() as desk:
        await factories.sign_in_as(desk, seeded, Role.FRONTDESK)
        response = await upload(desk, clearance.id, "Dr Lee letter.pdf", PDF_BYTES, next_path=back)
        assert response.status_code == 303, response.text
        assert response.headers["location"] == back
        assert "clinic_flash" in response.headers.get("set-cookie", "")

    [document] = await documents_of(seeded, clearance.id)
    assert document.media_type == "application/pdf"
    assert document.filename == "Dr Lee letter.pdf"
    assert document.size == len(PDF_BYTES)
    assert document.sha256 == hashlib.sha256(PDF_BYTES).hexdigest()
    assert document.uploaded_by_user_id is not None
    assert await audit_count(seeded, "clearance.document_added") == 1

    async with new_client() as lead:
        await factories.sign_in_as(lead, seeded, Role.CLINICAL_LEAD)
        download = await lead.get(f"/clearances/documents/{document.id}")
    assert download.status_code == 200, download.text
    assert download.content == PDF_BYTES
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"] == (
        "attachment; filename=\"Dr Lee letter.pdf\"; filename*=UTF-8''Dr%20Lee%20letter.pdf"
    )
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["cache-control"] == "no-store"


async def test_a_pdf_name_with_png_bytes_is_stored_as_a_png(
    seeded: Database, http: httpx2.AsyncClient, new_client: Browser
) -> None:
    clearance, _ = await pending_clearance(seeded, http)
    async with new_client() as lead:
        await factories.sign_in_as(lead, seeded, Role.CLINICAL_LEAD)
        response = await upload(lead, clearance.id, "letter.pdf", png_bytes())
        assert response.status_code == 303, response.text
        [document] = await documents_of(seeded, clearance.id)
        assert (document.media_type, document.filename) == ("image/png", "letter.png")
        download = await lead.get(f"/clearances/documents/{document.id}")
    assert download.headers["content-type"] == "image/png"
    assert download.content == png_bytes()


async def test_a_file_that_claims_to_be_a_pdf_but_is_not_is_refused_with_a_clear_message(
    seeded: Database, http: httpx2.AsyncClient, new_client: Browser
) -> None:
    clearance, _ = await pending_clearance(seeded, http)
    async with new_client() as desk:
        await factories.sign_in_as(desk, seeded, Role.FRONTDESK)
        response = await upload(desk, clearance.id, "letter.pdf", NOT_A_PDF, "application/pdf")
        empty = await upload(desk, clearance.id, "letter.pdf", b"", "application/pdf")
        missing = await desk.post(
            f"/desk/clearances/{clearance.id}/documents",
            data={"csrf_token": await staff_token(desk), "next": "/desk/"},
        )
    # reliability.md T14: wrong magic bytes give 415.
    assert response.status_code == 415
    assert "text/html" in response.headers["content-type"]
    assert "This file is not a PDF, JPEG or PNG image." in response.text
    assert "Upload the physician&#39;s letter as one of those." in response.text
    assert empty.status_code == 422
    assert EMPTY.replace("'", "&#39;") in empty.text
    assert missing.status_code == 422
    assert await documents_of(seeded, clearance.id) == []
    assert await audit_count(seeded, "clearance.document_added") == 0


async def test_an_upload_to_a_clearance_that_does_not_exist_is_404(
    seeded: Database, new_client: Browser
) -> None:
    async with new_client() as desk:
        await factories.sign_in_as(desk, seeded, Role.FRONTDESK)
        response = await upload(desk, 999_999, "letter.pdf", PDF_BYTES)
    assert response.status_code == 404


async def test_next_off_the_site_falls_back_to_the_desk(
    seeded: Database, http: httpx2.AsyncClient, new_client: Browser
) -> None:
    clearance, _ = await pending_clearance(seeded, http)
    async with new_client() as desk:
        await factories.sign_in_as(desk, seeded, Role.FRONTDESK)
        response = await upload(
            desk, clearance.id, "scan.jpg", JPEG_BYTES, "image/jpeg", "//evil.example/x"
        )
    assert response.status_code == 303
    assert response.headers["location"] == "/desk/"


# Size limits


async def test_an_upload_declaring_a_length_over_the_limit_gets_413(
    seeded: Database, http: httpx2.AsyncClient, new_client: Browser
) -> None:
    clearance, _ = await pending_clearance(seeded, http)
    async with new_client() as desk:
        await factories.sign_in_as(desk, seeded, Role.FRONTDESK)
        big = PDF_BYTES + b"0" * (MAX_REQUEST_BYTES - len(PDF_BYTES) + 1)
        response = await upload(desk, clearance.id, "letter.pdf", big)
        assert int(response.request.headers["content-length"]) > MAX_REQUEST_BYTES
        # A file one byte over, in a body that is itself under the request limit.
        just_over = PDF_BYTES + b"0" * (MAX_UPLOAD_BYTES - len(PDF_BYTES) + 1)
        file_over = await upload(desk, clearance.id, "letter.pdf", just_over)
        assert int(file_over.request.headers["content-length"]) <= MAX_REQUEST_BYTES
    for refused in (response, file_over):
        assert refused.status_code == 413, refused.text[:300]
        assert "The file is larger than 10 MB." in refused.text
    assert await documents_of(seeded, clearance.id) == []


async def test_a_streamed_upload_without_a_length_that_grows_past_the_limit_gets_413(
    seeded: Database, http: httpx2.AsyncClient, new_client: Browser
) -> None:
    clearance, _ = await pending_clearance(seeded, http)
    boundary = "clinic-document-boundary"
    chunk = b"0" * (256 * 1024)
    async with new_client() as desk:
        await factories.sign_in_as(desk, seeded, Role.FRONTDESK)
        token = await staff_token(desk)

        async def body() -> AsyncIterator[bytes]:
            yield (
                f"--{boundary}\r\n"
                'Content-Disposition: form-data; name="csrf_token"\r\n\r\n'
                f"{token}\r\n"
                f"--{boundary}\r\n"
                'Content-Disposition: form-data; name="document"; filename="letter.pdf"\r\n'
                "Content-Type: application/pdf\r\n\r\n"
            ).encode() + PDF_BYTES
            # Past the route's limit, and still under the CSRF middleware's.
            for _ in range(MAX_REQUEST_BYTES // len(chunk) + 2):
                yield chunk
            yield f"\r\n--{boundary}--\r\n".encode()

        response = await desk.post(
            f"/desk/clearances/{clearance.id}/documents",
            content=body(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert "content-length" not in response.request.headers
    assert response.status_code == 413, response.text[:300]
    assert await documents_of(seeded, clearance.id) == []


async def test_a_declared_length_over_the_route_limit_is_refused_before_any_body_is_read(
    app: Starlette, seeded: Database, new_client: Browser
) -> None:
    async with new_client() as desk:
        await factories.sign_in_as(desk, seeded, Role.FRONTDESK)
        token = await staff_token(desk)
        cookie = "; ".join(f"{name}={value}" for name, value in desk.cookies.items())
    asked = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal asked
        asked += 1
        return {"type": "http.request", "body": b"x" * 65536, "more_body": True}

    async def send(message: Message) -> None:
        sent.append(message)

    path = "/desk/clearances/1/documents"
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"multipart/form-data; boundary=b"),
            (b"content-length", str(MAX_REQUEST_BYTES + 1).encode()),
            (b"cookie", cookie.encode()),
            (b"x-csrf-token", token.encode()),
        ],
        "client": ("127.0.0.1", 123),
        "server": ("testserver", 443),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 413
    assert asked == 0, f"{asked} body chunks were read before the declared length was refused"


# Download: the checksum, who may, and the audit


async def test_a_damaged_document_is_refused_on_download_and_no_bytes_are_sent(
    seeded: Database, http: httpx2.AsyncClient, new_client: Browser
) -> None:
    clearance, _ = await pending_clearance(seeded, http)
    desk = await actor(seeded, Role.FRONTDESK)
    stored = await store_document(seeded, clearance.id, "letter.pdf", PDF_BYTES, desk)
    damaged = PDF_BYTES.replace(b"Count 0", b"Count 9")
    async with seeded.transaction() as session:
        await session.execute(
            update(ClearanceDocument)
            .where(ClearanceDocument.id == stored.id)
            .values(content=damaged)
        )
    async with new_client() as lead:
        await factories.sign_in_as(lead, seeded, Role.CLINICAL_LEAD)
        response = await lead.get(f"/clearances/documents/{stored.id}")
    assert response.status_code == 409
    assert "text/html" in response.headers["content-type"]
    assert "content-disposition" not in response.headers
    assert DAMAGED.split(";")[0] in response.text
    assert b"%PDF" not in response.content
    assert await audit_count(seeded, "clearance.document_read") == 0


async def test_the_desk_and_an_admin_cannot_download_health_documents(
    seeded: Database, http: httpx2.AsyncClient, new_client: Browser
) -> None:
    clearance, _ = await pending_clearance(seeded, http)
    stored = await store_document(
        seeded, clearance.id, "letter.pdf", PDF_BYTES, await actor(seeded, Role.FRONTDESK)
    )
    for role in (Role.FRONTDESK, Role.ADMIN):
        async with new_client() as browser:
            await factories.sign_in_as(browser, seeded, role)
            response = await browser.get(f"/clearances/documents/{stored.id}")
        assert response.status_code == 403, role
        assert b"%PDF" not in response.content
    async with new_client() as anonymous:
        response = await anonymous.get(f"/clearances/documents/{stored.id}")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
    assert await audit_count(seeded, "clearance.document_read") == 0


async def test_only_the_clients_treating_therapist_downloads(
    seeded: Database, http: httpx2.AsyncClient, new_client: Browser
) -> None:
    clearance, appointment_id = await pending_clearance(seeded, http)
    stored = await store_document(
        seeded, clearance.id, "letter.pdf", PDF_BYTES, await actor(seeded, Role.FRONTDESK)
    )
    # Therapist-only accounts (a seeded therapist may also be the clinical lead): one for
    # the visit's therapist profile, one for a therapist who does not treat this client.
    async with seeded.transaction() as session:
        appointment = await session.get(Appointment, appointment_id)
        assert appointment is not None
        assert appointment.therapist_id is not None
        treating = await session.get(Therapist, appointment.therapist_id)
        assert treating is not None
        treating_user = await factories.create_user(session, roles=(Role.THERAPIST,))
        treating.user_id = treating_user.id
        other_user = await factories.create_user(session, roles=(Role.THERAPIST,))
        await factories.create_therapist(session, user_id=other_user.id)
    async with new_client() as browser:
        await factories.sign_in_existing(browser, seeded, treating_user.id)
        allowed = await browser.get(f"/clearances/documents/{stored.id}")
    async with new_client() as browser:
        await factories.sign_in_existing(browser, seeded, other_user.id)
        refused = await browser.get(f"/clearances/documents/{stored.id}")
    assert allowed.status_code == 200, allowed.text[:300]
    assert allowed.content == PDF_BYTES
    assert refused.status_code == 403
    assert b"%PDF" not in refused.content
    async with seeded.reading() as session:
        [entry] = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "clearance.document_read")
        )
    assert entry.actor_user_id == treating_user.id
    assert entry.details == {"document_id": stored.id, "by": "treating_therapist"}


async def test_every_download_by_staff_is_audited(
    seeded: Database, http: httpx2.AsyncClient, new_client: Browser
) -> None:
    clearance, _ = await pending_clearance(seeded, http)
    stored = await store_document(
        seeded,
        clearance.id,
        "Ruth Example bone mets.pdf",
        PDF_BYTES,
        await actor(seeded, Role.FRONTDESK),
    )
    async with new_client() as lead:
        user = await factories.sign_in_as(lead, seeded, Role.CLINICAL_LEAD)
        for _ in range(3):
            assert (await lead.get(f"/clearances/documents/{stored.id}")).status_code == 200
    async with seeded.reading() as session:
        entries = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "clearance.document_read")
                .order_by(AuditEntry.id)
            )
        )
        added = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "clearance.document_added")
        )
    assert len(entries) == 3
    for entry in entries:
        assert entry.actor_user_id == user.id
        assert (entry.subject_type, entry.subject_id) == ("clearance", str(clearance.id))
        assert entry.details == {"document_id": stored.id, "by": "clinical_lead"}
    # No file names (they name the client or the condition) in the trail.
    assert added is not None
    assert added.details == {
        "document_id": stored.id,
        "media_type": "application/pdf",
        "size": len(PDF_BYTES),
    }
