"""The order of services and therapists in online booking (and of the desk's columns):
Move up and Move down on the admin's order page, audited; a new therapist goes last."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import httpx2
import pytest
from sqlalchemy import select

from clinic.admin.display_order import Direction, moved
from clinic.audit import AuditEntry
from clinic.auth.models import Role
from clinic.db import Database
from clinic.staff.models import Therapist
from tests import factories
from tests.admin.support import post_form, service_named, sign_in_demo, text_of, therapist_named

pytestmark = pytest.mark.usefixtures("frozen")


def test_a_move_swaps_with_the_neighbour_and_stops_at_the_ends() -> None:
    assert moved([1, 2, 3], 2, Direction.UP) == [2, 1, 3]
    assert moved([1, 2, 3], 2, Direction.DOWN) == [1, 3, 2]
    assert moved([1, 2, 3], 1, Direction.UP) is None
    assert moved([1, 2, 3], 3, Direction.DOWN) is None
    assert moved([1, 2, 3], 4, Direction.UP) is None


def in_order(page: str, names: list[str]) -> list[str]:
    """`names` in the order the page shows them."""
    words = text_of(page)
    assert all(name in words for name in names), names
    return sorted(names, key=words.index)


async def move(http: httpx2.AsyncClient, url: str, direction: str) -> httpx2.Response:
    return await post_form(http, "/admin/order", url, {"direction": direction})


async def test_moving_a_service_up_changes_the_order_of_the_booking_page(
    seeded: Database, http: httpx2.AsyncClient, api: httpx2.AsyncClient
) -> None:
    admin = await sign_in_demo(http, seeded)
    first, second = "Swedish massage, 60 min", "Swedish massage, 90 min"
    assert in_order((await api.get("/book")).text, [first, second]) == [first, second]
    service = await service_named(seeded, second)

    moved_up = await move(http, f"/admin/order/services/{service.id}", "up")
    assert moved_up.status_code == 303
    assert moved_up.headers["location"] == f"/admin/order#service-{service.id}"
    page = await http.get("/admin/order")
    assert page.headers["cache-control"] == "no-store"
    assert f"Moved {second} up." in text_of(page.text)
    assert in_order((await api.get("/book")).text, [first, second]) == [second, first]
    listed = [s["name"] for s in (await api.get("/api/v1/services")).json()["services"]]
    assert listed.index(second) < listed.index(first)

    async with seeded.reading() as session:
        [entry] = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "service.moved")
        )
    assert (entry.subject_id, entry.actor_user_id) == (str(service.id), admin.id)
    assert entry.details == {"direction": "up", "place": 1}

    again = await move(http, f"/admin/order/services/{service.id}", "up")
    assert again.status_code == 303
    assert f"{second} is already first." in text_of((await http.get("/admin/order")).text)


async def test_moving_a_therapist_changes_their_place_in_online_booking_and_on_the_desk(
    seeded: Database,
    http: httpx2.AsyncClient,
    api: httpx2.AsyncClient,
    new_client: Callable[[], httpx2.AsyncClient],
) -> None:
    await sign_in_demo(http, seeded)

    async def names() -> list[str]:
        therapists = (await api.get("/api/v1/therapists")).json()["therapists"]
        return [t["display_name"] for t in therapists]

    async def columns(desk: httpx2.AsyncClient) -> list[str]:
        page = (await desk.get("/desk/2026-11-27?all=1")).text
        return [html.unescape(n) for n in re.findall(r'<h2 id="therapist-\d+">(.*?)</h2>', page)]

    before = await names()
    assert before == sorted(before)  # never ordered: by name
    async with new_client() as desk:
        await factories.sign_in_as(desk, seeded, Role.FRONTDESK)
        shown = await columns(desk)
        assert shown == sorted(shown)
        assert len(shown) >= 2
        last = await therapist_named(seeded, before[-1])
        assert (await move(http, f"/admin/order/therapists/{last.id}", "up")).status_code == 303
        assert await names() == [*before[:-2], before[-1], before[-2]]
        page = await http.get("/admin/order")
        assert in_order(page.text, before[-2:]) == [before[-1], before[-2]]

        top = await therapist_named(seeded, shown[-1])
        for _ in shown:
            await move(http, f"/admin/order/therapists/{top.id}", "up")
        assert (await columns(desk))[0] == shown[-1]


async def test_a_new_therapist_goes_last_and_a_bad_move_is_refused(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    await sign_in_demo(http, seeded)
    async with seeded.transaction() as session:
        newcomer = await factories.create_therapist(session, display_name="Aaron Abbott")
        highest = max(await session.scalars(select(Therapist.display_order)))
    assert newcomer.display_order == highest
    page = await http.get("/admin/order")
    assert in_order(page.text, ["Aaron Abbott", "Naomi Okafor"]) == ["Naomi Okafor", "Aaron Abbott"]

    wrong = await move(http, f"/admin/order/therapists/{newcomer.id}", "sideways")
    assert wrong.status_code == 422
    missing = await move(http, "/admin/order/services/999999", "up")
    assert missing.status_code == 404


async def test_the_desk_and_therapists_cannot_reorder(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    await factories.sign_in_as(http, seeded, Role.FRONTDESK)
    service = await service_named(seeded, "Swedish massage, 90 min")
    refused = await post_form(
        http, "/desk/", f"/admin/order/services/{service.id}", {"direction": "up"}
    )
    assert refused.status_code == 403
    assert (await service_named(seeded, "Swedish massage, 90 min")).display_order == (
        service.display_order
    )
