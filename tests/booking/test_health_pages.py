"""The booking flow's health step (/book/health...) and a manage link's health form, driven
as a browser with JavaScript off would: read the forms, post them back with their CSRF
token. No health answer may appear in an address or a page title."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote

import httpx2
import pytest
from sqlalchemy import func, select

from clinic.booking.models import Appointment, ManageLink
from clinic.booking.statuses import AppointmentStatus
from clinic.clients.models import Client
from clinic.db import Database
from clinic.demo.data import INTENDED_LEVELS
from clinic.intake import forms
from clinic.intake.forms import Kind
from clinic.intake.models import AppointmentIntake, Intake, IntakeState
from clinic.staff.models import Therapist
from clinic.tokens import token_hash
from tests.booking.conftest import CLIENT, service_id

pytestmark = pytest.mark.usefixtures("frozen")

DAY = "2026-12-01"
TODAY = "2026-11-27"
GATE_LABEL = "Have you ever had cancer, or are you being treated for it now?"
# Words that would give away a client's health if they reached an address or a title.
TELLTALE = ("cancer", "oncolog", "clot", "bone", "chemo", "yes", "metast", "lymph", "tumo")


# Reading and posting pages


@dataclass
class Form:
    action: str
    method: str
    # What the browser sends as the page stands: hidden and text fields, checked boxes and
    # radios, selected options.
    sent: list[tuple[str, str]] = field(default_factory=list)
    radios: dict[str, list[str]] = field(default_factory=dict)
    checkboxes: dict[str, list[str]] = field(default_factory=dict)
    selects: dict[str, list[str]] = field(default_factory=dict)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        form = self._form
        if tag == "form":
            self._form = Form(a.get("action", ""), a.get("method", "get").lower())
            self.forms.append(self._form)
        elif form is None:
            return
        elif tag == "input":
            kind, name, value = a.get("type", "text"), a.get("name", ""), a.get("value", "")
            if kind in ("radio", "checkbox"):
                group = form.radios if kind == "radio" else form.checkboxes
                group.setdefault(name, []).append(value)
                if "checked" in a:
                    form.sent.append((name, value))
            else:
                form.sent.append((name, value))
        elif tag == "select":
            self._select = a.get("name", "")
            form.selects[self._select] = []
        elif tag == "option" and self._select is not None:
            form.selects[self._select].append(a.get("value", ""))
            if "selected" in a:
                form.sent.append((self._select, a.get("value", "")))
        elif tag == "textarea":
            self._textarea = a.get("name", "")
            form.sent.append((self._textarea, ""))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None and self._form is not None:
            name, value = self._form.sent.pop()
            self._form.sent.append((name, value + data))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def post_form(html: str, contains: str = "") -> Form:
    parser = _Forms()
    parser.feed(html)
    found = [f for f in parser.forms if f.method == "post" and contains in f.action]
    found = [f for f in found if "logout" not in f.action]
    assert found, f"no POST form with {contains!r} in its action"
    return found[0]


def title_of(html: str) -> str:
    match = re.search(r"<title>(.*?)</title>", html, re.S)
    assert match
    return unescape(match.group(1)).strip()


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def set_cookie(response: httpx2.Response, name: str) -> str:
    headers = [v for v in response.headers.get_list("set-cookie") if v.startswith(f"{name}=")]
    assert headers, f"no {name} cookie set"
    return headers[0]


class Browser:
    """The test's browser: it remembers every address it saw and every title it read, so
    a test can check that no health answer reached one."""

    def __init__(self, http: httpx2.AsyncClient) -> None:
        self.http = http
        self.addresses: list[str] = []
        self.titles: list[str] = []

    def _saw(self, response: httpx2.Response) -> None:
        self.addresses.append(str(response.request.url))
        if "location" in response.headers:
            self.addresses.append(response.headers["location"])
        if response.headers.get("content-type", "").startswith("text/html"):
            self.titles.append(title_of(response.text))

    async def get(self, url: str, status: int = 200) -> str:
        response = await self.http.get(url)
        self._saw(response)
        assert response.status_code == status, (url, response.status_code, response.text[:800])
        if status == 200:
            assert len(re.findall(r"<h1[ >]", response.text)) == 1, url
        return response.text

    async def submit(
        self, html: str, contains: str = "", /, **answers: str | list[str]
    ) -> httpx2.Response:
        """Post a page's form as it stands, with `answers` in place of those fields."""
        form = post_form(html, contains)
        body: dict[str, Any] = {}
        for name, value in form.sent:
            if name in answers:
                continue
            body.setdefault(name, []).append(value)
        body.update(answers)
        response = await self.http.post(form.action.removeprefix("https://testserver"), data=body)
        self._saw(response)
        return response

    def assert_no_health_in_addresses_or_titles(self) -> None:
        for seen in self.addresses + self.titles:
            lowered = unquote(seen).lower()
            for word in TELLTALE:
                assert word not in lowered, (word, seen)


