"""T10: the route-by-route authorisation matrix (reliability.md section 7).

Every (method, path template) the router knows is listed in EXPECTED with the exact status
each kind of visitor gets: anonymous, and a staff member holding exactly one role. A route
missing from EXPECTED fails `test_every_route_is_in_the_matrix`, so a new page cannot ship
without someone deciding who may use it.

POSTs carry a valid CSRF token (the matrix tests authorisation, not CSRF: see
test_csrf.py) and a minimal body; where the role is allowed, a validation answer (422, or
200 with the form's errors) is expected, never a 500.

Adding a route: add a row to EXPECTED. `url` is the concrete address to request; it may
name `{own_user_id}` (the signed-in staff member; for anonymous, a staff account that is
not signed in) or `{other_user_id}` (another staff account the test creates).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Host, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from clinic.app import create_app
from clinic.auth.models import Role
from clinic.db import Database
from clinic.settings import Environment, Settings
from tests import factories

BASE_URL = "https://testserver"
ANONYMOUS = "anonymous"
#: Who visits: anonymous, then one column per staff role.
ROLES: tuple[str, ...] = (
    ANONYMOUS,
    Role.FRONTDESK.value,
    Role.THERAPIST.value,
    Role.CLINICAL_LEAD.value,
    Role.ADMIN.value,
)

# What the router holds


@dataclass(frozen=True)
class RouteEntry:
    method: str
    path: str
    endpoint: Callable[..., Any] | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    @property
    def required_roles(self) -> frozenset[Role] | None:
        """The roles `clinic.auth.web.requires` put on the endpoint, or None (unguarded)."""
        roles: frozenset[Role] | None = getattr(self.endpoint, "required_roles", None)
        return roles


def enumerate_routes(routes: Iterable[BaseRoute], prefix: str = "") -> list[RouteEntry]:
    """Every (method, path template) reachable through `routes`, mounts included.

    GET implies HEAD, so HEAD is not listed. A static-files mount is one entry,
    ("GET", "<mount>/{path}"). A route type this function does not know fails loudly
    rather than being skipped.
    """
    found: list[RouteEntry] = []
    for route in routes:
        if isinstance(route, Route):
            methods = sorted(route.methods) if route.methods is not None else ["ANY"]
            found.extend(
                RouteEntry(method, prefix + route.path, route.endpoint)
                for method in methods
                if method != "HEAD"
            )
        elif isinstance(route, WebSocketRoute):
            found.append(RouteEntry("WEBSOCKET", prefix + route.path, route.endpoint))
        elif isinstance(route, Mount):
            if isinstance(route.app, StaticFiles):
                found.append(RouteEntry("GET", prefix + route.path + "/{path}", None))
            elif route.routes:
                found.extend(enumerate_routes(route.routes, prefix + route.path))
            else:  # some other ASGI app: it answers every method below the mount
                found.append(RouteEntry("ANY", prefix + route.path + "/{path}", None))
        elif isinstance(route, Host):
            found.extend(enumerate_routes(route.routes, prefix))
        else:
            raise AssertionError(
                f"enumerate_routes does not know {type(route).__name__} ({route!r}): "
                "teach it about this kind of route"
            )
    return found


def app_routes(app: Starlette) -> list[RouteEntry]:
    return enumerate_routes(app.routes)


# What each visitor should get


@dataclass(frozen=True)
class Case:
    """One route: the address to request and the exact status for each visitor."""

    url: str
    anonymous: int
    frontdesk: int
    therapist: int
    clinical_lead: int
    admin: int
    #: Form fields for a POST, besides csrf_token (which the test adds).
    data: Mapping[str, str] = field(default_factory=dict)

    def expected(self, role: str) -> int:
        status: int = getattr(self, role)
        return status


def everyone(url: str, status: int = 200, **data: str) -> Case:
    return Case(url, status, status, status, status, status, data=data)


def staff_only(url: str, role: Role, allowed: int = 200, **data: str) -> Case:
    """A page behind requires(role): anonymous is sent to sign in, other roles get 403."""
    statuses = {r: (allowed if r == role.value else 403) for r in ROLES[1:]}
    return Case(url, 303, data=data, **statuses)


EXPECTED: dict[tuple[str, str], Case] = {
    ("GET", "/"): everyone("/"),
    ("GET", "/healthz"): everyone("/healthz"),
    # Signed-in staff are sent on to their landing page.
    ("GET", "/login"): Case("/login", 200, 303, 303, 303, 303),
    # An empty form answers with the form and its error, whoever sends it.
    ("POST", "/login"): everyone("/login", 200),
    ("POST", "/logout"): everyone("/logout", 303),
    # The code step of signing in: without a halfway sign-in (its own cookie) it is back
    # to the password, signed in or not.
    ("GET", "/login/code"): everyone("/login/code", 303),
    ("POST", "/login/code"): everyone("/login/code", 303),
    # Each member's account security pages: every role; an empty form (no current
    # password) is 422.
    ("GET", "/account"): Case("/account", 303, 200, 200, 200, 200),
    ("GET", "/account/second-factor"): Case("/account/second-factor", 303, 200, 200, 200, 200),
    ("POST", "/account/second-factor/start"): Case(
        "/account/second-factor/start", 303, 422, 422, 422, 422
    ),
    ("POST", "/account/second-factor/confirm"): Case(
        "/account/second-factor/confirm", 303, 422, 422, 422, 422
    ),
    ("POST", "/account/second-factor/off"): Case(
        "/account/second-factor/off", 303, 422, 422, 422, 422
    ),
    ("POST", "/account/recovery-codes"): Case("/account/recovery-codes", 303, 422, 422, 422, 422),
    ("GET", "/account/password"): Case("/account/password", 303, 200, 200, 200, 200),
    ("POST", "/account/password"): Case("/account/password", 303, 422, 422, 422, 422),
    ("GET", "/account/email"): Case("/account/email", 303, 200, 200, 200, 200),
    ("POST", "/account/email"): Case("/account/email", 303, 422, 422, 422, 422),
    ("GET", "/desk/"): staff_only("/desk/", Role.FRONTDESK),
    # The desk's calendar: a day, a therapist's week (without one: the list to choose
    # from), one visit's panel and its moves (no such visit: "not found" for the desk).
    ("GET", "/desk/{day:desk_day}"): staff_only("/desk/2026-11-27", Role.FRONTDESK),
    ("GET", "/desk/week"): staff_only("/desk/week", Role.FRONTDESK),
    # The desk's own row height: no choice in the form is 422 for the desk.
    ("POST", "/desk/density"): staff_only("/desk/density", Role.FRONTDESK, 422),
    # Booking for a client: the directory, adding a client (an empty form: its errors),
    # the choosing form and its steps (no such client: "not found").
    ("GET", "/desk/book"): staff_only("/desk/book?q=lee", Role.FRONTDESK),
    ("POST", "/desk/clients"): staff_only("/desk/clients", Role.FRONTDESK, 422),
    ("GET", "/desk/book/{client_id:id}"): staff_only("/desk/book/999999", Role.FRONTDESK, 404),
    ("POST", "/desk/book/{client_id:id}"): staff_only("/desk/book/999999", Role.FRONTDESK, 404),
    ("POST", "/desk/book/{client_id:id}/confirm"): staff_only(
        "/desk/book/999999/confirm", Role.FRONTDESK, 404
    ),
    ("GET", "/desk/attention"): staff_only("/desk/attention", Role.FRONTDESK),
    ("GET", "/desk/appointments/{appointment_id:id}"): staff_only(
        "/desk/appointments/999999", Role.FRONTDESK, 404
    ),
    ("POST", "/desk/appointments/{appointment_id:id}/check-in"): staff_only(
        "/desk/appointments/999999/check-in", Role.FRONTDESK, 404
    ),
    ("POST", "/desk/appointments/{appointment_id:id}/check-in/undo"): staff_only(
        "/desk/appointments/999999/check-in/undo", Role.FRONTDESK, 404
    ),
    ("POST", "/desk/appointments/{appointment_id:id}/no-show/undo"): staff_only(
        "/desk/appointments/999999/no-show/undo", Role.FRONTDESK, 404
    ),
    # Moving and cancelling a visit: no such visit is "not found" for the desk.
    ("GET", "/desk/appointments/{appointment_id:id}/move"): staff_only(
        "/desk/appointments/999999/move", Role.FRONTDESK, 404
    ),
    ("POST", "/desk/appointments/{appointment_id:id}/move"): staff_only(
        "/desk/appointments/999999/move", Role.FRONTDESK, 404
    ),
    ("GET", "/desk/appointments/{appointment_id:id}/cancel"): staff_only(
        "/desk/appointments/999999/cancel", Role.FRONTDESK, 404
    ),
    ("POST", "/desk/appointments/{appointment_id:id}/cancel"): staff_only(
        "/desk/appointments/999999/cancel", Role.FRONTDESK, 404
    ),
    # Clearances: an appointment or clearance that does not exist is "not found" for those
    # allowed; the guard refuses everyone else first.
    ("GET", "/desk/appointments/{appointment_id:id}/clearance"): staff_only(
        "/desk/appointments/999999/clearance", Role.FRONTDESK, 404
    ),
    ("POST", "/desk/appointments/{appointment_id:id}/clearance/request"): staff_only(
        "/desk/appointments/999999/clearance/request", Role.FRONTDESK, 404
    ),
    ("POST", "/desk/appointments/{appointment_id:id}/clearance/chase"): staff_only(
        "/desk/appointments/999999/clearance/chase", Role.FRONTDESK, 404
    ),
    ("POST", "/desk/appointments/{appointment_id:id}/clearance/received"): staff_only(
        "/desk/appointments/999999/clearance/received", Role.FRONTDESK, 404
    ),
    ("GET", "/desk/appointments/{appointment_id:id}/clearance/letter"): staff_only(
        "/desk/appointments/999999/clearance/letter", Role.FRONTDESK, 404
    ),
    # Desk payments: a visit or payment that does not exist is "not found" for the desk;
    # the guard refuses everyone else first (admins included: they hold no desk rights).
    ("GET", "/desk/appointments/{appointment_id:id}/payments"): staff_only(
        "/desk/appointments/999999/payments", Role.FRONTDESK, 404
    ),
    ("POST", "/desk/appointments/{appointment_id:id}/payments"): staff_only(
        "/desk/appointments/999999/payments", Role.FRONTDESK, 404, method="cash", amount="5"
    ),
    ("POST", "/desk/appointments/{appointment_id:id}/no-show"): staff_only(
        "/desk/appointments/999999/no-show", Role.FRONTDESK, 404
    ),
    ("GET", "/desk/appointments/{appointment_id:id}/receipt"): staff_only(
        "/desk/appointments/999999/receipt", Role.FRONTDESK, 404
    ),
    ("POST", "/desk/payments/{payment_id:id}/refund"): staff_only(
        "/desk/payments/999999/refund", Role.FRONTDESK, 404, amount="1"
    ),
    ("GET", "/desk/takings"): staff_only("/desk/takings", Role.FRONTDESK),
    # No file in the form: 422 for the desk and a clinical lead; only they may upload.
    ("POST", "/desk/clearances/{clearance_id:id}/documents"): Case(
        "/desk/clearances/999999/documents", 303, 422, 403, 422, 403
    ),
    # Health documents: the clinical lead and treating therapists only.
    ("GET", "/clearances/documents/{document_id:id}"): Case(
        "/clearances/documents/999999", 303, 403, 404, 404, 403
    ),
    ("GET", "/clinical/clearances/{clearance_id:id}"): Case(
        "/clinical/clearances/999999", 303, 403, 404, 404, 403
    ),
    ("POST", "/clinical/clearances/{clearance_id:id}"): Case(
        "/clinical/clearances/999999", 303, 403, 404, 404, 403
    ),
    ("GET", "/therapist/"): staff_only("/therapist/", Role.THERAPIST),
    # Not one of this therapist's appointments (none exists): "not found", no hint.
    ("GET", "/therapist/appointments/{appointment_id:id}"): staff_only(
        "/therapist/appointments/999999", Role.THERAPIST, 404
    ),
    # The therapist's workspace. A therapist account with no therapist profile (as here)
    # sees its pages say so; completing a visit that is not theirs is "not found", and so
    # is a calendar link for an account with no profile.
    ("GET", "/therapist/{day}"): staff_only("/therapist/2026-11-27", Role.THERAPIST),
    ("GET", "/therapist/{day}/print"): staff_only("/therapist/2026-11-27/print", Role.THERAPIST),
    ("GET", "/therapist/week"): staff_only("/therapist/week", Role.THERAPIST),
    ("POST", "/therapist/appointments/{appointment_id:id}/break-glass"): staff_only(
        "/therapist/appointments/999999/break-glass", Role.THERAPIST, 404
    ),
    ("POST", "/therapist/appointments/{appointment_id:id}/complete"): staff_only(
        "/therapist/appointments/999999/complete", Role.THERAPIST, 404
    ),
    ("POST", "/therapist/appointments/{appointment_id:id}/uncomplete"): staff_only(
        "/therapist/appointments/999999/uncomplete", Role.THERAPIST, 404
    ),
    ("GET", "/therapist/calendar"): staff_only("/therapist/calendar", Role.THERAPIST),
    ("POST", "/therapist/calendar-link"): staff_only(
        "/therapist/calendar-link", Role.THERAPIST, 404
    ),
    ("POST", "/therapist/calendar-link/revoke"): staff_only(
        "/therapist/calendar-link/revoke", Role.THERAPIST, 404
    ),
    # The calendar feed: the token is the credential; an unknown one is 404 for anyone.
    ("GET", "/calendar/{token}.ics"): everyone("/calendar/not-a-real-token.ics", 404),
    ("GET", "/clinical/"): staff_only("/clinical/", Role.CLINICAL_LEAD),
    # No such visit in review: "not found" for the clinical lead.
    ("GET", "/clinical/reviews/{appointment_id:id}"): staff_only(
        "/clinical/reviews/999999", Role.CLINICAL_LEAD, 404
    ),
    ("POST", "/clinical/reviews/{appointment_id:id}/confirm"): staff_only(
        "/clinical/reviews/999999/confirm", Role.CLINICAL_LEAD, 404
    ),
    ("POST", "/clinical/reviews/{appointment_id:id}/plan"): staff_only(
        "/clinical/reviews/999999/plan", Role.CLINICAL_LEAD, 404
    ),
    ("POST", "/clinical/reviews/{appointment_id:id}/clearance"): staff_only(
        "/clinical/reviews/999999/clearance", Role.CLINICAL_LEAD, 404
    ),
    ("GET", "/admin/"): staff_only("/admin/", Role.ADMIN),
    ("GET", "/admin/users/new"): staff_only("/admin/users/new", Role.ADMIN),
    # No fields at all: the admin gets the form back with its errors.
    ("POST", "/admin/users/new"): staff_only("/admin/users/new", Role.ADMIN, 422),
    ("GET", "/admin/users/{user_id:id}"): staff_only("/admin/users/{own_user_id}", Role.ADMIN),
    # Someone else's account, with no role chosen: 422 for an admin, and for anyone else a
    # refusal that does not depend on the account existing.
    ("POST", "/admin/users/{user_id:id}"): staff_only(
        "/admin/users/{other_user_id}", Role.ADMIN, 422, active="yes"
    ),
    ("POST", "/admin/users/{user_id:id}/second-factor/reset"): staff_only(
        "/admin/users/999999/second-factor/reset", Role.ADMIN, 404
    ),
    # Admin set-up: an empty form is 422 for an admin; a therapist, time off or credential
    # that does not exist is "not found" for an admin, whatever the form holds.
    ("GET", "/admin/therapists"): staff_only("/admin/therapists", Role.ADMIN),
    ("GET", "/admin/therapists/new"): staff_only("/admin/therapists/new", Role.ADMIN),
    ("POST", "/admin/therapists/new"): staff_only("/admin/therapists/new", Role.ADMIN, 422),
    ("GET", "/admin/therapists/{therapist_id:id}"): staff_only(
        "/admin/therapists/999999", Role.ADMIN, 404
    ),
    ("GET", "/admin/therapists/{therapist_id:id}/details"): staff_only(
        "/admin/therapists/999999/details", Role.ADMIN, 404
    ),
    ("POST", "/admin/therapists/{therapist_id:id}/details"): staff_only(
        "/admin/therapists/999999/details", Role.ADMIN, 404
    ),
    ("GET", "/admin/therapists/{therapist_id:id}/services"): staff_only(
        "/admin/therapists/999999/services", Role.ADMIN, 404
    ),
    ("POST", "/admin/therapists/{therapist_id:id}/services"): staff_only(
        "/admin/therapists/999999/services", Role.ADMIN, 404
    ),
    ("GET", "/admin/therapists/{therapist_id:id}/hours"): staff_only(
        "/admin/therapists/999999/hours", Role.ADMIN, 404
    ),
    ("POST", "/admin/therapists/{therapist_id:id}/hours"): staff_only(
        "/admin/therapists/999999/hours", Role.ADMIN, 404
    ),
    ("GET", "/admin/therapists/{therapist_id:id}/time-off"): staff_only(
        "/admin/therapists/999999/time-off", Role.ADMIN, 404
    ),
    ("POST", "/admin/therapists/{therapist_id:id}/time-off"): staff_only(
        "/admin/therapists/999999/time-off", Role.ADMIN, 404
    ),
    ("POST", "/admin/therapists/{therapist_id:id}/time-off/{time_off_id:id}/remove"): staff_only(
        "/admin/therapists/999999/time-off/999999/remove", Role.ADMIN, 404
    ),
    ("GET", "/admin/therapists/{therapist_id:id}/credentials/new"): staff_only(
        "/admin/therapists/999999/credentials/new", Role.ADMIN, 404
    ),
    ("POST", "/admin/therapists/{therapist_id:id}/credentials/new"): staff_only(
        "/admin/therapists/999999/credentials/new", Role.ADMIN, 404
    ),
    ("POST", "/admin/therapists/{therapist_id:id}/credentials/{credential_id:id}/verify"): (
        staff_only("/admin/therapists/999999/credentials/999999/verify", Role.ADMIN, 404)
    ),
    ("GET", "/admin/therapists/{therapist_id:id}/deactivate"): staff_only(
        "/admin/therapists/999999/deactivate", Role.ADMIN, 404
    ),
    ("POST", "/admin/therapists/{therapist_id:id}/deactivate"): staff_only(
        "/admin/therapists/999999/deactivate", Role.ADMIN, 404
    ),
    ("POST", "/admin/therapists/{therapist_id:id}/reactivate"): staff_only(
        "/admin/therapists/999999/reactivate", Role.ADMIN, 404
    ),
    ("GET", "/admin/credentials/expiring"): staff_only("/admin/credentials/expiring", Role.ADMIN),
    ("GET", "/admin/services"): staff_only("/admin/services", Role.ADMIN),
    ("GET", "/admin/services/new"): staff_only("/admin/services/new", Role.ADMIN),
    ("POST", "/admin/services/new"): staff_only("/admin/services/new", Role.ADMIN, 422),
    ("GET", "/admin/services/{service_id:id}"): staff_only(
        "/admin/services/999999", Role.ADMIN, 404
    ),
    ("POST", "/admin/services/{service_id:id}"): staff_only(
        "/admin/services/999999", Role.ADMIN, 404
    ),
    ("GET", "/admin/rooms"): staff_only("/admin/rooms", Role.ADMIN),
    ("GET", "/admin/rooms/new"): staff_only("/admin/rooms/new", Role.ADMIN),
    ("POST", "/admin/rooms/new"): staff_only("/admin/rooms/new", Role.ADMIN, 422),
    ("GET", "/admin/rooms/{room_id:id}"): staff_only("/admin/rooms/999999", Role.ADMIN, 404),
    ("POST", "/admin/rooms/{room_id:id}"): staff_only("/admin/rooms/999999", Role.ADMIN, 404),
    ("GET", "/admin/closures"): staff_only("/admin/closures", Role.ADMIN),
    ("POST", "/admin/closures"): staff_only("/admin/closures", Role.ADMIN, 422),
    ("POST", "/admin/closures/{closure_id:id}/remove"): staff_only(
        "/admin/closures/999999/remove", Role.ADMIN, 404
    ),
    # Policies: an empty form is 422 for an admin; the desk and therapists are refused.
    ("GET", "/admin/policies"): staff_only("/admin/policies", Role.ADMIN),
    ("GET", "/admin/policies/{section}"): staff_only("/admin/policies/booking", Role.ADMIN),
    ("POST", "/admin/policies/{section}"): staff_only("/admin/policies/booking", Role.ADMIN, 422),
    # Which roles must use a second factor: a role that does not exist is 422 for an admin.
    ("GET", "/admin/second-factor"): staff_only("/admin/second-factor", Role.ADMIN),
    ("POST", "/admin/second-factor"): staff_only(
        "/admin/second-factor", Role.ADMIN, 422, roles="nobody"
    ),
    # The order in booking: a service or therapist that does not exist is "not found".
    ("GET", "/admin/order"): staff_only("/admin/order", Role.ADMIN),
    ("POST", "/admin/order/services/{service_id:id}"): staff_only(
        "/admin/order/services/999999", Role.ADMIN, 404, direction="up"
    ),
    ("POST", "/admin/order/therapists/{therapist_id:id}"): staff_only(
        "/admin/order/therapists/999999", Role.ADMIN, 404, direction="up"
    ),
    # The audit trail: an empty export form downloads the whole trail; a chain check
    # shows the page with its result.
    ("GET", "/admin/audit"): staff_only("/admin/audit", Role.ADMIN),
    ("GET", "/admin/break-glass"): staff_only("/admin/break-glass", Role.ADMIN),
    ("POST", "/admin/audit/export"): staff_only("/admin/audit/export", Role.ADMIN),
    ("POST", "/admin/audit/verify"): staff_only("/admin/audit/verify", Role.ADMIN),
    # End of admin set-up.
    # Client booking pages: open to everyone, signed in or not. Each step without the
    # choices before it (no service, no held time) starts again at /book.
    ("GET", "/book"): everyone("/book"),
    # No service chosen: the form again with its error.
    ("POST", "/book"): everyone("/book", 422),
    # The health step: without a service chosen it starts again at /book.
    ("GET", "/book/health"): everyone("/book/health", 303),
    ("POST", "/book/health"): everyone("/book/health", 303),
    ("GET", "/book/health/form"): everyone("/book/health/form", 303),
    ("POST", "/book/health/form"): everyone("/book/health/form", 303),
    ("GET", "/book/health/plan"): everyone("/book/health/plan", 303),
    ("GET", "/book/therapist"): everyone("/book/therapist", 303),
    ("POST", "/book/therapist"): everyone("/book/therapist", 303),
    ("GET", "/book/time"): everyone("/book/time", 303),
    ("POST", "/book/time"): everyone("/book/time", 303),
    ("GET", "/book/details"): everyone("/book/details", 303),
    ("POST", "/book/details"): everyone("/book/details", 303),
    ("GET", "/book/check"): everyone("/book/check", 303),
    ("POST", "/book/check"): everyone("/book/check", 303),
    # The token is the credential: one that matches no booking is the 404 page for anyone.
    ("GET", "/book/done/{token}"): everyone("/book/done/not-a-real-token", 404),
    ("GET", "/manage/{token}"): everyone("/manage/not-a-real-token", 404),
    # Payments: the return and pay-link tokens are credentials too; the demo checkout
    # exists only for a known checkout; the webhook takes only Stripe's signed events
    # (this clinic is offline: it has none).
    ("GET", "/book/paid/{token}"): everyone("/book/paid/not-a-real-token", 404),
    ("GET", "/pay/{token}"): everyone("/pay/not-a-real-token", 404),
    ("POST", "/pay/{token}"): everyone("/pay/not-a-real-token", 404),
    ("GET", "/pay/{token}/return"): everyone("/pay/not-a-real-token/return", 404),
    ("GET", "/pay/demo/{checkout_id}"): everyone("/pay/demo/off_cs_unknown", 404),
    ("POST", "/pay/demo/{checkout_id}"): everyone("/pay/demo/off_cs_unknown", 404, card="4242"),
    ("POST", "/payments/stripe/webhook"): everyone("/payments/stripe/webhook", 404),
    ("GET", "/manage/{token}/time"): everyone("/manage/not-a-real-token/time", 404),
    ("POST", "/manage/{token}/time"): everyone("/manage/not-a-real-token/time", 404),
    ("GET", "/manage/{token}/time/confirm"): everyone("/manage/not-a-real-token/time/confirm", 404),
    ("POST", "/manage/{token}/time/confirm"): everyone(
        "/manage/not-a-real-token/time/confirm", 404
    ),
    ("GET", "/manage/{token}/cancel"): everyone("/manage/not-a-real-token/cancel", 404),
    ("POST", "/manage/{token}/cancel"): everyone("/manage/not-a-real-token/cancel", 404),
    ("POST", "/manage/{token}/reminders"): everyone("/manage/not-a-real-token/reminders", 404),
    ("GET", "/manage/{token}/check"): everyone("/manage/not-a-real-token/check", 404),
    ("POST", "/manage/{token}/check"): everyone("/manage/not-a-real-token/check", 404),
    ("GET", "/manage/{token}/intake"): everyone("/manage/not-a-real-token/intake", 404),
    ("POST", "/manage/{token}/intake"): everyone("/manage/not-a-real-token/intake", 404),
    ("GET", "/manage/{token}/intake/plan"): everyone("/manage/not-a-real-token/intake/plan", 404),
    ("GET", "/static/{path}"): everyone("/static/clinic.css"),
    # The JSON API is cookieless: a browser carrying a staff session is refused with 400.
    ("GET", "/api/openapi.json"): Case("/api/openapi.json", 200, 400, 400, 400, 400),
    ("GET", "/api/v1/services"): Case("/api/v1/services", 200, 400, 400, 400, 400),
    ("GET", "/api/v1/therapists"): Case("/api/v1/therapists", 200, 400, 400, 400, 400),
    # No parameters: a problem naming them.
    ("GET", "/api/v1/availability"): Case("/api/v1/availability", 422, 400, 400, 400, 400),
    # The booking API: a form post is not JSON (415); an unknown manage token is 404.
    ("GET", "/api/v1/intake-form"): Case("/api/v1/intake-form", 200, 400, 400, 400, 400),
    ("POST", "/api/v1/intakes"): Case("/api/v1/intakes", 415, 400, 400, 400, 400),
    ("GET", "/api/v1/intakes/{token}"): Case("/api/v1/intakes/unknown", 404, 400, 400, 400, 400),
    ("POST", "/api/v1/holds"): Case("/api/v1/holds", 415, 400, 400, 400, 400),
    ("POST", "/api/v1/bookings"): Case("/api/v1/bookings", 415, 400, 400, 400, 400),
    ("GET", "/api/v1/bookings/{token}"): Case("/api/v1/bookings/unknown", 404, 400, 400, 400, 400),
    ("POST", "/api/v1/bookings/{token}/reschedule"): Case(
        "/api/v1/bookings/unknown/reschedule", 415, 400, 400, 400, 400
    ),
    ("POST", "/api/v1/bookings/{token}/cancel"): Case(
        "/api/v1/bookings/unknown/cancel", 415, 400, 400, 400, 400
    ),
}


def _route_id(key: tuple[str, str]) -> str:
    return f"{key[0]} {key[1]}"


# Helpers the other security tests share


@asynccontextmanager
async def client_for(
    app: Starlette, *, base_url: str = BASE_URL, raise_app_exceptions: bool = True
) -> AsyncIterator[httpx2.AsyncClient]:
    """Another browser on the same in-process app (its own cookie jar)."""
    transport = httpx2.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    async with httpx2.AsyncClient(transport=transport, base_url=base_url) as client:
        yield client


@dataclass
class Visitor:
    role: str
    http: httpx2.AsyncClient
    user_id: int | None  # None when anonymous


async def become(http: httpx2.AsyncClient, db: Database, role: str) -> Visitor:
    """Sign `http` in with exactly `role` (or leave it anonymous): a session of its own,
    without the password check (signing in has its own tests)."""
    if role == ANONYMOUS:
        return Visitor(role, http, None)
    user = await factories.session_for(http, db, Role(role))
    return Visitor(role, http, user.id)


async def post_token(visitor: Visitor) -> str:
    """A CSRF token this visitor's browser would send with a form.

    Anonymous: the sign-in form's (pre-session) token. Staff: the token in the sign-out
    form every staff page carries, read from the visitor's landing page.
    """
    if visitor.user_id is None:
        return await factories.form_token(visitor.http, "/login")
    landing = await visitor.http.get("/login")
    assert landing.status_code == 303, landing.text
    return await factories.form_token(visitor.http, landing.headers["location"])


async def concrete_url(case: Case, db: Database, visitor: Visitor) -> str:
    """`case.url` with its placeholders filled in (creating accounts as needed)."""
    url = case.url
    if "{own_user_id}" in url:
        own = visitor.user_id
        if own is None:
            async with db.transaction() as session:
                own = (await factories.create_user(session)).id
        url = url.replace("{own_user_id}", str(own))
    if "{other_user_id}" in url:
        async with db.transaction() as session:
            other = await factories.create_user(session, roles=(Role.FRONTDESK,))
        url = url.replace("{other_user_id}", str(other.id))
    assert "{" not in url, f"unknown placeholder left in {url!r}: fill it in concrete_url"
    return url


async def request_case(case: Case, method: str, db: Database, visitor: Visitor) -> httpx2.Response:
    url = await concrete_url(case, db, visitor)
    if method == "GET":
        return await visitor.http.get(url)
    if method == "POST":
        data = {**case.data, "csrf_token": await post_token(visitor)}
        return await visitor.http.post(url, data=data)
    raise AssertionError(f"request_case does not know how to send {method}: add it")


def _bare_app(tmp_path: Path) -> Starlette:
    """The app as built for production, without a database (routes only)."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        secret_key="route-matrix-secret-key-0123456789abcdef",
        environment=Environment.TEST,
        timezone="America/New_York",
        currency="usd",
        base_url=BASE_URL,
        var_dir=tmp_path,
    )
    return create_app(settings)


