"""E-mail over real SMTP (aiosmtplib), used whenever CLINIC_SMTP_URL is set.

A refusal or a timeout raises `MailNotSent`; the outbox then retries the message with
back-off, so nothing is lost while a relay is down. Like the console mailer it logs the
Message-ID only, never a subject, a body or a recipient."""

from __future__ import annotations

import logging
from email.message import EmailMessage

import aiosmtplib

from clinic.notifications.mail import loggable_message_id
from clinic.settings import SmtpSecurity, SmtpServer

logger = logging.getLogger("clinic.mail")
# aiosmtplib's start_tls: None is "when the server offers it".
START_TLS: dict[SmtpSecurity, bool | None] = {
    SmtpSecurity.OPPORTUNISTIC: None,
    SmtpSecurity.STARTTLS: True,
    SmtpSecurity.TLS: False,
}


class MailNotSent(Exception):
    """The SMTP server refused the message, or did not answer in time."""


class SmtpMailer:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def send(self, message: EmailMessage) -> None:
        server = self.server
        message_id = loggable_message_id(message.get("Message-ID", ""))
        try:
            await aiosmtplib.send(
                message,
                hostname=server.host,
                port=server.port,
                username=server.username or None,
                password=server.password or None,
                use_tls=server.security is SmtpSecurity.TLS,
                start_tls=START_TLS[server.security],
                validate_certs=server.verify_certificate,
                timeout=server.timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError) as failed:
            # The class and the server's code say what went wrong; its text may quote
            # an address, so it stays out of the log.
            code = getattr(failed, "code", None)
            logger.warning(
                "SMTP did not take e-mail %s (%s%s): the outbox will retry",
                message_id,
                type(failed).__name__,
                f" {code}" if code else "",
            )
            raise MailNotSent(f"{type(failed).__name__}{f' {code}' if code else ''}") from None
        logger.info("Sent e-mail %s by SMTP to %s", message_id, server.host)
