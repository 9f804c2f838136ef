"""The server's side of credentials: what it hands the credential authority, and what it takes
back — the public credentials and the delivery log, never a private credential.

- :func:`export_registered` writes ``registered.csv``: the registered members of a stage with
  their contact details and weight, opened by a comment line that carries the election's uuid
  (credentials derive from it), the stage and the member count.
- :func:`do_import_public_credentials` stores the authority's ``public-credentials.json``
  (card number ↔ public credential, so the server can check that a signed-in member votes
  with their own credential) and moves the stage to ``credentials``. The election record only
  ever holds the sorted public list.
- :func:`do_import_deliveries` stores the authority's ``deliveries.jsonl`` (sent, bounced,
  re-sent, printed), idempotently; :func:`delivery_stats` sums it up.

A file that holds a private credential is refused outright, before anything is parsed, and the
refusal never repeats the file's content.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from unionvote.crypto.encoding import BASE58_ALPHABET, parse_key
from unionvote.crypto.errors import EncodingError
from unionvote.domain.errors import DomainError
from unionvote.services.context import Services
from unionvote.services.process import load_process, stage_row
from unionvote.services.registration import registered_members
from unionvote.services.roll import snapshot_of
from unionvote.storage.models import (
    CredentialDelivery,
    ElectionRow,
    Member,
    PublicCredentialRow,
    Registration,
    SnapshotEntry,
    StageRow,
)

__all__ = [
    "REGISTERED_COLUMNS",
    "REGISTERED_HEADER_PREFIX",
    "DeliveryStats",
    "ImportedCredentials",
    "ImportedDeliveries",
    "delivery_stats",
    "do_export_registered",
    "do_import_deliveries",
    "do_import_public_credentials",
    "export_registered",
]

#: The file format the authority's tool reads (``unionvote.authority.registered``; a test pins
#: that both sides agree, since the authority must not import the server's storage).
REGISTERED_HEADER_PREFIX = "# unionvote-registered "
REGISTERED_COLUMNS = (
    "card_number",
    "first_name",
    "last_name",
    "email",
    "street",
    "city",
    "postal_code",
    "state",
    "country",
    "local",
    "weight",
)
CHANNELS = {"email": ("sent", "bounced", "resent", "failed"), "post": ("printed",)}
_B58 = re.escape(BASE58_ALPHABET)
_PRIVATE = re.compile(f"[{_B58}]{{5}}-[{_B58}]{{6}}-[{_B58}]{{5}}-[{_B58}]{{6}}".encode())
_PRIVATE_RAW = re.compile(f"[{_B58}]{{22}}")
_BEFORE_CLOSE = ("draft", "registration")
_MAX_PROBLEMS = 20
_BATCH = 10_000

Source = IO[bytes] | IO[str]


@dataclass(frozen=True)
class ImportedCredentials:
    stage: str
    uuid: str
    count: int
    sha256: str
    replaced: bool


@dataclass(frozen=True)
class ImportedDeliveries:
    stage: str
    added: int
    already: int  # events stored by an earlier import of the same log


@dataclass(frozen=True)
class DeliveryStats:
    """Where delivery stands: each member counted once, by their latest email outcome."""

    stage: str
    registered: int
    credentials: int
    email: dict[str, int]  # latest email status → members
    printed: int  # members sent a letter
    unreached: int  # members with neither a delivered email nor a letter


# -- the export ---------------------------------------------------------------------------------


def export_registered(session: Session, stage_key: str, stream: IO[str]) -> int:
    """Write ``registered.csv`` for the credential authority; returns the number of members.

    Refused until the electorate is final (registration closed): the election's uuid is fixed
    then, and credentials derive from it."""
    row, stage = stage_row(session, stage_key)
    if row.uuid is None or row.status in _BEFORE_CLOSE:
        raise DomainError(
            "credentials.export",
            f"the electorate of {stage_key} is not final (the stage is {row.status}): close "
            "registration first, which fixes the election's uuid that credentials derive from",
        )
    count = _registered_count(session, row)
    header = {
        "count": count,
        "stage": stage_key,
        "title": stage.title,
        "union": load_process(session).process.union,
        "uuid": row.uuid,
    }
    stream.write(REGISTERED_HEADER_PREFIX + json.dumps(header, sort_keys=True, ensure_ascii=False))
    stream.write("\n")
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(REGISTERED_COLUMNS)
    written = 0
    for member in registered_members(session, stage_key):
        writer.writerow(["" if value is None else value for value in member])
        written += 1
    if written != count:  # both read in one transaction: a bug, not a race
        raise DomainError("credentials.export", f"{written} rows written but {count} counted")
    return count


def do_export_registered(services: Services, stage_key: str, stream: IO[str]) -> int:
    """:func:`export_registered`, with its audit entry: members' addresses leave the server."""
    with services.transaction() as tx:
        count = export_registered(tx.session, stage_key, stream)
        tx.audit("credentials.export", stage_key, members=count)
    return count


