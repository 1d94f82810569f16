"""Structured logging: JSON lines, UTC, no log injection, redaction, the access log."""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Scope

from clinic.logging import (
    REDACTED,
    ClinicLogHandler,
    build_handler,
    configure_logging,
    redact_fields,
    redact_path,
    redact_query,
    redact_text,
)
from clinic.settings import Environment, Settings
from clinic.web.access_log import AccessLogMiddleware, incoming_request_id

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class Captured:
    """What the real clinic handler (JSON formatter + redacting filter) wrote."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines()]

    def access(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["logger"] == "clinic.access"]


@pytest.fixture
def captured() -> Iterator[Captured]:
    """Attach a clinic handler writing to a StringIO to the "clinic" logger, at DEBUG."""
    stream = io.StringIO()
    handler = build_handler(stream)
    logger = logging.getLogger("clinic")
    saved = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield Captured(stream)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


# the line format


def test_a_line_is_one_json_object_with_a_utc_timestamp(captured: Captured) -> None:
    logging.getLogger("clinic.test").warning("slot %s taken", "10:00")
    [line] = captured.lines()
    assert TS.match(line["ts"])
    assert line["ts"].endswith("Z")
    assert line["level"] == "WARNING"
    assert line["logger"] == "clinic.test"
    assert line["msg"] == "slot 10:00 taken"


def test_the_timestamp_is_utc(captured: Captured) -> None:
    record = logging.LogRecord("clinic.test", logging.INFO, __file__, 1, "hello", None, None)
    record.created = 1795780620.123  # 2026-11-27T11:57:00.123Z
    logging.getLogger("clinic.test").handle(record)
    [line] = captured.lines()
    assert line["ts"] == "2026-11-27T11:57:00.123Z"


def test_structured_fields_become_keys(captured: Captured) -> None:
    logging.getLogger("clinic.test").info(
        "booked", extra={"fields": {"appointment_id": 7, "room": "B", "msg": "clash"}}
    )
    [line] = captured.lines()
    assert line["appointment_id"] == 7
    assert line["room"] == "B"
    assert line["msg"] == "booked"  # a field cannot overwrite the reserved keys
    assert line["msg_"] == "clash"


@pytest.mark.parametrize(
    "forged",
    [
        "\n",
        "\r\n",
        "\r",
        "\u2028",
        "\u2029",
        "\x85",
        "\x1b[2K\r",
        "\x0b\x0c\x1c\x1d\x1e",
    ],
)
def test_a_newline_in_a_message_cannot_forge_a_second_line(captured: Captured, forged: str) -> None:
    fake = '{"ts":"2026-01-01T00:00:00.000Z","level":"INFO","logger":"clinic.auth","msg":"ok"}'
    log = logging.getLogger("clinic.test")
    log.warning("sign-in failed for %s", f"mallory{forged}{fake}")
    log.warning("x", extra={"fields": {"who": f"a{forged}{fake}"}})
    # splitlines() splits on every Unicode line boundary, not just "\n".
    lines = captured.text.splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["msg"] == f"sign-in failed for mallory{forged}{fake}"
    assert json.loads(lines[1])["who"] == f"a{forged}{fake}"


@given(st.text())
def test_any_message_is_exactly_one_line(text: str) -> None:
    stream = io.StringIO()
    handler = build_handler(stream)
    record = logging.LogRecord("clinic.test", logging.INFO, __file__, 1, "%s", (text,), None)
    record.fields = {"value": text}
    handler.handle(record)
    output = stream.getvalue()
    assert output.endswith("\n")
    assert len(output.splitlines()) == 1
    assert output.isascii()
    line = json.loads(output)
    assert line["msg"] == line["value"] == redact_text(text)


def test_an_exception_is_one_exc_string_with_its_secrets_redacted(captured: Captured) -> None:
    try:
        raise RuntimeError(
            "no booking at /manage/SEEDED-SECRET-TOKEN/cancel?token=OTHER-SECRET "
            "for jane.doe@example.com (password=hunter2, key sk_live_abcDEF123)"
        )
    except RuntimeError:
        logging.getLogger("clinic.test").exception("could not cancel")
    [line] = captured.lines()
    exc = line["exc"]
    assert exc.startswith("Traceback (most recent call last):")
    assert "RuntimeError: no booking at /manage/[redacted]/cancel?token=[redacted]" in exc
    for secret in ("SEEDED-SECRET-TOKEN", "OTHER-SECRET", "jane.doe", "hunter2", "abcDEF123"):
        assert secret not in captured.text
    assert "j***@example.com" in exc
    assert len(captured.text.splitlines()) == 1


@pytest.mark.parametrize(
    "name", ["password", "intake_answers", "csrf_token", "Cookie", "card_last4", "notes"]
)
def test_secret_and_health_fields_are_redacted_whatever_they_hold(
    captured: Captured, name: str
) -> None:
    value = {"nested": "Stage II breast cancer, on tamoxifen"}
    logging.getLogger("clinic.test").info("saved", extra={"fields": {name: value, "id": 3}})
    [line] = captured.lines()
    assert line[name] == REDACTED
    assert line["id"] == 3
    assert "tamoxifen" not in captured.text


def test_field_values_are_redacted_as_text_too(captured: Captured) -> None:
    logging.getLogger("clinic.test").info(
        "mail sent",
        extra={"fields": {"to": "jane@example.com", "link": "https://x.test/b/TOKEN123"}},
    )
    [line] = captured.lines()
    assert line["to"] == "j***@example.com"
    assert line["link"] == "https://x.test/b/[redacted]"


def test_nested_fields_are_redacted_by_name() -> None:
    cleaned = redact_fields(
        {"client": {"id": 4, "medication": "tamoxifen", "tags": ["a", {"token": "t"}]}}
    )
    assert cleaned == {
        "client": {"id": 4, "medication": REDACTED, "tags": ["a", {"token": REDACTED}]}
    }


def test_a_message_with_the_wrong_arguments_is_still_logged(captured: Captured) -> None:
    logging.getLogger("clinic.test").warning("two %s %s", "one")
    [line] = captured.lines()
    assert "two %s %s" in line["msg"]


# redaction tables


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/manage/AbC123/cancel", "/manage/[redacted]/cancel"),
        ("/manage/AbC123", "/manage/[redacted]"),
        ("/feeds/tok.ics", "/feeds/[redacted]"),
        ("/b/xyz", "/b/[redacted]"),
        ("/intake/abc/step/2", "/intake/[redacted]/step/2"),
        ("/pay/abc/return", "/pay/[redacted]/return"),
        ("/api/v1/bookings/abc", "/api/v1/bookings/[redacted]"),
        ("/api/v1/intakes/abc/answers", "/api/v1/intakes/[redacted]/answers"),
        ("/reset/abc", "/reset/[redacted]"),
        ("/invite/abc", "/invite/[redacted]"),
        ("/MANAGE/abc", "/MANAGE/[redacted]"),
        ("/clinic/manage/abc", "/clinic/manage/[redacted]"),
        ("/manage/", "/manage/"),
        ("/manage", "/manage"),
        ("/staff/schedule", "/staff/schedule"),
        ("/book/massage", "/book/massage"),
        ("/", "/"),
        ("/manage/[redacted]/cancel", "/manage/[redacted]/cancel"),
    ],
)
def test_redact_path(path: str, expected: str) -> None:
    assert redact_path(path) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ""),
        ("page=2", "page=2"),
        ("token=abc&page=2", "token=[redacted]&page=2"),
        ("page=2&reset_token=abc", "page=2&reset_token=[redacted]"),
        ("api_key=1&code=2&password=3", "api_key=[redacted]&code=[redacted]&password=[redacted]"),
        (
            "SESSION=1&csrf=2&signature=3&sig=4",
            "SESSION=[redacted]&csrf=[redacted]&signature=[redacted]&sig=[redacted]",
        ),
        ("auth=1&client_secret=2", "auth=[redacted]&client_secret=[redacted]"),
        ("%74oken=abc", "%74oken=[redacted]"),
        ("next=%2Fmanage%2Fabc", "next=[redacted]"),
        ("token", "token"),
        ("token=", "token="),
        ("q=a+b&sort=-date", "q=a+b&sort=-date"),
        ("token=[redacted]&page=2", "token=[redacted]&page=2"),
    ],
)
def test_redact_query(query: str, expected: str) -> None:
    assert redact_query(query) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '127.0.0.1:5000 - "GET /manage/AbC123?token=x&page=2 HTTP/1.1" 200',
            '127.0.0.1:5000 - "GET /manage/[redacted]?token=[redacted]&page=2 HTTP/1.1" 200',
        ),
        ("see https://clinic.test/feeds/tok.ics.", "see https://clinic.test/feeds/[redacted]"),
        ("Authorization: Bearer abc.def-ghi", "Authorization: [redacted]"),
        ("sent Bearer abc.def-ghi upstream", "sent Bearer [redacted] upstream"),
        ("cookie: __Host-sid=abc; other=1", "cookie: [redacted]"),
        (
            "[(b'cookie', b'__Host-sid=abc'), (b'host', b'x')]",
            "[(b'cookie', b'[redacted]'), (b'host', b'x')]",
        ),
        ("login with password=hunter2 failed", "login with password=[redacted] failed"),
        ("passwd = 'hunter2'", "passwd = '[redacted]'"),
        ("?page=2&status_code=3", "?page=2&status_code=[redacted]"),
        ("signed_in = await load_session(db)", "signed_in = await load_session(db)"),
        ("response.status_code=500", "response.status_code=500"),
        ("{'password': 'hunter2', 'id': 3}", "{'password': '[redacted]', 'id': 3}"),
        ('{"new_password": "hunter2"}', '{"new_password": "[redacted]"}'),
        ("User(id=3, password_hash='$argon2id$v=19')", "User(id=3, password_hash='[redacted]')"),
        ("stripe key sk_live_51Habc is bad", "stripe key sk_live_[redacted] is bad"),
        ("sk_test_51Habc", "sk_test_[redacted]"),
        ("rk_live_51Habc", "rk_live_[redacted]"),
        ("whsec_abc123 rejected", "whsec_[redacted] rejected"),
        ("pi_3Abc_secret_XyZ", "pi_3Abc_secret_[redacted]"),
        ("mail to jane.doe+x@example.co.uk bounced", "mail to j***@example.co.uk bounced"),
        ("email=jane%40example.com", "email=j***%40example.com"),
        (
            "postgresql://clinic:s3cret@db.internal:5432/clinic",
            "postgresql://clinic:[redacted]@db.internal:5432/clinic",
        ),
        (
            "(IntegrityError) UNIQUE\n[SQL: INSERT INTO x VALUES (?, ?)]\n"
            "[parameters: ('jane', 'on chemo')]\n(Background on this error)",
            "(IntegrityError) UNIQUE\n[SQL: INSERT INTO x VALUES (?, ?)]\n"
            "[parameters: [redacted]]\n(Background on this error)",
        ),
        ("Error code: 500, slot taken", "Error code: 500, slot taken"),
        ("nothing secret here", "nothing secret here"),
    ],
)
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected
    assert redact_text(expected) == expected  # idempotent


@pytest.mark.parametrize(
    "text",
    [
        "a" * 100_000,
        "key" * 30_000,
        "a." * 50_000,
        "a%" * 50_000,
        "/manage/" * 10_000,
        "x=" * 50_000,
        "'" + "token" * 20_000,
        "a@" * 50_000,
    ],
)
def test_redact_text_is_fast_on_long_hostile_input(text: str) -> None:
    started = time.perf_counter()
    redact_text(text)
    assert time.perf_counter() - started < 1.0


# configure_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved_root = (root.level, list(root.handlers))
    uvicorn = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.error", "uvicorn.access")]
    saved_uvicorn = [(lg, list(lg.handlers), lg.propagate) for lg in uvicorn]
    try:
        yield
    finally:
        root.setLevel(saved_root[0])
        root.handlers[:] = saved_root[1]
        for lg, handlers, propagate in saved_uvicorn:
            lg.handlers[:] = handlers
            lg.propagate = propagate


def _settings(environment: Environment, tmp_path: Path) -> Settings:
    return Settings(
        database_url="sqlite+aiosqlite:///unused.db",
        secret_key="x" * 40,
        environment=environment,
        timezone="UTC",
        currency="usd",
        base_url="http://127.0.0.1:8000",
        var_dir=tmp_path,
    )


@pytest.mark.usefixtures("restore_logging")
def test_configure_logging_is_idempotent_and_sets_the_level(tmp_path: Path) -> None:
    root = logging.getLogger()
    for _ in range(3):
        configure_logging(_settings(Environment.TEST, tmp_path))
    assert sum(isinstance(h, ClinicLogHandler) for h in root.handlers) == 1
    assert root.level == logging.WARNING
    configure_logging(_settings(Environment.DEVELOPMENT, tmp_path))
    assert root.level == logging.INFO
    configure_logging(_settings(Environment.PRODUCTION, tmp_path))
    assert root.level == logging.INFO
    assert sum(isinstance(h, ClinicLogHandler) for h in root.handlers) == 1


@pytest.mark.usefixtures("restore_logging")
def test_uvicorn_logs_go_through_the_clinic_handler_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uvicorn_error = logging.getLogger("uvicorn.error")
    uvicorn_error.addHandler(logging.StreamHandler())  # as uvicorn's own log_config would
    uvicorn_error.propagate = False
    configure_logging(_settings(Environment.DEVELOPMENT, tmp_path))
    assert uvicorn_error.handlers == []
    assert uvicorn_error.propagate is True

    uvicorn_error.warning("Invalid HTTP request to /b/SECRET?code=X&a=1")
    # uvicorn's own access line would repeat clinic.access without the user or request id.
    logging.getLogger("uvicorn.access").info('127.0.0.1:5000 - "GET / HTTP/1.1" 200')
    [line] = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
    assert line["logger"] == "uvicorn.error"
    assert line["msg"] == "Invalid HTTP request to /b/[redacted]?code=[redacted]&a=1"


# the access-log middleware


async def _manage(request: Request) -> Response:
    return PlainTextResponse("manage")


async def _boom(request: Request) -> Response:
    raise RuntimeError("boom")


async def _signed_in(request: Request) -> Response:
    request.state.user_id = 42  # what the sign-in layer does
    return PlainTextResponse(request.state.request_id)


async def _ok(request: Request) -> Response:
    return PlainTextResponse("ok")


ROUTES = [
    Route("/manage/{token}", _manage),
    Route("/boom", _boom),
    Route("/me", _signed_in),
    Route("/healthz", _ok),
    Route("/static/app.css", _ok),
]


def _wrapped() -> ASGIApp:
    return AccessLogMiddleware(Starlette(routes=ROUTES))


def _installed() -> ASGIApp:
    """As create_app installs it: the outermost user middleware."""
    return Starlette(routes=ROUTES, middleware=[Middleware(AccessLogMiddleware)])


def _client(app: ASGIApp) -> httpx2.AsyncClient:
    transport = httpx2.ASGITransport(
        app=app, raise_app_exceptions=False, client=("203.0.113.9", 4711)
    )
    return httpx2.AsyncClient(transport=transport, base_url="https://testserver")


@pytest.fixture(params=[_wrapped, _installed], ids=["wrapped", "installed"])
def client(request: pytest.FixtureRequest) -> httpx2.AsyncClient:
    return _client(request.param())


async def test_one_access_line_per_request_without_secrets(
    client: httpx2.AsyncClient, captured: Captured
) -> None:
    client.cookies.set("sid", "COOKIE-SECRET")
    async with client:
        response = await client.get(
            "/manage/SEEDED-SECRET-TOKEN?token=OTHER-SECRET&page=2",
            headers={"Authorization": "Bearer HEADER-SECRET"},
        )
    assert response.status_code == 200
    [line] = captured.access()
    assert captured.lines() == [line]
    for secret in ("SEEDED-SECRET-TOKEN", "OTHER-SECRET", "HEADER-SECRET", "COOKIE-SECRET"):
        assert secret not in captured.text
    assert "page=2" in captured.text
    assert line["level"] == "INFO"
    assert line["method"] == "GET"
    assert line["path"] == "/manage/[redacted]?token=[redacted]&page=2"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] == round(line["duration_ms"], 1)
    assert line["client"] == "203.0.113.9"
    assert line["user_id"] is None
    assert re.fullmatch(r"[0-9a-f]{32}", line["request_id"])
    assert response.headers["X-Request-ID"] == line["request_id"]
    assert TS.match(line["ts"])


async def test_a_well_formed_request_id_is_honoured(
    client: httpx2.AsyncClient, captured: Captured
) -> None:
    async with client:
        response = await client.get("/me", headers={"X-Request-ID": "edge-1.abc_DEF"})
    assert response.headers["X-Request-ID"] == "edge-1.abc_DEF"
    assert response.text == "edge-1.abc_DEF"  # request.state.request_id
    [line] = captured.access()
    assert line["request_id"] == "edge-1.abc_DEF"


@pytest.mark.parametrize("bad", ["bad id", "a" * 65, "", "x;y", "<script>", "é"])
async def test_a_malformed_request_id_is_replaced(
    client: httpx2.AsyncClient, captured: Captured, bad: str
) -> None:
    async with client:
        response = await client.get("/me", headers={b"X-Request-ID": bad.encode()})
    new_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", new_id)
    [line] = captured.access()
    assert line["request_id"] == new_id


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"abc-123", "abc-123"),
        (b"bad\nid", None),
        (b"abc\n", None),
        (b"a" * 64, "a" * 64),
        (b"a" * 65, None),
        (b"", None),
    ],
)
def test_incoming_request_id(raw: bytes, expected: str | None) -> None:
    scope: Scope = {"type": "http", "headers": [(b"x-request-id", raw)]}
    assert incoming_request_id(scope) == expected


async def test_a_request_id_with_a_newline_is_replaced(captured: Captured) -> None:
    """httpx refuses to send such a header, so call the middleware with a raw scope."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": "/me",
        "raw_path": b"/me",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"x-request-id", b"bad\nid")],
        "client": ("203.0.113.9", 4711),
        "server": ("testserver", 443),
    }
    await _wrapped()(scope, receive, send)
    headers = dict(sent[0]["headers"])
    new_id = headers[b"x-request-id"].decode()
    assert re.fullmatch(r"[0-9a-f]{32}", new_id)
    assert scope["state"]["request_id"] == new_id
    [line] = captured.access()
    assert line["request_id"] == new_id
    # The given id appears nowhere, raw or escaped ("bad" alone can occur in a hex id).
    assert "bad\nid" not in captured.text
    assert "bad\\nid" not in captured.text


