"""Booking a service that takes a deposit online, in headless Chromium with JavaScript on:
the booking pages, the check page's card consent, the stand-in Stripe's hosted checkout
page on another port, and the way back to "Appointment booked" (issue 9, payments).

The browser goes where the app's answers send it: the Content Security Policy's
form-action must admit the checkout's origin, or Chromium refuses the redirect.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.clients.models import Client
from clinic.db import Database
from clinic.payments.models import Payment, PaymentEvent
from clinic.payments.states import PaymentKind, PaymentState
from clinic.web.formatting import money
from tests.booking.test_health_pages import answers
from tests.browser.conftest import (
    CURRENCY,
    MISSING_BROWSER,
    SERVICE_NAME,
    ClinicSite,
    PageLog,
)
from tests.fakestripe import FakeStripe

if MISSING_BROWSER is not None:
    pytest.skip(MISSING_BROWSER, allow_module_level=True)

from playwright.async_api import Page, Request, expect

CARD_CONSENT = "card_consent"
PAID_CARD = "4242"
DECLINED_CARD = "0002"
WEBHOOK_SECONDS = 10.0


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# --- Walking the booking pages ----------------------------------------------------------


async def continue_(page: Page, button: str = "Continue") -> None:
    await page.get_by_role("button", name=button, exact=True).click()


async def fill_health_form(page: Page) -> None:
    """The form as a client with nothing to report answers it: "no" to every required
    question, the first option of every required choice, signed (as in the booking tests)."""
    form = page.locator("form[data-intake-form]")
    for name, value in answers(False).items():
        for one in [value] if isinstance(value, str) else value:
            fields = form.locator(f'[name="{name}"]')
            kind = await fields.first.evaluate(
                "el => el.tagName === 'INPUT' ? el.type : el.tagName.toLowerCase()"
            )
            if kind in ("radio", "checkbox"):
                await form.locator(f'[name="{name}"][value="{one}"]').check()
            elif kind == "select":
                await fields.select_option(one)
            else:
                await fields.fill(one)
    await continue_(page, "Sign and send")


async def to_check_page(page: Page, site: ClinicSite, client: dict[str, str]) -> None:
    """/book: the deposit-taking service, "no" to the health questions, anyone suitable,
    the first free time, the client's details; stops on the check page."""
    app = site.base_url
    await page.goto(f"{app}/book")
    await page.get_by_label(SERVICE_NAME, exact=True).check()
    await continue_(page)

    await page.wait_for_url(re.compile(re.escape(f"{app}/book/health")))
    await page.locator('input[name="cancer_history"][value="no"]').check()
    await continue_(page)

    await page.wait_for_url(re.compile(re.escape(f"{app}/book/health/form")))
    await fill_health_form(page)
    await expect(page.get_by_role("heading", level=1)).to_contain_text("What we will adapt for you")
    await page.get_by_role("link", name="Continue", exact=True).click()

    await page.wait_for_url(re.compile(re.escape(f"{app}/book/therapist")))
    await page.get_by_label("Anyone suitable (earliest times)").check()
    await continue_(page)

    await page.wait_for_url(re.compile(re.escape(f"{app}/book/time")))
    times = page.locator('input[name="start"]')
    if not await times.count():
        # No free time on the day shown: the day of the next one.
        await page.get_by_role("link", name=re.compile(r"^Next available")).click()
        await expect(times.first).to_be_visible()
    await times.first.check()
    await page.locator('form:has(input[name="start"]) button[type="submit"]').click()

    await page.wait_for_url(f"{app}/book/details")
    await page.get_by_label("Full name").fill(client["name"])
    await page.get_by_label("Email address").fill(client["email"])
    await page.get_by_label("Mobile number").fill(client["phone"])
    await continue_(page)

    await page.wait_for_url(f"{app}/book/check")
    await expect(page.get_by_role("heading", level=1)).to_contain_text(
        "Check your answers before booking"
    )