def _registered_count(session: Session, row: StageRow) -> int:
    snapshot = snapshot_of(session, row)
    if snapshot is None:
        return 0
    return (
        session.scalar(
            select(func.count())
            .select_from(Registration)
            .join(
                SnapshotEntry,
                (SnapshotEntry.member_id == Registration.member_id)
                & (SnapshotEntry.snapshot_id == snapshot.id),
            )
            .where(Registration.stage_id == row.id)
        )
        or 0
    )


def _registered(session: Session, row: StageRow) -> dict[str, tuple[int, int | None]]:
    """Card number → (member id, weight) of every registered member of the stage."""
    snapshot = snapshot_of(session, row)
    if snapshot is None:
        return {}
    query = (
        select(Member.card_number, Member.id, SnapshotEntry.weight)
        .join(Registration, Registration.member_id == Member.id)
        .join(
            SnapshotEntry,
            (SnapshotEntry.member_id == Member.id) & (SnapshotEntry.snapshot_id == snapshot.id),
        )
        .where(Registration.stage_id == row.id)
    )
    return {card: (member_id, weight) for card, member_id, weight in session.execute(query)}


# -- the public credentials ---------------------------------------------------------------------


def do_import_public_credentials(
    services: Services, stage_key: str, stream: Source, *, replace: bool = False
) -> ImportedCredentials:
    """Store the authority's public credentials for a stage whose registration is closed;
    status → ``credentials``.

    Every registered member must have exactly one valid credential, with the weight the
    server expects, and the file must be for this election (uuid and stage). A second import
    is refused unless ``replace`` and the election is not yet set up. Nothing changes on any
    refusal.
    """
    raw = _read(stream)
    digest = hashlib.sha256(raw).hexdigest()
    _refuse_private(raw)
    obj = _parse_public(raw)
    checked, named, problems = _check_items(obj["credentials"])
    with services.transaction() as tx:
        row, _ = stage_row(tx.session, stage_key, for_update=True)
        _check_election(row, stage_key, obj.get("stage"), obj.get("uuid"))
        replaced = _check_importable(tx.session, row, stage_key, replace=replace)
        registered = _registered(tx.session, row)
        entries = _check_entries(checked, named, problems, registered, stage_key)
        if replaced:
            tx.session.execute(
                delete(PublicCredentialRow).where(PublicCredentialRow.stage_id == row.id)
            )
        for start in range(0, len(entries), _BATCH):
            tx.session.execute(
                insert(PublicCredentialRow),
                [
                    {"stage_id": row.id, "member_id": member, "credential": key, "weight": weight}
                    for member, key, weight in entries[start : start + _BATCH]
                ],
            )
        row.status = "credentials"
        assert row.uuid is not None
        tx.audit(
            "credentials.import",
            stage_key,
            uuid=row.uuid,
            count=len(entries),
            sha256=digest,
            replaced=replaced,
        )
        uuid = row.uuid
    return ImportedCredentials(stage_key, uuid, len(entries), digest, replaced)


