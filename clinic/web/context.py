"""Typed access to what the app keeps on its state: settings, database, templates."""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.templating import Jinja2Templates

from clinic.db import Database
from clinic.settings import Settings


def settings_of(request: HTTPConnection) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def db_of(request: HTTPConnection) -> Database:
    db: Database = request.app.state.db
    return db


def templates_of(request: HTTPConnection) -> Jinja2Templates:
    templates: Jinja2Templates = request.app.state.templates
    return templates


def client_ip(request: HTTPConnection) -> str:
    """The peer's address as the server saw it ("unknown" without one), for audit rows."""
    return request.client.host if request.client else "unknown"
