"""Security headers on every response (ASVS 3.4): a CSP with no inline script, no
framing, no MIME sniffing, a strict referrer policy, and HSTS under https. Forms post to
this site only, except that with Stripe on, the booking form's answer may send the
browser on to Stripe's hosted checkout (browsers apply form-action to that redirect)."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)

BASE_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # Manage links carry tokens in their paths: never send a path to another origin.
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
HSTS = "max-age=31536000; includeSubDomains"


def security_headers(*, https: bool, checkout_origin: str | None = None) -> dict[str, str]:
    headers = dict(BASE_HEADERS)
    if checkout_origin:
        headers["content-security-policy"] = CONTENT_SECURITY_POLICY.replace(
            "form-action 'self'", f"form-action 'self' {checkout_origin}"
        )
    if https:
        headers["strict-transport-security"] = HSTS
    return headers


def apply_security_headers(
    headers: MutableHeaders, *, https: bool, checkout_origin: str | None = None
) -> None:
    for name, value in security_headers(https=https, checkout_origin=checkout_origin).items():
        if name not in headers:
            headers[name] = value


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, https: bool, checkout_origin: str | None = None) -> None:
        self.app = app
        self.https = https
        self.checkout_origin = checkout_origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                apply_security_headers(
                    MutableHeaders(scope=message),
                    https=self.https,
                    checkout_origin=self.checkout_origin,
                )
            await send(message)

        await self.app(scope, receive, send_with_headers)
