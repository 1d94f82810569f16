"""Which handler carries out each kind of outbox message, and which jobs run periodically.

Handlers and jobs register themselves when their module is imported (clinic.worker's
JOB_MODULES lists those modules). This module runs nothing itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any, TypeVar

import jinja2

from clinic.db import Database
from clinic.notifications.mail import (
    Attachment,
    Mailer,
    build_message,
    render_email,
    stable_message_id,
)
from clinic.outbox.models import OutboxMessage
from clinic.settings import Settings

#: Outbox rows that drive a periodic job are of kind "periodic.<job name>".
PERIODIC_PREFIX = "periodic."


@dataclass(frozen=True)
class HandlerContext:
    """What a handler gets besides its message. Handlers open their own short
    transactions on `db` (never one around a network call)."""

    db: Database
    settings: Settings
    mailer: Mailer
    templates: jinja2.Environment

    @property
    def clinic_name(self) -> str:
        """The display name of the From address: "Willow & Oak Massage Therapy"."""
        return parseaddr(self.settings.mail_from)[0].strip() or "the clinic"

    async def send_email(
        self,
        message: OutboxMessage,
        *,
        to: str,
        template: str,
        context: Mapping[str, Any],
        attachments: Iterable[Attachment] = (),
    ) -> EmailMessage:
        """Render emails/{template}.*, build the e-mail and hand it to the mailer.

        Its Message-ID comes from the outbox row, so a redelivery carries the same one.
        `context` gets `clinic_name` and `clinic_url` unless it sets them.
        """
        values = {"clinic_name": self.clinic_name, "clinic_url": self.settings.base_url}
        subject, text, html = render_email(self.templates, template, {**values, **context})
        email = build_message(
            to=to,
            subject=subject,
            text=text,
            html=html,
            mail_from=self.settings.mail_from,
            message_id=stable_message_id(message.id, message.created_at, self.settings.mail_from),
            attachments=attachments,
        )
        await self.mailer.send(email)
        return email


Handler = Callable[[HandlerContext, OutboxMessage], Awaitable[None]]
JobFunction = Callable[[HandlerContext], Awaitable[int]]

H = TypeVar("H", bound=Handler)
J = TypeVar("J", bound=JobFunction)


@dataclass(frozen=True)
class PeriodicJob:
    """`run` does one period's work and returns how many things it handled."""

    name: str
    every: timedelta
    run: JobFunction

    @property
    def kind(self) -> str:
        return PERIODIC_PREFIX + self.name


class Registry:
    """Kinds to handlers and names to periodic jobs. The app uses REGISTRY; tests may
    build their own and hand it to a Worker."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._jobs: dict[str, PeriodicJob] = {}

    def handles(self, kind: str) -> Callable[[H], H]:
        """Decorator: `fn` carries out messages of `kind` ("email.booking_confirmed")."""
        if not kind or len(kind) > 100:
            raise ValueError(f"an outbox kind has 1 to 100 characters (got {kind!r})")
        if kind.startswith(PERIODIC_PREFIX):
            raise ValueError(f"{kind!r}: kinds starting {PERIODIC_PREFIX!r} belong to @periodic")

        def register(fn: H) -> H:
            existing = self._handlers.get(kind)
            if existing is not None and existing is not fn:
                raise ValueError(f"outbox kind {kind!r} already has a handler: {existing!r}")
            self._handlers[kind] = fn
            return fn

        return register

    def periodic(self, name: str, *, every: timedelta) -> Callable[[J], J]:
        """Decorator: run `fn(ctx)` once per `every` across all workers and processes."""
        if not name or len(PERIODIC_PREFIX + name) > 100:
            raise ValueError(f"a periodic job name has 1 to 90 characters (got {name!r})")
        if every <= timedelta(0):
            raise ValueError(f"periodic job {name!r}: every must be positive")

        def register(fn: J) -> J:
            existing = self._jobs.get(name)
            if existing is not None and existing.run is not fn:
                raise ValueError(f"periodic job {name!r} is already registered")
            self._jobs[name] = PeriodicJob(name=name, every=every, run=fn)
            return fn

        return register

    def handler_for(self, kind: str) -> Handler | None:
        return self._handlers.get(kind)

    def periodic_job(self, name: str) -> PeriodicJob | None:
        return self._jobs.get(name)

    def periodic_jobs(self) -> tuple[PeriodicJob, ...]:
        return tuple(self._jobs[name] for name in sorted(self._jobs))

    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted(self._handlers))


REGISTRY = Registry()

handles = REGISTRY.handles
periodic = REGISTRY.periodic
handler_for = REGISTRY.handler_for
periodic_job = REGISTRY.periodic_job
periodic_jobs = REGISTRY.periodic_jobs
