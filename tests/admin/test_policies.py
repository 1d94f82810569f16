"""The clinic's policies for admins: a summary card per section with who last changed it,
a short form per section that saves through the same stores and validators as the CLI,
comes back with 422 and its values on bad input, and audits each change with its actor."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import httpx2
import pytest
from sqlalchemy import select

from clinic.admin.policy_sections import SECTIONS
from clinic.audit import AuditEntry
from clinic.booking.policies import Policies
from clinic.booking.policy_store import load_policies
from clinic.db import Database
from clinic.intake.rules import ScreeningRules
from clinic.intake.rules_store import load_screening_rules
from clinic.payments.pricing import ReceiptSettings
from clinic.payments.settings_store import load_receipt_settings
from tests.admin.support import (
    field_error,
    input_value,
    post_form,
    sign_in_demo,
    summary_links,
    text_of,
    title_of,
)
from tests.booking.conftest import NOW, free_slots, service_id

pytestmark = pytest.mark.usefixtures("frozen")


class _Fields(HTMLParser):
    """What a browser would send for a page's form: text inputs, checked radios."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag != "input" or "name" not in found or found["name"] == "csrf_token":
            return
        if found.get("type") == "radio":
            if "checked" in found:
                self.values[found["name"]] = found.get("value", "")
        else:
            self.values.setdefault(found["name"], found.get("value", ""))


async def form_of(http: httpx2.AsyncClient, url: str) -> dict[str, str]:
    page = await http.get(url)
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    parser = _Fields()
    parser.feed(page.text)
    return parser.values


async def save(http: httpx2.AsyncClient, section: str, changes: dict[str, str]) -> httpx2.Response:
    url = f"/admin/policies/{section}"
    return await post_form(http, url, url, {**await form_of(http, url), **changes})


async def audit_of(db: Database, subject_type: str) -> list[AuditEntry]:
    async with db.reading() as session:
        return list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.subject_type == subject_type)
                .order_by(AuditEntry.id)
            )
        )


