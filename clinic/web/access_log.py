"""One access-log line per HTTP request (ASVS 16.2.1: who, what, when, where).

A pure ASGI middleware, meant to be the outermost of the app's middleware. After the
response has finished -- or the app has raised, which is logged as status 500 -- it writes
one record to the "clinic.access" logger with the fields method, path (secret path segments
and secret query values redacted), status, duration_ms, client (address), request_id and
user_id (whatever the sign-in layer left in ``scope["state"]["user_id"]``).

Headers, cookies and bodies are never logged. /healthz and /static are logged at DEBUG (so
they do not flood the log) unless they fail with a 5xx.

Each request gets an id: a well-formed incoming X-Request-ID (``^[A-Za-z0-9._-]{1,64}$``)
or else a fresh uuid4 hex. It is sent back as X-Request-ID, kept in
``scope["state"]["request_id"]`` (``request.state.request_id``), and added to every log line
written while the request is served.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clinic.logging import redact_path, redact_query, request_id_var

log = logging.getLogger("clinic.access")

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_QUIET_PREFIXES = ("/static/",)
_QUIET_PATHS = ("/healthz", "/static")
_FINAL_MESSAGES = ("http.response.pathsend",)


def incoming_request_id(scope: Scope) -> str | None:
    """The client's X-Request-ID if it is well formed, otherwise None."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"x-request-id":
            text = value.decode("latin-1")
            return text if _REQUEST_ID.fullmatch(text) else None
    return None


def loggable_target(scope: Scope) -> str:
    """The request path and query string with their secrets redacted."""
    path = redact_path(str(scope.get("path", "")))
    query = scope.get("query_string", b"")
    if isinstance(query, bytes):
        query = query.decode("latin-1")
    return f"{path}?{redact_query(query)}" if query else path


def _is_quiet(path: str) -> bool:
    return path in _QUIET_PATHS or path.startswith(_QUIET_PREFIXES)


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        request_id = incoming_request_id(scope) or uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status: int | None = None
        finished: float | None = None

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, finished
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            elif (
                message["type"] == "http.response.body" and not message.get("more_body", False)
            ) or message["type"] in _FINAL_MESSAGES:
                finished = time.perf_counter()
            await send(message)

        token = request_id_var.set(request_id)
        error: BaseException | None = None
        try:
            await self.app(scope, receive, send_with_request_id)
        except BaseException as exc:
            error = exc
            raise
        finally:
            request_id_var.reset(token)
            ended = finished if finished is not None else time.perf_counter()
            if status is None:  # the app raised, or returned without answering
                status = 500
            self._log(scope, state, request_id, status, ended - started, error)

    @staticmethod
    def _log(
        scope: Scope,
        state: object,
        request_id: str,
        status: int,
        seconds: float,
        error: BaseException | None,
    ) -> None:
        method = str(scope.get("method", ""))
        target = loggable_target(scope)
        client = scope.get("client")
        user_id = state.get("user_id") if isinstance(state, dict) else None
        fields: dict[str, object] = {
            "method": method,
            "path": target,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "client": client[0] if client else None,
            "request_id": request_id,
            "user_id": user_id,
        }
        if error is not None:
            fields["error"] = type(error).__name__
        quiet = _is_quiet(str(scope.get("path", ""))) and status < 500
        log.log(
            logging.DEBUG if quiet else logging.INFO,
            "%s %s %s",
            method,
            target,
            status,
            extra={"fields": fields},
        )