def see_other(response: httpx2.Response) -> str:
    assert response.status_code == 303, (response.status_code, response.text[:1500])
    location: str = response.headers["location"]
    return location.removeprefix("https://testserver")


# Answers


def answers(
    cancer_history: bool,
    overrides: Mapping[str, str | list[str]] | None = None,
    *,
    gate_field: bool = False,
) -> dict[str, str | list[str]]:
    """A complete, unremarkable set of answers to the current form as posted fields: "no"
    to every required yes/no question, the first option of every required choice; then
    `overrides`. `gate_field`: post the gate too
    (the manage form asks it; the booking flow asks it on its own page)."""
    definition = forms.current()
    posted: dict[str, str | list[str]] = {}
    for section in definition.sections:
        if section.shown_if is not None and not cancer_history:
            continue
        for q in section.questions:
            if q.shown_if is not None or not q.required or q.id == forms.GATE_QUESTION:
                continue
            if q.kind is Kind.YES_NO:
                posted[q.id] = "no"
            elif q.kind is Kind.CHOICE:
                posted[q.id] = q.options[0].value
    if gate_field:
        posted[forms.GATE_QUESTION] = "yes" if cancer_history else "no"
    posted.update(overrides or {})
    posted.setdefault("signed_name", CLIENT["name"])
    posted.setdefault("agreed", "yes")
    return posted


BONE_METS = {"bone_mets": "yes", "bone_mets_sites_known": "no"}
IN_TREATMENT = {"phase": "in_treatment"}
SUSPECTED_CLOT = {"clot": "suspected"}


# Walking the flow


async def to_health_step(browser: Browser, service: int) -> str:
    """Choose the service; returns the health step's address."""
    page = await browser.get("/book")
    health_url = see_other(await browser.submit(page, service=str(service)))
    assert health_url == f"/book/health?service={service}"
    return health_url


async def answer_gate(browser: Browser, service: int, cancer_history: bool) -> str:
    """Through the gate question; returns the form page."""
    page = await browser.get(await to_health_step(browser, service))
    form_url = see_other(
        await browser.submit(page, cancer_history="yes" if cancer_history else "no")
    )
    assert form_url == f"/book/health/form?service={service}"
    return await browser.get(form_url)


async def sign_form(
    browser: Browser, service: int, cancer_history: bool, **overrides: str | list[str]
) -> httpx2.Response:
    """The gate and the form, signed; returns the response to the form's post."""
    page = await answer_gate(browser, service, cancer_history)
    return await browser.submit(page, **answers(cancer_history, overrides))


async def to_plan(
    browser: Browser, service: int, cancer_history: bool, **overrides: str | list[str]
) -> str:
    signed = await sign_form(browser, service, cancer_history, **overrides)
    plan_url = see_other(signed)
    assert plan_url == f"/book/health/plan?service={service}"
    return await browser.get(plan_url)