async def to_checkout(page: Page, site: ClinicSite, log: PageLog) -> None:
    """On the check page: the deposit is shown, the card consent is required, and
    "Continue to payment" sends the browser to the stand-in's hosted page."""
    deposit = money(site.deposit_minor, CURRENCY)
    await expect(
        page.get_by_text(f"A deposit of {deposit}, by card on the next page")
    ).to_be_visible()

    # Without the consent the check page comes back with the error, on the clinic's site
    # (a 422, which Chromium logs).
    log.allow(f"status of 422 (Unprocessable Entity) ({{'url': '{site.base_url}/book/check'")
    await continue_(page, "Continue to payment")
    await expect(page.locator(f"#{CARD_CONSENT}-error")).to_contain_text("Tick the box to agree")
    assert origin(page.url) == site.base_url

    await page.locator(f"#{CARD_CONSENT}").check()
    await continue_(page, "Continue to payment")
    await page.wait_for_url(re.compile(re.escape(f"{site.fake.base_url}/checkout/")))
    assert origin(page.url) == site.fake.base_url != site.base_url
    await expect(page.get_by_role("heading", level=1)).to_have_text("Test checkout")
    amount = site.deposit_minor
    await expect(page.locator(".amount")).to_have_text(f"{amount // 100}.{amount % 100:02d} USD")


async def pay(page: Page, card: str) -> None:
    await page.locator(f'input[name="card"][value="{card}"]').check()
    await continue_(page, "Pay")


async def pay_and_return(page: Page, site: ClinicSite) -> Request:
    """Pay with the card that works; returns the request for the done page once the
    browser has landed there ("Appointment booked")."""
    done = re.compile(re.escape(f"{site.base_url}/book/done/"))
    async with page.expect_response(done) as landed:
        await pay(page, PAID_CARD)
    response = await landed.value
    assert response.status == 200
    await page.wait_for_url(done)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Appointment booked")
    return response.request


def redirect_chain(request: Request) -> list[str]:
    """The addresses the browser was sent through to reach `request`, first first."""
    chain: list[str] = []
    hop: Request | None = request
    while hop is not None:
        chain.append(f"{hop.method} {hop.url}")
        hop = hop.redirected_from
    return chain[::-1]


# --- What the clinic recorded -----------------------------------------------------------


@dataclass(frozen=True)
class Booked:
    appointments: list[Appointment]
    payments: list[Payment]
    events: list[PaymentEvent]


async def recorded_for(site: ClinicSite, email: str) -> Booked:
    """The client's appointments and payments in the served database, and the provider
    events the app took in."""
    db = Database.connect(site.database_url, pool_size=1)
    try:
        async with db.reading() as session:
            client_id = await session.scalar(select(Client.id).where(Client.email == email))
            appointments = (
                []
                if client_id is None
                else list(
                    await session.scalars(
                        select(Appointment)
                        .where(
                            (Appointment.client_id == client_id)
                            | (Appointment.booked_by_client_id == client_id)
                        )
                        .order_by(Appointment.id)
                    )
                )
            )
            ids = [a.id for a in appointments]
            payments = list(
                await session.scalars(
                    select(Payment).where(Payment.appointment_id.in_(ids)).order_by(Payment.id)
                )
            )
            events = list(await session.scalars(select(PaymentEvent)))
    finally:
        await db.dispose()
    return Booked(appointments, payments, events)


def deliveries_answered(fake: FakeStripe) -> None:
    """The app answered 200 to every webhook the stand-in POSTed to it."""
    assert all(d.status == 200 and not d.error for d in fake.deliveries), fake.deliveries


