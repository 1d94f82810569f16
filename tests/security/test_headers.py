"""T13 (headers and GET safety): every response carries the security headers, the session
cookie is `__Host-` and Secure under https, and no GET changes the database.

The GET routes come from the route matrix (test_route_matrix.EXPECTED), so a new page is
covered here as soon as it is listed there.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from typing import Any

import httpx2
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from clinic.app import create_app
from clinic.auth.models import Role
from clinic.booking.statuses import AppointmentStatus
from clinic.clock import now_utc
from clinic.db import Database
from clinic.models import Base
from clinic.settings import Environment, Settings
from tests import factories
from tests.security.test_route_matrix import (
    ANONYMOUS,
    EXPECTED,
    ROLES,
    Case,
    become,
    client_for,
    concrete_url,
)

ONE_YEAR = 365 * 24 * 60 * 60
#: Values that never send a path (which may hold a manage-link token) to another origin.
SAFE_REFERRER_POLICIES = {
    "no-referrer",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
}
GET_ROUTES = sorted(key for key in EXPECTED if key[0] == "GET")


def csp_directives(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        tokens = part.split()
        if tokens:
            directives.setdefault(tokens[0].lower(), tokens[1:])
    return directives


def assert_security_headers(response: httpx2.Response, *, https: bool = True) -> None:
    where = f"{response.request.method} {response.request.url.path} ({response.status_code})"
    headers = response.headers

    csp = headers.get("content-security-policy")
    assert csp, f"{where}: no Content-Security-Policy"
    for needed in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert needed in csp, f"{where}: CSP lacks {needed!r}: {csp}"
    directives = csp_directives(csp)
    script_src = directives.get("script-src", directives.get("default-src"))
    assert script_src is not None, f"{where}: CSP restricts no scripts: {csp}"
    assert "'unsafe-inline'" not in script_src, f"{where}: script-src allows inline: {csp}"

    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("referrer-policy") in SAFE_REFERRER_POLICIES, (
        f"{where}: Referrer-Policy is {headers.get('referrer-policy')!r}"
    )

    hsts = headers.get("strict-transport-security")
    if https:
        assert hsts, f"{where}: no Strict-Transport-Security under https"
        max_age = re.search(r"(?i)\bmax-age=(\d+)", hsts)
        assert max_age, f"{where}: HSTS has no max-age: {hsts!r}"
        assert int(max_age.group(1)) >= ONE_YEAR, f"{where}: HSTS max-age too short: {hsts!r}"
    else:
        assert hsts is None, f"{where}: HSTS sent over plain http: {hsts!r}"


def _first_allowed_role(case: Case) -> str | None:
    """A staff role that gets the page itself (200), to check the real page's headers."""
    return next((r for r in ROLES[1:] if case.expected(r) == 200), None)


# Headers


@pytest.mark.parametrize("key", GET_ROUTES, ids=lambda k: f"{k[0]} {k[1]}")
async def test_every_get_route_sends_the_security_headers(
    app: Starlette, http: httpx2.AsyncClient, db: Database, key: tuple[str, str]
) -> None:
    case = EXPECTED[key]
    async with client_for(app) as anonymous_http:
        anonymous = await become(anonymous_http, db, ANONYMOUS)
        response = await anonymous_http.get(await concrete_url(case, db, anonymous))
        assert response.status_code == case.anonymous
        assert_security_headers(response)

    role = _first_allowed_role(case)
    if role is not None and case.anonymous != 200:
        staff = await become(http, db, role)
        response = await http.get(await concrete_url(case, db, staff))
        assert response.status_code == 200
        assert_security_headers(response)


async def _boom(request: Request) -> Response:
    raise RuntimeError("an internal detail")


