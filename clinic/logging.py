"""Logging set-up: one line per event, UTC timestamps, to standard error."""

from __future__ import annotations

import logging
import time

from clinic.settings import Settings


class UTCFormatter(logging.Formatter):
    converter = staticmethod(time.gmtime)


def configure_logging(settings: Settings) -> None:
    root = logging.getLogger()
    if any(getattr(h, "clinic_handler", False) for h in root.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(
        UTCFormatter("%(asctime)sZ %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%S")
    )
    handler.clinic_handler = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO if settings.environment.value != "test" else logging.WARNING)
