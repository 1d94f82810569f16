"""E-mail building, rendering and the console mailer; the From address setting."""

from __future__ import annotations

import email
import email.policy
import io
import json
import logging
from email.message import EmailMessage
from pathlib import Path

import pytest

from clinic.clock import frozen_at
from clinic.logging import build_handler
from clinic.notifications.mail import (
    ConsoleMailer,
    build_message,
    mailer_from_settings,
    render_email,
    safe_message_id,
    stable_message_id,
)
from clinic.settings import DEFAULT_MAIL_FROM, Settings, SettingsError
from tests.outbox import T0, email_templates

SUBJECT = "Your massage appointment on Tuesday"
TEXT = "Hello Jo, see you on Tuesday at 10:00.\n"
HTML = "<p>Hello Jo, see you on Tuesday at 10:00.</p>"


def _message(**overrides: object) -> EmailMessage:
    values: dict[str, object] = {
        "to": "Jo Client <jo@example.com>",
        "subject": SUBJECT,
        "text": TEXT,
        "html": HTML,
        "mail_from": DEFAULT_MAIL_FROM,
        "message_id": "<outbox-12.1764601200@willowoak.test>",
    }
    values.update(overrides)
    return build_message(**values)  # type: ignore[arg-type]


def _parse(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_build_message_has_text_and_html_alternatives_and_attachments() -> None:
    invite = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    parsed = _parse(_message(attachments=[("visit.ics", "text/calendar", invite)]).as_bytes())
    assert parsed["Subject"] == SUBJECT
    assert parsed["Message-ID"] == "<outbox-12.1764601200@willowoak.test>"
    assert parsed["From"] == DEFAULT_MAIL_FROM
    plain = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert plain.get_content() == TEXT
    assert html.get_content().strip() == HTML
    [attachment] = list(parsed.iter_attachments())
    assert attachment.get_filename() == "visit.ics"
    assert attachment.get_content_type() == "text/calendar"


def test_build_message_refuses_header_injection_and_bad_attachments() -> None:
    with pytest.raises(ValueError, match=r"linefeed|carriage"):
        _message(subject="Hello\r\nBcc: everyone@example.com")
    with pytest.raises(ValueError, match="recipient"):
        _message(to=" ")
    with pytest.raises(ValueError, match="type/subtype"):
        _message(attachments=[("x.bin", "binary", b"x")])


def test_the_message_id_is_stable_per_outbox_row_and_safe_as_a_file_name() -> None:
    first = stable_message_id(12, T0, DEFAULT_MAIL_FROM)
    assert first == f"<outbox-12.{int(T0.timestamp())}@willowoak.test>"
    assert stable_message_id(12, T0, DEFAULT_MAIL_FROM) == first
    assert stable_message_id(13, T0, DEFAULT_MAIL_FROM) != first
    assert safe_message_id(first) == f"outbox-12.{int(T0.timestamp())}_at_willowoak.test"
    assert safe_message_id("<../../etc/passwd@x>") == ".._.._etc_passwd_at_x"
    assert safe_message_id("") == "no-message-id"


async def test_console_mailer_writes_a_private_parseable_eml_and_logs_no_content(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="clinic.mail")
    # Through the production handler, whose redaction runs on every record.
    stream = io.StringIO()
    handler = build_handler(stream)
    logging.getLogger("clinic.mail").addHandler(handler)
    mailer = ConsoleMailer(tmp_path)
    message = _message()
    try:
        with frozen_at(T0):
            await mailer.send(message)
            await mailer.send(message)  # a redelivery at the same instant keeps both copies
    finally:
        logging.getLogger("clinic.mail").removeHandler(handler)
    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert [f.name for f in files] == [
        "20261201T150000.000000Z_outbox-12.1764601200_at_willowoak.test.eml",
        "20261201T150000.000000Z_outbox-12.1764601200_at_willowoak.test_2.eml",
    ]
    for file in files:
        assert file.stat().st_mode & 0o777 == 0o600
        parsed = _parse(file.read_bytes())
        assert parsed["Message-ID"] == message["Message-ID"]
        assert parsed.get_body(("plain",)) is not None
        assert parsed.get_body(("html",)) is not None

    lines = [json.loads(line)["msg"] for line in stream.getvalue().splitlines()]
    assert len(lines) == 2
    assert [r.getMessage() for r in caplog.records if r.name == "clinic.mail"] == lines
    assert lines[0] == f"Wrote e-mail {files[0].name} (Message-ID <outbox-12.1764601200@...>)"
    for line in lines:
        assert "massage" not in line.lower()
        assert "Hello Jo" not in line
        assert "jo@example.com" not in line


def test_render_email_renders_subject_text_and_html_on_the_shared_layouts(
    tmp_path: Path,
) -> None:
    env = email_templates(tmp_path)
    subject, text, html = render_email(
        env,
        "test_sample",
        {"clinic_name": "Willow & Oak", "first_name": "<Jo>", "day": "Tuesday"},
    )
    assert subject == "Your massage appointment at Willow & Oak"
    assert "Hello <Jo>, see you on Tuesday." in text
    assert "Willow & Oak" in text
    assert "You get this email because you booked with us." in text
    assert "Hello &lt;Jo&gt;, see you on Tuesday." in html
    assert "Willow &amp; Oak" in html
    assert "You get this email because you booked with us." in html
    assert html.lstrip().startswith("<!doctype html>")


def test_mail_from_defaults_and_is_validated(tmp_path: Path) -> None:
    base = {"CLINIC_VAR_DIR": str(tmp_path)}
    assert Settings.from_env(base).mail_from == DEFAULT_MAIL_FROM
    custom = "Front Desk <desk@clinic.example>"
    assert Settings.from_env({**base, "CLINIC_MAIL_FROM": custom}).mail_from == custom
    for bad in ("not an address", "Clinic <>", "@clinic.example", "a@b.test\r\nBcc: x@y.test"):
        with pytest.raises(SettingsError, match="CLINIC_MAIL_FROM"):
            Settings.from_env({**base, "CLINIC_MAIL_FROM": bad})


def test_without_an_smtp_url_the_mailer_is_the_console_mailer(tmp_path: Path) -> None:
    settings = Settings.from_env({"CLINIC_VAR_DIR": str(tmp_path)})
    mailer = mailer_from_settings(settings)
    assert isinstance(mailer, ConsoleMailer)
    assert mailer.folder == settings.var_dir / "mail"