async def book_after_plan(browser: Browser, plan: str, day: str = DAY) -> tuple[str, str]:
    """From the plan page through anyone suitable, the first time on `day`, the details
    and the check; returns the done page and the manage token."""
    therapist_url = continue_url(plan)
    assert therapist_url is not None
    page = await browser.get(therapist_url)
    time_url = see_other(await browser.submit(page, therapist="any"))
    page = await browser.get(f"{time_url}&date={day}")
    start = post_form(page, "/book/time").radios["start"][0]
    assert see_other(await browser.submit(page, "/book/time", start=start)) == "/book/details"
    page = await browser.get("/book/details")
    check = see_other(await browser.submit(page, **CLIENT))
    page = await browser.get(check)
    done_url = see_other(await browser.submit(page))
    assert done_url.startswith("/book/done/")
    return await browser.get(done_url), done_url.rsplit("/", 1)[1]


def continue_url(plan: str) -> str | None:
    match = re.search(r'<a class="button" href="([^"]+)">Continue</a>', plan)
    return unescape(match.group(1)) if match else None


async def therapist_names(db: Database, ids: list[str]) -> set[str]:
    async with db.reading() as session:
        rows = await session.scalars(
            select(Therapist.display_name).where(Therapist.id.in_([int(i) for i in ids]))
        )
        return set(rows)


async def intake_count(db: Database) -> int:
    async with db.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(Intake)) or 0)


async def intake_of(db: Database, response: httpx2.Response) -> Intake:
    """The intake whose token a response put in the clinic_intake cookie."""
    token = set_cookie(response, "clinic_intake").split(";", 1)[0].split("=", 1)[1]
    async with db.reading() as session:
        intake = await session.scalar(select(Intake).where(Intake.token_hash == token_hash(token)))
    assert intake is not None
    return intake


async def link_of(db: Database, token: str) -> tuple[Appointment, AppointmentIntake | None]:
    """The booking a manage token opens, and its link to its intake."""
    async with db.reading() as session:
        appointment = await session.scalar(
            select(Appointment)
            .join(ManageLink, ManageLink.appointment_id == Appointment.id)
            .where(ManageLink.token_hash == token_hash(token))
        )
        assert appointment is not None
        return appointment, await session.get(AppointmentIntake, appointment.id)


# Tests


