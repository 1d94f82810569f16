"""The whole URL map. Route names are `area:action`; templates build links with url_for."""

from __future__ import annotations

from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from clinic.settings import PROJECT_ROOT
from clinic.web import pages


def build_routes() -> list[Route | Mount]:
    return [
        Route("/", pages.home, name="public:home"),
        Route("/healthz", pages.healthz, name="health"),
        Mount("/static", StaticFiles(directory=PROJECT_ROOT / "static"), name="static"),
    ]
