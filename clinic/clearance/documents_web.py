"""Clearance documents on the web: the desk uploads the physician's letter, a clinical lead
or the treating therapist downloads it (clinic/clearance/documents.py holds the rules).

The upload is read as a stream and parsed with python-multipart's own parser, so that a
body larger than MAX_REQUEST_BYTES is refused with 413 as soon as it grows past the limit
(or at once, when its Content-Length says so) rather than after it has been spooled.
Starlette's form parser has no limit on a file part's size.

Note: the CSRF middleware (clinic/web/csrf.py) reads a multipart body whole, up to its
MAX_MULTIPART_BYTES, to find the token before this handler runs; MAX_REQUEST_BYTES must
stay at or below that limit (a test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clinic.auth.models import Role
from clinic.auth.web import requires, signed_in_staff
from clinic.clearance.documents import (
    MAX_DOCUMENT_BYTES,
    DocumentTooLarge,
    read_document,
    store_document,
)
from clinic.clearance.service import Actor
from clinic.errors import InvalidInput
from clinic.web.context import db_of, settings_of
from clinic.web.errors import error_page
from clinic.web.flash import flash

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

#: The form field that carries the file.
FILE_FIELD = "document"
#: The largest file accepted (the service checks the same limit).
MAX_UPLOAD_BYTES = MAX_DOCUMENT_BYTES
#: The whole request: the file plus multipart framing, the CSRF token and `next`.
MAX_REQUEST_BYTES = MAX_UPLOAD_BYTES + 64 * 1024
#: A plain (non-file) field: the CSRF token, `next`.
MAX_FIELD_BYTES = 4096

NO_FILE = "Choose the physician's letter to upload (a PDF, JPEG or PNG file)."
UNREADABLE = "The upload could not be read. Choose the file and try again."
ADDED = "The document was added to the clearance."


class UploadTooLarge(Exception):
    pass


class UnreadableUpload(Exception):
    pass


@dataclass
class Upload:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str = ""
    data: bytes | None = None  # None: no file part named FILE_FIELD was sent


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    disposition: bytes = b""
    header_name: bytes = b""
    header_value: bytes = b""
    data: bytearray = field(default_factory=bytearray)


async def read_upload(request: Request, boundary: bytes) -> Upload:
    """Parse the multipart body as it streams in, never holding more than
    MAX_REQUEST_BYTES; one file (FILE_FIELD) and small plain fields."""
    upload = Upload()
    part = _Part()

    def on_part_begin() -> None:
        nonlocal part
        part = _Part()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        part.header_name += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        part.header_value += data[start:end]

    def on_header_end() -> None:
        if part.header_name.strip().lower() == b"content-disposition":
            part.disposition = part.header_value
        part.header_name = b""
        part.header_value = b""

    def on_headers_finished() -> None:
        _, options = parse_options_header(part.disposition)
        if b"name" not in options:
            raise UnreadableUpload
        part.name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options:
            part.filename = options[b"filename"].decode("utf-8", "replace")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part.data += data[start:end]
        if part.filename is None and len(part.data) > MAX_FIELD_BYTES:
            raise UnreadableUpload
        if len(part.data) > MAX_UPLOAD_BYTES:
            raise UploadTooLarge

    def on_part_end() -> None:
        if part.filename is None:
            upload.fields.setdefault(part.name, part.data.decode("utf-8", "replace"))
        elif part.name == FILE_FIELD:
            if upload.data is not None:
                raise UnreadableUpload  # one letter per upload
            upload.filename = part.filename
            upload.data = bytes(part.data)

    callbacks: MultipartCallbacks = {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    }
    try:
        parser = MultipartParser(boundary, callbacks)
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > MAX_REQUEST_BYTES:
                raise UploadTooLarge
            parser.write(chunk)
        parser.finalize()
    except FormParserError as error:
        raise UnreadableUpload from error
    return upload


def safe_next(value: str | None) -> str | None:
    """Only a path on this site: never //other.example, https://other.example or a
    backslash trick."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


def _too_large(request: Request) -> Response:
    response = error_page(request, 413, DocumentTooLarge().message, title=DocumentTooLarge.title)
    # The rest of the body is not read: do not reuse the connection.
    response.headers["connection"] = "close"
    return response


@requires(Role.FRONTDESK, Role.CLINICAL_LEAD)
async def upload_document(request: Request) -> Response:
    """POST /desk/clearances/{clearance_id}/documents: a multipart form with the file in
    `document`, `csrf_token` and `next` (the page to go back to)."""
    staff = signed_in_staff(request)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        return _too_large(request)
    content_type, options = parse_options_header(request.headers.get("content-type"))
    if content_type != b"multipart/form-data" or not options.get(b"boundary"):
        raise InvalidInput(NO_FILE, field_errors={FILE_FIELD: NO_FILE})
    try:
        upload = await read_upload(request, options[b"boundary"])
    except UploadTooLarge:
        return _too_large(request)
    except UnreadableUpload:
        return error_page(request, 400, UNREADABLE)
    if upload.data is None or (not upload.data and not upload.filename):
        raise InvalidInput(NO_FILE, field_errors={FILE_FIELD: NO_FILE})
    await store_document(
        db_of(request),
        request.path_params["clearance_id"],
        upload.filename,
        upload.data,
        Actor(staff.user_id, staff.roles),
    )
    flash(request, ADDED, "success")
    target = safe_next(upload.fields.get("next")) or request.url_for("desk:today").path
    return RedirectResponse(target, 303)


# The body limit, for middleware that reads bodies before routing (clinic/web/csrf.py may
# refuse a larger declared Content-Length with 413 before reading anything).
upload_document.max_body_bytes = MAX_REQUEST_BYTES  # type: ignore[attr-defined]
upload_document.too_large_message = DocumentTooLarge().message  # type: ignore[attr-defined]


def content_disposition(filename: str) -> str:
    """`attachment` with a quoted ASCII name and the RFC 6266 / 5987 encoded one."""
    fallback = "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\;' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@requires(Role.CLINICAL_LEAD, Role.THERAPIST)
async def download_document(request: Request) -> Response:
    """GET /clearances/documents/{document_id}: the verified bytes as an attachment."""
    staff = signed_in_staff(request)
    document = await read_document(
        db_of(request),
        request.path_params["document_id"],
        Actor(staff.user_id, staff.roles),
        window=settings_of(request).care_window,
    )
    return Response(
        document.content,
        media_type=document.media_type,
        headers={
            "content-disposition": content_disposition(document.filename),
            "x-content-type-options": "nosniff",
            # Health information: never kept by a browser or a proxy.
            "cache-control": "no-store",
        },
    )
