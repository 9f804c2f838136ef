"""The authority's delivery log, ``deliveries.jsonl``: every step, one JSON object a line.

The first line names the election (``{"format", "stage", "uuid"}``); each later line is one
event ``{"card_number", "channel", "status", "at", "detail", "message_id", "to"}``:

- ``channel`` ``email``: ``sent``, ``bounced`` (refused by the mail server, or a delivery-status
  notification came back), ``resent`` (sent again, perhaps to a new address), ``failed`` (a
  temporary problem; tried again by ``send --only-unsent``);
- ``channel`` ``post``: ``printed`` (a letter was put in a PDF for the printer).

Each event is flushed and synced to disk before the next message goes out, so an interrupted
run resumes where it stopped. A last line cut short by a crash is dropped on reading and
trimmed before the next append. The server imports this file as it is (``unionvote electorate
import-deliveries``); it never holds a credential.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from unionvote.authority.errors import AuthorityError

__all__ = [
    "CHANNELS",
    "STATUSES",
    "DeliveryEvent",
    "DeliveryLog",
    "MemberDelivery",
]

CHANNELS = {"email": ("sent", "bounced", "resent", "failed"), "post": ("printed",)}
STATUSES = ("sent", "bounced", "resent", "failed", "printed")


@dataclass(frozen=True, slots=True)
class DeliveryEvent:
    card_number: str
    channel: str
    status: str
    at: datetime.datetime
    detail: str = ""
    message_id: str = ""
    to: str = ""

    def __post_init__(self) -> None:
        if self.status not in CHANNELS.get(self.channel, ()):
            raise AuthorityError(
                "deliveries.event", f"no status {self.status!r} on channel {self.channel!r}"
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "card_number": self.card_number,
            "channel": self.channel,
            "status": self.status,
            "at": self.at.astimezone(datetime.UTC).isoformat(),
            "detail": self.detail,
            "message_id": self.message_id,
            "to": self.to,
        }

    @classmethod
    def from_json(cls, obj: Any, where: str) -> DeliveryEvent:
        if not isinstance(obj, dict):
            raise AuthorityError("deliveries.event", f"{where}: not a JSON object")
        try:
            at = datetime.datetime.fromisoformat(obj["at"])
            if at.tzinfo is None:
                raise ValueError("the time has no zone")
            return cls(
                card_number=str(obj["card_number"]),
                channel=str(obj["channel"]),
                status=str(obj["status"]),
                at=at,
                detail=str(obj.get("detail", "")),
                message_id=str(obj.get("message_id", "")),
                to=str(obj.get("to", "")),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise AuthorityError("deliveries.event", f"{where}: {error}") from error


@dataclass
class MemberDelivery:
    """Where one member's delivery stands, folded from their events in order."""

    email_status: str | None = None
    email_address: str = ""  # the address last used; a `resend --email` changes it
    last_message_id: str = ""
    message_ids: set[str] = field(default_factory=set)
    bounced_ids: set[str] = field(default_factory=set)
    printed: bool = False

    def add(self, event: DeliveryEvent) -> None:
        if event.channel == "post":
            self.printed = True
            return
        self.email_status = event.status
        if event.to and event.status in ("sent", "resent"):
            self.email_address = event.to
        if event.message_id:
            if event.status == "bounced":
                self.bounced_ids.add(event.message_id)
            else:
                self.message_ids.add(event.message_id)
                self.last_message_id = event.message_id

    def is_current(self, message_id: str, address: str) -> bool:
        """Whether a bounce of ``message_id`` (or of mail to ``address``) is about the latest
        message sent, not one since replaced by a resend."""
        if message_id in self.message_ids:
            return message_id == self.last_message_id
        return not self.email_address or address.lower() == self.email_address.lower()

    @property
    def reached_by_email(self) -> bool:
        return self.email_status in ("sent", "resent")


class DeliveryLog:
    """The log file: read it whole, or append events one at a time (``with log:``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._out: BinaryIO | None = None

    def header(self) -> dict[str, Any]:
        with self.path.open("rb") as stream:
            first = stream.readline()
        try:
            obj = json.loads(first)
        except json.JSONDecodeError as error:
            raise AuthorityError("deliveries.header", f"{self.path}:1: not JSON") from error
        if not isinstance(obj, dict) or "uuid" not in obj:
            raise AuthorityError("deliveries.header", f"{self.path}:1: no election header")
        return obj

    def events(self) -> Iterator[DeliveryEvent]:
        with self.path.open("rb") as stream:
            stream.readline()
            for number, line in enumerate(stream, start=2):
                if not line.endswith(b"\n"):
                    return  # cut short by a crash: that step was never confirmed
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as error:
                    raise AuthorityError(
                        "deliveries.event", f"{self.path}:{number}: not JSON"
                    ) from error
                yield DeliveryEvent.from_json(obj, f"{self.path}:{number}")

    def state(self) -> dict[str, MemberDelivery]:
        """Each member's delivery so far, by card number."""
        states: dict[str, MemberDelivery] = {}
        for event in self.events():
            states.setdefault(event.card_number, MemberDelivery()).add(event)
        return states

    def __enter__(self) -> DeliveryLog:
        out = self.path.open("r+b")
        out.seek(0, os.SEEK_END)
        size = out.tell()
        if size:
            out.seek(max(0, size - 65536))
            tail = out.read()
            if not tail.endswith(b"\n"):
                # Trim a line cut short by a crash so the next event starts on its own line.
                out.truncate(size - len(tail) + tail.rfind(b"\n") + 1)
                out.seek(0, os.SEEK_END)
        self._out = out
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def append(self, *events: DeliveryEvent) -> None:
        """Write events and make them durable before returning."""
        if self._out is None:
            raise RuntimeError("open the log with `with log:` before appending")
        self._out.write(
            b"".join(
                json.dumps(event.to_json(), ensure_ascii=False).encode() + b"\n" for event in events
            )
        )
        self._out.flush()
        os.fsync(self._out.fileno())
