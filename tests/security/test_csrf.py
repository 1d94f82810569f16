"""T13 (CSRF): every state-changing request to the HTML site needs a token bound to this
browser, and must not come from another site; the JSON API and the Stripe webhook are
exempt (the API refuses session cookies instead). See clinic/web/csrf.py.

POST /login stands in for "a form": with an empty body it answers 200 with the form's
own error, so anything but 403 means the CSRF check let the request through.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.types import Message

from clinic.auth.models import Role
from clinic.db import Database
from clinic.web.csrf import MAX_FORM_BYTES, MAX_MULTIPART_BYTES, STRIPE_WEBHOOK_PATH
from tests import factories
from tests.security.test_headers import snapshot
from tests.security.test_route_matrix import (
    ANONYMOUS,
    EXPECTED,
    become,
    client_for,
    concrete_url,
)

FORM_EXPIRED = "This form has expired"
SIGN_IN_FAILED = "Enter a correct email address and password."
BOUNDARY = "clinic-test-boundary"


def assert_refused(response: httpx2.Response) -> None:
    assert response.status_code == 403, response.text[:500]
    assert "text/html" in response.headers["content-type"]
    assert FORM_EXPIRED in response.text


def multipart_body(fields: dict[str, str], boundary: str = BOUNDARY) -> bytes:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    return ("".join(parts) + f"--{boundary}--\r\n").encode()


# The token


async def test_a_post_without_any_cookie_or_token_is_refused(http: httpx2.AsyncClient) -> None:
    assert_refused(await http.post("/login", data={"email": "a@example.com"}))


async def test_a_post_without_any_cookie_is_refused_even_with_a_made_up_token(
    http: httpx2.AsyncClient,
) -> None:
    assert_refused(await http.post("/login", data={"csrf_token": "made-up"}))


async def test_a_post_with_the_cookie_but_no_token_is_refused(http: httpx2.AsyncClient) -> None:
    await factories.form_token(http)  # sets the pre-session cookie
    assert_refused(await http.post("/login", data={"email": "a@example.com"}))


async def test_a_post_with_the_cookie_and_a_wrong_token_is_refused(
    http: httpx2.AsyncClient,
) -> None:
    token = await factories.form_token(http)
    assert_refused(await http.post("/login", data={"csrf_token": token[:-1] + "x"}))
    assert_refused(await http.post("/login", data={"csrf_token": ""}))


async def test_a_post_with_a_valid_token_passes(http: httpx2.AsyncClient) -> None:
    token = await factories.form_token(http)
    response = await http.post("/login", data={"csrf_token": token})
    assert response.status_code == 200
    assert "Enter your email address and password." in response.text


async def test_a_token_only_works_with_the_cookie_it_was_made_for(app: Starlette) -> None:
    async with client_for(app) as first, client_for(app) as second:
        first_token = await factories.form_token(first)
        await factories.form_token(second)
        assert_refused(await second.post("/login", data={"csrf_token": first_token}))


async def test_the_token_is_accepted_in_the_x_csrf_token_header(
    http: httpx2.AsyncClient,
) -> None:
    token = await factories.form_token(http)
    response = await http.post("/login", data={"email": ""}, headers={"X-CSRF-Token": token})
    assert response.status_code == 200


async def test_signed_in_staff_must_send_the_session_token_not_the_pre_session_one(
    http: httpx2.AsyncClient, db: Database
) -> None:
    presession_token = await factories.form_token(http)
    await factories.sign_in_as(http, db, Role.FRONTDESK)
    session_token = await factories.form_token(http, "/desk/")
    assert session_token != presession_token

    assert_refused(await http.post("/logout", data={"csrf_token": presession_token}))
    assert (await http.get("/desk/")).status_code == 200, "the refused sign-out signed out"

    signed_out = await http.post("/logout", data={"csrf_token": session_token})
    assert signed_out.status_code == 303
    assert (await http.get("/desk/")).status_code == 303


async def test_another_staff_members_token_is_refused(app: Starlette, db: Database) -> None:
    async with client_for(app) as mine, client_for(app) as theirs:
        await factories.sign_in_as(mine, db, Role.FRONTDESK)
        await factories.sign_in_as(theirs, db, Role.FRONTDESK)
        their_token = await factories.form_token(theirs, "/desk/")
        assert_refused(await mine.post("/logout", data={"csrf_token": their_token}))


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_other_unsafe_methods_need_a_token_too(http: httpx2.AsyncClient, method: str) -> None:
    await factories.form_token(http)
    assert_refused(await http.request(method, "/"))


# The JSON API is exempt by design (cookieless; see test_the_api_is_exempt...), and so is
# Stripe's webhook, which its signature authenticates (tests/payments/test_webhooks.py).
UNSAFE_ROUTES = sorted(
    key
    for key in EXPECTED
    if key[0] not in ("GET", "HEAD")
    and not key[1].startswith("/api/")
    and key[1] != STRIPE_WEBHOOK_PATH
)


@pytest.mark.parametrize("role", [ANONYMOUS, Role.ADMIN.value])
@pytest.mark.parametrize("key", UNSAFE_ROUTES, ids=lambda k: f"{k[0]} {k[1]}")
async def test_every_unsafe_route_refuses_a_request_without_a_token(
    http: httpx2.AsyncClient, db: Database, key: tuple[str, str], role: str
) -> None:
    """Every state-changing route of the matrix, as a visitor with the pre-session cookie
    and as an admin (who may use them all): no token, 403, and nothing changes."""
    method, _ = key
    case = EXPECTED[key]
    visitor = await become(http, db, role)
    if role == ANONYMOUS:
        await factories.form_token(http)  # the pre-session cookie
    url = await concrete_url(case, db, visitor)
    landing = (await http.get("/login")).status_code

    before = await snapshot(db)
    assert_refused(await http.request(method, url, data=dict(case.data)))
    assert await snapshot(db) == before
    assert (await http.get("/login")).status_code == landing, "the refused request signed out"


# Where the request comes from


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "null", "http://testserver", "https://testserver.evil"]
)
async def test_another_origin_is_refused_even_with_a_valid_token(
    http: httpx2.AsyncClient, origin: str
) -> None:
    token = await factories.form_token(http)
    response = await http.post("/login", data={"csrf_token": token}, headers={"Origin": origin})
    assert_refused(response)


async def test_our_own_origin_with_a_valid_token_passes(http: httpx2.AsyncClient) -> None:
    token = await factories.form_token(http)
    response = await http.post(
        "/login", data={"csrf_token": token}, headers={"Origin": "https://testserver"}
    )
    assert response.status_code == 200


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
async def test_a_cross_site_fetch_is_refused_even_with_a_valid_token(
    http: httpx2.AsyncClient, site: str
) -> None:
    token = await factories.form_token(http)
    response = await http.post(
        "/login", data={"csrf_token": token}, headers={"Sec-Fetch-Site": site}
    )
    assert_refused(response)


@pytest.mark.parametrize("site", ["same-origin", "none"])
async def test_a_same_origin_fetch_with_a_valid_token_passes(
    http: httpx2.AsyncClient, site: str
) -> None:
    token = await factories.form_token(http)
    response = await http.post(
        "/login", data={"csrf_token": token}, headers={"Sec-Fetch-Site": site}
    )
    assert response.status_code == 200


# Multipart bodies


async def test_a_multipart_form_with_the_token_as_a_field_passes(
    http: httpx2.AsyncClient,
) -> None:
    token = await factories.form_token(http)
    body = multipart_body(
        {"csrf_token": token, "email": "nobody@example.com", "password": "not the password"}
    )
    response = await http.post(
        "/login",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert response.status_code == 200
    assert SIGN_IN_FAILED in response.text


async def test_a_multipart_form_without_the_token_is_refused(
    http: httpx2.AsyncClient,
) -> None:
    await factories.form_token(http)
    body = multipart_body({"email": "nobody@example.com", "password": "not the password"})
    response = await http.post(
        "/login",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert_refused(response)


async def test_a_token_sent_as_an_uploaded_file_does_not_count(
    http: httpx2.AsyncClient,
) -> None:
    token = await factories.form_token(http)
    response = await http.post("/login", files={"csrf_token": ("token.txt", token.encode())})
    assert_refused(response)


MALFORMED_MULTIPART = {
    "no boundary": ("multipart/form-data", b"csrf_token=x"),
    "not multipart at all": (
        f"multipart/form-data; boundary={BOUNDARY}",
        b"this is not a multipart body",
    ),
    "part without a name": (
        f"multipart/form-data; boundary={BOUNDARY}",
        f"--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode(),
    ),
    "header line without a colon": (
        f"multipart/form-data; boundary={BOUNDARY}",
        f"--{BOUNDARY}\r\nNot a header\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode(),
    ),
}


@pytest.mark.parametrize("with_header_token", [True, False], ids=["header-token", "no-token"])
@pytest.mark.parametrize("kind", sorted(MALFORMED_MULTIPART))
async def test_a_malformed_multipart_body_gets_400_or_403_never_500(
    app: Starlette, kind: str, with_header_token: bool
) -> None:
    content_type, body = MALFORMED_MULTIPART[kind]
    async with client_for(app, raise_app_exceptions=False) as http:
        token = await factories.form_token(http)
        headers = {"Content-Type": content_type}
        if with_header_token:
            headers["X-CSRF-Token"] = token
        response = await http.post("/login", content=body, headers=headers)
    assert response.status_code in (400, 403), response.text[:500]
    assert "text/html" in response.headers["content-type"]


ODD_MULTIPART = {
    "truncated": f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\nx',
    "empty": "",
    "only the closing boundary": f"--{BOUNDARY}--\r\n",
    "binary field name": f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="\udcff"\r\n\r\n'
    f"x\r\n--{BOUNDARY}--\r\n",
}


@pytest.mark.parametrize("kind", sorted(ODD_MULTIPART))
async def test_odd_multipart_bodies_without_a_token_are_refused_not_crashed_on(
    app: Starlette, kind: str
) -> None:
    body = ODD_MULTIPART[kind].encode("utf-8", "surrogateescape")
    async with client_for(app, raise_app_exceptions=False) as http:
        await factories.form_token(http)
        response = await http.post(
            "/login",
            content=body,
            headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        )
    assert response.status_code in (400, 403), response.text[:500]


# Body size


async def test_a_form_body_over_1_mib_gets_413(http: httpx2.AsyncClient) -> None:
    token = await factories.form_token(http)
    body = f"csrf_token={token}&email=".encode() + b"a" * MAX_FORM_BYTES
    response = await http.post(
        "/login",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert "text/html" in response.headers["content-type"]


async def test_a_streamed_form_body_over_1_mib_without_a_length_gets_413(
    http: httpx2.AsyncClient,
) -> None:
    token = await factories.form_token(http)
    chunk = b"a" * (64 * 1024)

    async def chunks() -> AsyncIterator[bytes]:
        yield f"csrf_token={token}&email=".encode()
        for _ in range(MAX_FORM_BYTES // len(chunk) + 1):
            yield chunk

    response = await http.post(
        "/login",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413


async def _post_declaring(
    app: Starlette, *, content_type: str, content_length: int, cookie: str, token: str
) -> tuple[int, int]:
    """Send a POST straight to the ASGI app that declares `content_length` bytes; return
    (status, how many times the app asked for the body)."""
    asked = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal asked
        asked += 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": "/login",
        "raw_path": b"/login",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", content_type.encode()),
            (b"content-length", str(content_length).encode()),
            (b"cookie", cookie.encode()),
            (b"x-csrf-token", token.encode()),
        ],
        "client": ("127.0.0.1", 123),
        "server": ("testserver", 443),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], asked


async def test_a_declared_length_over_the_multipart_limit_gets_413_before_reading(
    app: Starlette, http: httpx2.AsyncClient
) -> None:
    token = await factories.form_token(http)
    cookie = "; ".join(f"{name}={value}" for name, value in http.cookies.items())
    status, asked = await _post_declaring(
        app,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        content_length=MAX_MULTIPART_BYTES + 1,
        cookie=cookie,
        token=token,
    )
    assert status == 413
    assert asked == 0, "the body was read before the declared length was refused"


async def test_a_declared_length_over_the_form_limit_gets_413_before_reading(
    app: Starlette, http: httpx2.AsyncClient
) -> None:
    token = await factories.form_token(http)
    cookie = "; ".join(f"{name}={value}" for name, value in http.cookies.items())
    status, asked = await _post_declaring(
        app,
        content_type="application/x-www-form-urlencoded",
        content_length=MAX_FORM_BYTES + 1,
        cookie=cookie,
        token=token,
    )
    assert status == 413
    assert asked == 0


# Exemptions, and the API's refusal of session cookies


async def test_the_json_api_needs_no_token(http: httpx2.AsyncClient) -> None:
    response = await http.post("/api/v1/anything", json={"a": 1})
    assert response.status_code != 403
    # No API routes yet: the exemption lets it reach the router's 404.
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_stripe_webhook_needs_no_token(http: httpx2.AsyncClient) -> None:
    response = await http.post(
        "/payments/stripe/webhook",
        content=b'{"type": "checkout.session.completed"}',
        headers={"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=x"},
    )
    assert response.status_code != 403
    assert response.status_code == 404  # not built yet


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_an_api_request_with_the_session_cookie_gets_400(
    http: httpx2.AsyncClient, db: Database, method: str
) -> None:
    await factories.sign_in_as(http, db, Role.ADMIN)
    response = await http.request(method, "/api/v1/anything")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 400


async def test_an_api_request_with_any_session_cookie_value_gets_400(app: Starlette) -> None:
    async with client_for(app) as http:
        response = await http.get(
            "/api/v1/anything", headers={"Cookie": "__Host-clinic_session=not-a-real-session"}
        )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
