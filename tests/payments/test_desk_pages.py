"""The desk's payment pages: money taken at the desk (with tips) lowers the balance, typed
amounts that are not money are field errors (never a 500), refunds are shown and raise
the balance, the receipt carries what insurers ask for and nothing clinical, the takings
add up by method, a no-show charges the saved card, and only the front desk gets in."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx2
import pytest
from sqlalchemy import select

from clinic import clock
from clinic.auth.models import Role
from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.db import Database
from clinic.options import set_option
from clinic.outbox.models import OutboxMessage
from clinic.payments.desk_pages import best_licence, parse_day, rate_words
from clinic.payments.events import EXECUTE_REFUND
from clinic.payments.gateway import install_gateway
from clinic.payments.models import Payment, Refund, SavedCard
from clinic.payments.offline import OfflineGateway, card_method_id
from clinic.payments.port import GatewayUnavailable, RefundRequest, RefundResult
from clinic.payments.pricing import RECEIPT_OPTION
from clinic.payments.states import PaymentKind, PaymentMethod, PaymentState, RefundState
from clinic.scheduling.models import Location, Service
from clinic.settings import Settings
from clinic.staff.models import Credential, CredentialKind
from clinic.web.formatting import money
from clinic.web.money_input import MoneyError, major_units, parse_money
from tests import factories
from tests.booking.conftest import NOW, TODAY

pytestmark = pytest.mark.usefixtures("frozen")


LICENCE = "MT-0123456"
LATER = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
# Words from intake answers and care plans that must never reach a desk page or a receipt.
HEALTH_WORDS = ("pressure", "clearance", "diagnos", "intake", "care plan", "precaution", "lymph")


@dataclass(frozen=True)
class Scene:
    appointment_id: int
    client_id: int
    price_minor: int

    @property
    def page(self) -> str:
        return f"/desk/appointments/{self.appointment_id}/payments"


async def make_visit(
    db: Database,
    *,
    starts_at: datetime = NOW - timedelta(hours=3),
    status: AppointmentStatus = AppointmentStatus.COMPLETED,
    service_name: str = "Swedish massage, 60 min",
) -> Scene:
    """A visit with its own therapist (licensed) and client, so nothing else overlaps it."""
    async with db.transaction() as session:
        location = await session.scalar(select(Location).order_by(Location.id).limit(1))
        service = await session.scalar(select(Service).where(Service.name == service_name))
        assert location is not None
        assert service is not None
        therapist = await factories.create_therapist(session, display_name="Dana Payton")
        await factories.create_credential(
            session, therapist=therapist, kind=CredentialKind.MASSAGE_LICENCE, number=LICENCE
        )
        client = await factories.create_client(session, name="Ruth Payer")
        appointment = await factories.create_appointment(
            session,
            location=location,
            therapist=therapist,
            client=client,
            service=service,
            starts_at=starts_at,
            status=status,
        )
        return Scene(appointment.id, client.id, appointment.price_minor)


async def desk(http: httpx2.AsyncClient, db: Database) -> None:
    await factories.sign_in_as(http, db, Role.FRONTDESK)


async def post(
    http: httpx2.AsyncClient, form_page: str, url: str, data: dict[str, str]
) -> httpx2.Response:
    token = await factories.form_token(http, form_page)
    return await http.post(url, data={**data, "csrf_token": token})


async def payments_of(db: Database, appointment_id: int) -> list[Payment]:
    async with db.reading() as session:
        return list(
            await session.scalars(
                select(Payment).where(Payment.appointment_id == appointment_id).order_by(Payment.id)
            )
        )


def usd(minor: int) -> str:
    return money(minor, "usd")


def assert_nothing_clinical(text: str) -> None:
    lowered = text.lower()
    for word in HEALTH_WORDS:
        assert word not in lowered, f"the page shows {word!r}"


# Typed money, without a database


@pytest.mark.parametrize(
    ("typed", "minor"),
    [
        ("85", 8500),
        ("85.00", 8500),
        ("$85.00", 8500),
        (" 85.5 ", 8550),
        ("1,085.50", 108550),
        ("USD 12", 1200),
        (".75", 75),
        ("0", 0),
    ],
)
def test_desk_money_reads_as_minor_units(typed: str, minor: int) -> None:
    assert parse_money(typed, "usd") == minor


@pytest.mark.parametrize(
    "typed", ["abc", "-5", "1e9", "", "85.001", "NaN", "Infinity", "8,5", "1.2.3", "$", "９"]
)
def test_nonsense_money_is_refused_with_a_message(typed: str) -> None:
    with pytest.raises(MoneyError) as refused:
        parse_money(typed, "usd")
    assert str(refused.value).startswith("Enter the amount")


def test_zero_decimal_currencies_take_whole_amounts() -> None:
    assert parse_money("850", "jpy") == 850
    with pytest.raises(MoneyError, match="whole number"):
        parse_money("850.5", "jpy")
    assert major_units(850, "jpy") == "850"
    assert major_units(8550, "usd") == "85.50"


def test_tax_rates_read_as_percentages() -> None:
    assert rate_words(825) == "8.25%"
    assert rate_words(800) == "8%"
    assert rate_words(1000) == "10%"
    assert rate_words(850) == "8.5%"


def test_a_bad_day_is_refused_and_far_days_too() -> None:
    assert parse_day("2026-11-27") == TODAY
    for raw in ("yesterday", "2026-13-01", "9999-12-31", "0001-01-01"):
        with pytest.raises(ValueError, match="Enter"):
            parse_day(raw)


def test_the_receipt_prefers_a_verified_current_licence() -> None:
    day = TODAY
    lapsed = Credential(
        kind=CredentialKind.MASSAGE_LICENCE,
        number="OLD-1",
        expires_on=day - timedelta(days=1),
        verified_at=NOW,
    )
    unverified = Credential(kind=CredentialKind.MASSAGE_LICENCE, number="NEW-2", expires_on=None)
    current = Credential(
        kind=CredentialKind.MASSAGE_LICENCE,
        number="CUR-3",
        expires_on=day + timedelta(days=30),
        verified_at=NOW,
    )
    assert best_licence([lapsed, unverified, current], day) == "CUR-3"
    assert best_licence([lapsed], day) == "OLD-1"
    assert best_licence([Credential(kind=CredentialKind.MASSAGE_LICENCE, number=" ")], day) == ""
    assert best_licence([], day) == ""


# The pages


async def test_cash_with_a_tip_lowers_the_balance_and_is_listed(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    scene = await make_visit(seeded)
    await desk(http, seeded)
    page = await http.get(scene.page)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "Ruth Payer" in page.text
    assert "Dana Payton" in page.text
    assert "New York time" in page.text
    # The amount is prefilled with the balance, in major units.
    assert f'value="{major_units(scene.price_minor, "usd")}"' in page.text
    assert "No payments yet." in page.text

    part = scene.price_minor - 2000
    taken = await post(
        http,
        scene.page,
        scene.page,
        {"method": "cash", "amount": major_units(part, "usd"), "tip": "$10", "reference": ""},
    )
    assert taken.status_code == 303, taken.text
    assert taken.headers["location"] == scene.page

    page = await http.get(scene.page)
    assert "Cash payment of" in page.text  # the flash
    assert usd(1000) in page.text  # the tip
    assert "Paid" in page.text
    [payment] = await payments_of(seeded, scene.appointment_id)
    assert (payment.amount_minor, payment.tip_minor, payment.state) == (
        part,
        1000,
        PaymentState.SUCCEEDED,
    )
    assert payment.recorded_by_user_id is not None
    # The balance is what is left; the form now offers exactly that.
    assert f'value="{major_units(2000, "usd")}"' in page.text
    assert "Balance due" in page.text
    assert_nothing_clinical(page.text)


async def test_a_bank_transfer_without_a_reference_is_refused_beside_the_field(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    scene = await make_visit(seeded)
    await desk(http, seeded)
    refused = await post(
        http,
        scene.page,
        scene.page,
        {"method": "bank_transfer", "amount": "42.50", "tip": "5", "reference": "  "},
    )
    assert refused.status_code == 422
    assert "<title>Error: " in refused.text
    assert "There is a problem" in refused.text
    assert 'href="#reference"' in refused.text
    assert 'id="reference-error"' in refused.text
    assert "Enter the bank&#39;s reference for the transfer" in refused.text
    # What was typed is kept.
    assert 'value="42.50"' in refused.text
    assert 'id="tip" name="tip" type="text"' in refused.text
    assert 'value="5"' in refused.text
    assert 'value="bank_transfer" checked' in refused.text
    assert await payments_of(seeded, scene.appointment_id) == []


@pytest.mark.parametrize(
    ("amount", "tip", "field", "message"),
    [
        ("abc", "", "amount", "Enter the amount as a number"),
        ("-5", "", "amount", "Enter the amount as 0 or more"),
        ("1e9", "", "amount", "Enter the amount as a number"),
        ("", "", "amount", "Enter the amount taken for the visit"),
        ("0", "", "amount", "Enter the amount taken for the visit"),
        ("99999999999", "", "amount", "Enter an amount the size of a visit"),
        ("85.001", "", "amount", "no more than 2 decimal places"),
        ("85", "lots", "tip", "Enter the tip as a number"),
        ("85", "-1", "tip", "Enter the tip as 0 or more"),
    ],
)
async def test_nonsense_amounts_are_field_errors_never_500(
    seeded: Database, http: httpx2.AsyncClient, amount: str, tip: str, field: str, message: str
) -> None:
    scene = await make_visit(seeded)
    await desk(http, seeded)
    refused = await post(
        http, scene.page, scene.page, {"method": "cash", "amount": amount, "tip": tip}
    )
    assert refused.status_code == 422, refused.text[:300]
    assert f'id="{field}-error"' in refused.text
    assert message in refused.text
    assert await payments_of(seeded, scene.appointment_id) == []


async def test_no_method_chosen_is_a_field_error(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    scene = await make_visit(seeded)
    await desk(http, seeded)
    for method in ("", "card_online"):
        refused = await post(http, scene.page, scene.page, {"method": method, "amount": "85"})
        assert refused.status_code == 422
        assert "Choose cash, card machine or bank transfer" in refused.text
        assert 'href="#method"' in refused.text


async def _pay_cash(http: httpx2.AsyncClient, scene: Scene, amount: str, tip: str = "") -> None:
    taken = await post(
        http, scene.page, scene.page, {"method": "cash", "amount": amount, "tip": tip}
    )
    assert taken.status_code == 303, taken.text


async def test_an_over_refund_is_refused_beside_its_field(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    scene = await make_visit(seeded)
    await desk(http, seeded)
    await _pay_cash(http, scene, "50", "5")
    [payment] = await payments_of(seeded, scene.appointment_id)
    url = f"/desk/payments/{payment.id}/refund"
    field = f"refund_amount_{payment.id}"

    refused = await post(http, scene.page, url, {"amount": "55.01", "note": "Overcharged"})
    assert refused.status_code == 422
    assert "That is more than is left to refund on this payment" in refused.text
    assert f'id="{field}-error"' in refused.text
    assert f'href="#{field}"' in refused.text
    assert 'value="55.01"' in refused.text
    assert 'value="Overcharged"' in refused.text

    for nonsense in ("", "abc", "-1", "0"):
        refused = await post(http, scene.page, url, {"amount": nonsense})
        assert refused.status_code == 422, nonsense
        assert f'id="{field}-error"' in refused.text
    [unchanged] = await payments_of(seeded, scene.appointment_id)
    assert unchanged.refunded_minor == 0

    assert (
        await post(http, scene.page, "/desk/payments/999999/refund", {"amount": "1"})
    ).status_code == 404


async def test_refunding_cash_is_shown_and_raises_the_balance(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    scene = await make_visit(seeded)
    await desk(http, seeded)
    await _pay_cash(http, scene, major_units(scene.price_minor, "usd"))
    [payment] = await payments_of(seeded, scene.appointment_id)
    page = await http.get(scene.page)
    assert "Refund a payment" in page.text
    # Paid in full: nothing is left to prefill.
    assert re.search(r'id="amount"[^>]*value=""', page.text)

    refunded = await post(
        http,
        scene.page,
        f"/desk/payments/{payment.id}/refund",
        {"amount": "20.00", "note": "Session cut short"},
    )
    assert refunded.status_code == 303, refunded.text
    assert refunded.headers["location"] == scene.page
    page = await http.get(scene.page)
    assert f"Refund of {usd(2000)} recorded" in page.text
    assert "Session cut short" in page.text
    assert "Refunded by the desk" in page.text
    assert "Paid, partly refunded" in page.text
    # The balance rose by the refund, and the form offers it again.
    assert f'value="{major_units(2000, "usd")}"' in page.text
    [after] = await payments_of(seeded, scene.appointment_id)
    assert after.refunded_minor == 2000


async def test_the_receipt_has_what_insurers_ask_for_and_nothing_clinical(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    async with seeded.transaction() as session:
        await set_option(
            session,
            RECEIPT_OPTION,
            {
                "legal_name": "Willow and Oak Wellness LLC",
                "tax_id": "EIN 12-3456789",
                "tax_name": "Sales tax",
                "tax_rate_basis_points": 825,
                "prices_include_tax": True,
            },
        )
    scene = await make_visit(seeded)
    await desk(http, seeded)
    await _pay_cash(http, scene, "50", "7.50")
    receipt = await http.get(f"/desk/appointments/{scene.appointment_id}/receipt")
    assert receipt.status_code == 200
    assert receipt.headers["cache-control"] == "no-store"
    text = receipt.text
    assert "Willow and Oak Wellness LLC" in text
    assert "EIN 12-3456789" in text
    assert "2217 Walnut Street" in text
    assert "(215) 555-0170" in text
    assert f"<dd>{scene.appointment_id}</dd>" in text  # the receipt number
    assert "Ruth Payer" in text
    assert "Dana Payton" in text
    assert LICENCE in text
    assert "Swedish massage, 60 min" in text
    # 8.25% included in the price: net = price / 1.0825, rounded half up.
    net = (scene.price_minor * 10_000 * 2 + 10_825) // (2 * 10_825)
    assert f"Includes 8.25% sales tax of {usd(scene.price_minor - net)}" in text
    assert usd(750) in text  # the tip
    assert usd(scene.price_minor - 5000) in text  # the balance due
    assert "Cash" in text
    assert_nothing_clinical(text)


async def test_the_receipt_adds_tax_on_top_and_falls_back_to_the_location_name(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    async with seeded.transaction() as session:
        await set_option(
            session,
            RECEIPT_OPTION,
            {"tax_rate_basis_points": 1000, "prices_include_tax": False, "tax_name": "GST"},
        )
    scene = await make_visit(seeded)
    async with seeded.transaction() as session:
        for credential in await session.scalars(
            select(Credential).where(Credential.number == LICENCE)
        ):
            await session.delete(credential)
    await desk(http, seeded)
    receipt = await http.get(f"/desk/appointments/{scene.appointment_id}/receipt")
    text = receipt.text
    assert "Willow &amp; Oak Massage Therapy" in text
    assert "Tax ID" not in text
    assert "GST (10%)" in text
    tax = (scene.price_minor * 1000 * 2 + 10_000) // 20_000
    assert usd(tax) in text
    assert usd(scene.price_minor + tax) in text
    assert "Not recorded" in text
    # The payments page charges the price with the tax on top.
    page = await http.get(scene.page)
    assert f'value="{major_units(scene.price_minor + tax, "usd")}"' in page.text


async def test_takings_add_up_by_method_with_refunds(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    # A day after the demo's own payments (they are all taken by the seeding moment).
    with clock.frozen_at(LATER):
        first = await make_visit(seeded)
        second = await make_visit(seeded, starts_at=NOW - timedelta(hours=6))
        await desk(http, seeded)
        await _pay_cash(http, first, "40", "5")
        await _pay_cash(http, second, "30")
        card = await post(
            http,
            second.page,
            second.page,
            {"method": "terminal", "amount": "25", "tip": "2.50", "reference": "SLIP 0042"},
        )
        assert card.status_code == 303
        cash = (await payments_of(seeded, second.appointment_id))[0]
        refunded = await post(
            http, second.page, f"/desk/payments/{cash.id}/refund", {"amount": "10"}
        )
        assert refunded.status_code == 303

        page = await http.get("/desk/takings")
        assert page.status_code == 200
        assert "Thursday 3 December 2026" in page.text
        rows = {
            line.split("</th>")[0].rsplit(">", 1)[-1]: line
            for line in page.text.split('<th scope="row">')[1:]
        }
        assert set(rows) == {"Cash", "Card machine", "Total"}
        cash_row = rows["Cash"]
        assert "<td>2</td>" in cash_row
        assert all(usd(v) in cash_row for v in (7000, 500, 1000, 6500))
        terminal_row = rows["Card machine"]
        assert "<td>1</td>" in terminal_row
        assert all(usd(v) in terminal_row for v in (2500, 250, 2750))
        total_row = rows["Total"]
        assert "<td>3</td>" in total_row
        assert usd(9250) in total_row
        # Previous and next day links, and another day with nothing taken.
        assert "?day=2026-12-02" in page.text
        assert "?day=2026-12-04" in page.text
        other = await http.get("/desk/takings", params={"day": "2026-12-02"})
        assert other.status_code == 200
        assert "No payments or refunds on this day." in other.text


@pytest.mark.parametrize("day", ["tomorrow", "2026-02-30", "9999-12-31", "2026-11-27'--"])
async def test_a_bad_takings_day_gets_a_clear_message(
    seeded: Database, http: httpx2.AsyncClient, day: str
) -> None:
    await desk(http, seeded)
    page = await http.get("/desk/takings", params={"day": day})
    assert page.status_code == 400
    assert "<title>Error: " in page.text
    assert "There is a problem" in page.text
    assert "Enter" in page.text
    assert 'id="day-error"' in page.text


async def test_a_therapist_gets_403_on_the_desk_payment_pages(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    scene = await make_visit(seeded)
    await factories.sign_in_as(http, seeded, Role.THERAPIST)
    for url in (scene.page, f"/desk/appointments/{scene.appointment_id}/receipt", "/desk/takings"):
        assert (await http.get(url)).status_code == 403, url
    landing = await http.get("/login")
    token = await factories.form_token(http, landing.headers["location"])
    for url in (scene.page, f"/desk/appointments/{scene.appointment_id}/no-show"):
        answer = await http.post(url, data={"csrf_token": token, "method": "cash", "amount": "5"})
        assert answer.status_code == 403, url
    assert await payments_of(seeded, scene.appointment_id) == []


async def _card_payment(db: Database, scene: Scene, amount_minor: int) -> int:
    """A deposit paid online by card (through the offline gateway) for the visit."""
    async with db.transaction() as session:
        payment = Payment(
            appointment_id=scene.appointment_id,
            client_id=scene.client_id,
            kind=PaymentKind.DEPOSIT,
            method=PaymentMethod.CARD_ONLINE,
            state=PaymentState.SUCCEEDED,
            amount_minor=amount_minor,
            currency="usd",
            provider="offline",
            idempotency_key=uuid.uuid4().hex,
            provider_payment_id=f"off_pi_{uuid.uuid4().hex[:12]}",
            succeeded_at=NOW - timedelta(days=3),
        )
        session.add(payment)
        await session.flush()
        return payment.id


class UnreachableGateway(OfflineGateway):
    async def refund(self, request: RefundRequest) -> RefundResult:
        raise GatewayUnavailable()


async def test_a_card_refund_goes_to_the_card(seeded: Database, http: httpx2.AsyncClient) -> None:
    scene = await make_visit(seeded)
    payment_id = await _card_payment(seeded, scene, 3000)
    await desk(http, seeded)
    page = await http.get(scene.page)
    assert "Card, online" in page.text
    assert "The client, online" in page.text
    refunded = await post(
        http, scene.page, f"/desk/payments/{payment_id}/refund", {"amount": "12.50"}
    )
    assert refunded.status_code == 303
    page = await http.get(scene.page)
    assert f"Refund of {usd(1250)} made to the card." in page.text
    async with seeded.reading() as session:
        refund = await session.scalar(select(Refund).where(Refund.payment_id == payment_id))
    assert refund is not None
    assert refund.state is RefundState.SUCCEEDED
    assert refund.provider_refund_id is not None


async def test_a_card_refund_is_retried_when_the_provider_is_unreachable(
    seeded: Database, http: httpx2.AsyncClient, settings: Settings
) -> None:
    install_gateway(seeded, UnreachableGateway(seeded, settings.base_url))
    scene = await make_visit(seeded)
    payment_id = await _card_payment(seeded, scene, 3000)
    await desk(http, seeded)
    refunded = await post(http, scene.page, f"/desk/payments/{payment_id}/refund", {"amount": "30"})
    assert refunded.status_code == 303
    page = await http.get(scene.page)
    assert "the refund will be retried automatically" in page.text
    assert "Being sent back to the card" in page.text
    async with seeded.reading() as session:
        refund = await session.scalar(select(Refund).where(Refund.payment_id == payment_id))
        queued = list(
            await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == EXECUTE_REFUND))
        )
    assert refund is not None
    assert refund.state is RefundState.PENDING
    assert {"payment_id": payment_id} in [m.payload for m in queued]


async def _save_card(db: Database, client_id: int, last4: str) -> None:
    async with db.transaction() as session:
        session.add(
            SavedCard(
                client_id=client_id,
                provider="offline",
                customer_id="off_cus_desk_test",
                method_id=card_method_id(last4),
                brand="visa",
                last4=last4,
                exp_month=12,
                exp_year=2030,
            )
        )


async def _status(db: Database, appointment_id: int) -> AppointmentStatus:
    async with db.reading() as session:
        appointment = await session.get(Appointment, appointment_id)
    assert appointment is not None
    return appointment.status


async def test_a_no_show_charges_the_fee_to_the_saved_card(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    scene = await make_visit(
        seeded, starts_at=NOW - timedelta(minutes=30), status=AppointmentStatus.CONFIRMED
    )
    await _save_card(seeded, scene.client_id, "4242")
    await desk(http, seeded)
    page = await http.get(scene.page)
    assert "Mark as no-show" in page.text
    assert f"missed appointment fee of <strong>{usd(scene.price_minor)}</strong>" in page.text
    assert "Visa ending 4242" in page.text

    marked = await post(http, scene.page, f"/desk/appointments/{scene.appointment_id}/no-show", {})
    assert marked.status_code == 303
    assert marked.headers["location"] == scene.page
    assert await _status(seeded, scene.appointment_id) is AppointmentStatus.NO_SHOW
    [fee] = await payments_of(seeded, scene.appointment_id)
    assert (fee.kind, fee.state, fee.amount_minor) == (
        PaymentKind.NO_SHOW_FEE,
        PaymentState.SUCCEEDED,
        scene.price_minor,
    )
    page = await http.get(scene.page)
    assert "It was charged to the saved card." in page.text
    assert "Missed appointment fee" in page.text
    assert "Mark as no-show" not in page.text


async def test_a_no_show_with_a_declined_card_awaits_the_client(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    scene = await make_visit(
        seeded, starts_at=NOW - timedelta(minutes=30), status=AppointmentStatus.CHECKED_IN
    )
    await _save_card(seeded, scene.client_id, "0341")
    await desk(http, seeded)
    marked = await post(http, scene.page, f"/desk/appointments/{scene.appointment_id}/no-show", {})
    assert marked.status_code == 303
    [fee] = await payments_of(seeded, scene.appointment_id)
    assert fee.state is PaymentState.AWAITING_CLIENT
    page = await http.get(scene.page)
    assert "Awaiting the client" in page.text
    assert "The saved card was declined" in page.text
    assert "sent a link to pay" in page.text


async def test_a_future_visit_cannot_be_marked_no_show(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    scene = await make_visit(
        seeded, starts_at=NOW + timedelta(days=1), status=AppointmentStatus.CONFIRMED
    )
    await desk(http, seeded)
    page = await http.get(scene.page)
    assert "Mark as no-show" not in page.text
    refused = await post(http, scene.page, f"/desk/appointments/{scene.appointment_id}/no-show", {})
    assert refused.status_code == 303
    page = await http.get(scene.page)
    assert "has not started yet" in page.text
    assert await _status(seeded, scene.appointment_id) is AppointmentStatus.CONFIRMED
    assert await payments_of(seeded, scene.appointment_id) == []


async def test_the_desk_day_links_to_payments_and_takings(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    scene = await make_visit(
        seeded, starts_at=NOW + timedelta(hours=2), status=AppointmentStatus.CONFIRMED
    )
    await desk(http, seeded)
    today = await http.get("/desk/")
    assert today.status_code == 200
    assert scene.page in today.text
    assert "/desk/takings" in today.text
    missing = await http.get("/desk/appointments/999999/payments")
    assert missing.status_code == 404


async def test_the_payments_page_names_the_service_by_its_public_name(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    # "Oncology massage" would disclose a condition to whoever looks over the desk.
    scene = await make_visit(seeded, service_name="Oncology massage, 60 min")
    await desk(http, seeded)
    page = await http.get(scene.page)
    assert page.status_code == 200
    assert "Massage, 60 min with Dana Payton" in page.text
    assert "oncology" not in page.text.lower()
    receipt = await http.get(f"/desk/appointments/{scene.appointment_id}/receipt")
    # The receipt names what was treated: insurers and health savings accounts ask.
    assert "Oncology massage, 60 min" in receipt.text