# Tests


def test_the_matrix_has_a_column_for_every_role() -> None:
    assert set(ROLES[1:]) == {r.value for r in Role}, (
        "A role was added or removed: give Case a column for it and fill it in for "
        "every row of EXPECTED in tests/security/test_route_matrix.py"
    )


def test_every_route_is_in_the_matrix(tmp_path: Path) -> None:
    entries = app_routes(_bare_app(tmp_path))
    counts = Counter(entry.key for entry in entries)
    assert not [k for k, n in counts.items() if n > 1], f"routes listed twice: {counts}"

    routed = set(counts)
    missing = sorted(routed - set(EXPECTED))
    gone = sorted(set(EXPECTED) - routed)
    assert not missing, (
        "These routes have no row in EXPECTED in tests/security/test_route_matrix.py. "
        "Add one for each, with the exact status every role gets:\n"
        + "\n".join(f"    {_route_id(k)}" for k in missing)
    )
    assert not gone, (
        "EXPECTED in tests/security/test_route_matrix.py lists routes the app no longer "
        "has. Remove (or rename) these rows:\n" + "\n".join(f"    {_route_id(k)}" for k in gone)
    )


def test_every_guarded_route_sends_anonymous_visitors_to_sign_in(tmp_path: Path) -> None:
    guarded = [e for e in app_routes(_bare_app(tmp_path)) if e.required_roles is not None]
    assert guarded, "no route carries required_roles: has requires() changed?"
    for entry in guarded:
        case = EXPECTED.get(entry.key)
        assert case is not None, f"{_route_id(entry.key)} is guarded but not in EXPECTED"
        assert case.anonymous == 303, (
            f"{_route_id(entry.key)} is guarded by requires(): anonymous must expect 303"
        )
        roles = entry.required_roles or frozenset()
        for role in ROLES[1:]:
            status = case.expected(role)
            if Role(role) in roles:
                assert status not in (303, 403), (
                    f"{_route_id(entry.key)}: requires() lets {role} in, EXPECTED says {status}"
                )
            else:
                assert status == 403, (
                    f"{_route_id(entry.key)}: requires() refuses {role}, EXPECTED says {status}"
                )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", sorted(EXPECTED), ids=_route_id)