async def checkout_completed_webhooks(fake: FakeStripe) -> set[str]:
    """Wait for the stand-in to POST checkout.session.completed to the app (and every
    other event so far); their event ids."""

    def completed() -> set[str]:
        return {d.event_id for d in fake.deliveries if d.event_type == "checkout.session.completed"}

    loop = asyncio.get_running_loop()
    deadline = loop.time() + WEBHOOK_SECONDS
    while not completed():
        assert loop.time() < deadline, (
            f"no checkout.session.completed reached the app in {WEBHOOK_SECONDS} s: "
            f"{fake.deliveries}"
        )
        await asyncio.sleep(0.05)
    await fake.wait_for_webhooks_async(WEBHOOK_SECONDS)
    deliveries_answered(fake)
    return completed()


def reference_on(page_text: str) -> int:
    match = re.search(r"Your reference\s+(\d+)", page_text)
    assert match, page_text[:500]
    return int(match.group(1))


# --- The tests --------------------------------------------------------------------------


async def test_a_client_pays_the_deposit_on_the_checkout_page_and_is_booked(
    page: Page, clinic_site: ClinicSite, page_log: PageLog
) -> None:
    client = {"name": "Ruth Browser", "email": "ruth.browser@example.com", "phone": "2155550142"}
    await to_check_page(page, clinic_site, client)
    await to_checkout(page, clinic_site, page_log)

    done = await pay_and_return(page, clinic_site)
    chain = redirect_chain(done)
    fake, app = clinic_site.fake.base_url, clinic_site.base_url
    assert chain[0].startswith(f"POST {fake}/checkout/"), chain
    assert chain[1].startswith(f"GET {app}/book/paid/"), chain
    assert chain[2].startswith(f"GET {app}/book/done/"), chain
    reference = reference_on(await page.locator("main").inner_text())

    webhooks = await checkout_completed_webhooks(clinic_site.fake)
    booked = await recorded_for(clinic_site, client["email"])
    assert webhooks <= {e.event_id for e in booked.events}, "the app did not record the webhook"
    [appointment] = booked.appointments
    assert appointment.id == reference
    assert appointment.status is AppointmentStatus.CONFIRMED
    assert appointment.service_id == clinic_site.service_id
    [payment] = booked.payments
    assert payment.state is PaymentState.SUCCEEDED
    assert payment.kind is PaymentKind.DEPOSIT
    assert payment.amount_minor == clinic_site.deposit_minor
    assert payment.currency == CURRENCY
    [session] = clinic_site.fake.sessions.values()
    assert session["amount_total"] == clinic_site.deposit_minor
    assert session["payment_status"] == "paid"
    assert page_log.unexpected() == []


async def test_a_declined_card_books_nothing_until_a_card_that_works_pays(
    page: Page, clinic_site: ClinicSite, page_log: PageLog
) -> None:
    client = {"name": "Dana Declined", "email": "dana.declined@example.com", "phone": "2155550143"}
    await to_check_page(page, clinic_site, client)
    await to_checkout(page, clinic_site, page_log)
    checkout_url = page.url

    await pay(page, DECLINED_CARD)
    await expect(page.get_by_role("alert")).to_have_text(
        "Your card was declined. Try another card."
    )
    assert page.url == checkout_url
    await clinic_site.fake.wait_for_webhooks_async(WEBHOOK_SECONDS)
    deliveries_answered(clinic_site.fake)
    booked = await recorded_for(clinic_site, client["email"])
    # The time stays held while the client pays; nothing is booked or taken.
    assert [a.status for a in booked.appointments] == [AppointmentStatus.HELD]
    assert [p.state for p in booked.payments] == [PaymentState.PENDING]

    await pay_and_return(page, clinic_site)
    reference = reference_on(await page.locator("main").inner_text())
    webhooks = await checkout_completed_webhooks(clinic_site.fake)
    booked = await recorded_for(clinic_site, client["email"])
    assert webhooks <= {e.event_id for e in booked.events}, "the app did not record the webhook"
    [appointment] = booked.appointments
    assert appointment.id == reference
    assert appointment.status is AppointmentStatus.CONFIRMED
    [payment] = booked.payments
    assert payment.state is PaymentState.SUCCEEDED
    assert payment.amount_minor == clinic_site.deposit_minor
    assert page_log.unexpected() == []
