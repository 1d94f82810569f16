"""One way to drive both gateways in the same tests: a seeded clinic, an app whose
payments go through the gateway under test, and the client's side of checkout (the demo
page for the offline gateway; the stand-in Stripe's hosted page and its signed webhooks
for Stripe)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import httpx2
import pytest
from sqlalchemy import select

from clinic import clock
from clinic.app import create_app
from clinic.booking.bookings import ClientDetails
from clinic.booking.holds import place_hold
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentSource
from clinic.booking.taking import SlotRequest
from clinic.db import Database
from clinic.payments.checkout import Started, online_payment_for_hold, start_booking_checkout
from clinic.payments.gateway import install_gateway
from clinic.payments.models import Payment
from clinic.payments.offline import OfflineGateway
from clinic.payments.port import PaymentGateway
from clinic.scheduling.models import Service
from clinic.settings import PaymentsMode, Settings
from tests.fakestripe import IN_PROCESS_BASE, SECRET_KEY, FakeStripe

BASE = "https://testserver"
CLIENT = ClientDetails("Ruth Example", "ruth.example@example.com", "(215) 555-0142")
OTHER = ClientDetails("Sam Other", "sam.other@example.com", "(215) 555-0199")
WEBHOOK = "/payments/stripe/webhook"


@dataclass
class Harness:
    name: str
    db: Database
    http: httpx2.AsyncClient
    gateway: PaymentGateway
    fake: FakeStripe | None = None

    # -- the clinic's side ---------------------------------------------------------------

    async def set_rule(self, service_name: str, kind: str, value: int | None = None) -> int:
        async with self.db.transaction() as session:
            service = await session.scalar(select(Service).where(Service.name == service_name))
            assert service is not None
            service.deposit_kind, service.deposit_value = kind, value
            return service.id

    async def hold(self, service: int, start: datetime, therapist: int | None = None) -> str:
        held = await place_hold(
            self.db,
            SlotRequest(service_id=service, start=start, therapist_id=therapist),
            owner=None,
            address=f"203.0.113.{start.minute}",
            source=AppointmentSource.ONLINE,
            currency="usd",
        )
        return held.token

    async def checkout(self, hold_token: str, client: ClientDetails = CLIENT) -> Started:
        due = await online_payment_for_hold(self.db, hold_token)
        assert due is not None
        return await start_booking_checkout(
            self.db, self.gateway, hold_token=hold_token, client=client, due=due, base_url=BASE
        )

    async def payment(self, payment_id: int) -> Payment:
        async with self.db.reading() as session:
            found = await session.get(Payment, payment_id)
        assert found is not None
        return found

    async def appointment(self, appointment_id: int) -> Appointment:
        async with self.db.reading() as session:
            found = await session.get(Appointment, appointment_id)
        assert found is not None
        return found

    async def age_checkout(self, payment_id: int, *, minutes: int = 40) -> None:
        """As if the checkout (and the hold kept for it) had opened `minutes` ago."""
        shift = timedelta(minutes=minutes)
        async with self.db.transaction() as session:
            payment = await session.get(Payment, payment_id)
            assert payment is not None
            assert payment.checkout_expires_at is not None
            payment.checkout_expires_at -= shift
            appointment = await session.get(Appointment, payment.appointment_id)
            assert appointment is not None
            if appointment.hold_expires_at is not None:
                appointment.hold_expires_at -= shift

    # -- the client's and the provider's side --------------------------------------------

    async def pay(self, payment_id: int, card: str = "4242", *, deliver: bool = True) -> Any:
        """The client completes the checkout page with a test card."""
        payment = await self.payment(payment_id)
        assert payment.checkout_id is not None
        if self.fake is None:
            path = f"/pay/demo/{payment.checkout_id}"
            page = await self.http.get(path)
            token = _csrf(page.text)
            data = {"csrf_token": token, "card": card}
            if card == "3184":
                data["authenticated"] = "yes"
            return await self.http.post(path, data=data)
        before = len(self.fake.events)
        self.fake.complete_checkout(payment.checkout_id, card)
        if deliver:
            await self.deliver(self.fake.events[before:])
        return None

    async def deliver(self, events: list[dict[str, Any]], **switches: Any) -> list[Any]:
        assert self.fake is not None
        return await self.fake.deliver(
            events,
            lambda body, headers: self.http.post(WEBHOOK, content=body, headers=headers),
            **switches,
        )

    async def deliver_new(self, since: int) -> None:
        if self.fake is not None:
            await self.deliver(self.fake.events[since:])

    def event_count(self) -> int:
        return len(self.fake.events) if self.fake is not None else 0


def _csrf(html: str) -> str:
    import re

    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


async def harness_for(
    kind: str, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Harness]:
    if kind == "offline":
        gateway: PaymentGateway = OfflineGateway(db, BASE)
        app_settings = settings
        fake = None
    else:
        import stripe

        from clinic.payments.stripe_gateway import StripeGateway

        monkeypatch.setattr(stripe, "enable_telemetry", False)
        fake = FakeStripe()
        # The stand-in keeps the clinic's (frozen) time.
        fake.clock = lambda: clock.now_utc().timestamp()
        gateway = StripeGateway(
            SECRET_KEY,
            fake.webhook_secret,
            api_base=IN_PROCESS_BASE,
            http_client=fake.http_client(),
        )
        app_settings = replace(
            settings,
            payments=PaymentsMode.STRIPE,
            stripe_secret_key=SECRET_KEY,
            stripe_webhook_secret=fake.webhook_secret,
            stripe_api_base=IN_PROCESS_BASE,
        )
    install_gateway(db, gateway)
    app = create_app(app_settings, db=db)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url=BASE) as http:
        yield Harness(kind, db, http, gateway, fake)
    if fake is not None:
        fake.close()
