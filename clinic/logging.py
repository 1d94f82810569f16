"""Logging set-up: one JSON object per line on standard error, UTC timestamps, redacted.

Every line has the keys ``ts`` (``2026-11-27T11:57:00.123Z``), ``level``, ``logger`` and
``msg``, plus any structured fields the caller passes as ``extra={"fields": {...}}``, plus
``request_id`` while a request is being served (see clinic.web.access_log), plus ``exc``
(the traceback) when an exception is attached.

JSON encoding with ``ensure_ascii`` means no character of a message (newline, carriage
return, U+2028, escape sequences) can start a second, forged log line (ASVS 16.4.1).

A :class:`RedactingFilter` on the handler runs every record through the redaction
functions below (ASVS 16.2.5: no credentials, card data or health information), whichever
logger wrote it, uvicorn's included. The functions are plain so that other code can call
them too: :func:`redact_path`, :func:`redact_query`, :func:`redact_text`,
:func:`redact_fields`.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
import time
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, TextIO
from urllib.parse import unquote_plus

from clinic.settings import Environment, Settings

REDACTED = "[redacted]"

#: A URL path segment right after one of these prefixes is a secret (a booking-management
#: token, a calendar-feed token, a reset or invitation token...).
SECRET_PATH_PREFIXES = (
    "/manage/",
    "/book/done/",
    "/b/",
    "/feeds/",
    "/calendar/",
    "/intake/",
    "/pay/",
    "/api/v1/bookings/",
    "/api/v1/intakes/",
    "/reset/",
    "/invite/",
)

#: A query parameter whose lower-cased name contains one of these has its value redacted.
SECRET_QUERY_PARTS = (
    "token",
    "key",
    "code",
    "password",
    "passwd",
    "secret",
    "session",
    "csrf",
    "signature",
    "sig",
    "auth",
)

#: A structured field whose lower-cased name contains one of these is replaced whatever it
#: holds: secrets, card data and health information never reach the logs.
SECRET_FIELD_PARTS = (
    "password",
    "passwd",
    "token",
    "secret",
    "csrf",
    "cookie",
    "authorization",
    "session",
    "api_key",
    "apikey",
    "totp",
    "card",
    "intake",
    "answers",
    "diagnosis",
    "medication",
    "clearance",
    "notes",
)

#: Loggers that uvicorn configures itself; ours take them over. Its access log is silenced:
#: clinic.access writes the one line per request, with the user and request id.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.asgi")
UVICORN_ACCESS_LOGGER = "uvicorn.access"

#: The request being served, added to every line written while it is (set by the access-log
#: middleware).
request_id_var: ContextVar[str | None] = ContextVar("clinic_request_id", default=None)

_MAX_DEPTH = 6

_DONE = re.escape(REDACTED)
_PREFIXES = "|".join(re.escape(p) for p in SECRET_PATH_PREFIXES)
# In a bare path the secret runs to the next "/", "?" or "#".
_PATH_SECRET = re.compile(rf"({_PREFIXES})(?!{_DONE})([^/?#]+)", re.IGNORECASE)
# In free text it also stops at white space, quotes and brackets.
_TEXT_PATH_SECRET = re.compile(rf"({_PREFIXES})(?!{_DONE})([^/?#\s\"'<>`\\)\]}}]+)", re.IGNORECASE)

# name=value and "name": value pairs. The name is matched as a whole word and checked in
# Python (a regular expression with the secret words inside would backtrack badly on long
# runs of letters): "password=hunter2", "?token=abc", "Foo(token='x')", {"secret": "x"}.
_NAME = r"(?<![A-Za-z0-9_.-])[A-Za-z0-9_.-]++"
_KV_EQUALS = re.compile(
    rf"({_NAME})(\s*+=\s*+b?['\"]?)(?!{_DONE})([^\s'\"&<>#,;)\]}}]++)", re.IGNORECASE
)
_KV_COLON = re.compile(
    rf"(['\"]?)({_NAME})(['\"]?\s*+:\s*+b?['\"]?)(?!{_DONE})([^\s'\"&<>,;)\]}}]++)",
    re.IGNORECASE,
)
_TEXT_NAME_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "csrf",
    "apikey",
    "api_key",
    "signature",
)
# With ":" only names that are unambiguous in prose ("Error code: 500" stays readable).
_COLON_NAME_PARTS = ("password", "passwd", "secret", "token", "csrf", "apikey", "api_key")
# Header lines: everything after the name goes, to the end of the line.
_HEADER = re.compile(
    r"\b((?:set-)?cookie|(?:proxy-)?authorization|x-api-key)(['\"]?\s*[:=]\s*)([^\r\n]+)",
    re.IGNORECASE,
)
# An ASGI raw-headers repr: (b'cookie', b'a=b; c=d')
_RAW_HEADER = re.compile(
    r"(b?['\"](?:set-cookie|cookie|authorization|proxy-authorization|x-api-key)['\"],\s*b?"
    r"(['\"]))(.*?)(\2)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"\b(bearer)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_URL_PASSWORD = re.compile(
    r"(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*+://[^/\s:@]*+):([^/\s@]++)@", re.IGNORECASE
)
_STRIPE_KEY = re.compile(r"\b(sk|rk)_(live|test)_[A-Za-z0-9]+")
_STRIPE_WEBHOOK_SECRET = re.compile(r"\bwhsec_[A-Za-z0-9]+")
_STRIPE_CLIENT_SECRET = re.compile(r"\b((?:pi|seti)_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+")
# SQLAlchemy prints the bound values of a failed statement: intake answers, e-mail...
_SQL_PARAMETERS = re.compile(r"\[parameters: [^\r\n]*")
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@|%40)"
    r"([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
)


def redact_path(path: str) -> str:
    """Replace the segment after each secret-bearing prefix by "[redacted]".

    "/manage/AbC123/cancel" -> "/manage/[redacted]/cancel". Prefixes are matched anywhere
    in the path and case-insensitively, so a mount prefix or a mistyped case does not leak
    the token.
    """
    return _PATH_SECRET.sub(rf"\1{REDACTED}", path)


def _is_secret_param(name: str) -> bool:
    lowered = unquote_plus(name).lstrip("?").lower()
    return any(part in lowered for part in SECRET_QUERY_PARTS)


def redact_query(query: str) -> str:
    """Redact the values of secret-looking parameters of a raw query string; keep the rest.

    "token=abc&page=2" -> "token=[redacted]&page=2". A value that is itself a path with a
    secret segment ("next=%2Fmanage%2Fabc") is redacted too.
    """
    if not query:
        return query
    out = []
    for part in query.split("&"):
        name, sep, value = part.partition("=")
        if sep and value and value != REDACTED:
            secret_value = _TEXT_PATH_SECRET.search(unquote_plus(value)) is not None
            if _is_secret_param(name) or secret_value:
                part = f"{name}={REDACTED}"
        out.append(part)
    return "&".join(out)


def redact_text(text: str) -> str:
    """Mask secrets and personal data inside free text (messages, exception text).

    Handles: secret path segments and secret query parameters of any URL or path in the
    text, ``name=value`` and ``"name": value`` pairs with secret names, ``Bearer`` tokens,
    cookie and authorization headers, passwords in URLs, Stripe secret keys (``sk_live_``,
    ``sk_test_``, ``rk_``, ``whsec_``, payment-intent client secrets), SQLAlchemy's
    ``[parameters: ...]``, and e-mail addresses (``j***@example.com``). Idempotent.
    """
    if not text:
        return text
    text = _HEADER.sub(rf"\1\2{REDACTED}", text)
    text = _RAW_HEADER.sub(rf"\1{REDACTED}\4", text)
    text = _URL_PASSWORD.sub(rf"\1:{REDACTED}@", text)
    text = _BEARER.sub(rf"\1 {REDACTED}", text)
    text = _STRIPE_KEY.sub(rf"\1_\2_{REDACTED}", text)
    text = _STRIPE_WEBHOOK_SECRET.sub(f"whsec_{REDACTED}", text)
    text = _STRIPE_CLIENT_SECRET.sub(rf"\1_secret_{REDACTED}", text)
    text = _SQL_PARAMETERS.sub(f"[parameters: {REDACTED}]", text)
    text = _TEXT_PATH_SECRET.sub(rf"\1{REDACTED}", text)
    text = _KV_EQUALS.sub(_redact_equals, text)
    text = _KV_COLON.sub(_redact_colon, text)
    return _EMAIL.sub(r"\1***\2\3", text)


def _redact_equals(match: re.Match[str]) -> str:
    # A parameter of a URL's query ("?code=...") is judged by the broad list; other free
    # text is mostly code and prose ("signed_in = await ...", "status_code=500"), so it
    # uses the narrower one.
    in_query = match.start() > 0 and match.string[match.start() - 1] in "?&"
    if _is_secret_param(match[1]) if in_query else _is_secret_text_name(match[1]):
        return f"{match[1]}{match[2]}{REDACTED}"
    return match[0]


def _is_secret_text_name(name: str) -> bool:
    return any(part in name.lower() for part in _TEXT_NAME_PARTS)


def _redact_colon(match: re.Match[str]) -> str:
    name = match[2].lower()
    if any(part in name for part in _COLON_NAME_PARTS):
        return f"{match[1]}{match[2]}{match[3]}{REDACTED}"
    return match[0]


def is_secret_field(name: str) -> bool:
    lowered = name.lower()
    return any(part in lowered for part in SECRET_FIELD_PARTS)


def redact_fields(fields: Mapping[Any, Any]) -> dict[str, Any]:
    """A JSON-ready copy of structured log fields: values under secret or health-related
    names become "[redacted]", strings go through :func:`redact_text`, nested mappings and
    sequences are handled likewise."""
    return _redact_mapping(fields, 0)


def _redact_mapping(fields: Mapping[Any, Any], depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        name = redact_text(str(key))
        out[name] = REDACTED if is_secret_field(name) else _redact_value(value, depth + 1)
    return out


def _redact_value(value: Any, depth: int) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return redact_text(value)
    if depth >= _MAX_DEPTH:
        return "[truncated]"
    if isinstance(value, Mapping):
        return _redact_mapping(value, depth)
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(item, depth + 1) for item in value]
    if isinstance(value, bytes | bytearray):
        return redact_text(bytes(value).decode("utf-8", "replace"))
    try:
        text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    except Exception:
        text = f"<unprintable {type(value).__name__}>"
    return redact_text(str(text))


class RedactingFilter(logging.Filter):
    """Rewrites each record in place: message (with its arguments merged), exception text,
    stack and structured fields are redacted. Never drops a record, never raises."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            message = f"{record.msg!s} [log arguments did not match the message]"
        record.msg = redact_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        fields = getattr(record, "fields", None)
        if fields is not None:
            try:
                record.fields = (
                    redact_fields(fields)
                    if isinstance(fields, Mapping)
                    else {"fields": _redact_value(fields, 1)}
                )
            except Exception:
                record.fields = {"fields": "[unloggable fields]"}
        return True


