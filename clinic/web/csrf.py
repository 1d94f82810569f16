"""CSRF protection for the HTML site: a synchronizer token plus an Origin/Sec-Fetch-Site
check on every state-changing request.

Our own module because the available packages do not fit: one reads the token only from
a header (plain forms fail), another lets a cookieless POST through and answers 500 to
some multipart bodies. Signed-in staff use the token stored with their server-side
session; visitors without a session (the sign-in page, client booking forms) use an
HMAC of a random pre-session cookie. A POST with no cookie at all is refused.

Exempt by design: the JSON API under /api/ (cookieless: a request carrying a session
cookie is refused there) and the Stripe webhook (authenticated by its signature).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from urllib.parse import parse_qsl, urlsplit

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clinic.auth.sessions import SignedIn
from clinic.settings import Settings
from clinic.web.errors import error_page

log = logging.getLogger("clinic.security")

FORM_FIELD = "csrf_token"
HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
API_PREFIX = "/api/"
STRIPE_WEBHOOK_PATH = "/payments/stripe/webhook"
MAX_FORM_BYTES = 1024 * 1024
MAX_MULTIPART_BYTES = 12 * 1024 * 1024

REFUSED = (
    "This form has expired or did not come from this site. Go back, reload the page and try again."
)


def presession_cookie_name(settings: Settings) -> str:
    return "__Host-clinic_csrf" if settings.uses_https else "clinic_csrf"


def _presession_token(secret_key: str, cookie_value: str) -> str:
    return hmac.new(
        secret_key.encode(), b"csrf:" + cookie_value.encode(), hashlib.sha256
    ).hexdigest()


def csrf_token(request: HTTPConnection) -> str:
    """The token a form on this page must send back (templates call this)."""
    staff: SignedIn | None = getattr(request.state, "staff", None)
    if staff is not None:
        return staff.csrf_token
    settings: Settings = request.app.state.settings
    cookie = request.state.csrf_presession
    if cookie is None:
        cookie = secrets.token_urlsafe(32)
        request.state.csrf_presession = cookie
        request.state.csrf_presession_is_new = True
    return _presession_token(settings.secret_key, cookie)


class BodyTooLarge(Exception):
    def __init__(self, message: str | None = None) -> None:
        super().__init__(message)
        self.message = message or "That is more than this form accepts."


class ClientGone(Exception):
    pass


class CSRFMiddleware:
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.cookie = presession_cookie_name(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        state = scope.setdefault("state", {})
        state["csrf_presession"] = connection.cookies.get(self.cookie) or None
        state["csrf_presession_is_new"] = False

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and state["csrf_presession_is_new"]:
                parts = [
                    f"{self.cookie}={state['csrf_presession']}",
                    "Path=/",
                    "HttpOnly",
                    "SameSite=Lax",
                ]
                if self.settings.uses_https:
                    parts.append("Secure")
                MutableHeaders(scope=message).append("set-cookie", "; ".join(parts))
            await send(message)

        path = connection.url.path
        if (
            scope["method"] in SAFE_METHODS
            or path.startswith(API_PREFIX)
            or path == STRIPE_WEBHOOK_PATH
        ):
            await self.app(scope, receive, send_with_cookie)
            return

        reason = self._origin_problem(connection)
        if reason is not None:
            await self._refuse(scope, receive, send, reason)
            return
        try:
            body, given = await self._read_token(scope, receive)
        except BodyTooLarge as too_large:
            response = error_page(Request(scope), 413, too_large.message)
            await response(scope, receive, send)
            return
        except ClientGone:
            return
        except HTTPException as malformed:
            response = error_page(Request(scope), 400, str(malformed.detail))
            await response(scope, receive, send)
            return
        expected = self._expected_token(state)
        if expected is None:
            await self._refuse(scope, receive, send, "no session or pre-session cookie")
            return
        if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
            await self._refuse(scope, receive, send, "token missing or wrong")
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send_with_cookie)

    def _origin_problem(self, connection: HTTPConnection) -> str | None:
        fetch_site = connection.headers.get("sec-fetch-site")
        if fetch_site is not None and fetch_site not in ("same-origin", "none"):
            return f"Sec-Fetch-Site is {fetch_site}"
        origin = connection.headers.get("origin")
        if origin is None:
            return None
        own = f"{connection.url.scheme}://{connection.url.netloc}"
        base = urlsplit(self.settings.base_url)
        if origin not in (own, f"{base.scheme}://{base.netloc}"):
            return "Origin is another site"
        return None

    def _expected_token(self, state: dict[str, object]) -> str | None:
        staff = state.get("staff")
        if isinstance(staff, SignedIn):
            return staff.csrf_token
        cookie = state.get("csrf_presession")
        if isinstance(cookie, str) and cookie:
            return _presession_token(self.settings.secret_key, cookie)
        return None

    async def _read_token(self, scope: Scope, receive: Receive) -> tuple[bytes, str | None]:
        """Read the whole body (bounded) and find the token in the header or the form."""
        connection = HTTPConnection(scope)
        content_type = connection.headers.get("content-type", "").split(";")[0].strip().lower()
        limit = MAX_MULTIPART_BYTES if content_type == "multipart/form-data" else MAX_FORM_BYTES
        route_limit, too_large_message = _route_limit(scope)
        if route_limit is not None and route_limit < limit:
            limit = route_limit
        declared = connection.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(too_large_message)
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            body.extend(message.get("body", b""))
            if len(body) > limit:
                raise BodyTooLarge(too_large_message)
            if not message.get("more_body", False):
                break
        header = connection.headers.get(HEADER)
        if header:
            return bytes(body), header
        if content_type == "application/x-www-form-urlencoded":
            fields = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
            return bytes(body), next((v for k, v in fields if k == FORM_FIELD), None)
        if content_type == "multipart/form-data":
            return bytes(body), await _multipart_token(scope, bytes(body))
        return bytes(body), None

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, reason: str) -> None:
        log.warning(
            "csrf check refused a request",
            extra={"fields": {"path": scope["path"], "method": scope["method"], "reason": reason}},
        )
        response = error_page(Request(scope), 403, REFUSED)
        await response(scope, receive, send)


async def _multipart_token(scope: Scope, body: bytes) -> str | None:
    sent = False

    async def once() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    request = Request(scope, once)
    form = await request.form()
    try:
        value = form.get(FORM_FIELD)
        return value if isinstance(value, str) else None
    finally:
        await form.close()


def _route_limit(scope: Scope) -> tuple[int | None, str | None]:
    """The body limit the matching endpoint declares (`endpoint.max_body_bytes`, with its
    `too_large_message`), so an upload over its own route's limit is refused before this
    middleware reads it whole."""
    router = getattr(scope.get("app"), "router", None)
    for route in getattr(router, "routes", ()):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            endpoint = getattr(route, "endpoint", None)
            limit = getattr(endpoint, "max_body_bytes", None)
            message = getattr(endpoint, "too_large_message", None)
            return (limit if isinstance(limit, int) else None), (
                message if isinstance(message, str) else None
            )
    return None, None