def _read(stream: Source) -> bytes:
    data = stream.read()
    return data.encode() if isinstance(data, str) else data


def _refuse_private(raw: bytes) -> None:
    """Refuse, without echoing it, a file that holds a private credential."""
    found = _PRIVATE.search(raw)
    first_line = raw[:200].split(b"\n", 1)[0].strip().lower().replace(b" ", b"")
    if found is None and not first_line.startswith(b"card_number,credential"):
        return
    line = raw.count(b"\n", 0, found.start()) + 1 if found is not None else 1
    raise DomainError(
        "credentials.private",
        f"this file holds PRIVATE credentials (line {line}): the server must never receive "
        "them. Nothing was stored. Import the authority's public-credentials.json instead, "
        "and keep this file with the credential authority only",
    )


def _parse_public(raw: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DomainError(
            "credentials.format",
            f"the file is not the authority's public-credentials.json (not JSON: {error})",
        ) from None
    if not isinstance(obj, dict) or not isinstance(obj.get("credentials"), list):
        raise DomainError(
            "credentials.format",
            'the file is not public-credentials.json: expected {"uuid", "stage", "credentials"}',
        )
    unknown = sorted(set(obj) - {"uuid", "stage", "credentials"})
    if unknown:
        raise DomainError("credentials.format", f"unexpected fields: {', '.join(unknown)}")
    return obj


def _check_election(row: StageRow, stage_key: str, stage: object, uuid: object) -> None:
    if stage != stage_key:
        raise DomainError(
            "credentials.stage", f"the file is for stage {stage!r}, not {stage_key!r}"
        )
    if row.uuid is None or row.status in _BEFORE_CLOSE:
        raise DomainError(
            "credentials.status",
            f"registration for {stage_key} is not closed (the stage is {row.status})",
        )
    if uuid != row.uuid:
        raise DomainError(
            "credentials.uuid",
            f"the file is for election {uuid!r} but {stage_key} is election {row.uuid!r}: "
            "was it made from another export?",
        )


def _check_importable(session: Session, row: StageRow, stage_key: str, *, replace: bool) -> bool:
    """Whether stored credentials are to be replaced; refuses when they cannot be."""
    if row.status == "registration-closed":
        return False
    set_up = session.scalar(select(ElectionRow.id).where(ElectionRow.stage_id == row.id))
    if row.status != "credentials" or set_up is not None:
        raise DomainError(
            "credentials.fixed",
            f"the election of {stage_key} is set up (the stage is {row.status}): its public "
            "credentials are in the record and can no longer change",
        )
    if not replace:
        raise DomainError(
            "credentials.exists",
            f"public credentials for {stage_key} were already imported; to replace them "
            "before the election is set up, import again with --replace",
        )
    return True


@dataclass(frozen=True, slots=True)
class _Entry:
    where: str
    card: str
    key: str
    weight: object


def _check_items(items: list[Any]) -> tuple[list[_Entry], set[str], list[str]]:
    """The checks that need no database (run before the transaction: checking that a key is in
    the group costs ~0.1 ms, two minutes for a million members): each item's shape, each key
    a valid public credential, no key twice, no private credential anywhere. Returns the
    good entries, every card number named, and the problems."""
    problems: list[str] = []
    entries: list[_Entry] = []
    named: set[str] = set()
    keys: set[str] = set()
    for index, item in enumerate(items):
        where = f"credentials[{index}]"
        if not isinstance(item, dict) or set(item) != {
            "card_number",
            "public_credential",
            "weight",
        }:
            problems.append(f"{where}: expected card_number, public_credential and weight")
            continue
        card, key = item["card_number"], item["public_credential"]
        if not isinstance(card, str):
            problems.append(f"{where}: the card number is not text")
            continue
        named.add(card)
        if isinstance(key, str) and _PRIVATE_RAW.fullmatch(key.replace("-", "")):
            raise DomainError(
                "credentials.private",
                f"{where} holds a PRIVATE credential, not a public one: the server must never "
                "receive them. Nothing was stored",
            )
        try:
            parse_key(key)
        except EncodingError as error:
            problems.append(f"{where}: card {card}: not a public credential ({error.detail})")
            continue
        if key in keys:
            problems.append(f"{where}: card {card}: the same public credential as another card")
            continue
        keys.add(key)
        entries.append(_Entry(where, card, key, item["weight"]))
    return entries, named, problems


def _check_entries(
    entries: list[_Entry],
    named: set[str],
    problems: list[str],
    registered: dict[str, tuple[int, int | None]],
    stage_key: str,
) -> list[tuple[int, str, int | None]]:
    """Against the roll: every card registered, once, with the weight the server expects, and
    every registered member present. Raises with every problem found."""
    rows: list[tuple[int, str, int | None]] = []
    cards: set[str] = set()
    for entry in entries:
        card, weight = entry.card, entry.weight
        if card not in registered:
            problems.append(
                f"{entry.where}: card number {card[:40]!r} is not registered for {stage_key}"
            )
            continue
        if card in cards:
            problems.append(f"{entry.where}: card number {card} has two credentials")
            continue
        cards.add(card)
        member, expected = registered[card]
        if weight != expected or isinstance(weight, bool):
            problems.append(
                f"{entry.where}: card {card}: weight {weight!r} instead of {expected!r}"
            )
            continue
        rows.append((member, entry.key, expected))
    missing = sorted(set(registered) - named)
    if missing:
        shown = ", ".join(missing[:5]) + (", …" if len(missing) > 5 else "")
        many = len(missing) != 1
        problems.append(
            f"{len(missing)} registered member{'s have' if many else ' has'} no credential "
            f"(card{'s' if many else ''} {shown})"
        )
    if not registered:
        problems.append(f"{stage_key} has no registered members")
    if problems:
        more = len(problems) - _MAX_PROBLEMS
        raise DomainError(
            "credentials.import",
            f"{len(problems)} problem{'s' if len(problems) != 1 else ''}; nothing was stored:\n"
            + "\n".join(problems[:_MAX_PROBLEMS])
            + (f"\n… and {more} more" if more > 0 else ""),
        )
    return rows


# -- the delivery log ---------------------------------------------------------------------------


def do_import_deliveries(services: Services, stage_key: str, stream: Source) -> ImportedDeliveries:
    """Store the authority's delivery log (``deliveries.jsonl``). Importing the same log again,
    or a longer copy of it, adds only the events not stored yet."""
    raw = _read(stream)
    _refuse_private(raw)
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:
        lines.pop()  # cut short by a crash on the authority's side: never confirmed
    if not lines:
        raise DomainError("deliveries.format", "the file is empty")
    header = _json_line(lines[0], 1)
    with services.transaction() as tx:
        row, _ = stage_row(tx.session, stage_key, for_update=True)
        _check_election(row, stage_key, header.get("stage"), header.get("uuid"))
        members = {card: member for card, (member, _) in _registered(tx.session, row).items()}
        events, problems = _parse_events(lines[1:], members, stage_key)
        if problems:
            raise DomainError(
                "deliveries.import",
                f"{len(problems)} bad line{'s' if len(problems) != 1 else ''}; nothing was "
                "stored:\n" + "\n".join(problems[:_MAX_PROBLEMS]),
            )
        stored = {
            _event_key(m, c, s, a, d)
            for m, c, s, a, d in tx.session.execute(
                select(
                    CredentialDelivery.member_id,
                    CredentialDelivery.channel,
                    CredentialDelivery.status,
                    CredentialDelivery.at,
                    CredentialDelivery.detail,
                ).where(CredentialDelivery.stage_id == row.id)
            )
        }
        fresh = []
        for event in events:
            key = _event_key(*event)
            if key not in stored:
                stored.add(key)
                fresh.append(event)
        for start in range(0, len(fresh), _BATCH):
            tx.session.execute(
                insert(CredentialDelivery),
                [
                    {
                        "stage_id": row.id,
                        "member_id": member,
                        "channel": channel,
                        "status": status,
                        "at": at,
                        "detail": detail,
                    }
                    for member, channel, status, at, detail in fresh[start : start + _BATCH]
                ],
            )
        tx.audit(
            "credentials.deliveries",
            stage_key,
            added=len(fresh),
            already=len(events) - len(fresh),
        )
    return ImportedDeliveries(stage_key, len(fresh), len(events) - len(fresh))


_Event = tuple[int, str, str, datetime.datetime, str]


def _event_key(
    member: int, channel: str, status: str, at: datetime.datetime, detail: str
) -> tuple[int, str, str, str, str]:
    return (member, channel, status, at.astimezone(datetime.UTC).isoformat(), detail)


def _json_line(line: bytes, number: int) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DomainError("deliveries.format", f"line {number}: not JSON") from None
    if not isinstance(obj, dict):
        raise DomainError("deliveries.format", f"line {number}: not a JSON object")
    return obj


def _parse_events(
    lines: Iterable[bytes], members: dict[str, int], stage_key: str
) -> tuple[list[_Event], list[str]]:
    events: list[_Event] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=2):
        try:
            obj = _json_line(line, number)
        except DomainError as error:
            problems.append(error.detail)
            continue
        card, channel, status = obj.get("card_number"), obj.get("channel"), obj.get("status")
        detail = obj.get("detail", "")
        if not isinstance(card, str) or card not in members:
            problems.append(
                f"line {number}: card {str(card)[:40]!r} is not registered for {stage_key}"
            )
            continue
        if not isinstance(channel, str) or status not in CHANNELS.get(channel, ()):
            problems.append(f"line {number}: no status {status!r} on channel {channel!r}")
            continue
        try:
            at = datetime.datetime.fromisoformat(str(obj.get("at")))
        except ValueError:
            at = None
        if at is None or at.tzinfo is None:
            problems.append(
                f"line {number}: the time {obj.get('at')!r} is not ISO 8601 with a zone"
            )
            continue
        if not isinstance(detail, str):
            problems.append(f"line {number}: the detail is not text")
            continue
        events.append((members[card], channel, str(status), at.astimezone(datetime.UTC), detail))
    return events, problems


