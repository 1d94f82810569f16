"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd): it keeps what it is given, or
refuses it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

from tests.servers import free_port


class Inbox:
    """An aiosmtpd handler: keeps what it is given, or refuses with `refusal`."""

    def __init__(self) -> None:
        self.received: list[Envelope] = []
        self.refusal: str | None = None

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.refusal is not None:
            return self.refusal
        self.received.append(envelope)
        return "250 Message accepted for delivery"


@contextlib.contextmanager
def running_inbox() -> Iterator[tuple[Inbox, int]]:
    """An Inbox served on a free port of 127.0.0.1 (in a thread of its own)."""
    handler = Inbox()
    # aiosmtpd checks its own start by connecting to the port it was given: not 0.
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()
