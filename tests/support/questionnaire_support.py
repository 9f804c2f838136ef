"""The candidate questionnaire in tests: a real local SMTP server (aiosmtpd) that can refuse
chosen recipients, and a questionnaire defined, imported and sent from the examples, with the
personal links read back from the emails (the only place a token ever is)."""

from __future__ import annotations

import datetime
import email
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from unionvote.mail import SMTPMailer
from unionvote.services.context import Services
from unionvote.services.questionnaire import (
    do_define_questionnaire,
    do_import_campaigns,
    do_send_links,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
QUESTIONNAIRE = EXAMPLES / "questionnaire-2024.toml"
CAMPAIGNS = EXAMPLES / "campaigns-2024.csv"
KEY = "issues-2024"
BASE_URL = "https://vote.example.org"
START = datetime.datetime(2024, 2, 1, 12, 0, tzinfo=datetime.UTC)  # a month before it is due
DUE = datetime.datetime(2024, 3, 1, 23, 59, tzinfo=datetime.UTC)
LINK = re.compile(r"/questionnaire/answer/([A-Za-z0-9_-]{43})")
# The first contact of each campaign in examples/campaigns-2024.csv.
CONTACT = {
    "rivera": "questionnaire@rivera2024.example",
    "hale": "outreach@hale2024.example",
    "okafor": "issues@okafor2024.example",
    "brandt": "info@brandt2024.example",
}


@dataclass
class Inbox:
    """What the SMTP server accepted; addresses in ``refuse`` get a 550 (a bounce)."""

    messages: list[Message] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    defer: set[str] = field(default_factory=set)  # refused once with 451 (try again later)

    async def handle_RCPT(
        self, server: object, session: object, envelope: Any, address: str, options: object
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 <" + address + ">: no such mailbox"
        if address in self.defer:
            self.defer.discard(address)
            return "451 4.3.0 <" + address + ">: try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]

    def token(self, address: str) -> str:
        """The personal link's token in the latest message to ``address``."""
        for message in reversed(self.to(address)):
            match = LINK.search(body(message))
            if match is not None:
                return match[1]
        raise AssertionError(f"no link was mailed to {address}")


def subject(message: Message) -> str:
    """The subject unfolded and decoded."""
    return " ".join(str(make_header(decode_header(message["Subject"]))).split())


def body(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(message.get_content_charset() or "utf-8")


@contextmanager
def smtp_server(sender: str = "committee@union.example") -> Iterator[tuple[Inbox, SMTPMailer]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, SMTPMailer("127.0.0.1", port, sender, timeout=5)
    finally:
        controller.stop()


def setup_questionnaire(
    services: Services,
    mailer: SMTPMailer,
    inbox: Inbox,
    base_url: str = BASE_URL,
    *,
    text: str | None = None,
) -> dict[str, str]:
    """Define the example questionnaire (or ``text``, a variant of it), import the example
    campaigns, send the links; the token each campaign's first contact received, by key."""
    do_define_questionnaire(
        services,
        text if text is not None else QUESTIONNAIRE.read_text(encoding="utf-8"),
        source=QUESTIONNAIRE.name,
    )
    do_import_campaigns(services, KEY, CAMPAIGNS.read_text(encoding="utf-8"), source=CAMPAIGNS.name)
    report = do_send_links(services, KEY, mailer, base_url=base_url)
    assert report.sent == 5 and report.bounced == 0, report
    return {key: inbox.token(address) for key, address in CONTACT.items()}


CONFIRM_DECLINE = 'name="confirm" value="yes"'  # the confirmation page's "Yes, decline" button


def decline_by_link(
    client: Any, token: str, csrf: str, reason: str = "", *, query: str = ""
) -> Any:
    """Decline on the answer form as a campaign does: the Decline button (a confirmation page
    that records nothing), then "Yes, decline". Returns the second answer (a 303 when
    recorded)."""
    path = f"/questionnaire/answer/{token}/decline{query}"
    asked = client.post(path, data={"csrf_token": csrf, "reason": reason}, follow_redirects=False)
    assert asked.status_code == 200, asked.text
    assert CONFIRM_DECLINE in asked.text, asked.text
    return client.post(
        path,
        data={"csrf_token": csrf, "reason": reason, "confirm": "yes"},
        follow_redirects=False,
    )
