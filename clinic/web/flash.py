"""One-time messages shown on the next page ("Appointment cancelled.").

They travel in a short-lived signed cookie rather than the server-side session, so
they also work for clients who have no session at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "clinic_flash"
MAX_AGE_SECONDS = 300
Category = Literal["success", "info", "warning", "error"]


@dataclass(frozen=True)
class Flash:
    message: str
    category: Category = "info"


def flash(request: HTTPConnection, message: str, category: Category = "info") -> None:
    """Queue a message for the next page this browser sees."""
    request.state.flash_outgoing.append(Flash(message, category))


def consume_flashes(request: HTTPConnection) -> list[Flash]:
    """The messages for this page; they are gone once shown."""
    messages: list[Flash] = request.state.flash_incoming
    if messages:
        request.state.flash_consumed = True
    request.state.flash_incoming = []
    return messages


class FlashMiddleware:
    def __init__(self, app: ASGIApp, *, secret_key: str, secure: bool) -> None:
        self.app = app
        self.serializer = URLSafeTimedSerializer(secret_key, salt="clinic.flash")
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        state = scope.setdefault("state", {})
        state["flash_incoming"] = self._read(connection.cookies.get(COOKIE))
        state["flash_outgoing"] = []
        state["flash_consumed"] = False

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                outgoing: list[Flash] = state["flash_outgoing"]
                if outgoing:
                    headers.append("set-cookie", self._cookie(self._write(outgoing)))
                elif state["flash_consumed"]:
                    headers.append("set-cookie", self._cookie("", max_age=0))
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _read(self, raw: str | None) -> list[Flash]:
        if not raw:
            return []
        try:
            data = self.serializer.loads(raw, max_age=MAX_AGE_SECONDS)
        except BadSignature:
            return []
        return [Flash(str(m), c) for m, c in data if c in ("success", "info", "warning", "error")]

    def _write(self, messages: list[Flash]) -> str:
        return self.serializer.dumps([[m.message, m.category] for m in messages])

    def _cookie(self, value: str, *, max_age: int = MAX_AGE_SECONDS) -> str:
        parts = [f"{COOKIE}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)


__all__ = ["Flash", "FlashMiddleware", "consume_flashes", "flash"]
