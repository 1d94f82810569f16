"""Shared helpers for the outbox tests: workers over a test registry, the e-mail
templates they render, and quick reads of outbox rows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import jinja2
from sqlalchemy import func, select

from clinic.db import Database
from clinic.notifications.mail import ConsoleMailer
from clinic.outbox.models import OutboxMessage, OutboxStatus
from clinic.outbox.registry import HandlerContext, Registry
from clinic.outbox.service import enqueue
from clinic.settings import PROJECT_ROOT, Settings
from clinic.web.templating import make_templates
from clinic.worker import Worker

T0 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)

SAMPLE_TEMPLATES = {
    "test_sample.subject.txt": "Your massage appointment\n  at {{ clinic_name }}\n",
    "test_sample.txt": (
        '{% extends "emails/_base.txt" %}\n'
        "{% block content %}\nHello {{ first_name }}, see you on {{ day }}.\n{% endblock %}\n"
    ),
    "test_sample.html": (
        '{% extends "emails/_base.html" %}\n'
        "{% block content %}<p>Hello {{ first_name }}, see you on {{ day }}.</p>{% endblock %}\n"
    ),
}


def email_templates(folder: Path) -> jinja2.Environment:
    """The app's Jinja2 environment, also loading the sample e-mail written under `folder`."""
    emails = folder / "emails"
    emails.mkdir(parents=True, exist_ok=True)
    for name, source in SAMPLE_TEMPLATES.items():
        (emails / name).write_text(source)
    env = make_templates("America/New_York").env
    loader = jinja2.ChoiceLoader(
        [jinja2.FileSystemLoader(folder), jinja2.FileSystemLoader(PROJECT_ROOT / "templates")]
    )
    return env.overlay(loader=loader)


def make_worker(
    db: Database,
    settings: Settings,
    registry: Registry,
    name: str,
    *,
    cls: type[Worker] = Worker,
    **options: object,
) -> Worker:
    ctx = HandlerContext(
        db=db,
        settings=settings,
        mailer=ConsoleMailer(settings.var_dir),
        templates=email_templates(settings.var_dir / "templates"),
    )
    return cls(ctx, name=name, registry=registry, **options)  # type: ignore[arg-type]


async def add_message(
    db: Database, kind: str, payload: dict[str, object] | None = None, **options: datetime
) -> int:
    async with db.transaction() as session:
        message = enqueue(session, kind, dict(payload or {}), **options)
        await session.flush()
        return message.id


async def load(db: Database, message_id: int) -> OutboxMessage:
    async with db.reading() as session:
        return await session.get_one(OutboxMessage, message_id, populate_existing=True)


async def open_rows(db: Database, kind: str) -> list[OutboxMessage]:
    """Rows of `kind` that are pending or leased, oldest first."""
    async with db.reading() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.kind == kind,
                OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.LEASED]),
            )
            .order_by(OutboxMessage.id)
        )
        return list(rows)


async def count(db: Database, kind: str, status: OutboxStatus | None = None) -> int:
    query = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == kind)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    async with db.reading() as session:
        return await session.scalar(query) or 0
