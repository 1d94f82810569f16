"""create_app(settings): the Starlette application with its lifespan, middleware and routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware

from clinic import audit
from clinic.auth.web import StaffSessionMiddleware
from clinic.db import Database
from clinic.logging import configure_logging
from clinic.routes import build_routes
from clinic.settings import Settings
from clinic.web.access_log import AccessLogMiddleware
from clinic.web.csrf import CSRFMiddleware
from clinic.web.errors import EXCEPTION_HANDLERS
from clinic.web.flash import FlashMiddleware
from clinic.web.security import SecurityHeadersMiddleware
from clinic.web.templating import make_templates

AUDIT_SEAL_INTERVAL_SECONDS = 5.0


def create_app(settings: Settings | None = None, *, db: Database | None = None) -> Starlette:
    """Build the app. Tests pass `db` to share a rolled-back connection; otherwise the
    lifespan opens the engines and disposes of them on shutdown."""
    settings = settings or Settings.from_env()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = db is None
        app.state.db = db or Database.connect(settings.database_url)
        # Each app process seals what has been committed; sealers take turns on a lock.
        stop = asyncio.Event()
        sealer = asyncio.create_task(
            audit.seal_periodically(app.state.db, AUDIT_SEAL_INTERVAL_SECONDS, stop)
        )
        try:
            yield
        finally:
            stop.set()
            await sealer
            if owned:
                await app.state.db.dispose()

    app = Starlette(
        debug=False,
        routes=build_routes(),
        # Outermost first. The session must be known before the CSRF check, which
        # compares the form's token with the one stored in the session.
        middleware=[
            Middleware(AccessLogMiddleware),
            Middleware(SecurityHeadersMiddleware, https=settings.uses_https),
            Middleware(FlashMiddleware, secret_key=settings.secret_key, secure=settings.uses_https),
            Middleware(StaffSessionMiddleware, settings=settings),
            Middleware(CSRFMiddleware, settings=settings),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.templates = make_templates(settings.timezone)
    if db is not None:
        app.state.db = db
    return app


def create_app_from_env() -> Starlette:
    """The factory uvicorn imports (`clinic serve`)."""
    return create_app()
