"""Pages that belong to no area: the clinic home page and the health check."""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from clinic.scheduling.service import primary_location, public_services
from clinic.web.context import db_of, settings_of, templates_of

log = logging.getLogger("clinic.health")


async def home(request: Request) -> Response:
    async with db_of(request).reading() as session:
        location = await primary_location(session)
        services = await public_services(session)
    return templates_of(request).TemplateResponse(
        request,
        "public/home.html",
        {"location": location, "services": services, "currency": settings_of(request).currency},
    )


async def healthz(request: Request) -> Response:
    try:
        async with db_of(request).reading() as session:
            await session.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as error:
        log.warning("health check: database does not answer (%s)", type(error).__name__)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
