"""What a member of staff does with the second factor, step by step through the pages,
for the second-factor tests."""

from __future__ import annotations

import re
from datetime import datetime

import httpx2

from clinic.auth.second_factor import code_at
from tests import factories
from tests.factories import STAFF_PASSWORD

_SETUP_KEY = re.compile(r'<code class="secret-text">([A-Z2-7 ]+)</code>')
_RECOVERY_CODE = re.compile(r"<li><code>([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})</code></li>")
SET_UP_PAGE = "/account/second-factor"


def setup_key(page: str) -> str:
    match = _SETUP_KEY.search(page)
    assert match, "no setup key on the page"
    return match.group(1).replace(" ", "")


def recovery_codes(page: str) -> list[str]:
    return _RECOVERY_CODE.findall(page)


async def start_set_up(http: httpx2.AsyncClient, password: str = STAFF_PASSWORD) -> httpx2.Response:
    token = await factories.form_token(http, SET_UP_PAGE)
    return await http.post(
        "/account/second-factor/start", data={"password": password, "csrf_token": token}
    )


async def confirm(http: httpx2.AsyncClient, code: str) -> httpx2.Response:
    token = await factories.form_token(http, SET_UP_PAGE)
    return await http.post(
        "/account/second-factor/confirm", data={"code": code, "csrf_token": token}
    )


async def enrol(http: httpx2.AsyncClient, at: datetime) -> tuple[str, list[str]]:
    """Set up and confirm the second factor of the signed-in member (the clock frozen at
    `at`); returns the secret and the recovery codes shown."""
    started = await start_set_up(http)
    assert started.status_code == 303, started.text
    secret = setup_key((await http.get(SET_UP_PAGE)).text)
    confirmed = await confirm(http, code_at(secret, at))
    assert confirmed.status_code == 200, confirmed.text
    codes = recovery_codes(confirmed.text)
    assert len(codes) == 10
    return secret, codes


async def sign_out(http: httpx2.AsyncClient) -> None:
    token = await factories.form_token(http, "/account")
    await http.post("/logout", data={"csrf_token": token})


async def password_step(
    http: httpx2.AsyncClient, email: str, password: str = STAFF_PASSWORD, next_path: str = ""
) -> httpx2.Response:
    token = await factories.form_token(http)
    url = f"/login?next={next_path}" if next_path else "/login"
    return await http.post(url, data={"email": email, "password": password, "csrf_token": token})


async def code_step(http: httpx2.AsyncClient, code: str) -> httpx2.Response:
    # The pre-session token is the same on every page; /login has it even when the
    # code step has ended.
    token = await factories.form_token(http)
    return await http.post("/login/code", data={"code": code, "csrf_token": token})