_TRACEBACKS = logging.Formatter()

# formatting

_RESERVED = ("ts", "level", "logger", "msg", "exc", "stack")


def utc_timestamp(created: float) -> str:
    """2026-11-27T11:57:00.123Z"""
    seconds, millis = divmod(round(created * 1000), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line, ASCII only."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": utc_timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            for key, value in fields.items():
                name = str(key)
                payload[f"{name}_" if name in _RESERVED else name] = value
        request_id = request_id_var.get()
        if request_id is not None:
            payload.setdefault("request_id", request_id)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exc"] = record.exc_text
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        try:
            return json.dumps(payload, ensure_ascii=True, default=str, allow_nan=False)
        except ValueError:  # a NaN or a circular structure that bypassed the filter
            payload = {key: payload[key] for key in ("ts", "level", "logger", "msg")}
            payload["fields_error"] = "fields could not be encoded"
            return json.dumps(payload, ensure_ascii=True)


class ClinicLogHandler(logging.Handler):
    """Writes formatted records, one per line, to `stream` -- by default whatever
    sys.stderr is at the time of writing (so pytest's capture swaps do not strand it)."""

    clinic_handler = True

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self._stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            stream = self._stream if self._stream is not None else sys.stderr
            stream.write(line + "\n")
            stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def build_handler(stream: TextIO | None = None) -> ClinicLogHandler:
    """The handler configure_logging installs: JSON formatter plus redaction filter."""
    handler = ClinicLogHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    return handler


def configure_logging(settings: Settings) -> None:
    """Install the JSON handler on the root logger (once per process; later calls only
    adjust the level) and route uvicorn's loggers through it."""
    root = logging.getLogger()
    if not any(getattr(h, "clinic_handler", False) for h in root.handlers):
        root.addHandler(build_handler())
    root.setLevel(logging.WARNING if settings.environment is Environment.TEST else logging.INFO)
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.propagate = True
    access = logging.getLogger(UVICORN_ACCESS_LOGGER)
    access.handlers.clear()
    access.propagate = False
