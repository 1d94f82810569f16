"""E-mail: the Mailer seam, the console mailer, message building and template rendering.

Owns the shape of an e-mail and where it goes; it must never decide whether to send one.
E-mails must never contain health information (reliability.md section 4, HIPAA
§164.312(e)): no intake answers, no diagnosis, no clearance details, and no service name
that discloses a condition ("massage appointment", never "oncology massage"). Link to the
portal instead. Nothing here logs a subject, a body or a recipient: they may be personal.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any, Protocol

import jinja2

from clinic.clock import now_utc
from clinic.settings import Settings

logger = logging.getLogger("clinic.mail")

#: (file name, content type such as "text/calendar; method=PUBLISH", content)
Attachment = tuple[str, str, bytes]

_UNSAFE_IN_FILE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class Mailer(Protocol):
    """Hands a finished message to whatever carries it. May raise: the outbox retries."""

    async def send(self, message: EmailMessage) -> None: ...


class ConsoleMailer:
    """Writes each message as an .eml file under `var_dir`/mail/ (development and tests).

    Files are readable by the owner only (0600): they hold names and addresses. One log
    line per message names the file and the Message-ID, never the subject or the body.
    """

    def __init__(self, var_dir: Path) -> None:
        self.folder = Path(var_dir) / "mail"

    async def send(self, message: EmailMessage) -> None:
        path = await asyncio.to_thread(self._write, message)
        logger.info(
            "Wrote e-mail %s (Message-ID %s)",
            path.name,
            loggable_message_id(message.get("Message-ID", "")),
            extra={"fields": {"mail_file": path.name}},
        )

    def _write(self, message: EmailMessage) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = now_utc().strftime("%Y%m%dT%H%M%S.%fZ")
        stem = f"{stamp}_{safe_message_id(message.get('Message-ID', ''))}"
        data = message.as_bytes()
        # A redelivery at the same (frozen) instant must not overwrite the first copy.
        for n in range(1, 1000):
            path = self.folder / (f"{stem}.eml" if n == 1 else f"{stem}_{n}.eml")
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            return path
        raise FileExistsError(f"too many e-mail files named {stem}*.eml")


def safe_message_id(message_id: str) -> str:
    """A Message-ID as a file-name part: "<outbox-7.1764@x.test>" -> "outbox-7.1764_at_x.test"."""
    bare = message_id.strip().strip("<>").replace("@", "_at_")
    return _UNSAFE_IN_FILE_NAME.sub("_", bare)[:150] or "no-message-id"


def loggable_message_id(message_id: str) -> str:
    """ "<outbox-7.1764@x.test>" -> "<outbox-7.1764@...>". The log's redaction masks anything
    shaped like an e-mail address, which a whole Message-ID is; its left part is unique per
    outbox row and is what to search the mail folder or a relay's log for."""
    left, at, _domain = message_id.strip().strip("<>").partition("@")
    return f"<{left}@...>" if at else f"<{left}>"


def mailer_from_settings(settings: Settings) -> Mailer:
    """Real SMTP whenever CLINIC_SMTP_URL is set (development included); else the console
    mailer's .eml files."""
    if settings.smtp is not None:
        # Imported here: clinic/notifications/smtp.py imports this module.
        from clinic.notifications.smtp import SmtpMailer

        return SmtpMailer(settings.smtp)
    return ConsoleMailer(settings.var_dir)


def mail_domain(mail_from: str) -> str:
    """The domain of the From address: "Clinic <b@willowoak.test>" -> "willowoak.test"."""
    return parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"


def stable_message_id(outbox_id: int, created_at: datetime, mail_from: str) -> str:
    """The Message-ID of the e-mail sent for one outbox row, the same on every redelivery,
    so that mail clients and relays can drop the duplicates at-least-once delivery makes."""
    epoch = int(created_at.astimezone(UTC).timestamp())
    return f"<outbox-{outbox_id}.{epoch}@{mail_domain(mail_from)}>"


def build_message(
    *,
    to: str,
    subject: str,
    text: str,
    html: str,
    mail_from: str,
    message_id: str,
    attachments: Iterable[Attachment] = (),
) -> EmailMessage:
    """A plain-text e-mail with an HTML alternative and optional attachments.

    Header values with line breaks are refused by the email package (header injection).
    """
    if not to.strip():
        raise ValueError("an e-mail needs a recipient")
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(now_utc())
    message["Message-ID"] = message_id
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    for filename, content_type, content in attachments:
        kind, *parameters = (piece.strip() for piece in content_type.split(";"))
        maintype, slash, subtype = kind.partition("/")
        if not slash or not maintype or not subtype:
            raise ValueError(f"attachment {filename!r}: content type must be type/subtype")
        # Parameters such as a calendar's method=PUBLISH, which mail programs read to
        # decide whether the file is an entry to add or an invitation.
        params = dict(parameter.partition("=")[::2] for parameter in parameters)
        message.add_attachment(
            content, maintype=maintype, subtype=subtype, filename=filename, params=params
        )
    return message


def render_email(
    env: jinja2.Environment, name: str, context: Mapping[str, Any]
) -> tuple[str, str, str]:
    """Render emails/{name}.subject.txt, emails/{name}.txt and emails/{name}.html.

    Returns (subject, text, html). The subject is folded onto one line. The text template
    extends emails/_base.txt and the HTML one emails/_base.html.
    """
    values = dict(context)
    subject = env.get_template(f"emails/{name}.subject.txt").render(values)
    text = env.get_template(f"emails/{name}.txt").render(values)
    html = env.get_template(f"emails/{name}.html").render(values)
    return " ".join(subject.split()), text.strip() + "\n", html
