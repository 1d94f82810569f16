"""Hypothesis against the clearance upload checks (clinic/clearance/documents.py and
documents_web.py): the bytes' signature alone decides the type, so exactly the PDF, JPEG
and PNG signatures are accepted whatever follows them, and any other bytes are refused;
any file name becomes a plain one ending as the bytes say; any multipart body is read or
refused as unreadable, never a crash.
"""

from __future__ import annotations

import asyncio
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from clinic.clearance.documents import (
    EXTENSIONS,
    FILENAME_MAX,
    JPEG,
    MEDIA_TYPES,
    PDF,
    PNG,
    safe_filename,
    sniff,
)
from clinic.clearance.documents_web import (
    FILE_FIELD,
    UnreadableUpload,
    Upload,
    read_upload,
    safe_next,
)

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PNG_HEADER = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0d" + b"IHDR"
SIGNATURES = {PDF: b"%PDF-", JPEG: b"\xff\xd8\xff", PNG: PNG_HEADER}
SAFE_CHARACTERS = set(string.ascii_letters + string.digits + "._- ()")


def _signed_by(data: bytes) -> str | None:
    """The oracle: the type whose signature `data` starts with."""
    return next((t for t, sig in SIGNATURES.items() if data.startswith(sig)), None)


@FUZZ
@given(st.binary(max_size=64) | st.sampled_from(list(SIGNATURES.values())).map(lambda s: s[:-1]))
def test_any_bytes_are_a_known_type_only_with_its_signature(data: bytes) -> None:
    assert sniff(data) == _signed_by(data)


@FUZZ
@given(st.sampled_from(MEDIA_TYPES), st.binary(max_size=64))
def test_every_allowed_signature_is_accepted_whatever_follows(media_type: str, rest: bytes) -> None:
    assert sniff(SIGNATURES[media_type] + rest) == media_type


@FUZZ
@given(st.sampled_from(MEDIA_TYPES), st.data())
def test_a_signature_with_one_byte_changed_is_refused(media_type: str, data: st.DataObject) -> None:
    signature = bytearray(SIGNATURES[media_type])
    # PNG's 4-byte chunk length (bytes 8-11) is not part of what is checked.
    checked = [i for i in range(len(signature)) if media_type != PNG or not 8 <= i < 12]
    index = data.draw(st.sampled_from(checked))
    signature[index] = data.draw(st.integers(0, 255).filter(lambda b: b != signature[index]))
    assert sniff(bytes(signature) + b"rest of the file") is None


@FUZZ
@given(st.text(max_size=300), st.sampled_from(MEDIA_TYPES))
def test_any_name_is_stored_plain_and_ending_as_the_bytes_say(name: str, media_type: str) -> None:
    stored = safe_filename(name, media_type)
    assert stored.endswith(EXTENSIONS[media_type])
    assert 1 + len(EXTENSIONS[media_type]) <= len(stored) <= FILENAME_MAX
    assert set(stored) <= SAFE_CHARACTERS
    assert not stored.startswith((".", " ", "-"))
    assert safe_filename(stored, media_type) == stored


@FUZZ
@given(st.text(max_size=100) | st.none())
def test_next_is_a_path_on_this_site_or_nothing(value: str | None) -> None:
    found = safe_next(value)
    if found is not None:
        assert found.startswith("/")
        assert not found.startswith(("//", "/\\"))
        assert not set(found) & {"\r", "\n"}


BOUNDARY = b"fuzzboundary"


def _read(body: bytes, chunk: int) -> Upload | None:
    """read_upload over `body` sent in chunks of `chunk` bytes; None when unreadable."""
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]

    async def receive() -> dict[str, object]:
        piece = pieces.pop(0)
        return {"type": "http.request", "body": piece, "more_body": bool(pieces)}

    request = Request({"type": "http", "method": "POST", "headers": []}, receive)
    try:
        return asyncio.run(read_upload(request, BOUNDARY))
    except UnreadableUpload:
        return None


def _part(headers: bytes, content: bytes) -> bytes:
    return b"--" + BOUNDARY + b"\r\n" + headers + b"\r\n\r\n" + content + b"\r\n"


disposition_values = st.sampled_from(
    [
        b'form-data; name="document"; filename="letter.pdf"',
        b'form-data; name="csrf_token"',
        b"form-data",
        b'form-data; name="document"; filename="a\\"b;c\xff.pdf"',
    ]
) | st.binary(max_size=60)
parts = st.builds(
    _part,
    st.builds(lambda v: b"Content-Disposition: " + v, disposition_values) | st.binary(max_size=40),
    st.binary(max_size=80),
)
bodies = st.builds(
    lambda ps, ending: b"".join(ps) + ending,
    st.lists(parts, max_size=3),
    st.sampled_from([b"--" + BOUNDARY + b"--\r\n", b"", b"--" + BOUNDARY]),
) | st.binary(max_size=200)


@FUZZ
@given(bodies, st.integers(1, 64))
def test_any_multipart_body_is_read_or_refused_as_unreadable(body: bytes, chunk: int) -> None:
    upload = _read(body, chunk)
    if upload is not None:
        assert all(isinstance(v, str) for v in upload.fields.values())


@FUZZ
@given(st.binary(max_size=300), st.text(max_size=40), st.integers(1, 64))
def test_a_well_formed_upload_reads_back_its_bytes(content: bytes, token: str, chunk: int) -> None:
    body = (
        _part(b'Content-Disposition: form-data; name="csrf_token"', token.encode())
        + _part(
            b'Content-Disposition: form-data; name="'
            + FILE_FIELD.encode()
            + b'"; filename="letter.pdf"\r\nContent-Type: application/pdf',
            content,
        )
        + b"--"
        + BOUNDARY
        + b"--\r\n"
    )
    upload = _read(body, chunk)
    assert upload is not None
    assert upload.data == content
    assert upload.filename == "letter.pdf"
    assert upload.fields["csrf_token"] == token