def delivery_stats(session: Session, stage_key: str) -> DeliveryStats:
    """Each registered member's latest email outcome, letters printed, and who is unreached."""
    row, _ = stage_row(session, stage_key)
    registered = _registered_count(session, row)
    credentials = (
        session.scalar(
            select(func.count())
            .select_from(PublicCredentialRow)
            .where(PublicCredentialRow.stage_id == row.id)
        )
        or 0
    )
    latest: dict[int, str] = {}
    for member, status in session.execute(
        select(CredentialDelivery.member_id, CredentialDelivery.status)
        .where(CredentialDelivery.stage_id == row.id, CredentialDelivery.channel == "email")
        .order_by(CredentialDelivery.at, CredentialDelivery.id)
    ):
        latest[member] = status
    printed = set(
        session.scalars(
            select(CredentialDelivery.member_id)
            .where(CredentialDelivery.stage_id == row.id, CredentialDelivery.channel == "post")
            .distinct()
        )
    )
    email = {status: 0 for status in CHANNELS["email"]}
    for status in latest.values():
        email[status] += 1
    reached = {m for m, s in latest.items() if s in ("sent", "resent")} | printed
    return DeliveryStats(
        stage=stage_key,
        registered=registered,
        credentials=credentials,
        email=email,
        printed=len(printed),
        unreached=max(0, registered - len(reached)),
    )