async def test_a_route_that_raises_gives_a_500_access_line(
    client: httpx2.AsyncClient, captured: Captured
) -> None:
    async with client:
        response = await client.get("/boom")
    assert response.status_code == 500
    [line] = captured.access()
    assert line["status"] == 500
    assert line["path"] == "/boom"
    assert line["error"] == "RuntimeError"
    assert line["level"] == "INFO"


async def test_the_user_id_comes_from_scope_state(
    client: httpx2.AsyncClient, captured: Captured
) -> None:
    async with client:
        await client.get("/me")
    [line] = captured.access()
    assert line["user_id"] == 42


@pytest.mark.parametrize("path", ["/healthz", "/static/app.css"])
async def test_health_checks_and_static_files_log_at_debug(
    client: httpx2.AsyncClient, captured: Captured, path: str
) -> None:
    async with client:
        await client.get(path)
    [line] = captured.access()
    assert line["level"] == "DEBUG"


async def test_a_missing_page_is_logged_at_info(
    client: httpx2.AsyncClient, captured: Captured
) -> None:
    async with client:
        response = await client.get("/nowhere")
    assert response.status_code == 404
    [line] = captured.access()
    assert (line["level"], line["status"]) == ("INFO", 404)


async def test_log_lines_written_during_a_request_carry_its_request_id(
    captured: Captured,
) -> None:
    async def noisy(request: Request) -> Response:
        logging.getLogger("clinic.test").warning("inside")
        return PlainTextResponse("ok")

    app = AccessLogMiddleware(Starlette(routes=[Route("/noisy", noisy)]))
    async with _client(app) as client:
        await client.get("/noisy", headers={"X-Request-ID": "req-7"})
    logging.getLogger("clinic.test").warning("outside")
    inside, access, outside = captured.lines()
    assert inside["msg"] == "inside"
    assert inside["request_id"] == "req-7"
    assert access["request_id"] == "req-7"
    assert "request_id" not in outside
