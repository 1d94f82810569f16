"""Staff sessions on the web: the cookie, the middleware that loads who is signed in,
and the role guard every staff page is wrapped in."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clinic.auth.models import Role
from clinic.auth.second_factor import CHALLENGE_LIFETIME
from clinic.auth.secret_box import SecretBox
from clinic.auth.sessions import SessionEnded, SignedIn, load_session
from clinic.errors import PermissionDenied
from clinic.settings import Settings
from clinic.web.errors import API_PREFIX, problem
from clinic.web.flash import flash

log = logging.getLogger("clinic.security")

# Requests a page makes on its own (a refresh poll) carry this header; they do not
# count as activity, so an unattended screen still times out.
BACKGROUND_HEADER = "x-clinic-background"

Endpoint = Callable[[Request], Awaitable[Response]]


def session_cookie_name(settings: Settings) -> str:
    return session_cookie_for(https=settings.uses_https)


def session_cookie_for(*, https: bool) -> str:
    # __Host- binds the cookie to this exact host over https, with no Domain attribute.
    return "__Host-clinic_session" if https else "clinic_session"


def _session_cookie(settings: Settings, value: str, *, max_age: int | None) -> str:
    return _cookie(session_cookie_name(settings), settings, value, max_age=max_age)


def _cookie(name: str, settings: Settings, value: str, *, max_age: int | None) -> str:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if settings.uses_https:
        parts.append("Secure")
    return "; ".join(parts)


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    response.headers.append("set-cookie", _session_cookie(settings, token, max_age=None))


def clear_session_cookie(headers: MutableHeaders, settings: Settings) -> None:
    headers.append("set-cookie", _session_cookie(settings, "", max_age=0))


class StaffSessionMiddleware:
    """Puts the signed-in staff member (or None) on request.state.staff."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.cookie = session_cookie_name(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        state = scope.setdefault("state", {})
        state["staff"] = None
        state["session_ended"] = None
        token = connection.cookies.get(self.cookie)
        if connection.url.path.startswith(API_PREFIX):
            if token:
                # The JSON API is cookieless by design; a browser session must never
                # authorise it (and so it needs no CSRF token).
                response = problem(
                    400,
                    "The API does not accept browser session cookies. Call it without cookies.",
                )
                await response(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if token:
            db = scope["app"].state.db
            user_initiated = connection.headers.get(BACKGROUND_HEADER) != "1"
            try:
                signed_in = await load_session(db, token, user_initiated=user_initiated)
            except SessionEnded as ended:
                state["session_ended"] = ended.reason
            else:
                state["staff"] = signed_in
                state["user_id"] = signed_in.user_id

        async def send_clearing_ended(message: Message) -> None:
            if message["type"] == "http.response.start" and state["session_ended"]:
                clear_session_cookie(MutableHeaders(scope=message), self.settings)
            await send(message)

        await self.app(scope, receive, send_clearing_ended)


def staff_of(request: HTTPConnection) -> SignedIn | None:
    staff: SignedIn | None = getattr(request.state, "staff", None)
    return staff


def signed_in_staff(request: HTTPConnection) -> SignedIn:
    """The staff member on a guarded page (the guard has already checked)."""
    staff = staff_of(request)
    if staff is None:
        raise PermissionDenied("Sign in to continue.")
    return staff


ENDED_MESSAGES = {
    "idle": "You were signed out after 15 minutes without activity. Sign in again.",
    "absolute": "Your session reached its 12-hour limit. Sign in again.",
    "disabled": "Your account has been disabled. Ask a clinic administrator.",
    "unknown": "Your session has ended. Sign in again.",
}


SET_UP_FIRST = "Your role requires two-step sign-in. Set it up to continue."


def requires(*roles: Role, open_before_set_up: bool = False) -> Callable[[Endpoint], Endpoint]:
    """Only staff holding one of `roles` reach the endpoint; others are sent to sign in
    (anonymous) or refused with 403 (signed in without the role), and the refusal is
    logged. A member whose role requires a second factor they have not set up is sent to
    set it up, unless the endpoint is part of doing so (`open_before_set_up`)."""

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            staff = staff_of(request)
            if staff is not None and staff.must_set_up_second_factor and not open_before_set_up:
                flash(request, SET_UP_FIRST, "info")
                url = request.url_for("account:second_factor").path
                if request.headers.get("hx-request") == "true":
                    return Response(status_code=204, headers={"HX-Redirect": url})
                return RedirectResponse(url, 303)
            if staff is None:
                ended = getattr(request.state, "session_ended", None)
                if ended:
                    flash(request, ENDED_MESSAGES.get(ended, ENDED_MESSAGES["unknown"]), "info")
                target = request.url.path
                login = request.url_for("auth:login").path
                url = f"{login}?next={quote(target, safe='/')}"
                if request.headers.get("hx-request") == "true":
                    # An htmx request (the desk's minute poll) would swap the sign-in page
                    # into the grid and use up the "signed out" message: have the whole
                    # page go to sign in instead, message and all.
                    return Response(status_code=204, headers={"HX-Redirect": url})
                return RedirectResponse(url, 303)
            if not staff.has_any(*roles):
                log.warning(
                    "authorisation refused",
                    extra={
                        "fields": {
                            "user_id": staff.user_id,
                            "path": request.url.path,
                            "needs": sorted(r.value for r in roles),
                        }
                    },
                )
                raise PermissionDenied("You do not have access to this page.")
            return await endpoint(request)

        guarded.required_roles = frozenset(roles)  # type: ignore[attr-defined]
        guarded.open_before_set_up = open_before_set_up  # type: ignore[attr-defined]
        return guarded

    return decorate


LANDING_ORDER = (
    (Role.FRONTDESK, "desk:today"),
    (Role.THERAPIST, "therapist:today"),
    (Role.CLINICAL_LEAD, "clinical:review"),
    (Role.ADMIN, "admin:users"),
)


def set_challenge_cookie(response: Response, settings: Settings, token: str) -> None:
    """The halfway sign-in's cookie: read only by the code step, gone in a few minutes."""
    lifetime = int(CHALLENGE_LIFETIME.total_seconds())
    response.headers.append(
        "set-cookie", _cookie(challenge_cookie_name(settings), settings, token, max_age=lifetime)
    )


def clear_challenge_cookie(headers: MutableHeaders, settings: Settings) -> None:
    headers.append("set-cookie", _cookie(challenge_cookie_name(settings), settings, "", max_age=0))


def challenge_cookie_name(settings: Settings) -> str:
    return "__Host-clinic_challenge" if settings.uses_https else "clinic_challenge"


@functools.cache
def secret_box(secret_key: str) -> SecretBox:
    """One SecretBox per secret key, so its keys are derived once per process."""
    return SecretBox(secret_key)


def landing_route(roles: frozenset[Role]) -> str:
    """The page a staff member lands on after signing in."""
    for role, route in LANDING_ORDER:
        if role in roles:
            return route
    return "public:home"