async def test_route_answers_each_role_as_expected(
    app: Starlette, http: httpx2.AsyncClient, db: Database, key: tuple[str, str], role: str
) -> None:
    method, template = key
    case = EXPECTED[key]
    visitor = await become(http, db, role)

    response = await request_case(case, method, db, visitor)

    expected = case.expected(role)
    assert response.status_code == expected, (
        f"{method} {template} as {role}: expected {expected}, got {response.status_code}\n"
        f"{response.text[:500]}"
    )
    if response.status_code in (301, 302, 303, 307, 308):
        target = urlsplit(response.headers["location"])
        assert (target.scheme, target.netloc) in {("", ""), ("https", "testserver")}, (
            f"{method} {template} as {role} redirects off the site: {target.geturl()}"
        )
    guarded = {e.key: e for e in app_routes(app)}[key].required_roles is not None
    if role == ANONYMOUS and guarded:
        path = response.request.url.path
        assert response.headers["location"] == f"/login?next={quote(path, safe='/')}"


async def test_a_missing_account_gets_403_not_404_for_non_admins(
    http: httpx2.AsyncClient, db: Database
) -> None:
    """The guard runs before the lookup: no existence oracle for other roles."""
    await become(http, db, Role.FRONTDESK.value)
    assert (await http.get("/admin/users/999999999")).status_code == 403


async def test_a_missing_account_gets_404_for_an_admin(
    http: httpx2.AsyncClient, db: Database
) -> None:
    await become(http, db, Role.ADMIN.value)
    assert (await http.get("/admin/users/999999999")).status_code == 404
