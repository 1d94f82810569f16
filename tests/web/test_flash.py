"""One-time messages survive a redirect, show once, and cannot be forged."""

from __future__ import annotations

import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from clinic.web.flash import COOKIE, flash
from tests import factories


async def _queue_message(request: Request) -> Response:
    flash(request, "Appointment cancelled.", "success")
    return RedirectResponse("/", status_code=303)


async def test_a_flash_message_shows_once_on_the_next_page(
    app: Starlette, http: httpx2.AsyncClient
) -> None:
    app.router.routes.insert(0, Route("/act", _queue_message, methods=["POST"]))
    token = await factories.form_token(http)
    redirected = await http.post("/act", data={"csrf_token": token})
    assert redirected.status_code == 303
    assert COOKIE in redirected.cookies

    first = await http.get("/")
    assert "Appointment cancelled." in first.text
    assert 'role="status"' in first.text

    second = await http.get("/")
    assert "Appointment cancelled." not in second.text


async def test_a_forged_flash_cookie_is_ignored(http: httpx2.AsyncClient) -> None:
    http.cookies.set(COOKIE, "forged-value")
    response = await http.get("/")
    assert response.status_code == 200
    assert "forged" not in response.text
