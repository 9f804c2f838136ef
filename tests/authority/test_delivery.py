"""Email delivery through a real SMTP server (aiosmtpd): each member receives their own
credential, a refused recipient is a bounce, an interrupted run resumes, a resend reaches a
corrected address, and the log survives a crash."""

from __future__ import annotations

import datetime
import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from test_workspace import registered_csv

from unionvote.authority import (
    AuthorityError,
    DeliveryEvent,
    DeliveryLog,
    Workspace,
    generate_workspace,
    resend_credential,
    send_credentials,
)
from unionvote.mail import Mail, SMTPMailer

AT = datetime.datetime(2024, 4, 1, 9, 0, tzinfo=datetime.UTC)
REFUSED = "member2@members.example"


@dataclass
class Inbox:
    """An SMTP server's handler: refuses some recipients with 550 (or 450), keeps the rest."""

    refuse: dict[str, str] = field(default_factory=dict)
    messages: list[EmailMessage] = field(default_factory=list)
    refuse_sender: str | None = None

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.refuse_sender is not None:
            return self.refuse_sender
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, SMTPMailer]]:
    port = free_port()
    inbox = Inbox({REFUSED: "550 5.1.1 <member2@members.example>: Recipient address rejected"})
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, SMTPMailer("127.0.0.1", port, "credentials@authority.example", timeout=5)
    finally:
        controller.stop()


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    source = registered_csv(tmp_path / "r.csv", 5, languages=["en", "en", "en", "es", "en"])
    return generate_workspace(
        source, tmp_path / "ws", vote_url="https://vote.iam.example", contact="officer@ca.example"
    )


