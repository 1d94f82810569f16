"""create_app(settings): the Starlette application with its lifespan, middleware and routes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware

from clinic import audit
from clinic.auth.web import StaffSessionMiddleware
from clinic.db import Database
from clinic.logging import configure_logging
from clinic.payments.gateway import checkout_origin
from clinic.routes import build_routes
from clinic.settings import Settings
from clinic.web.access_log import AccessLogMiddleware
from clinic.web.csrf import CSRFMiddleware
from clinic.web.errors import EXCEPTION_HANDLERS
from clinic.web.flash import FlashMiddleware
from clinic.web.security import SecurityHeadersMiddleware
from clinic.web.templating import make_templates
from clinic.worker import build_worker

AUDIT_SEAL_INTERVAL_SECONDS = 5.0
OUTBOX_POLL_SECONDS = 1.0
# How long shutdown waits for the worker's current pass; a message it then abandons stays
# leased and is delivered again once the lease runs out.
OUTBOX_SHUTDOWN_GRACE_SECONDS = 10.0


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
        # Outbox messages go out from every app process (leases keep them apart); not when
        # a test lends its rolled-back connection.
        outbox: asyncio.Task[None] | None = None
        if owned:
            worker = build_worker(app.state.db, settings, templates=app.state.templates.env)
            outbox = asyncio.create_task(worker.run_forever(stop, OUTBOX_POLL_SECONDS))
        try:
            yield
        finally:
            stop.set()
            await sealer
            if outbox is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(outbox, timeout=OUTBOX_SHUTDOWN_GRACE_SECONDS)
            if owned:
                await app.state.db.dispose()

    app = Starlette(
        debug=False,
        routes=build_routes(),
        # Outermost first. The session must be known before the CSRF check, which
        # compares the form's token with the one stored in the session.
        middleware=[
            Middleware(AccessLogMiddleware),
            Middleware(
                SecurityHeadersMiddleware,
                https=settings.uses_https,
                checkout_origin=checkout_origin(settings),
            ),
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
