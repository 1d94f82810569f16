"""A service's own rule for what clients pay online, set in the service form: the clinic's
rule, nothing, a percent, a fixed amount or the full price, judged like `clinic payments
service-rule`, and what online checkout then charges."""

from __future__ import annotations

import httpx2
import pytest
from sqlalchemy import select

from clinic.audit import AuditEntry
from clinic.booking.policy_store import load_policies
from clinic.db import Database
from clinic.payments.pricing import OnlinePayment, online_payment
from clinic.payments.states import PaymentKind
from tests.admin.support import (
    field_error,
    input_value,
    post_form,
    service_named,
    sign_in_demo,
    title_of,
)
from tests.admin.test_services_rooms_closures import SERVICE_FORM

pytestmark = pytest.mark.usefixtures("frozen")

NAME = "Swedish massage, 60 min"  # $95.00 in the demo, following the clinic's rule


async def checkout_amount(db: Database) -> OnlinePayment | None:
    """What online checkout asks for this service now, as pricing decides it."""
    service = await service_named(db, NAME)
    return online_payment(
        await load_policies(db),
        price_minor=service.price_minor,
        currency="usd",
        service_kind=service.deposit_kind,
        service_value=service.deposit_value,
    )


async def test_the_rule_saved_in_the_form_is_what_online_checkout_charges(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    admin = await sign_in_demo(http, seeded)
    service = await service_named(seeded, NAME)
    url = f"/admin/services/{service.id}"
    assert await checkout_amount(seeded) is None  # the demo clinic's rule: pay at the visit

    for rule, extra, expected in [
        ("percent", {"deposit_percent": "20"}, OnlinePayment(PaymentKind.DEPOSIT, 1900)),
        ("fixed", {"deposit_amount": "$30"}, OnlinePayment(PaymentKind.DEPOSIT, 3000)),
        ("full", {}, OnlinePayment(PaymentKind.FULL, 9500)),
        ("none", {}, None),
    ]:
        saved = await post_form(http, url, url, {**SERVICE_FORM, "deposit_rule": rule, **extra})
        assert saved.status_code == 303, saved.text
        assert await checkout_amount(seeded) == expected, rule

    # Back to the clinic's rule: the service follows the policy again.
    saved = await post_form(http, url, url, {**SERVICE_FORM, "deposit_rule": "clinic"})
    assert saved.status_code == 303
    stored = await service_named(seeded, NAME)
    assert (stored.deposit_kind, stored.deposit_value) == (None, None)

    async with seeded.reading() as session:
        changes = list(
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "service.changed",
                    AuditEntry.subject_id == str(service.id),
                )
            )
        )
    assert len(changes) == 5
    assert all("deposit_kind" in entry.details["fields"] for entry in changes)
    assert {entry.actor_user_id for entry in changes} == {admin.id}


async def test_the_form_shows_the_services_own_rule(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    await sign_in_demo(http, seeded)
    percent = await service_named(seeded, "Swedish massage, 90 min")
    page = await http.get(f"/admin/services/{percent.id}")
    assert 'value="percent" id="deposit_rule-percent" checked' in page.text
    assert input_value(page.text, "deposit_percent") == "25"
    fixed = await service_named(seeded, "Oncology massage, 60 min")
    page = await http.get(f"/admin/services/{fixed.id}")
    assert 'value="fixed" id="deposit_rule-fixed" checked' in page.text
    assert input_value(page.text, "deposit_amount") == "25.00"
    follows = await service_named(seeded, NAME)
    page = await http.get(f"/admin/services/{follows.id}")
    assert 'value="clinic" id="deposit_rule" checked' in page.text
    assert "Follow the clinic&#39;s rule (now: nothing, paid at the visit)" in page.text


@pytest.mark.parametrize(
    ("sent", "field", "message"),
    [
        ({"deposit_rule": "weekly"}, "deposit_rule", "Choose what clients pay online"),
        ({"deposit_rule": "percent", "deposit_percent": ""}, "deposit_percent", "Enter the"),
        ({"deposit_rule": "percent", "deposit_percent": "150"}, "deposit_percent", "0 and 100"),
        ({"deposit_rule": "percent", "deposit_percent": "-5"}, "deposit_percent", "whole number"),
        ({"deposit_rule": "fixed", "deposit_amount": "-5"}, "deposit_amount", "0 or more"),
        ({"deposit_rule": "fixed", "deposit_amount": "ten"}, "deposit_amount", "a number"),
        (
            {"deposit_rule": "fixed", "deposit_amount": "2,000,000"},
            "deposit_amount",
            "$100,000.00 or less",
        ),
    ],
    ids=["unknown", "no-percent", "over-100", "negative", "negative-amount", "words", "huge"],
)
async def test_a_bad_rule_comes_back_beside_its_field_with_the_values_kept(
    seeded: Database, http: httpx2.AsyncClient, sent: dict[str, str], field: str, message: str
) -> None:
    await sign_in_demo(http, seeded)
    service = await service_named(seeded, NAME)
    url = f"/admin/services/{service.id}"
    refused = await post_form(http, url, url, {**SERVICE_FORM, "price": "99.00", **sent})
    assert refused.status_code == 422
    assert title_of(refused.text).startswith("Error: ")
    shown = field_error(refused.text, field)
    assert shown is not None
    assert message in shown, shown
    assert input_value(refused.text, "price") == "99.00"
    for name in ("deposit_percent", "deposit_amount"):
        if name in sent:
            assert input_value(refused.text, name) == sent[name]
    stored = await service_named(seeded, NAME)
    assert (stored.price_minor, stored.deposit_kind) == (9500, None)
