"""The client booking pages and the manage pages, driven as a browser with JavaScript off
would: follow links, read forms (html.parser), post them back with their CSRF token."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import httpx2
import pytest
from sqlalchemy import select

from clinic.booking.models import Appointment
from clinic.booking.statuses import AppointmentStatus
from clinic.db import Database
from clinic.staff.models import Therapist
from clinic.web.formatting import clock_time
from tests.booking.conftest import CLIENT, free_slots, service_id
from tests.booking.test_health_pages import answers

pytestmark = pytest.mark.usefixtures("frozen")

# Tuesday, four days after the frozen "now" (Friday 27 November 2026, 8am in New York).
DAY = "2026-12-01"
# The frozen "now" is 8am: times later today are inside the free-cancellation window.
TODAY = "2026-11-27"


# Reading pages


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    radios: dict[str, list[str]] = field(default_factory=dict)
    checkboxes: dict[str, str] = field(default_factory=dict)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._current: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._current = Form(a.get("action", ""), a.get("method", "get").lower())
            self.forms.append(self._current)
        elif tag == "input" and self._current is not None:
            kind, name, value = a.get("type", "text"), a.get("name", ""), a.get("value", "")
            if kind == "radio":
                self._current.radios.setdefault(name, []).append(value)
                if "checked" in a:
                    self._current.fields[name] = value
            elif kind == "checkbox":
                self._current.checkboxes[name] = value
            else:
                self._current.fields[name] = value

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def forms_of(html: str) -> list[Form]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def post_form(html: str, contains: str = "") -> Form:
    """The page's POST form (not the sign-out form), whose action contains `contains`."""
    found = [f for f in forms_of(html) if f.method == "post" and contains in f.action]
    found = [f for f in found if "logout" not in f.action]
    assert found, f"no POST form with {contains!r} in its action"
    return found[0]


def title_of(html: str) -> str:
    match = re.search(r"<title>(.*?)</title>", html, re.S)
    assert match
    return unescape(match.group(1)).strip()


def text_of(html: str) -> str:
    """The page's words, tags removed and white space collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def h1_count(html: str) -> int:
    return len(re.findall(r"<h1[ >]", html))


async def get_page(http: httpx2.AsyncClient, url: str, status: int = 200) -> str:
    response = await http.get(url)
    assert response.status_code == status, (url, response.status_code, response.text[:800])
    assert "<script" not in response.text
    if status == 200:
        assert h1_count(response.text) == 1, url
    return response.text


async def submit(
    http: httpx2.AsyncClient, html: str, contains: str = "", **data: str
) -> httpx2.Response:
    """Post a page's form as a browser would: its hidden fields and checked radios, the
    CSRF token it carries, and `data` for what the client typed or chose."""
    form = post_form(html, contains)
    body = {**form.fields, **data}
    url = form.action.removeprefix("https://testserver")
    return await http.post(url, data=body)


def see_other(response: httpx2.Response) -> str:
    assert response.status_code == 303, (response.status_code, response.text[:800])
    location: str = response.headers["location"]
    return location.removeprefix("https://testserver")


def set_cookie(response: httpx2.Response, name: str) -> str:
    headers = [v for v in response.headers.get_list("set-cookie") if v.startswith(f"{name}=")]
    assert headers, f"no {name} cookie set"
    return headers[0]


# Walking the flow


@dataclass
class Walk:
    """Where a walk through the booking pages got to."""

    pages: dict[str, str] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    responses: dict[str, httpx2.Response] = field(default_factory=dict)


async def through_health(http: httpx2.AsyncClient, walk: Walk, health_url: str) -> str:
    """The health step as a client with nothing to report: "no" to the gate, "no" to every
    required question of the form, signed; returns the therapist step's address."""
    walk.pages["health"] = await get_page(http, health_url)
    form_url = see_other(await submit(http, walk.pages["health"], cancer_history="no"))
    # The form page carries the optional script that hides follow-ups (get_page refuses it).
    form_page = (await http.get(form_url)).text
    signed = await submit(http, form_page, "/book/health/form", **answers(False))
    walk.pages["health_plan"] = await get_page(http, see_other(signed))
    match = re.search(r'<a class="button" href="([^"]+)">Continue</a>', walk.pages["health_plan"])
    assert match
    return unescape(match.group(1))