@pytest.mark.parametrize(
    ("path", "status", "content_type"),
    [
        ("/no-such-page", 404, "text/html"),
        ("/api/v1/no-such-thing", 404, "application/problem+json"),
        ("/security-test-boom", 500, "text/html"),
        ("/api/v1/security-test-boom", 500, "application/problem+json"),
    ],
)
async def test_error_responses_send_the_security_headers(
    app: Starlette, path: str, status: int, content_type: str
) -> None:
    app.router.routes.insert(0, Route("/security-test-boom", _boom))
    app.router.routes.insert(0, Route("/api/v1/security-test-boom", _boom))
    async with client_for(app, raise_app_exceptions=False) as client:
        response = await client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith(content_type)
    assert "an internal detail" not in response.text
    assert_security_headers(response)


async def test_the_403_page_sends_the_security_headers(
    http: httpx2.AsyncClient, db: Database
) -> None:
    await become(http, db, Role.FRONTDESK.value)
    response = await http.get("/admin/")
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    assert_security_headers(response)


async def test_refusals_from_middleware_send_the_security_headers(
    http: httpx2.AsyncClient, db: Database
) -> None:
    """The CSRF refusal, the body-size refusal and the API's cookie refusal are answered
    by middleware, before any route: they must carry the headers too."""
    csrf_refused = await http.post("/login", data={"email": "x"})
    assert csrf_refused.status_code == 403
    assert_security_headers(csrf_refused)

    token = await factories.form_token(http)
    too_large = await http.post(
        "/login", content=b"a" * (1024 * 1024 + 1), headers={"x-csrf-token": token}
    )
    assert too_large.status_code == 413
    assert_security_headers(too_large)

    await become(http, db, Role.FRONTDESK.value)
    api_with_cookie = await http.get("/api/v1/anything")
    assert api_with_cookie.status_code == 400
    assert_security_headers(api_with_cookie)


# Cookies and HSTS by scheme


def parse_set_cookie(header: str) -> tuple[str, str, dict[str, str]]:
    """("name", "value", {lower-cased attribute: value or ""})."""
    first, *attributes = (part.strip() for part in header.split(";"))
    name, _, value = first.partition("=")
    parsed: dict[str, str] = {}
    for attribute in attributes:
        key, _, attribute_value = attribute.partition("=")
        parsed[key.strip().lower()] = attribute_value.strip()
    return name, value, parsed


def set_cookies(response: httpx2.Response) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for header in response.headers.get_list("set-cookie"):
        name, _, attributes = parse_set_cookie(header)
        found[name] = attributes
    return found