async def test_the_gate_follows_the_service_and_yes_adds_the_cancer_section(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    browser = Browser(http)
    service = await service_id(seeded)
    page = await browser.get(await to_health_step(browser, service))
    assert title_of(page).startswith("Your health – Step 2 of 6")
    assert GATE_LABEL in text_of(page)
    form = post_form(page, "/book/health")
    assert form.radios["cancer_history"] == ["yes", "no"]
    assert f'href="/book?service={service}"' in page  # Back to the service step

    response = await browser.submit(page, cancer_history="yes")
    gate = set_cookie(response, "clinic_gate").lower()
    for part in ("httponly", "secure", "samesite=lax", "path=/book"):
        assert part in gate
    page = await browser.get(see_other(response))
    assert title_of(page).startswith("Health questions – Step 2 of 6")
    words = text_of(page)
    assert f"{GATE_LABEL} Yes" in words
    assert "Cancer and its treatment" in words
    form = post_form(page, "/book/health/form")
    # Asked on its own page, the gate is not asked again.
    assert "cancer_history" not in form.radios
    assert form.radios["bone_mets"] == ["yes", "no"]
    # Follow-ups are drawn, led by the answer they follow; a script may hide them.
    assert "If yes:" in words
    assert 'data-when-name="bone_mets_sites_known" data-when-value="yes"' in page
    assert form.checkboxes["bone_mets_sites"][0] == "head"
    # Groups: three blank entries, dates as date fields.
    assert "surgeries-2-site" in form.selects
    assert "surgeries-3-site" not in form.selects
    assert '<input id="surgeries-0-on" name="surgeries-0-on" type="date"' in page
    assert 'src="/static/intake-form.js"' in page or "intake-form.js" in page
    assert "I confirm" in words
    assert form.checkboxes["agreed"] == ["yes"]
    assert "signed_name" in dict(form.sent)
    browser.assert_no_health_in_addresses_or_titles()


async def test_no_to_the_gate_leaves_the_cancer_section_out(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    browser = Browser(http)
    page = await answer_gate(browser, await service_id(seeded), cancer_history=False)
    words = text_of(page)
    assert f"{GATE_LABEL} No" in words
    assert "Cancer and its treatment" not in words
    form = post_form(page, "/book/health/form")
    assert "bone_mets" not in form.radios
    assert "pregnant" in form.radios
    browser.assert_no_health_in_addresses_or_titles()


async def test_a_form_with_mistakes_comes_back_with_errors_and_every_answer_kept(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    browser = Browser(http)
    service = await service_id(seeded)
    page = await answer_gate(browser, service, cancer_history=True)
    posted = answers(
        True,
        {
            "pregnant": "yes",  # but no trimester
            "had_surgery": "yes",
            "medicines": "Tamoxifen 20mg",
            "surgeries-0-site": "left_upper_trunk",
            "surgeries-0-incision_healed": "yes",
            "agreed": "",
        },
    )
    before = await intake_count(seeded)
    response = await browser.submit(page, **posted)
    assert response.status_code == 422
    page = response.text
    assert title_of(page).startswith("Error: Health questions – Step 2 of 6")
    assert "There is a problem" in page
    for name in ("pregnancy_trimester", "surgeries-0-on", "agreed"):
        assert f'<a href="#{name}">' in page, name
        assert f'<p id="{name}-error" class="error-message">' in page, name
        assert re.search(rf'id="{name}"[^>]*>', page), name
    assert re.search(r'id="surgeries-0-on"[^>]*aria-describedby="[^"]*surgeries-0-on-error', page)
    assert "Enter the date of the operation" in page
    form = post_form(page, "/book/health/form")
    sent = form.sent
    assert ("pregnant", "yes") in sent
    assert ("had_surgery", "yes") in sent
    assert ("surgeries-0-site", "left_upper_trunk") in sent
    assert ("surgeries-0-incision_healed", "yes") in sent
    assert ("medicines", "Tamoxifen 20mg") in sent
    assert ("signed_name", CLIENT["name"]) in sent
    assert ("bone_mets", "no") in sent
    assert await intake_count(seeded) == before
    assert "clinic_intake" not in response.headers.get("set-cookie", "")
    browser.assert_no_health_in_addresses_or_titles()


async def test_a_signed_form_sets_the_cookie_and_the_plan_says_what_we_adapt(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    browser = Browser(http)
    service = await service_id(seeded, "Oncology massage, 30 min")
    signed = await sign_form(browser, service, True, **IN_TREATMENT)
    cookie = set_cookie(signed, "clinic_intake").lower()
    for part in ("httponly", "secure", "samesite=lax", "path=/book"):
        assert part in cookie
    assert "max-age=0" in set_cookie(signed, "clinic_gate").lower()
    page = await browser.get(see_other(signed))
    assert title_of(page).startswith("Your health form – Step 2 of 6")
    words = text_of(page)
    assert "What we will adapt for you" in words
    assert "Pressure: light to medium (level 3 of 5)." in words
    assert "Session length: up to 45 minutes." in words
    assert "We will offer only therapists trained in oncology massage." in words
    # The client's own answers, in words, and a way to change them.
    assert "Where are you with your treatment? Having treatment now" in words
    assert f'href="/book/health/form?service={service}"' in page
    assert "Change your answers" in words
    assert continue_url(page) == f"/book/therapist?service={service}"
    intake = await intake_of(seeded, signed)
    assert intake.cancer_history is True
    assert intake.signed_name == CLIENT["name"]
    assert intake.client_id is None
    browser.assert_no_health_in_addresses_or_titles()


async def test_a_service_longer_than_the_plan_allows_goes_back_to_the_service_step(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    browser = Browser(http)
    service = await service_id(seeded)  # 60 minutes; the plan allows 45
    plan = await to_plan(browser, service, True, **IN_TREATMENT)
    therapist_url = continue_url(plan)
    assert therapist_url is not None
    back = see_other(await http.get(therapist_url))
    assert back == f"/book?service={service}"
    page = await browser.get(back)
    assert title_of(page).startswith("Error: Choose a service")
    message = "Your care plan limits sessions to 45 minutes. Choose a shorter service."
    assert f'<a href="#service">{message}</a>' in page
    # Choosing it again is refused on the spot; a shorter one goes on.
    response = await browser.submit(page, service=str(service))
    assert response.status_code == 422
    shorter = await service_id(seeded, "Oncology massage, 30 min")
    assert see_other(await browser.submit(page, service=str(shorter))).startswith("/book/health")


async def test_bone_metastases_offer_only_level_two_therapists_and_book_as_a_request(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    browser = Browser(http)
    service = await service_id(seeded)
    plan = await to_plan(browser, service, True, **BONE_METS)
    words = text_of(plan)
    assert "We need a note from your doctor or oncology team" in words
    assert "You can choose a time; we confirm it once the clinic has what it needs." in words
    therapist_url = continue_url(plan)
    assert therapist_url is not None
    page = await browser.get(therapist_url)
    assert title_of(page).startswith("Choose a therapist – Step 3 of 6")
    assert f'href="/book/health/plan?service={service}"' in page  # Back to the plan
    offered = post_form(page, "/book/therapist").radios["therapist"]
    assert offered[0] == "any"
    level_two = {name for name, level in INTENDED_LEVELS.items() if level and level >= 2}
    assert await therapist_names(seeded, offered[1:]) == level_two
    # Nobody else can be named in the address either.
    async with seeded.reading() as session:
        others = await session.scalars(
            select(Therapist.id).where(Therapist.display_name.not_in(level_two))
        )
        other = next(iter(others))
    assert see_other(await http.get(f"/book/time?service={service}&therapist={other}")) == (
        f"/book/therapist?service={service}"
    )

    done, token = await book_after_plan(browser, plan)
    assert title_of(done).startswith("Request received")
    assert "The clinic will contact you before your visit" in text_of(done)
    appointment, link = await link_of(seeded, token)
    assert appointment.status is AppointmentStatus.PENDING_CLEARANCE
    assert await therapist_names(seeded, [str(appointment.therapist_id)]) <= level_two
    assert link is not None
    assert link.state is IntakeState.COMPLETE
    assert link.required_level == 2
    async with seeded.reading() as session:
        intake = await session.get(Intake, link.intake_id)
    assert intake is not None
    assert intake.client_id == appointment.client_id
    browser.assert_no_health_in_addresses_or_titles()


async def test_a_plan_that_defers_says_to_contact_us_and_offers_no_way_on(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    browser = Browser(http)
    service = await service_id(seeded)
    plan = await to_plan(browser, service, True, **SUSPECTED_CLOT)
    words = text_of(plan)
    assert "Please contact us before booking" in words
    assert "tel:" in plan
    assert continue_url(plan) is None
    assert "What we will adapt for you" not in words
    # The later steps send the browser back to this page.
    plan_url = f"/book/health/plan?service={service}"
    assert see_other(await http.get(f"/book/therapist?service={service}")) == plan_url
    assert see_other(await http.get(f"/book/time?service={service}&therapist=any")) == plan_url
    browser.assert_no_health_in_addresses_or_titles()


async def test_a_day_of_visit_answer_refuses_a_visit_soon_at_the_check_step(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    """A fever counts only for a visit within the next two days: the times are offered,
    and booking one today says to contact the clinic instead."""
    browser = Browser(http)
    service = await service_id(seeded)
    plan = await to_plan(browser, service, False, fever_or_chills="yes")
    therapist_url = continue_url(plan)
    assert therapist_url is not None
    page = await browser.get(therapist_url)
    time_url = see_other(await browser.submit(page, therapist="any"))
    page = await browser.get(f"{time_url}&date={TODAY}")
    start = post_form(page, "/book/time").radios["start"][0]
    assert see_other(await browser.submit(page, "/book/time", start=start)) == "/book/details"
    page = await browser.get("/book/details")
    page = await browser.get(see_other(await browser.submit(page, **CLIENT)))
    response = await browser.submit(page)
    assert response.status_code == 422
    assert title_of(response.text).startswith("Please contact us before booking")
    assert "We have not booked this time." in text_of(response.text)
    async with seeded.reading() as session:
        booked = await session.scalar(
            select(func.count())
            .select_from(Appointment)
            .join(Client, Client.id == Appointment.client_id)
            .where(Client.email == CLIENT["email"])
        )
    assert not booked
    browser.assert_no_health_in_addresses_or_titles()


async def test_a_health_form_gone_by_the_check_step_is_asked_for_again(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    browser = Browser(http)
    service = await service_id(seeded)
    signed = await sign_form(browser, service, False)
    plan = await browser.get(see_other(signed))
    intake = await intake_of(seeded, signed)
    therapist_url = continue_url(plan)
    assert therapist_url is not None
    page = await browser.get(therapist_url)
    time_url = see_other(await browser.submit(page, therapist="any"))
    page = await browser.get(f"{time_url}&date={DAY}")
    start = post_form(page, "/book/time").radios["start"][0]
    await browser.submit(page, "/book/time", start=start)
    page = await browser.get("/book/details")
    page = await browser.get(see_other(await browser.submit(page, **CLIENT)))
    async with seeded.transaction() as session:
        gone = await session.get(Intake, intake.id)
        assert gone is not None
        await session.delete(gone)
    response = await browser.submit(page)
    assert see_other(response) == f"/book/health?service={service}"
    assert "max-age=0" in set_cookie(response, "clinic_intake").lower()
    page = await browser.get(f"/book/health?service={service}")
    assert "We could not find your health form. Fill it in again." in text_of(page)
    assert GATE_LABEL in text_of(page)


async def test_booking_through_the_check_step_links_the_intake(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    browser = Browser(http)
    plan = await to_plan(browser, await service_id(seeded), False)
    assert "Nothing needs adapting in advance." in text_of(plan)
    done, token = await book_after_plan(browser, plan)
    assert title_of(done).startswith("Appointment booked")
    appointment, link = await link_of(seeded, token)
    assert appointment.status is AppointmentStatus.CONFIRMED
    assert link is not None
    assert link.state is IntakeState.COMPLETE
    assert link.intake_id is not None
    # Booked with its form: the manage page asks for none.
    manage = await browser.get(f"/manage/{token}")
    assert "Fill in your health form" not in manage
    browser.assert_no_health_in_addresses_or_titles()


async def test_each_later_step_without_the_health_step_goes_to_it(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    service = await service_id(seeded)
    health = f"/book/health?service={service}"
    assert see_other(await http.get(f"/book/therapist?service={service}")) == health
    assert see_other(await http.get(f"/book/time?service={service}&therapist=any")) == health
    assert see_other(await http.get(f"/book/health/form?service={service}")) == health
    assert see_other(await http.get(f"/book/health/plan?service={service}")) == health
    # Without a service, back to the start.
    assert see_other(await http.get("/book/health")) == "/book"
    assert see_other(await http.get("/book/health/form?service=999999")) == "/book"
    # No answer: the question again, with its error.
    browser = Browser(http)
    page = await browser.get(health)
    response = await browser.submit(page)
    assert response.status_code == 422
    assert title_of(response.text).startswith("Error: Your health – Step 2 of 6")
    assert '<a href="#cancer_history">' in response.text


async def test_a_browser_with_a_signed_form_is_asked_whether_anything_changed(
    seeded: Database, http: httpx2.AsyncClient
) -> None:
    browser = Browser(http)
    service = await service_id(seeded)
    first = await sign_form(browser, service, True, medicines="Letrozole")
    earlier = await intake_of(seeded, first)
    page = await browser.get(f"/book/health?service={service}")
    words = text_of(page)
    assert "Anything changed since you filled in your health form on Friday 27 November?" in words
    assert title_of(page).startswith("Your health – Step 2 of 6")
    assert see_other(await browser.submit(page, changed="no")) == (
        f"/book/therapist?service={service}"
    )
    # Yes: the gate again, then the form filled in with the earlier answers.
    again = see_other(await browser.submit(page, changed="yes"))
    page = await browser.get(again)
    assert GATE_LABEL in text_of(page)
    assert ("cancer_history", "yes") in post_form(page, "/book/health").sent
    page = await browser.get(see_other(await browser.submit(page, cancer_history="yes")))
    form = post_form(page, "/book/health/form")
    assert ("medicines", "Letrozole") in form.sent
    assert ("signed_name", "") in form.sent  # signed afresh
    signed = await browser.submit(
        page, medicines="Letrozole, Ibrance", signed_name="Ruth E", agreed="yes"
    )
    see_other(signed)
    later = await intake_of(seeded, signed)
    assert later.id != earlier.id
    assert (later.answers["medicines"], later.signed_name) == ("Letrozole, Ibrance", "Ruth E")
    # The earlier form is kept as it was signed.
    async with seeded.reading() as session:
        kept = await session.get(Intake, earlier.id)
    assert kept is not None
    assert (kept.answers["medicines"], kept.signed_name) == ("Letrozole", CLIENT["name"])
    browser.assert_no_health_in_addresses_or_titles()


async def test_a_manage_link_takes_the_form_for_a_booking_made_without_one(
    seeded: Database, http: httpx2.AsyncClient, new_client: Any
) -> None:
    service = await service_id(seeded)
    start, therapist = await first_start(http, service)
    booked = await http.post(
        "/api/v1/bookings",
        json={
            "service_id": service,
            "start": start,
            "therapist_id": therapist,
            "client": {**CLIENT, "email": "no.form.yet@example.com"},
        },
    )
    assert booked.status_code == 201, booked.text
    token = booked.json()["manage_token"]
    browser = Browser(http)
    manage = await browser.get(f"/manage/{token}")
    assert f'href="/manage/{token}/intake"' in manage
    assert "Fill in your health form" in manage

    page = await browser.get(f"/manage/{token}/intake")
    assert token not in title_of(page)
    form = post_form(page, "/intake")
    # The gate is on this form, and its section follows it.
    assert form.radios["cancer_history"] == ["yes", "no"]
    assert "bone_mets" in form.radios
    assert f"Answer these if you answered yes to \u201c{GATE_LABEL}\u201d" in text_of(page)

    response = await browser.submit(page, "/intake", agreed="")
    assert response.status_code == 422
    assert title_of(response.text).startswith("Error: Health questions")
    assert '<a href="#cancer_history">' in response.text

    posted = answers(True, BONE_METS, gate_field=True)
    sent = await browser.submit(response.text, "/intake", **posted)
    plan_url = see_other(sent)
    assert plan_url == f"/manage/{token}/intake/plan"
    cookie = set_cookie(sent, "clinic_intake")
    assert f"Path=/manage/{token}/intake;" in cookie
    assert "HttpOnly" in cookie
    page = await browser.get(plan_url)
    words = text_of(page)
    assert "Thank you for your health form" in words
    assert "The clinic will contact you before your visit" in words
    assert "We will offer only therapists trained in oncology massage." in words
    _appointment, link = await link_of(seeded, token)
    assert link is not None
    assert link.state is IntakeState.REVIEW  # booked with a therapist below level 2
    manage = await browser.get(f"/manage/{token}")
    assert "Fill in your health form" not in manage
    # Another browser with the manage link does not see the plan.
    async with new_client() as other:
        elsewhere = await other.get(plan_url)
        assert elsewhere.status_code == 303
        assert elsewhere.headers["location"].endswith(f"/manage/{token}")
    browser.assert_no_health_in_addresses_or_titles()


async def first_start(http: httpx2.AsyncClient, service: int) -> tuple[str, int]:
    """The first free time on DAY with a therapist who has no oncology training."""
    response = await http.get(
        "/api/v1/availability", params={"service_id": service, "from": DAY, "to": DAY}
    )
    assert response.status_code == 200, response.text
    listed = (await http.get("/api/v1/therapists")).json()["therapists"]
    untrained = {t["id"] for t in listed if not t["oncology_level"]}
    for slot in response.json()["slots"]:
        if slot["therapist_id"] in untrained:
            return slot["start"], slot["therapist_id"]
    raise AssertionError("no free time with such a therapist")
