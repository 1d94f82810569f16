"""The demo clinic at a fixed moment (Friday 27 November 2026, 8am in Philadelphia)."""

from __future__ import annotations

from tests.booking.conftest import frozen, seeded

__all__ = ["frozen", "seeded"]