async def test_the_policies_page_sums_up_each_section_and_who_last_changed_it(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    admin = await sign_in_demo(http, seeded)
    page = await http.get("/admin/policies")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    words = text_of(page.text)
    for heading in ("Booking", "Payments", "Health screening"):
        assert f'id="{heading.lower().split()[-1]}-heading">{heading}</h2>' in page.text
    assert "Minimum notice 120 minutes" in words
    assert "Late cancellation fee 50%" in words
    assert "Address on receipts" in words
    assert words.count("No changes recorded yet.") == 3
    for section in ("booking", "payments", "screening"):
        assert f'/admin/policies/{section}">Change' in page.text

    saved = await save(http, "booking", {"minimum_notice_minutes": "240"})
    assert saved.status_code == 303
    assert saved.headers["location"] == "/admin/policies#booking"
    after = await http.get("/admin/policies")
    words = text_of(after.text)
    assert "Saved the booking policies." in words
    assert "Minimum notice 240 minutes" in words
    assert f"Last changed by {admin.name} on Friday 27 November 2026 at 8am." in words
    assert words.count("No changes recorded yet.") == 2


SAVES: list[tuple[str, dict[str, str], list[tuple[str, str, Any, Any]]]] = [
    (
        "booking",
        {"minimum_notice_minutes": "60", "no_show_fee_percent": "75"},
        [
            ("policy", "minimum_notice_minutes", 120, 60),
            ("policy", "no_show_fee_percent", 100, 75),
        ],
    ),
    (
        "payments",
        {
            "deposit_kind": "fixed",
            "deposit_amount": "$30.00",
            "legal_name": "Willow and Oak Massage LLC",
            "tax_rate_basis_points": "8.25",
            "prices_include_tax": "no",
        },
        [
            ("policy", "deposit_kind", "none", "fixed"),
            ("policy", "deposit_value", 0, 3000),
            (
                "receipt_setting",
                "legal_name",
                "Willow & Oak Massage Therapy LLC",
                "Willow and Oak Massage LLC",
            ),
            ("receipt_setting", "tax_rate_basis_points", 0, 825),
            ("receipt_setting", "prices_include_tax", True, False),
        ],
    ),
    (
        "screening",
        {"hospital_model_requires_clearance": "yes", "platelets_required_below": "40,000"},
        [
            ("screening_setting", "hospital_model_requires_clearance", False, True),
            ("screening_setting", "platelets_required_below", 50_000, 40_000),
        ],
    ),
]


@pytest.mark.parametrize(("section", "changes", "audited"), SAVES, ids=[s[0] for s in SAVES])
async def test_each_section_saves_through_its_store_and_audits_each_change_with_its_actor(
    seeded: Database,
    http: httpx2.AsyncClient,
    section: str,
    changes: dict[str, str],
    audited: list[tuple[str, str, Any, Any]],
) -> None:
    admin = await sign_in_demo(http, seeded)
    saved = await save(http, section, changes)
    assert saved.status_code == 303, saved.text

    policies = await load_policies(seeded)
    receipt = await load_receipt_settings(seeded)
    screening = await load_screening_rules(seeded)
    stored = {**policies.as_dict(), **receipt.as_dict(), **screening.__dict__}
    entries = [
        entry
        for subject_type in sorted({a[0] for a in audited})
        for entry in await audit_of(seeded, subject_type)
    ]
    assert sorted(
        (e.subject_type, e.subject_id, e.details["before"], e.details["after"]) for e in entries
    ) == sorted(audited)
    for _, name, _, after in audited:
        assert stored[name] == after
    assert {e.actor_user_id for e in entries} == {admin.id}

    # The form shows what is stored now, and saving it again changes nothing.
    again = await save(http, section, {})
    assert again.status_code == 303
    assert len(await audit_of(seeded, audited[0][0])) == len(
        [a for a in audited if a[0] == audited[0][0]]
    )
    assert "Nothing to save" in text_of((await http.get("/admin/policies")).text)


REFUSALS = [
    ("booking", "minimum_notice_minutes", "two hours", "must be a whole number"),
    ("booking", "minimum_notice_minutes", "-5", "between 0 and 20160 minutes"),
    ("booking", "booking_window_days", "5000", "between 1 and 366 days"),
    ("booking", "late_cancellation_fee_percent", "150", "between 0 and 100 percent"),
    ("booking", "slot_interval_minutes", "", "Enter time between start times"),
    ("payments", "deposit_kind", "weekly", "Choose what clients pay online"),
    ("payments", "tax_rate_basis_points", "60", "between 0 and 50 percent"),
    ("payments", "prices_include_tax", "maybe", "Choose yes or no"),
    ("screening", "gentle_pressure", "9", "between 1 and 5"),
    ("screening", "platelets_required_below", "-1", "between 0 and 1,000,000"),
    ("screening", "bone_mets_clearance_required", "sometimes", "Choose required or advised"),
]


@pytest.mark.parametrize(
    ("section", "field", "typed", "message"), REFUSALS, ids=[f"{r[1]}={r[2]}" for r in REFUSALS]
)
async def test_a_bad_value_comes_back_beside_its_field_with_the_values_kept(
    seeded: Database,
    http: httpx2.AsyncClient,
    section: str,
    field: str,
    typed: str,
    message: str,
) -> None:
    await sign_in_demo(http, seeded)
    before = await load_policies(seeded), await load_receipt_settings(seeded)
    form = await form_of(http, f"/admin/policies/{section}")
    # Another field changed too: nothing of the form is saved, and it is kept.
    other, changed = {
        "booking": ("hold_minutes", "12"),
        "payments": ("legal_name", "Another Name LLC"),
        "screening": ("surgery_hold_weeks", "8"),
    }[section]
    assert form[other] != changed
    sent = {other: changed, field: typed}
    refused = await save(http, section, sent)

    assert refused.status_code == 422
    assert title_of(refused.text).startswith("Error: ")
    shown = field_error(refused.text, field)
    assert shown is not None
    assert message in shown, shown
    assert summary_links(refused.text)[field] == shown
    assert input_value(refused.text, other) == sent[other]
    if field not in ("deposit_kind", "prices_include_tax", "bone_mets_clearance_required"):
        assert input_value(refused.text, field) == typed
    assert (await load_policies(seeded), await load_receipt_settings(seeded)) == before
    assert not await audit_of(seeded, "policy")


async def test_a_percent_deposit_over_100_is_refused_by_the_policy_rule(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    await sign_in_demo(http, seeded)
    refused = await save(http, "payments", {"deposit_kind": "percent", "deposit_percent": "150"})
    assert refused.status_code == 422
    assert field_error(refused.text, "deposit_percent") == "Enter a percent between 0 and 100"
    assert 'value="percent" id="deposit_kind-percent" checked' in refused.text
    too_much = await save(
        http, "payments", {"deposit_kind": "fixed", "deposit_amount": "1,000,000"}
    )
    assert field_error(too_much.text, "deposit_amount") == "Enter a deposit of $100,000.00 or less"


async def test_an_unknown_section_is_not_found(seeded: Database, http: httpx2.AsyncClient) -> None:
    await sign_in_demo(http, seeded)
    assert (await http.get("/admin/policies/holidays")).status_code == 404
    posted = await post_form(http, "/admin/policies", "/admin/policies/holidays", {})
    assert posted.status_code == 404


async def test_a_longer_minimum_notice_takes_the_nearest_times_out_of_online_booking(
    seeded: Database, http: httpx2.AsyncClient, api: httpx2.AsyncClient
) -> None:
    await sign_in_demo(http, seeded)
    service = await service_id(seeded)
    tomorrow = (NOW + timedelta(days=1)).date().isoformat()
    before = [datetime.fromisoformat(s["start"]) for s in await free_slots(api, service, tomorrow)]
    # From Saturday 1pm in Philadelphia: 29 hours from Friday 8am.
    notice = timedelta(hours=29)
    assert before
    assert min(before) < NOW + notice

    saved = await save(http, "booking", {"minimum_notice_minutes": str(29 * 60)})
    assert saved.status_code == 303

    after = [datetime.fromisoformat(s["start"]) for s in await free_slots(api, service, tomorrow)]
    assert after, "later times tomorrow stay bookable"
    assert min(after) >= NOW + notice
    assert set(after) < set(before)


def test_every_stored_setting_has_a_place_in_one_section() -> None:
    stored = [
        f.name for model in (Policies, ReceiptSettings, ScreeningRules) for f in fields(model)
    ]
    placed = [
        name for section in SECTIONS.values() for _, names in section.stores for name in names
    ]
    assert sorted(placed) == sorted(stored)
