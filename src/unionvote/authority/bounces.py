"""Reading bounces: delivery-status notifications (RFC 3464) from an mbox file or a maildir.

A mail server that accepted a message but could not deliver it later sends back a
``multipart/report; report-type=delivery-status`` message: a human-readable part, a
``message/delivery-status`` part (one block of per-message fields, then one block per
recipient with ``Final-Recipient``, ``Action``, ``Status``, ``Diagnostic-Code``), and the
returned message or its headers (``message/rfc822`` or ``text/rfc822-headers``), which carry
the original ``Message-ID``. Only recipients whose ``Action`` is ``failed`` are bounces;
``delayed``, ``delivered``, ``relayed`` and ``expanded`` reports are not.
"""

from __future__ import annotations

import datetime
import mailbox
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.parser import HeaderParser
from email.utils import parsedate_to_datetime
from pathlib import Path

from unionvote.authority.errors import AuthorityError

__all__ = ["Bounce", "bounces_in", "read_bounces"]


@dataclass(frozen=True, slots=True)
class Bounce:
    """One recipient a notification says could not be reached."""

    address: str
    status: str
    diagnostic: str
    original_message_id: str
    # When the notification says the delivery failed: its ``Date`` header, else the
    # recipient's ``Last-Attempt-Date``, else the report's ``Arrival-Date`` (None if none).
    notified_at: datetime.datetime | None = field(default=None, compare=False)

    @property
    def detail(self) -> str:
        text = f"delivery-status notification: status {self.status or 'unknown'}"
        return f"{text} ({self.diagnostic})" if self.diagnostic else text


def read_bounces(path: Path) -> Iterator[tuple[int, list[Bounce]]]:
    """For each message of the mbox file or maildir at ``path``: its number and its bounces
    (an empty list for a message that is not a delivery-status notification)."""
    box: mailbox.Mailbox[mailbox.Message]
    if path.is_dir():
        if not (path / "cur").is_dir() or not (path / "new").is_dir():
            raise AuthorityError("bounces.mailbox", f"{path} is a directory but not a maildir")
        box = mailbox.Maildir(path, create=False)
    elif path.is_file():
        box = mailbox.mbox(path, create=False)
    else:
        raise AuthorityError("bounces.mailbox", f"no such mbox file or maildir: {path}")
    try:
        for number, message in enumerate(box, start=1):
            yield number, bounces_in(message)
    finally:
        box.close()


def bounces_in(message: Message) -> list[Bounce]:
    """The failed recipients a delivery-status notification reports (none for other mail)."""
    if message.get_content_type() != "multipart/report":
        return []
    if str(message.get_param("report-type", "")).lower() != "delivery-status":
        return []
    blocks: list[Message] = []
    original_id = ""
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("message/delivery-status", "message/global-delivery-status"):
            payload = part.get_payload()
            if isinstance(payload, list):
                blocks = [block for block in payload if isinstance(block, Message)]
        elif kind in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                original_id = original_id or str(payload[0].get("Message-ID", ""))
        elif kind == "text/rfc822-headers":
            raw = part.get_payload(decode=True)
            if isinstance(raw, bytes):
                headers = HeaderParser().parsestr(raw.decode("utf-8", errors="replace"))
                original_id = original_id or str(headers.get("Message-ID", ""))
    sent = _date(message.get("Date"))
    arrived = _date(blocks[0].get("Arrival-Date")) if blocks else None
    bounces = []
    for block in blocks[1:]:  # the first block holds the per-message fields
        if str(block.get("Action", "")).strip().lower() != "failed":
            continue
        address = _address(block.get("Final-Recipient")) or _address(
            block.get("Original-Recipient")
        )
        if not address:
            continue
        bounces.append(
            Bounce(
                address=address,
                status=str(block.get("Status", "")).strip(),
                diagnostic=" ".join(str(block.get("Diagnostic-Code", "")).split()),
                original_message_id=original_id.strip(),
                notified_at=sent or _date(block.get("Last-Attempt-Date")) or arrived,
            )
        )
    return bounces


def _address(field: object) -> str:
    """``rfc822; member@example.org`` → ``member@example.org``."""
    if field is None:
        return ""
    kind, _, address = str(field).partition(";")
    if not address:
        address = kind
    return address.strip().strip("<>").strip()


def _date(field: object) -> datetime.datetime | None:
    """An RFC 5322 date (``Tue, 2 Apr 2024 10:00:00 +0000``), aware; None when absent or bad."""
    if field is None:
        return None
    try:
        at = parsedate_to_datetime(str(field).split("(")[0].strip())
    except (TypeError, ValueError, IndexError):
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=datetime.UTC)
