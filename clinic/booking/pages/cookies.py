"""The booking cookies, all HttpOnly and sent only to /book: the hold's secret, a random
id that keeps one live hold per browser, the client's details, signed, until the check
page, the health step's gate answer, signed, until the form is signed, and the signed
intake's token (the client's key to their answers, never in a URL)."""

from __future__ import annotations

import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from clinic.booking.bookings import ClientDetails
from clinic.settings import Settings
from clinic.web.context import settings_of

HOLD_COOKIE = "clinic_hold"
BROWSER_COOKIE = "clinic_browser"
DETAILS_COOKIE = "clinic_details"
INTAKE_COOKIE = "clinic_intake"
GATE_COOKIE = "clinic_gate"
# The booking cookies go only to the booking pages.
COOKIE_PATH = "/book"
HOLD_COOKIE_SECONDS = 60 * 60
DETAILS_COOKIE_SECONDS = 60 * 60
BROWSER_COOKIE_SECONDS = 60 * 60 * 24 * 30
INTAKE_COOKIE_SECONDS = DETAILS_COOKIE_SECONDS
DETAILS_SALT = "clinic.booking.details"
GATE_SALT = "clinic.booking.gate"
MAX_TOKEN_CHARS = 200


def set_cookie(
    response: Response,
    settings: Settings,
    name: str,
    value: str,
    age: int,
    path: str = COOKIE_PATH,
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        path=path,
        secure=settings.uses_https,
        httponly=True,
        samesite="lax",
    )


def clear_cookie(
    response: Response, settings: Settings, name: str, path: str = COOKIE_PATH
) -> None:
    response.delete_cookie(
        name, path=path, secure=settings.uses_https, httponly=True, samesite="lax"
    )


def _token(request: Request, name: str) -> str | None:
    token = request.cookies.get(name)
    return token if token and len(token) <= MAX_TOKEN_CHARS else None


def hold_token(request: Request) -> str | None:
    return _token(request, HOLD_COOKIE)


def intake_token(request: Request) -> str | None:
    """The token of the intake this browser signed (on /book, or on one manage link)."""
    return _token(request, INTAKE_COOKIE)


def browser_id(request: Request) -> tuple[str, bool]:
    """This browser's id, and whether it is new (so the response must set it)."""
    browser = request.cookies.get(BROWSER_COOKIE, "")
    if 16 <= len(browser) <= 100:
        return browser, False
    return secrets.token_urlsafe(24), True


def _details_serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=DETAILS_SALT)


def keep_details(response: Response, settings: Settings, details: ClientDetails) -> None:
    value = _details_serializer(settings).dumps([details.name, details.email, details.phone])
    set_cookie(response, settings, DETAILS_COOKIE, value, DETAILS_COOKIE_SECONDS)


def read_details(request: Request) -> ClientDetails | None:
    raw = request.cookies.get(DETAILS_COOKIE)
    if not raw:
        return None
    try:
        data = _details_serializer(settings_of(request)).loads(raw, max_age=DETAILS_COOKIE_SECONDS)
    except BadSignature:
        return None
    if not isinstance(data, list) or len(data) != 3 or not all(isinstance(v, str) for v in data):
        return None
    return ClientDetails(name=data[0], email=data[1], phone=data[2])


def _gate_serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=GATE_SALT)


def keep_gate(response: Response, settings: Settings, cancer_history: bool) -> None:
    value = _gate_serializer(settings).dumps(cancer_history)
    set_cookie(response, settings, GATE_COOKIE, value, DETAILS_COOKIE_SECONDS)


def read_gate(request: Request) -> bool | None:
    """The health step's gate answer, until the form is signed (None: not answered)."""
    raw = request.cookies.get(GATE_COOKIE)
    if not raw or len(raw) > MAX_TOKEN_CHARS:
        return None
    try:
        data = _gate_serializer(settings_of(request)).loads(raw, max_age=DETAILS_COOKIE_SECONDS)
    except BadSignature:
        return None
    return data if isinstance(data, bool) else None
