"""The client's payment pages with the offline gateway, driven as a browser without
JavaScript would: the deposit on the check page with its consent, the labelled demo
checkout (pay, decline, authenticate), the booked page, cancelling with a fee and with a
medical excuse, and the pay link of a fee the saved card could not pay."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx2
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clinic import clock
from clinic.booking.bookings import mark_no_show
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.clients.models import Client
from clinic.db import Database
from clinic.payments.gateway import gateway_for
from clinic.payments.models import Payment, SavedCard
from clinic.payments.settlement import settle_appointment
from clinic.payments.states import PaymentKind, PaymentState
from clinic.scheduling.models import Service
from clinic.settings import Settings
from clinic.worker import build_worker
from tests.booking.conftest import CLIENT
from tests.booking.test_emails import mail_in
from tests.booking.test_pages import (
    choose_time,
    get_page,
    post_form,
    see_other,
    submit,
    text_of,
)

pytestmark = pytest.mark.usefixtures("frozen")

SWEDISH_90 = "Swedish massage, 90 min"  # $135: a 25% deposit is $33.75


async def _deposit_rule(db: Database) -> int:
    async with db.transaction() as session:
        service = await session.scalar(select(Service).where(Service.name == SWEDISH_90))
        assert service is not None
        service.deposit_kind, service.deposit_value = "percent", 25
        return service.id


async def _payments_of_our_client(session: AsyncSession) -> list[Payment]:
    """The payments of the client these tests book as (the demo has payments of its own)."""
    return list(
        await session.scalars(
            select(Payment)
            .join(Client, Client.id == Payment.client_id)
            .where(Client.email == CLIENT["email"])
            .order_by(Payment.id)
        )
    )


async def _to_check_page(http: httpx2.AsyncClient, service: int) -> str:
    walk, start = await choose_time(http, service, "any")
    details_url = see_other(await submit(http, walk.pages["time"], "/book/time", start=start))
    details = await get_page(http, details_url)
    return await get_page(http, see_other(await submit(http, details, **CLIENT)))


async def _to_demo_checkout(http: httpx2.AsyncClient, service: int) -> str:
    check = await _to_check_page(http, service)
    demo_url = see_other(await submit(http, check, card_consent="yes"))
    assert demo_url.startswith("/pay/demo/off_cs_")
    return demo_url


async def _pay(http: httpx2.AsyncClient, demo_url: str, card: str = "4242") -> str:
    """Pay on the demo page; returns the booked page's address."""
    page = await get_page(http, demo_url)
    done = see_other(await submit(http, page, card=card))
    assert done.startswith("/book/done/")
    return done


async def test_the_check_page_asks_for_the_deposit_and_consent_to_the_fee_terms(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service = await _deposit_rule(seeded)
    check = await _to_check_page(http, service)
    words = text_of(check)
    assert "A deposit of $33.75, by card on the next page" in words
    assert "Continue to payment" in words
    assert "card_consent" in post_form(check).checkboxes
    refused = await submit(http, check)
    assert refused.status_code == 422
    assert "Tick the box to agree to the fee terms" in text_of(refused.text)
    assert refused.text.count('id="card_consent-error"') == 1
    async with seeded.reading() as session:
        assert await _payments_of_our_client(session) == []


async def test_a_client_pays_the_deposit_on_the_demo_page_and_is_booked(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service = await _deposit_rule(seeded)
    demo_url = await _to_demo_checkout(http, service)
    page = await get_page(http, demo_url)
    assert "Demo checkout: no money moves." in text_of(page)
    assert "Pay $33.75" in text_of(page)

    declined = await submit(http, page, card="0002")
    assert declined.status_code == 402
    assert "Your card was declined" in text_of(declined.text)

    asks = await submit(http, page, card="3184")
    assert asks.status_code == 200
    assert "Your bank asks you to confirm" in text_of(asks.text)
    failed = await submit(http, asks.text, authenticated="no")
    assert failed.status_code == 402
    assert "not authenticated" in text_of(failed.text)
    done = see_other(await submit(http, asks.text, authenticated="yes"))
    assert done.startswith("/book/done/")

    booked = await get_page(http, done)
    assert "Appointment booked" in text_of(booked)
    assert "You paid $33.75; $101.25 is paid at your visit." in text_of(booked)
    async with seeded.reading() as session:
        [payment] = await _payments_of_our_client(session)
        card = await session.scalar(
            select(SavedCard).where(SavedCard.client_id == payment.client_id)
        )
        assert payment is not None
        appointment = await session.get(Appointment, payment.appointment_id)
    assert payment.state is PaymentState.SUCCEEDED
    assert card is not None
    assert (card.brand, card.last4) == ("demo", "3184")
    assert appointment is not None
    assert appointment.status is AppointmentStatus.CONFIRMED
    # The demo page of a paid checkout says it has ended.
    assert (await http.get(demo_url)).status_code == 410


async def test_a_late_cancellation_counts_the_deposit_and_an_excuse_refunds_it(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service = await _deposit_rule(seeded)
    manage = (await _pay(http, await _to_demo_checkout(http, service))).replace(
        "/book/done/", "/manage/"
    )
    # The day before the visit: inside the 24-hour window, the fee is half the price.
    with clock.frozen_at(datetime(2026, 11, 30, 20, 0, tzinfo=UTC)):
        cancel = await get_page(http, f"{manage}/cancel")
        words = text_of(cancel)
        assert "Cancelling now costs $67.50" in words
        assert (
            "The $33.75 you paid counts towards the fee; the rest, $33.75, is charged to the "
            "card you saved." in words
        )
        assert "there is no fee and what you paid is refunded in full" in words
        answer = see_other(await submit(http, cancel, medically_excused="yes"))
        shown = text_of(await get_page(http, answer))
    assert "You paid $33.75: it is refunded in full to your card." in shown


async def test_a_fee_the_saved_card_could_not_pay_is_paid_through_the_pay_link(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    service = await _deposit_rule(seeded)
    done = await _pay(http, await _to_demo_checkout(http, service), card="0341")
    async with seeded.reading() as session:
        [deposit] = await _payments_of_our_client(session)
    assert deposit is not None
    with clock.frozen_at(datetime(2026, 12, 2, 12, 0, tzinfo=UTC)):
        await mark_no_show(seeded, deposit.appointment_id)
        await settle_appointment(seeded, gateway_for(settings, seeded), deposit.appointment_id)
    async with seeded.reading() as session:
        fee = await session.scalar(
            select(Payment).where(
                Payment.kind == PaymentKind.NO_SHOW_FEE,
                Payment.appointment_id == deposit.appointment_id,
            )
        )
    assert fee is not None
    assert fee.state is PaymentState.AWAITING_CLIENT
    # The worker sends the pay link by email (the message is due from the no-show on).
    with clock.frozen_at(datetime(2026, 12, 2, 12, 1, tzinfo=UTC)):
        await build_worker(seeded, settings).run_once()
    [message] = [
        m for m in mail_in(settings.var_dir / "mail") if m["Subject"].startswith("Please pay")
    ]
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "$101.25" in text
    link = next(line for line in text.split() if "/pay/" in line).replace(settings.base_url, "")
    page = await get_page(http, link)
    assert "Pay $101.25" in text_of(page)
    demo_url = see_other(await submit(http, page))
    assert demo_url.startswith("/pay/demo/")
    paid = await submit(http, await get_page(http, demo_url), card="4242")
    assert paid.status_code == 200
    assert "Payment received" in text_of(paid.text)
    assert "This has been paid. Thank you." in text_of(await get_page(http, link))
    assert re.search(r"/book/done/\S+", done)
