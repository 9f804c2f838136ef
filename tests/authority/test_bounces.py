"""Bounces that come back later: RFC 3464 delivery-status notifications in an mbox file or a
maildir, matched to members by the returned Message-ID or by the address, recorded once."""

from __future__ import annotations

import datetime
import email
import mailbox
from pathlib import Path

import pytest
from test_workspace import registered_csv

from unionvote.authority import (
    AuthorityError,
    DeliveryEvent,
    DeliveryLog,
    Workspace,
    bounces_in,
    generate_workspace,
    read_bounces,
    record_bounces,
)

AT = datetime.datetime(2024, 4, 2, 10, 0, tzinfo=datetime.UTC)


def dsn(
    address: str,
    *,
    message_id: str | None = None,
    action: str = "failed",
    status: str = "5.1.1",
    returned: str = "headers",
    number: int = 1,
) -> bytes:
    """A delivery-status notification as Postfix writes one."""
    original = (
        "From: credentials@authority.example\n"
        f"To: {address}\n"
        "Subject: Your voting credential\n" + (f"Message-ID: {message_id}\n" if message_id else "")
    )
    if returned == "headers":
        third = f"Content-Type: text/rfc822-headers\n\n{original}"
    else:
        third = f"Content-Type: message/rfc822\n\n{original}\nthe original text\n"
    return (
        "From: MAILER-DAEMON@mail.example (Mail Delivery System)\n"
        "To: credentials@authority.example\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        f"Message-ID: <dsn-{number}@mail.example>\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"\n'
        "\n"
        "--B1\n"
        "Content-Description: Notification\n"
        "Content-Type: text/plain; charset=us-ascii\n"
        "\n"
        "This is the mail system at host mail.example.\n"
        "I'm sorry to have to inform you that your message could not be delivered.\n"
        "\n"
        "--B1\n"
        "Content-Description: Delivery report\n"
        "Content-Type: message/delivery-status\n"
        "\n"
        "Reporting-MTA: dns; mail.example\n"
        "Arrival-Date: Tue,  2 Apr 2024 10:00:00 +0000 (UTC)\n"
        "\n"
        f"Final-Recipient: rfc822; {address}\n"
        f"Original-Recipient: rfc822;{address}\n"
        f"Action: {action}\n"
        f"Status: {status}\n"
        "Remote-MTA: dns; mx.members.example\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{address}>: Recipient address\n"
        "    rejected: User unknown in local recipient table\n"
        "\n"
        "--B1\n"
        "Content-Description: Undelivered Message Headers\n"
        f"{third}\n"
        "--B1--\n"
    ).encode()


def test_a_notification_names_the_failed_recipient_and_the_original_message() -> None:
    [bounce] = bounces_in(email.message_from_bytes(dsn("a@x.example", message_id="<m1@a>")))
    assert bounce.address == "a@x.example"
    assert bounce.status == "5.1.1"
    assert bounce.original_message_id == "<m1@a>"
    assert "User unknown" in bounce.diagnostic and "5.1.1" in bounce.detail
    [whole] = bounces_in(
        email.message_from_bytes(dsn("b@x.example", message_id="<m2@a>", returned="message"))
    )
    assert whole.original_message_id == "<m2@a>"
    assert bounces_in(email.message_from_bytes(dsn("c@x.example", action="delayed"))) == []
    assert bounces_in(email.message_from_bytes(b"Subject: hello\n\nnot a report\n")) == []


def make_workspace(tmp_path: Path) -> Workspace:
    workspace = generate_workspace(registered_csv(tmp_path / "r.csv", 4), tmp_path / "ws")
    with DeliveryLog(workspace.deliveries_path) as log:
        for i in range(4):
            log.append(
                DeliveryEvent(
                    f"10{i:05d}",
                    "email",
                    "sent",
                    AT,
                    message_id=f"<m{i}@authority.example>",
                    to=f"member{i}@members.example",
                )
            )
    return workspace


def test_bounces_from_an_mbox_are_recorded_once(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    path = tmp_path / "bounces.mbox"
    box = mailbox.mbox(path)
    box.add(dsn("member1@members.example", message_id="<m1@authority.example>", number=1))
    # no Message-ID survived: matched by the address (in any case)
    box.add(dsn("MEMBER2@members.example", number=2))
    box.add(dsn("member3@members.example", action="delayed", number=3))  # not a bounce
    box.add(dsn("stranger@else.example", number=4))
    box.add(email.message_from_bytes(b"From: a@b\nSubject: out of office\n\nback soon\n"))
    box.flush()
    box.close()
    assert sum(len(b) for _, b in read_bounces(path)) == 3

    summary = record_bounces(workspace, path, now=lambda: AT)
    assert (summary.notifications, summary.recorded, summary.already) == (3, 2, 0)
    assert summary.unmatched == ["stranger@else.example"]
    state = DeliveryLog(workspace.deliveries_path).state()
    assert state["1000001"].email_status == "bounced"
    assert state["1000002"].email_status == "bounced"
    assert state["1000003"].email_status == "sent" and state["1000000"].email_status == "sent"
    bounced = [e for e in DeliveryLog(workspace.deliveries_path).events() if e.status == "bounced"]
    assert {e.card_number for e in bounced} == {"1000001", "1000002"}
    assert all("5.1.1" in e.detail for e in bounced)

    again = record_bounces(workspace, path, now=lambda: AT)
    assert (again.recorded, again.already) == (0, 2)
    assert len(list(DeliveryLog(workspace.deliveries_path).events())) == 6


def test_bounces_from_a_maildir(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(dsn("member0@members.example", message_id="<m0@authority.example>"))
    box.close()
    summary = record_bounces(workspace, tmp_path / "Maildir", now=lambda: AT)
    assert summary.recorded == 1
    assert DeliveryLog(workspace.deliveries_path).state()["1000000"].email_status == "bounced"


def test_a_bounce_of_a_replaced_message_does_not_undo_a_resend(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    with DeliveryLog(workspace.deliveries_path) as log:
        log.append(
            DeliveryEvent(
                "1000001", "email", "resent", AT, message_id="<r1@a>", to="new1@members.example"
            )
        )
    path = tmp_path / "late.mbox"
    box = mailbox.mbox(path)
    box.add(dsn("member1@members.example", message_id="<m1@authority.example>"))
    box.close()
    summary = record_bounces(workspace, path, now=lambda: AT)
    assert (summary.recorded, summary.superseded) == (0, 1)
    assert DeliveryLog(workspace.deliveries_path).state()["1000001"].email_status == "resent"


def test_a_missing_mailbox_is_named(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    with pytest.raises(AuthorityError, match="no such mbox file or maildir"):
        record_bounces(workspace, tmp_path / "nowhere")
    (tmp_path / "plain").mkdir()
    with pytest.raises(AuthorityError, match="not a maildir"):
        record_bounces(workspace, tmp_path / "plain")