async def choose_time(
    http: httpx2.AsyncClient, service: int, therapist: str, day: str = DAY, pick: int = 0
) -> tuple[Walk, str]:
    """Service, health, therapist, the time page for `day`; returns the start picked (not
    posted)."""
    walk = Walk()
    walk.pages["service"] = await get_page(http, "/book")
    health_url = see_other(await submit(http, walk.pages["service"], service=str(service)))
    therapist_url = await through_health(http, walk, health_url)
    walk.pages["therapist"] = await get_page(http, therapist_url)
    time_url = see_other(await submit(http, walk.pages["therapist"], therapist=therapist))
    walk.urls["time"] = f"{time_url}&date={day}"
    walk.pages["time"] = await get_page(http, walk.urls["time"])
    starts = post_form(walk.pages["time"], "/book/time").radios["start"]
    return walk, starts[pick]


async def book_through_pages(
    http: httpx2.AsyncClient,
    service: int,
    therapist: str = "any",
    day: str = DAY,
    pick: int = 0,
    client: dict[str, str] | None = None,
) -> tuple[Walk, str]:
    """The whole flow; returns the walk and the manage token."""
    walk, start = await choose_time(http, service, therapist, day, pick)
    walk.urls["start"] = start
    held = await submit(http, walk.pages["time"], "/book/time", start=start)
    walk.responses["hold"] = held
    details_url = see_other(held)
    assert details_url == "/book/details"
    walk.pages["details"] = await get_page(http, details_url)
    check_url = see_other(await submit(http, walk.pages["details"], **(client or CLIENT)))
    walk.pages["check"] = await get_page(http, check_url)
    done_url = see_other(await submit(http, walk.pages["check"]))
    assert done_url.startswith("/book/done/")
    walk.pages["done"] = await get_page(http, done_url)
    return walk, done_url.rsplit("/", 1)[1]


async def appointment_for(db: Database, start: str) -> Appointment:
    async with db.reading() as session:
        found = await session.scalar(
            select(Appointment).where(
                Appointment.starts_at == datetime.fromisoformat(start),
                Appointment.status == AppointmentStatus.CONFIRMED,
            )
        )
    assert found is not None
    return found


async def free_therapist(http: httpx2.AsyncClient, service: int) -> int:
    """A therapist who offers the service and has free times on DAY."""
    slots = await free_slots(http, service, DAY)
    assert slots
    therapist: int = slots[0]["therapist_id"]
    return therapist


def reference_of(html: str) -> int:
    match = re.search(r"Reference (\d+)", text_of(html))
    assert match
    return int(match.group(1))


async def therapist_name(db: Database, therapist_id: int) -> str:
    async with db.reading() as session:
        therapist = await session.get(Therapist, therapist_id)
    assert therapist is not None
    return therapist.display_name


# Tests


