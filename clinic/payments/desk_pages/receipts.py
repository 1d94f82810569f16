"""The printable receipt of one visit (`desk:receipt`): the business, the therapist's
licence number, what was treated and what was paid, as clients and insurers need it.
It shows no intake or care plan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from clinic.auth.models import Role
from clinic.auth.web import requires
from clinic.clock import now_utc
from clinic.payments.desk_pages.common import provider_of, rate_words
from clinic.payments.desk_pages.ledger import ledger_of
from clinic.payments.pricing import ReceiptSettings
from clinic.payments.states import PaymentState
from clinic.scheduling.models import Location
from clinic.staff.models import Credential, CredentialKind
from clinic.web.caching import no_store
from clinic.web.context import db_of, settings_of, templates_of


@dataclass(frozen=True)
class Business:
    name: str
    address: str
    phone: str
    tax_id: str


def best_licence(credentials: list[Credential], on: date) -> str:
    """The licence number to print: verified and current on the visit's day first."""
    numbered = [c for c in credentials if c.number.strip()]
    if not numbered:
        return ""

    def rank(c: Credential) -> tuple[bool, bool, date]:
        current = c.expires_on is None or c.expires_on >= on
        return (c.verified_at is not None and current, current, c.expires_on or date.max)

    return max(numbered, key=rank).number.strip()


async def _licence_number(session: AsyncSession, therapist_id: int, on: date) -> str:
    credentials = list(
        await session.scalars(
            select(Credential).where(
                Credential.therapist_id == therapist_id,
                Credential.kind == CredentialKind.MASSAGE_LICENCE,
            )
        )
    )
    return best_licence(credentials, on)


async def _business(session: AsyncSession, location_id: int, settings: ReceiptSettings) -> Business:
    location = await session.get(Location, location_id)
    return Business(
        name=settings.legal_name.strip() or (location.name if location is not None else ""),
        address=location.address if location is not None else "",
        phone=location.phone if location is not None else "",
        tax_id=settings.tax_id.strip(),
    )


@requires(Role.FRONTDESK)
async def receipt(request: Request) -> Response:
    appointment_id = int(request.path_params["appointment_id"])
    zone = settings_of(request).zone
    async with db_of(request).reading() as session:
        ledger = await ledger_of(session, appointment_id, provider=provider_of(request))
        visit = ledger.visit
        visit_day = visit.appointment.starts_at.astimezone(zone).date()
        business = await _business(session, visit.appointment.location_id, ledger.settings)
        licence = await _licence_number(session, visit.therapist_id, visit_day)
    response = templates_of(request).TemplateResponse(
        request,
        "desk/receipt.html",
        {
            "ledger": ledger,
            "visit": visit,
            "account": ledger.account,
            "currency": ledger.account.currency,
            "business": business,
            "licence": licence,
            "zone": zone,
            "rate": rate_words(ledger.settings.tax_rate_basis_points),
            "issued_at": now_utc(),
            "paid_lines": [
                p
                for p in ledger.payments
                if p.payment.state in (PaymentState.SUCCEEDED, PaymentState.REFUNDED)
            ],
        },
    )
    return no_store(response)
