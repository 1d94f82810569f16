"""Authorisation, CSRF and security headers are decided before any query depends on the
database, so these route-by-route tests (about 1,800 of them) run on SQLite only; every
other database test still runs on both. This keeps `make test` inside its time budget."""

from __future__ import annotations

import pytest

from tests.conftest import Backend


@pytest.fixture
def backend(migrated_backends: dict[str, Backend]) -> Backend:
    return migrated_backends["sqlite"]
