"""What the admin tests share: signing in as the demo admin, posting a page's form, reading
a page's words and errors, and the audit trail of a therapist."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx2
from sqlalchemy import select

from clinic.audit import AuditEntry
from clinic.auth.models import User
from clinic.db import Database
from clinic.scheduling.models import Location, Service
from clinic.staff.models import Therapist
from tests import factories

ADMIN_EMAIL = "admin@willowoak.test"
DESK_EMAIL = "frontdesk@willowoak.test"


async def sign_in_demo(http: httpx2.AsyncClient, db: Database, email: str = ADMIN_EMAIL) -> User:
    async with db.reading() as session:
        user_id = await session.scalar(select(User.id).where(User.email == email))
    assert user_id is not None
    return await factories.sign_in_existing(http, db, user_id)


async def post_form(
    http: httpx2.AsyncClient, form_page: str, url: str, data: dict[str, Any] | None = None
) -> httpx2.Response:
    """Post `data` to `url` with the CSRF token the staff page `form_page` carries."""
    token = await factories.form_token(http, form_page)
    return await http.post(url, data={**(data or {}), "csrf_token": token})


def text_of(page: str) -> str:
    """A page's visible words, tags and hidden helper text left out, spaces squeezed."""
    main = page[page.index('id="messages"') :] if 'id="messages"' in page else page
    main = re.sub(r'<span class="visually-hidden">.*?</span>', "", main, flags=re.S)
    words = html.unescape(re.sub(r"<[^>]+>", " ", main))
    return re.sub(r"\s+", " ", words)


def title_of(page: str) -> str:
    found = re.search(r"<title>(.*?)</title>", page, flags=re.S)
    assert found is not None
    return html.unescape(found.group(1)).strip()


def field_error(page: str, field: str) -> str | None:
    """The message shown beside `field` (its `<field>-error` paragraph), or None."""
    found = re.search(
        rf'<p id="{re.escape(field)}-error" class="error-message">(.*?)</p>', page, flags=re.S
    )
    if found is None:
        return None
    return text_of(found.group(1)).strip()


def summary_links(page: str) -> dict[str, str]:
    """The error summary's links: the field each focuses, and its words."""
    summary = re.search(r'<div class="error-summary".*?</div>', page, flags=re.S)
    if summary is None:
        return {}
    return {
        field: html.unescape(words)
        for field, words in re.findall(r'<a href="#([^"]+)">(.*?)</a>', summary.group(0))
    }


def input_value(page: str, field: str) -> str | None:
    found = re.search(rf'<input[^>]*\bname="{re.escape(field)}"[^>]*>', page)
    if found is None:
        return None
    value = re.search(r'\bvalue="([^"]*)"', found.group(0))
    return html.unescape(value.group(1)) if value else None


async def primary_location(db: Database) -> Location:
    async with db.reading() as session:
        location = await session.scalar(select(Location).order_by(Location.id).limit(1))
    assert location is not None
    return location


async def service_named(db: Database, name: str) -> Service:
    async with db.reading() as session:
        service = await session.scalar(select(Service).where(Service.name == name))
    assert service is not None
    return service


async def therapist_named(db: Database, name: str) -> Therapist:
    async with db.reading() as session:
        therapist = await session.scalar(select(Therapist).where(Therapist.display_name == name))
    assert therapist is not None
    return therapist


async def therapist_audit(db: Database, therapist_id: int) -> list[AuditEntry]:
    async with db.reading() as session:
        return list(
            await session.scalars(
                select(AuditEntry)
                .where(
                    AuditEntry.subject_type == "therapist",
                    AuditEntry.subject_id == str(therapist_id),
                )
                .order_by(AuditEntry.id)
            )
        )


def date_parts(name: str, day: int | str, month: int | str, year: int | str) -> dict[str, str]:
    return {f"{name}-day": str(day), f"{name}-month": str(month), f"{name}-year": str(year)}