async def test_a_client_books_end_to_end_through_the_pages(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service = await service_id(seeded)
    page = await get_page(http, "/book")
    assert title_of(page).startswith("Choose a service – Step 1 of 6")
    assert "Swedish massage, 60 min" in page
    assert "60 minutes, $95.00" in page

    health_url = see_other(await submit(http, page, service=str(service)))
    assert health_url == f"/book/health?service={service}"
    therapist_url = await through_health(http, Walk(), health_url)
    assert therapist_url == f"/book/therapist?service={service}"
    page = await get_page(http, therapist_url)
    assert "Step 3 of 6" in title_of(page)
    form = post_form(page)
    # "Anyone suitable" first and preselected, then named therapists.
    assert form.radios["therapist"][0] == "any"
    assert form.fields["therapist"] == "any"
    chosen = form.radios["therapist"][1]
    assert len(form.radios["therapist"]) >= 2

    time_url = see_other(await submit(http, page, therapist=chosen))
    assert time_url == f"/book/time?service={service}&therapist={chosen}"
    # No date: the page opens on the next available day.
    page = await get_page(http, time_url)
    assert "Step 4 of 6" in title_of(page)
    assert "Times are New York time (EST)." in text_of(page)
    assert "Next available: Fri 27 Nov" in text_of(page)

    page = await get_page(http, f"{time_url}&date={DAY}")
    assert '<legend class="day-legend"><h2>Tuesday 1 December</h2></legend>' in page
    assert "Earlier week" not in page  # the first week starts today
    assert "Later week" in page
    form = post_form(page, "/book/time")
    start = form.radios["start"][0]
    assert datetime.fromisoformat(start).tzinfo is not None
    assert form.fields["date"] == DAY

    held = await submit(http, page, "/book/time", start=start)
    assert see_other(held) == "/book/details"
    page = await get_page(http, "/book/details")
    assert "Step 5 of 6" in title_of(page)
    instant = datetime.fromisoformat(start).astimezone(UTC)
    assert "We are holding" in page
    assert "until 8:10am" in page  # ten minutes from the frozen 8am
    for name, kind, autocomplete in (("name", "text", "name"), ("email", "email", "email")):
        assert re.search(
            rf'<input id="{name}" name="{name}" type="{kind}" autocomplete="{autocomplete}"', page
        )
    assert 'type="tel" autocomplete="tel"' in page
    assert "novalidate" in page

    check_url = see_other(await submit(http, page, **CLIENT))
    assert check_url == "/book/check"
    page = await get_page(http, check_url)
    assert "Step 6 of 6" in title_of(page)
    words = text_of(page)
    name = await therapist_name(seeded, int(chosen))
    assert name in words
    assert "Tuesday 1 December 2026" in words
    assert "New York time (EST)" in words
    assert "$95.00" in words
    assert "Nothing now. Pay at your visit." in words
    # The free-cancellation deadline: 24 hours before, as a date and a time.
    clock = clock_time(instant, ZoneInfo("America/New_York"))
    assert f"Free to cancel until {clock} on Monday 30 November." in words
    assert "Change service" in words
    assert "Change your details" in words
    assert CLIENT["email"] in words

    done = await submit(http, page)
    done_url = see_other(done)
    assert done_url.startswith("/book/done/")
    cleared = set_cookie(done, "clinic_hold")
    assert "Max-Age=0" in cleared or "expires=" in cleared.lower()
    page = await get_page(http, done_url)
    token = done_url.rsplit("/", 1)[1]
    assert title_of(page).startswith("Appointment booked")
    assert token not in title_of(page)
    appointment = await appointment_for(seeded, start)
    assert appointment.status is AppointmentStatus.CONFIRMED
    assert appointment.therapist_id == int(chosen)
    assert appointment.starts_at == instant
    words = text_of(page)
    assert f"Your reference {appointment.id}" in words
    assert name in words
    assert "2217 Walnut Street" in words
    assert "Free to cancel until" in words
    assert f'href="https://testserver/manage/{token}"' in page or f'href="/manage/{token}"' in page

    # The hold is gone: the details page now sends the browser back to the start.
    assert see_other(await http.get("/book/details")) == "/book"


async def test_anyone_suitable_books_and_names_the_therapist_once_booked(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service = await service_id(seeded)
    walk, start = await choose_time(http, service, "any")
    starts = post_form(walk.pages["time"], "/book/time").radios["start"]
    # Each start once, even when several therapists are free then.
    assert len(starts) == len(set(starts))
    held = await submit(http, walk.pages["time"], "/book/time", start=start)
    assert see_other(held) == "/book/details"
    details = await get_page(http, "/book/details")
    check = await get_page(http, see_other(await submit(http, details, **CLIENT)))
    assert "The clinic will choose" in text_of(check)
    done_url = see_other(await submit(http, check))
    done = await get_page(http, done_url)
    appointment = await appointment_for(seeded, start)
    assert appointment.therapist_chosen is False
    assert await therapist_name(seeded, appointment.therapist_id) in text_of(done)
    assert "The clinic will choose" not in text_of(done)


async def test_the_hold_cookie_is_http_only_same_site_and_secure(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service = await service_id(seeded)
    walk, start = await choose_time(http, service, "any")
    held = await submit(http, walk.pages["time"], "/book/time", start=start)
    cookie = set_cookie(held, "clinic_hold").lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" in cookie
    assert "path=/book" in cookie
    browser = set_cookie(held, "clinic_browser").lower()
    assert "httponly" in browser


async def test_a_time_taken_meanwhile_returns_to_the_time_page_with_the_message(
    seeded: Database, http: httpx2.AsyncClient, new_client: Any
) -> None:
    service = await service_id(seeded)
    therapist = await free_therapist(http, service)
    walk, start = await choose_time(http, service, str(therapist))
    # Someone else books that exact time while this client is deciding.
    async with new_client() as other:
        taken = await other.post(
            "/api/v1/bookings",
            json={
                "service_id": service,
                "start": start,
                "therapist_id": therapist,
                "client": {**CLIENT, "email": "someone.else@example.com"},
            },
        )
        assert taken.status_code == 201, taken.text
    response = await submit(http, walk.pages["time"], "/book/time", start=start)
    assert response.status_code == 409
    page = response.text
    assert title_of(page).startswith("Error: Choose a date and time")
    message = "That time has just been booked. Choose another."
    assert page.count(message) == 2  # in the summary and beside the times
    assert 'href="#start"' in page
    assert "<h2>Tuesday 1 December</h2>" in page
    assert start not in post_form(page, "/book/time").radios["start"]
    assert "clinic_hold" not in response.headers.get("set-cookie", "")


async def test_bad_details_come_back_with_errors_beside_the_fields_and_the_input_kept(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service = await service_id(seeded)
    walk, start = await choose_time(http, service, "any")
    await submit(http, walk.pages["time"], "/book/time", start=start)
    page = await get_page(http, "/book/details")
    response = await submit(http, page, name="Ruth Example", email="ruth.example", phone="")
    assert response.status_code == 422
    page = response.text
    assert title_of(page).startswith("Error: Your details – Step 5 of 6")
    assert "There is a problem" in page
    for field_name, message in (
        ("email", "Enter an email address in the correct format, like name@example.com"),
        ("phone", "Enter your mobile number"),
    ):
        assert f'<a href="#{field_name}">{message}</a>' in page
        assert re.search(
            rf'<p id="{field_name}-error" class="error-message">.*?{re.escape(message)}</p>', page
        )
        assert re.search(rf'id="{field_name}"[^>]*aria-describedby="[^"]*{field_name}-error', page)
    assert 'value="Ruth Example"' in page
    assert 'value="ruth.example"' in page
    assert "#name" not in page


async def test_checking_a_hold_that_has_gone_goes_back_to_the_time_step(
    seeded: Database, http: httpx2.AsyncClient, new_client: Any
) -> None:
    service = await service_id(seeded)
    walk, start = await choose_time(http, service, "any")
    await submit(http, walk.pages["time"], "/book/time", start=start)
    details = await get_page(http, "/book/details")
    check = await get_page(http, see_other(await submit(http, details, **CLIENT)))
    # The hold runs out (the sweeper releases it) and someone else takes the time.
    async with seeded.transaction() as session:
        hold = await session.scalar(
            select(Appointment).where(Appointment.status == AppointmentStatus.HELD)
        )
        assert hold is not None
        hold.status = AppointmentStatus.EXPIRED
        therapist = hold.therapist_id
    async with new_client() as other:
        taken = await other.post(
            "/api/v1/bookings",
            json={
                "service_id": service,
                "start": start,
                "therapist_id": therapist,
                "client": {**CLIENT, "email": "first@example.com"},
            },
        )
        assert taken.status_code == 201, taken.text
    response = await submit(http, check)
    back = see_other(response)
    assert back == f"/book/time?service={service}&therapist=any&date={DAY}"
    assert "Max-Age=0" in set_cookie(response, "clinic_hold")
    page = await get_page(http, back)
    assert "no longer held for you" in page


async def test_a_step_without_its_choices_starts_again(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    assert see_other(await http.get("/book/therapist")) == "/book"
    assert see_other(await http.get("/book/time?service=999999")) == "/book"
    service = await service_id(seeded)
    # Without the health step, the later steps go to it.
    assert see_other(await http.get(f"/book/therapist?service={service}")) == (
        f"/book/health?service={service}"
    )
    await through_health(http, Walk(), f"/book/health?service={service}")
    assert (
        see_other(await http.get(f"/book/time?service={service}&therapist=999999"))
        == f"/book/therapist?service={service}"
    )
    assert see_other(await http.get("/book/check")) == "/book"
    page = await get_page(http, "/book")
    response = await submit(http, page)
    assert response.status_code == 422
    assert title_of(response.text).startswith("Error: Choose a service")
    assert '<a href="#service">Choose a service</a>' in response.text


async def test_manage_page_then_reschedule_through_the_pages(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service = await service_id(seeded)
    walk, token = await book_through_pages(http, service, "any")
    original = await appointment_for(seeded, walk.urls["start"])

    page = await get_page(http, f"/manage/{token}")
    assert token not in title_of(page)
    words = text_of(page)
    assert "Booked" in words
    assert f"Reference {original.id}" in words
    assert "Change time" in words
    assert "Cancel appointment" in words

    page = await get_page(http, f"/manage/{token}/time?date=2026-12-02")
    assert "Times are New York time (EST)." in text_of(page)
    assert "<h2>Wednesday 2 December</h2>" in page
    new_start = post_form(page, "/time").radios["start"][3]
    confirm_url = see_other(await submit(http, page, "/time", start=new_start))
    assert confirm_url.startswith(f"/manage/{token}/time/confirm?start=")
    page = await get_page(http, confirm_url)
    assert "Wednesday 2 December 2026" in text_of(page)
    back = see_other(await submit(http, page, "/confirm"))
    assert back == f"/manage/{token}"
    page = await get_page(http, back)
    assert "Your appointment is now at" in text_of(page)
    async with seeded.reading() as session:
        moved = await session.get(Appointment, original.id)
    assert moved is not None
    assert moved.starts_at == datetime.fromisoformat(new_start)
    assert moved.status is AppointmentStatus.CONFIRMED


async def test_the_change_time_page_does_not_let_the_appointment_block_itself(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service = await service_id(seeded)
    therapist = await free_therapist(http, service)
    walk, token = await book_through_pages(http, service, str(therapist), pick=2)
    booked = datetime.fromisoformat(walk.urls["start"])
    page = await get_page(http, f"/manage/{token}/time?date={DAY}")
    starts = [datetime.fromisoformat(s) for s in post_form(page, "/time").radios["start"]]
    assert booked not in starts
    # A time overlapping the current appointment is offered: it only blocks others.
    assert any(abs(s - booked).total_seconds() < 3600 for s in starts)


async def test_a_reschedule_that_loses_its_race_keeps_the_original(
    seeded: Database, http: httpx2.AsyncClient, new_client: Any
) -> None:
    service = await service_id(seeded)
    therapist = await free_therapist(http, service)
    walk, token = await book_through_pages(http, service, str(therapist))
    original = await appointment_for(seeded, walk.urls["start"])
    page = await get_page(http, f"/manage/{token}/time?date=2026-12-02")
    new_start = post_form(page, "/time").radios["start"][-1]
    confirm = await get_page(http, see_other(await submit(http, page, "/time", start=new_start)))
    async with new_client() as other:
        taken = await other.post(
            "/api/v1/bookings",
            json={
                "service_id": service,
                "start": new_start,
                "therapist_id": therapist,
                "client": {**CLIENT, "email": "quick@example.com"},
            },
        )
        assert taken.status_code == 201, taken.text
    response = await submit(http, confirm, "/confirm")
    assert response.status_code == 409
    assert title_of(response.text).startswith("Error: Choose a new time")
    assert "That time has just been booked. Choose another." in response.text
    async with seeded.reading() as session:
        kept = await session.get(Appointment, original.id)
    assert kept is not None
    assert kept.starts_at == original.starts_at
    assert kept.status is AppointmentStatus.CONFIRMED


async def test_cancelling_early_is_free_and_then_the_page_says_cancelled(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service = await service_id(seeded)
    _walk, token = await book_through_pages(http, service)
    page = await get_page(http, f"/manage/{token}/cancel")
    assert "Cancelling is free" in text_of(page)
    assert "medically_excused" not in page
    back = see_other(await submit(http, page, "/cancel"))
    page = await get_page(http, back)
    words = text_of(page)
    assert "Cancelled" in words
    assert "Change time" not in words
    assert "call the clinic" in words
    async with seeded.reading() as session:
        cancelled = await session.get(Appointment, reference_of(page))
    assert cancelled is not None
    assert cancelled.status is AppointmentStatus.CANCELLED
    assert cancelled.fee_minor == 0
    # No way back into the change pages.
    assert see_other(await http.get(f"/manage/{token}/time")) == f"/manage/{token}"


@pytest.mark.parametrize(("excused", "fee"), [(False, 4750), (True, 0)])
async def test_a_late_cancellation_states_its_fee_first_and_illness_waives_it(
    seeded: Database, http: httpx2.AsyncClient, excused: bool, fee: int
) -> None:
    service = await service_id(seeded)
    walk, token = await book_through_pages(http, service, day=TODAY)
    check = text_of(walk.pages["check"])
    assert "less than 24 hours away, so cancelling it would cost $47.50" in check
    page = await get_page(http, f"/manage/{token}")
    assert "so cancelling now costs $47.50" in text_of(page)
    page = await get_page(http, f"/manage/{token}/cancel")
    words = text_of(page)
    assert words.index("Cancelling now costs $47.50") < words.index("Cancel appointment")
    assert "Cancelling because of illness or treatment?" in words
    data = {"medically_excused": "yes"} if excused else {}
    back = see_other(await submit(http, page, "/cancel", **data))
    page = await get_page(http, back)
    async with seeded.reading() as session:
        cancelled = await session.get(Appointment, reference_of(page))
    assert cancelled is not None
    assert cancelled.status is AppointmentStatus.CANCELLED
    assert cancelled.fee_minor == fee
    assert ("$47.50 applies" in text_of(page)) is (not excused)


async def test_an_unknown_manage_token_is_the_404_page(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    for url in (
        "/manage/not-a-real-token",
        "/manage/not-a-real-token/time",
        "/manage/not-a-real-token/cancel",
        "/book/done/not-a-real-token",
    ):
        response = await http.get(url)
        assert response.status_code == 404
        assert "We could not find that booking" in response.text
        assert "call the clinic" in response.text
        assert "not-a-real-token" not in title_of(response.text)


async def test_every_page_works_without_javascript(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service = await service_id(seeded)
    walk, token = await book_through_pages(http, service)
    pages = {
        **walk.pages,
        "manage": await get_page(http, f"/manage/{token}"),
        "change": await get_page(http, f"/manage/{token}/time"),
        "cancel": await get_page(http, f"/manage/{token}/cancel"),
    }
    titles = set()
    for name, page in pages.items():
        assert "<script" not in page, name
        assert h1_count(page) == 1, name
        assert 'href="#main"' in page, name
        titles.add(title_of(page))
        for form in forms_of(page):
            if form.method == "post":
                assert form.fields.get("csrf_token"), name
    assert len(titles) == len(pages)
