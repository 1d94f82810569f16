"""An SDK HTTP client that hands requests to an ASGI app in-process: no socket, no thread
for the async methods, and no back-off sleeps between the SDK's retries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx2
import stripe
from requests.structures import CaseInsensitiveDict
from starlette.testclient import TestClient
from starlette.types import ASGIApp


def _headers(headers: httpx2.Headers) -> CaseInsensitiveDict[str]:
    # The SDK reads "request-id" and "stripe-should-retry" whatever their case.
    return CaseInsensitiveDict(dict(headers.items()))


class InProcessHTTPClient(stripe.HTTPClient):
    """`StripeClient(..., base_addresses={"api": IN_PROCESS_BASE}, http_client=this)`: the
    host of the URL is ignored, the app answers. Sync calls go through Starlette's
    TestClient, async ones through an httpx ASGI transport in the caller's event loop."""

    name = "fakestripe-in-process"

    def __init__(self, app: ASGIApp) -> None:
        super().__init__()
        self._app = app
        self._sync: TestClient | None = None

    def _sleep_time_seconds(self, num_retries: int) -> float:
        return 0.0

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[Any, int, Mapping[str, str]]:
        if self._sync is None:
            self._sync = TestClient(self._app, follow_redirects=False)
        response = self._sync.request(method, url, headers=dict(headers or {}), content=post_data)
        return response.content, response.status_code, _headers(response.headers)

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        transport = httpx2.ASGITransport(app=self._app)
        async with httpx2.AsyncClient(transport=transport) as client:
            response = await client.request(method, url, headers=dict(headers), content=post_data)
        return response.content, response.status_code, _headers(response.headers)

    async def sleep_async(self, secs: float) -> None:
        return None

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def close_async(self) -> None:
        self.close()
