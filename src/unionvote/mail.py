"""Sending mail: one message at a time over SMTP, refusals reported as such.

A refusal of the recipient (a 5xx answer) is a bounce the caller records; a temporary problem
(4xx, connection lost) is an error the caller may retry. Services send mail only after their
transaction commits (``Tx.after_commit``) or, for the credential authority, one message per
step with the outcome recorded.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol

from unionvote.errors import UnionVoteError

__all__ = ["Attachment", "Mail", "MailError", "Mailer", "SMTPMailer"]


class MailError(UnionVoteError):
    """A message was not accepted. ``permanent`` is True for a refusal; ``recipient`` is True
    when the refusal named the recipient's address (RCPT TO): only that is a bounce of the
    address, not a refusal of the sender, the login or the message by the relay."""

    def __init__(
        self, detail: str, *, permanent: bool, code: int | None = None, recipient: bool = False
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.permanent = permanent
        self.code = code
        self.recipient = recipient


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str = "application"
    subtype: str = "pdf"


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None
    attachments: tuple[Attachment, ...] = field(default=())
    language: str = "en"

    def __repr__(self) -> str:  # a mail may carry a credential: never print its body
        return f"Mail(to={self.to!r}, subject={self.subject!r})"


class Mailer(Protocol):
    def send(self, mail: Mail) -> str:
        """Send one message; return its Message-ID, or raise :class:`MailError`."""
        ...


@dataclass
class SMTPMailer:
    """An SMTP relay: ``host:port``, optional STARTTLS and login."""

    host: str
    port: int
    sender: str
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0

    def send(self, mail: Mail) -> str:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message_id = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        message["Message-ID"] = message_id
        message.set_content(mail.text)
        if mail.html is not None:
            message.add_alternative(mail.html, subtype="html")
        for item in mail.attachments:
            message.add_attachment(
                item.content, maintype=item.maintype, subtype=item.subtype, filename=item.filename
            )
        message["Content-Language"] = mail.language  # after set_content, which clears Content-*
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username is not None:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            code, text = next(iter(error.recipients.values()))
            raise MailError(
                f"the mail server refused {mail.to}: {code} {_text(text)}",
                permanent=code >= 500,
                code=code,
                recipient=True,
            ) from error
        except smtplib.SMTPResponseException as error:
            raise MailError(
                f"the mail server answered {error.smtp_code} {_text(error.smtp_error)}",
                permanent=error.smtp_code >= 500,
                code=error.smtp_code,
            ) from error
        except (OSError, smtplib.SMTPException) as error:
            raise MailError(
                f"could not reach the mail server at {self.host}:{self.port}: {error}",
                permanent=False,
            ) from error
        return message_id


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value