async def _sign_in_response(http: httpx2.AsyncClient, db: Database) -> httpx2.Response:
    async with db.transaction() as session:
        user = await factories.create_user(
            session, roles=(Role.FRONTDESK,), password_hash=factories._staff_hash()
        )
    token = await factories.form_token(http)
    response = await http.post(
        "/login",
        data={"email": user.email, "password": factories.STAFF_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 303, response.text
    return response


async def test_under_https_the_session_cookie_is_host_prefixed_and_secure(
    http: httpx2.AsyncClient, db: Database
) -> None:
    login_page = await http.get("/login")
    presession = set_cookies(login_page)["__Host-clinic_csrf"]
    assert "secure" in presession
    assert presession.get("path") == "/"
    assert "domain" not in presession

    signed_in = await _sign_in_response(http, db)
    cookies = set_cookies(signed_in)
    assert "clinic_session" not in cookies
    session = cookies["__Host-clinic_session"]
    assert "secure" in session
    assert "httponly" in session
    assert session.get("samesite", "").lower() == "lax"
    assert session.get("path") == "/"
    assert "domain" not in session
    assert_security_headers(signed_in, https=True)


async def test_signing_out_clears_the_session_cookie_with_the_same_attributes(
    http: httpx2.AsyncClient, db: Database
) -> None:
    """A browser ignores a __Host- cookie without Secure and Path=/, so the clearing
    cookie must carry them or the session cookie would stay behind."""
    await factories.sign_in_as(http, db, Role.FRONTDESK)
    token = await factories.form_token(http, "/desk/")
    signed_out = await http.post("/logout", data={"csrf_token": token})
    assert signed_out.status_code == 303
    cleared = set_cookies(signed_out)["__Host-clinic_session"]
    assert cleared.get("max-age") == "0"
    assert "secure" in cleared
    assert cleared.get("path") == "/"
    assert "domain" not in cleared
    assert_security_headers(signed_out)


async def test_over_plain_http_in_development_there_is_no_hsts_and_no_secure_cookie(
    settings: Settings, db: Database
) -> None:
    development = dataclasses.replace(
        settings, base_url="http://testserver", environment=Environment.DEVELOPMENT
    )
    app = create_app(development, db=db)
    async with client_for(app, base_url="http://testserver") as http:
        home = await http.get("/")
        assert home.status_code == 200
        assert_security_headers(home, https=False)

        signed_in = await _sign_in_response(http, db)
        assert_security_headers(signed_in, https=False)
        cookies = set_cookies(signed_in)
        assert "__Host-clinic_session" not in cookies
        session = cookies["clinic_session"]
        assert "secure" not in session
        assert "httponly" in session
        assert session.get("samesite", "").lower() == "lax"
        assert session.get("path") == "/"

        landing = await http.get(signed_in.headers["location"])
        assert landing.status_code == 200
        assert_security_headers(landing, https=False)


# No GET changes the database (ASVS 3.5.3)

#: Written by signing in (and by the session's once-a-minute activity stamp), by design.
WRITTEN_BY_SIGN_IN = {"staff_session", "audit_entry", "audit_seal"}


async def snapshot(db: Database) -> dict[str, list[str]]:
    """Every row of every table (bar WRITTEN_BY_SIGN_IN), in a stable order."""
    tables = {t.name: t for t in Base.metadata.sorted_tables}
    assert set(tables) >= WRITTEN_BY_SIGN_IN, "a table was renamed: update WRITTEN_BY_SIGN_IN"
    rows: dict[str, list[str]] = {}
    async with db.reading() as session:
        for name, table in tables.items():
            if name in WRITTEN_BY_SIGN_IN:
                continue
            result = await session.execute(select(table))
            rows[name] = sorted(repr(tuple(row)) for row in result)
    return rows


async def _seed_a_working_day(db: Database, therapist_user_id: int | None) -> None:
    """Something for every page to show: today's visit and one awaiting clearance."""
    soon = now_utc().replace(second=0, microsecond=0) + timedelta(hours=1)
    async with db.transaction() as session:
        location = await factories.create_location(session)
        room = await factories.create_room(session, location=location)
        service = await factories.create_service(session)
        therapist = await factories.create_therapist(session, user_id=therapist_user_id)
        client = await factories.create_client(session)
        common: dict[str, Any] = {
            "location": location,
            "therapist": therapist,
            "client": client,
            "service": service,
            "room": room,
        }
        await factories.create_appointment(session, starts_at=soon, **common)
        await factories.create_appointment(
            session,
            starts_at=soon + timedelta(days=3),
            status=AppointmentStatus.PENDING_CLEARANCE,
            **common,
        )


@pytest.mark.parametrize("role", ROLES)
async def test_no_get_request_changes_the_database(
    http: httpx2.AsyncClient, db: Database, role: str
) -> None:
    visitor = await become(http, db, role)
    therapist_user = visitor.user_id if role == Role.THERAPIST.value else None
    await _seed_a_working_day(db, therapist_user)
    urls = [await concrete_url(EXPECTED[key], db, visitor) for key in GET_ROUTES]

    before = await snapshot(db)
    for url in urls:
        response = await http.get(url)
        assert response.status_code < 500, f"GET {url} as {role}: {response.status_code}"
    after = await snapshot(db)

    assert {t: len(r) for t, r in after.items()} == {t: len(r) for t, r in before.items()}, (
        f"a GET as {role} added or removed rows"
    )
    changed = sorted(t for t in before if before[t] != after[t])
    assert not changed, f"a GET as {role} changed rows in {changed}"