def bodies(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def test_each_member_receives_their_own_credential(
    workspace: Workspace, smtp: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = smtp
    summary = send_credentials(workspace, mailer, now=lambda: AT)
    assert (summary.sent, summary.bounced, summary.failed, summary.no_email) == (4, 1, 0, 0)
    assert len(inbox.messages) == 4
    members = list(workspace.members())
    for member, credential in members:
        received = inbox.to(member.email)
        if member.email == REFUSED:
            assert received == []
            continue
        [message] = received
        text, html = bodies(message)
        assert credential.reveal() in text and credential.reveal() in html
        assert member.card_number in text and "https://vote.iam.example" in text
        assert "officer@ca.example" in text  # what to do if it was not them
        others = [c.reveal() for m, c in members if m.card_number != member.card_number]
        assert not any(other in text or other in html for other in others)
        if member.language == "es":
            assert message["Subject"].startswith("Su credencial de votación")
            assert "Cómo votar" in text and 'lang="es"' in html
        else:
            assert message["Subject"].startswith("Your voting credential")
            assert "How to vote" in text
    events = list(DeliveryLog(workspace.deliveries_path).events())
    assert [(e.card_number, e.status) for e in events] == [
        ("1000000", "sent"),
        ("1000001", "sent"),
        ("1000002", "bounced"),
        ("1000003", "sent"),
        ("1000004", "sent"),
    ]
    sent_ids = {e.message_id for e in events if e.status == "sent"}
    assert sent_ids == {m["Message-ID"] for m in inbox.messages}
    assert "550" in events[2].detail and events[2].message_id == ""
    # the log holds no credential
    log_text = workspace.deliveries_path.read_text()
    assert not any(c.reveal() in log_text for _, c in members)


class Interrupted(Exception):
    pass


@dataclass
class StopsAfter:
    """A mailer that is killed after a number of messages (as a crash would)."""

    inner: SMTPMailer
    left: int

    def send(self, mail: Mail) -> str:
        if self.left == 0:
            raise Interrupted
        self.left -= 1
        return self.inner.send(mail)


def test_an_interrupted_run_resumes_with_only_unsent(
    workspace: Workspace, smtp: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = smtp
    with pytest.raises(Interrupted):
        send_credentials(workspace, StopsAfter(mailer, 2), now=lambda: AT)
    assert len(inbox.messages) == 2
    with pytest.raises(AuthorityError, match="--only-unsent"):
        send_credentials(workspace, mailer, now=lambda: AT)
    summary = send_credentials(workspace, mailer, only_unsent=True, now=lambda: AT)
    assert (summary.sent, summary.bounced, summary.skipped) == (2, 1, 2)
    for member in workspace.registered():
        assert len(inbox.to(member.email)) == (0 if member.email == REFUSED else 1)
    again = send_credentials(workspace, mailer, only_unsent=True, now=lambda: AT)
    assert (again.sent, again.skipped) == (0, 5)
    assert len(inbox.messages) == 4


def test_a_temporary_refusal_is_retried(
    workspace: Workspace, smtp: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = smtp
    inbox.refuse["member4@members.example"] = "450 4.2.1 mailbox busy, try later"
    first = send_credentials(workspace, mailer, now=lambda: AT)
    assert (first.sent, first.bounced, first.failed) == (3, 1, 1)
    del inbox.refuse["member4@members.example"]
    second = send_credentials(workspace, mailer, only_unsent=True, now=lambda: AT)
    assert (second.sent, second.skipped) == (1, 4)  # the bounced one is not retried
    assert len(inbox.to("member4@members.example")) == 1


def test_a_dead_mail_server_stops_the_run(workspace: Workspace) -> None:
    dead = SMTPMailer("127.0.0.1", free_port(), "credentials@authority.example", timeout=2)
    with pytest.raises(AuthorityError, match="failed 5 times in a row"):
        send_credentials(workspace, dead, now=lambda: AT)
    statuses = [e.status for e in DeliveryLog(workspace.deliveries_path).events()]
    assert statuses == ["failed"] * 5


def test_a_refused_sender_is_not_a_bounce_of_every_member(
    workspace: Workspace, smtp: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = smtp
    inbox.refuse_sender = "553 5.7.1 sender not allowed to relay"
    with pytest.raises(AuthorityError, match="553"):
        send_credentials(workspace, mailer, now=lambda: AT)
    statuses = [e.status for e in DeliveryLog(workspace.deliveries_path).events()]
    assert statuses == ["failed"] * 5
    inbox.refuse_sender = None
    summary = send_credentials(workspace, mailer, only_unsent=True, now=lambda: AT)
    assert (summary.sent, summary.bounced) == (4, 1)


def test_resend_to_a_corrected_address(
    workspace: Workspace, smtp: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = smtp
    send_credentials(workspace, mailer, now=lambda: AT)
    _, credential = workspace.member("1000002")
    event = resend_credential(
        workspace, mailer, "1000002", email="new2@members.example", now=lambda: AT
    )
    assert (event.status, event.to) == ("resent", "new2@members.example")
    [message] = inbox.to("new2@members.example")
    assert credential.reveal() in bodies(message)[0]
    state = DeliveryLog(workspace.deliveries_path).state()["1000002"]
    assert state.email_status == "resent" and state.email_address == "new2@members.example"
    # a later resend goes to the corrected address by default
    resend_credential(workspace, mailer, "1000002", now=lambda: AT)
    assert len(inbox.to("new2@members.example")) == 2
    refused = resend_credential(workspace, mailer, "1000001", email=REFUSED, now=lambda: AT)
    assert refused.status == "bounced"
    with pytest.raises(AuthorityError, match="not in this workspace"):
        resend_credential(workspace, mailer, "999", now=lambda: AT)
    with pytest.raises(AuthorityError, match="not an email address"):
        resend_credential(workspace, mailer, "1000001", email="nobody", now=lambda: AT)


def test_members_without_an_address_are_counted_not_mailed(
    tmp_path: Path, smtp: tuple[Inbox, SMTPMailer]
) -> None:
    inbox, mailer = smtp
    source = registered_csv(tmp_path / "r.csv", 3)
    source.write_text(source.read_text().replace("member1@members.example", ""))
    workspace = generate_workspace(source, tmp_path / "ws")
    summary = send_credentials(workspace, mailer, now=lambda: AT)
    assert (summary.sent, summary.bounced, summary.no_email) == (1, 1, 1)
    assert [m["To"] for m in inbox.messages] == ["member0@members.example"]


def test_a_line_cut_short_by_a_crash_is_dropped(workspace: Workspace) -> None:
    log = DeliveryLog(workspace.deliveries_path)
    with log:
        log.append(DeliveryEvent("1000000", "email", "sent", AT, message_id="<a@b>"))
    with workspace.deliveries_path.open("ab") as stream:
        stream.write(b'{"card_number": "1000001", "chan')
    assert [e.card_number for e in log.events()] == ["1000000"]
    with log:
        log.append(DeliveryEvent("1000001", "email", "sent", AT, message_id="<c@d>"))
    assert [e.card_number for e in log.events()] == ["1000000", "1000001"]
    assert workspace.deliveries_path.read_bytes().endswith(b"}\n")
