"""The public home page, the health check and the error pages."""

from __future__ import annotations

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from clinic.app import create_app
from clinic.db import Database
from clinic.settings import Settings
from tests import factories


async def test_home_lists_online_services_with_prices(
    db: Database, http: httpx2.AsyncClient
) -> None:
    async with db.transaction() as session:
        await factories.create_location(session, name="Willow Test Clinic", phone="(215) 555-0199")
        await factories.create_service(session, name="Swedish massage 60", price_minor=9500)
        await factories.create_service(session, name="Desk-only ritual", bookable_online=False)
        await factories.create_service(session, name="Retired treatment", active=False)
    response = await http.get("/")
    assert response.status_code == 200
    assert "<h1>Willow Test Clinic</h1>" in response.text
    assert "Swedish massage 60" in response.text
    assert "$95.00" in response.text
    assert "Desk-only ritual" not in response.text
    assert "Retired treatment" not in response.text


async def test_home_without_any_set_up_still_answers(http: httpx2.AsyncClient) -> None:
    response = await http.get("/")
    assert response.status_code == 200
    assert "Please call us to book" in response.text


async def test_pages_have_landmarks_a_skip_link_and_one_h1(http: httpx2.AsyncClient) -> None:
    html = (await http.get("/")).text
    assert '<a class="skip-link" href="#main">' in html
    assert '<main id="main"' in html
    assert "<header" in html
    assert "<footer" in html
    assert html.count("<h1") == 1


async def test_healthz_reports_the_database(http: httpx2.AsyncClient) -> None:
    response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_healthz_answers_503_when_the_database_does_not(settings: Settings) -> None:
    unreachable = Database.connect("postgresql+asyncpg://nobody:x@127.0.0.1:9/none", pool_size=1)
    app = create_app(settings, db=unreachable)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="https://testserver") as client:
        response = await client.get("/healthz")
    await unreachable.dispose()
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


async def test_unknown_page_gets_the_404_page(http: httpx2.AsyncClient) -> None:
    response = await http.get("/no-such-page")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert "<h1>Page not found</h1>" in response.text


async def test_unknown_api_path_gets_a_problem_body(http: httpx2.AsyncClient) -> None:
    response = await http.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 404
    assert body["detail"]


async def test_wrong_method_gets_405_not_500(http: httpx2.AsyncClient) -> None:
    token = await factories.form_token(http)
    response = await http.delete("/", headers={"X-CSRF-Token": token})
    assert response.status_code == 405


@pytest.mark.parametrize("path", ["/boom", "/api/v1/boom"])
async def test_an_unhandled_error_shows_a_generic_500_without_a_traceback(
    app: Starlette, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def boom(request: Request) -> Response:
        raise RuntimeError("secret internal detail")

    app.router.routes.insert(0, Route(path, boom))
    transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx2.AsyncClient(transport=transport, base_url="https://testserver") as client:
        response = await client.get(path)
    assert response.status_code == 500
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text
    assert "went wrong" in response.text


async def test_static_stylesheet_is_served_from_the_repo(http: httpx2.AsyncClient) -> None:
    response = await http.get("/static/clinic.css")
    assert response.status_code == 200
    assert "text/css" in response.headers["content-type"]
