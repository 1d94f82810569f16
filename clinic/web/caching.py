"""Caching of pages that hold personal data: staff pages name clients, their visits and
payments, so neither a browser nor a proxy may keep them."""

from __future__ import annotations

from starlette.responses import Response


def no_store(response: Response) -> Response:
    response.headers["cache-control"] = "no-store"
    return response
